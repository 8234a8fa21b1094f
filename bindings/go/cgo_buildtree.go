// SPDX-License-Identifier: MIT

//go:build smtpc_buildtree

package smtpc

// -tags smtpc_buildtree: the header and library are found through CGO_CFLAGS (-I.../include) and
// CGO_LDFLAGS (-L.../lib, and an rpath), as the project's ctest entry sets them for its build tree.

// #cgo LDFLAGS: -lsmtpc
import "C"
