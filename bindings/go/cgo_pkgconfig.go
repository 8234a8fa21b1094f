// SPDX-License-Identifier: MIT

//go:build !smtpc_buildtree

package smtpc

// The default: an installed libsmtpc found through pkg-config (smtpc.pc). Build with
// -tags smtpc_buildtree and CGO_CFLAGS/CGO_LDFLAGS to use a library that is not installed.

// #cgo pkg-config: smtpc
import "C"
