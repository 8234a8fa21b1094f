// SPDX-License-Identifier: MIT

package smtpc

// ConstDrift exposes constDrift to the tests of package smtpc_test.
var ConstDrift = constDrift
