// SPDX-License-Identifier: MIT

// Package smtpc is the Go binding of libsmtpc, an SMTP and LMTP client library with a C ABI, through
// cgo. It needs no Go module from outside the standard library.
//
// # Two APIs
//
// The calls a net/smtp user knows: Dial, SendMail, PlainAuth, CRAMMD5Auth and the Client methods
// Hello, StartTLS, Auth, Mail, Rcpt, Data, Extension, Noop, Reset, Verify, Quit and Close. Auth
// takes net/smtp's Auth interface, so smtp.PlainAuth and mechanisms of your own work too.
// Differences from net/smtp: addresses are checked before anything is sent (a CR, LF or NUL is
// ErrInvalid, never a second command); Data collects the message and sends it on Close; a refused
// recipient does not stop SendMail (see its documentation); StartTLS takes a *TLSConfig (OpenSSL),
// not a crypto/tls.Config.
//
// The full client: Sendmail (one message, per-recipient results, pipelined), SendmailReader (the
// body streamed from an io.Reader), SendMessage (envelope from the headers, Bcc removed), the
// message queue (Enqueue, NextResult) for many messages over one connection, LMTP
// (Options.Protocol), TLS policies and configurations, every AUTH mechanism of the library
// (PasswordAuth picks the strongest, SCRAM included; OAuth2Auth), typed ESMTP parameters
// (Envelope.Params), a protocol trace and progress reports.
//
// # Errors
//
// Every failure is an *Error: the library's status (errors.Is with the sentinels ErrTimeout,
// ErrRecipientsRefused, ...), what failed (Message, the library's errmsg), the server's Reply when a
// reply caused it, and the per-recipient Result after a send. A cancelled context gives ErrCancelled
// that is also errors.Is(err, context.Canceled or context.DeadlineExceeded); an io.Reader's error
// gives ErrUser wrapping it.
//
// # Contexts and cancellation
//
// The calls that take a context stop when it ends: a goroutine calls smtpc_client_cancel() then,
// and exits as soon as the call returns. The library closes the connection of a cancelled call
// (the session's state is unknown). Client.Cancel does the same from any goroutine for the calls
// without a context. The client's own timeouts (Options.ConnectTimeout, CommandTimeout) apply in
// every case.
//
// # Goroutines, callbacks and finalizers
//
// A Client is used by one goroutine at a time (another goroutine's call waits for the running one);
// Cancel may be called from anywhere. Callbacks (trace, progress, an io.Reader body, an Auth's Next,
// an OAuth token function) run on the goroutine of the call that runs them, through runtime/cgo
// handles. From a callback, the Client's getters work and its calls that talk to the server return
// ErrState. A panic in a callback never crosses into C: the callback aborts the call where the
// library allows (the trace cannot abort), and the panic is raised again when the call returns.
//
// Close a Client when done with it (Close frees the C handle; a connection is closed without QUIT:
// call Quit first to end the session politely). A Client dropped without Close is freed by a
// finalizer, with its trace function removed first, so that no Go callback ever runs on the
// finalizer goroutine; smtpc_client_free() calls no callback in any case. A trace or progress
// function that refers to its own Client keeps it reachable (the handle table holds the function),
// so such a Client is only ever freed by Close. TLSConfig has a finalizer as well (freeing it calls
// nothing).
//
// # Building
//
// By default the package finds an installed libsmtpc through pkg-config (#cgo pkg-config: smtpc):
// Debian's libsmtpc-dev, or `cmake --install` into a prefix on PKG_CONFIG_PATH. To use a CMake build
// tree instead, build with -tags smtpc_buildtree and CGO_CFLAGS=-I<source>/include
// CGO_LDFLAGS="-L<build>/src -Wl,-rpath,<build>/src". docs/bindings.md has the details.
package smtpc
