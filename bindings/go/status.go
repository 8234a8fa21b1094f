// SPDX-License-Identifier: MIT

package smtpc

// #include <smtpc.h>
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// Status is a status code of the C library (smtpc_status): 0 for success, a negative code for a
// failure. The values are those of include/smtpc.h; codes are only ever appended, so a Status from a
// newer library may be one this package has no constant for (String still names it).
//
// A Status is also an error value, so that errors.Is(err, smtpc.ErrTimeout) works on every error
// this package returns.
type Status int

// The status codes, with the smtplib exception each corresponds to in the C header.
const (
	StatusOK                Status = 0
	StatusInvalid           Status = -1  // SMTPC_EINVAL: bad argument; nothing was sent
	StatusNoMemory          Status = -2  // SMTPC_ENOMEM
	StatusInternal          Status = -3  // SMTPC_EINTERNAL: a bug in the library
	StatusState             Status = -4  // SMTPC_ESTATE: not valid in the client's state (or re-entry from a callback)
	StatusNotConnected      Status = -5  // SMTPC_ENOTCONN
	StatusResolve           Status = -6  // SMTPC_ERESOLVE: host name not resolved
	StatusConnect           Status = -7  // SMTPC_ECONNECT: no address could be connected
	StatusTimeout           Status = -8  // SMTPC_ETIMEOUT: a deadline passed; connection closed
	StatusIO                Status = -9  // SMTPC_EIO: socket error; connection closed
	StatusDisconnected      Status = -10 // SMTPC_EDISCONNECTED: the server closed the connection
	StatusProtocol          Status = -11 // SMTPC_EPROTOCOL: not a valid SMTP reply; connection closed
	StatusGreeting          Status = -12 // SMTPC_EGREETING: greeting not 220
	StatusHelo              Status = -13 // SMTPC_EHELO: neither EHLO nor HELO accepted
	StatusReply             Status = -14 // SMTPC_EREPLY: 4xx or 5xx reply to a command
	StatusClosing           Status = -15 // SMTPC_ECLOSING: 421, connection closed
	StatusSenderRefused     Status = -16 // SMTPC_ESENDER_REFUSED: MAIL FROM refused
	StatusRecipientsRefused Status = -17 // SMTPC_ERECIPIENTS_REFUSED: every recipient refused
	StatusDataRefused       Status = -18 // SMTPC_EDATA_REFUSED: DATA or the message refused
	StatusDeliveryUnknown   Status = -19 // SMTPC_EDELIVERY_UNKNOWN: lost after the message was sent
	StatusNotSupported      Status = -20 // SMTPC_ENOTSUPPORTED: extension not offered; nothing sent
	StatusAuth              Status = -21 // SMTPC_EAUTH: authentication failed
	StatusUser              Status = -22 // SMTPC_EUSER: a callback (reader, progress, AUTH) aborted
	StatusTLS               Status = -23 // SMTPC_ETLS: TLS handshake or I/O failed
	StatusTLSVerify         Status = -24 // SMTPC_ETLS_VERIFY: certificate verification failed
	StatusTLSRequired       Status = -25 // SMTPC_ETLS_REQUIRED: the policy requires TLS, not offered
	StatusAuthMechanism     Status = -26 // SMTPC_EAUTH_MECHANISM: no usable AUTH mechanism offered
	StatusAuthInsecure      Status = -27 // SMTPC_EAUTH_INSECURE: credentials refused over plaintext
	StatusCancelled         Status = -28 // SMTPC_ECANCELLED: cancelled (context ended, or Cancel)
)

// Sentinel errors for errors.Is: every *Error matches the sentinel of its Status.
var (
	ErrInvalid           error = StatusInvalid
	ErrState             error = StatusState
	ErrNotConnected      error = StatusNotConnected
	ErrResolve           error = StatusResolve
	ErrConnect           error = StatusConnect
	ErrTimeout           error = StatusTimeout
	ErrIO                error = StatusIO
	ErrDisconnected      error = StatusDisconnected
	ErrProtocol          error = StatusProtocol
	ErrGreeting          error = StatusGreeting
	ErrHelo              error = StatusHelo
	ErrReply             error = StatusReply
	ErrClosing           error = StatusClosing
	ErrSenderRefused     error = StatusSenderRefused
	ErrRecipientsRefused error = StatusRecipientsRefused
	ErrDataRefused       error = StatusDataRefused
	ErrDeliveryUnknown   error = StatusDeliveryUnknown
	ErrNotSupported      error = StatusNotSupported
	ErrAuth              error = StatusAuth
	ErrUser              error = StatusUser
	ErrTLS               error = StatusTLS
	ErrTLSVerify         error = StatusTLSVerify
	ErrTLSRequired       error = StatusTLSRequired
	ErrAuthMechanism     error = StatusAuthMechanism
	ErrAuthInsecure      error = StatusAuthInsecure
	ErrCancelled         error = StatusCancelled
)

// String is the code's symbolic name, e.g. "SMTPC_ETIMEOUT" ("SMTPC_UNKNOWN" for a code the library
// does not know).
func (s Status) String() string { return C.GoString(C.smtpc_status_name(C.smtpc_status(s))) }

// Error is the library's static text for the code, e.g. "timed out".
func (s Status) Error() string { return C.GoString(C.smtpc_strerror(C.smtpc_status(s))) }

// Error is the error every fallible call of this package returns (as *Error): the status, what
// failed (the library's smtpc_client_errmsg text), and the server's reply and the per-recipient
// result when there are any.
//
//	var se *smtpc.Error
//	if errors.As(err, &se) && se.Reply != nil { log.Print(se.Reply.Code) }
//	if errors.Is(err, smtpc.ErrRecipientsRefused) { ... }
type Error struct {
	Op      string // the Go method that failed, e.g. "Sendmail"
	Status  Status // the library's status code
	Message string // the detail from the library (errmsg), e.g. "RCPT TO refused: 550 5.1.1 no such user"
	Reply   *Reply // the reply that decided the failure, when the failure was a reply (else nil)
	Result  *Result
	// OSErrno is the operating system's error behind StatusConnect or StatusIO, else 0.
	OSErrno syscall.Errno

	cause error // the context's error, or the io.Reader's / callback's error behind StatusUser
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Status.Error()
	}
	s := "smtpc: " + e.Op + ": " + msg
	if e.cause != nil && e.Status == StatusUser {
		s += ": " + e.cause.Error()
	} else if e.cause != nil && e.Status == StatusCancelled {
		s += " (" + e.cause.Error() + ")"
	}
	return s
}

// Unwrap gives the cause behind the status when there is one (the context's error after a
// cancellation, the io.Reader's or callback's error after StatusUser), else the Status.
func (e *Error) Unwrap() error {
	if e.cause != nil {
		return e.cause
	}
	return e.Status
}

// Is matches the error's Status (sentinels such as ErrTimeout), os.ErrDeadlineExceeded for a
// timeout, and, through Unwrap, the cause (context.Canceled, context.DeadlineExceeded, a reader's
// error).
func (e *Error) Is(target error) bool {
	if s, ok := target.(Status); ok {
		return s == e.Status
	}
	if target == os.ErrDeadlineExceeded {
		return e.Status == StatusTimeout
	}
	return false
}

// Timeout reports whether the failure was a deadline: the library's timeout or a context deadline.
func (e *Error) Timeout() bool {
	return e.Status == StatusTimeout || errors.Is(e.cause, context.DeadlineExceeded)
}

// Temporary reports whether the server answered with a 4xx reply (a transient failure, worth a
// retry later).
func (e *Error) Temporary() bool { return e.Reply != nil && e.Reply.Code >= 400 && e.Reply.Code < 500 }

func newError(op string, st Status, msg string) *Error {
	return &Error{Op: op, Status: st, Message: msg}
}

func argError(op, format string, a ...interface{}) *Error {
	return newError(op, StatusInvalid, fmt.Sprintf(format, a...))
}
