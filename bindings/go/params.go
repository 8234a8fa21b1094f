// SPDX-License-Identifier: MIT

package smtpc

// #include "glue.h"
import "C"

import (
	"time"
)

// DSNRet is the DSN RET parameter (RFC 3461): which part of the message a failure notice returns.
type DSNRet int

const (
	DSNRetUnset   DSNRet = 0 // no RET (the server's default)
	DSNRetFull    DSNRet = 1 // RET=FULL
	DSNRetHeaders DSNRet = 2 // RET=HDRS
)

// DSNNotify is a set of DSN NOTIFY flags (RFC 3461): NotifyNever alone, or any of the others.
type DSNNotify uint

const (
	NotifyNever   DSNNotify = 1
	NotifySuccess DSNNotify = 2
	NotifyFailure DSNNotify = 4
	NotifyDelay   DSNNotify = 8
)

// DSN asks for delivery status notifications (RFC 3461).
type DSN struct {
	Ret    DSNRet
	EnvID  string            // envelope identifier, 1..100 printable ASCII characters ("" for none)
	Notify DSNNotify         // NOTIFY for every recipient (0: none)
	ORcpt  map[string]string // original recipient, by recipient address
	// Optional leaves the DSN parameters out when the server does not offer DSN, instead of
	// failing with ErrNotSupported.
	Optional bool
}

// DeliverBy is the DELIVERBY parameter (RFC 2852).
type DeliverBy struct {
	Seconds int64 // -999999999..999999999; positive with Return
	Return  bool  // "R": return the message if not delivered in time (else "N": notify)
	Trace   bool  // "T"
}

// BodyType is the BODY parameter (RFC 6152, RFC 3030).
type BodyType int

const (
	BodyAuto       BodyType = 0 // chosen from the message (8BITMIME, BINARYMIME or none)
	Body7Bit       BodyType = 1
	Body8BitMIME   BodyType = 2
	BodyBinaryMIME BodyType = 3 // sent with BDAT exactly as given
)

// SMTPUTF8Mode says when SMTPUTF8 (RFC 6531) is put on MAIL FROM.
type SMTPUTF8Mode int

const (
	SMTPUTF8Auto SMTPUTF8Mode = 0 // when an address (or a header in memory) is not ASCII
	SMTPUTF8On   SMTPUTF8Mode = 1
	SMTPUTF8Off  SMTPUTF8Mode = 2
)

// MailParams are the typed ESMTP parameters of an Envelope. The library encodes them and checks
// them against the server's EHLO reply: a parameter the server does not offer fails the send with
// ErrNotSupported before MAIL FROM is sent.
type MailParams struct {
	DSN          *DSN
	RequireTLS   bool          // REQUIRETLS (RFC 8689): only over verified TLS, end to end
	MTPriority   *int          // MT-PRIORITY (RFC 6710), -9..9
	DeliverBy    *DeliverBy    // DELIVERBY (RFC 2852)
	HoldFor      time.Duration // FUTURERELEASE HOLDFOR (RFC 4865), whole seconds; 0 for none
	HoldUntil    time.Time     // FUTURERELEASE HOLDUNTIL; the zero Time for none
	AuthIdentity *string       // AUTH= on MAIL FROM (RFC 4954); "" sends AUTH=<>
	Body         BodyType
	SMTPUTF8     SMTPUTF8Mode
}

// apply sets the typed parameters on env; fail reports an error naming the parameter.
func (p *MailParams) apply(env *C.smtpc_envelope, fail func(what, value string, st C.smtpc_status) error) error {
	ok := func(st C.smtpc_status) bool { return Status(st) == StatusOK }
	if d := p.DSN; d != nil {
		ep, en := cstr(d.EnvID)
		if d.EnvID == "" {
			ep, en = nil, 0
		}
		if st := C.smtpc_envelope_set_dsn(env, C.int(d.Ret), ep, en); !ok(st) {
			return fail("DSN", d.EnvID, st)
		}
		if st := C.smtpc_envelope_set_dsn_optional(env, cbool(d.Optional)); !ok(st) {
			return fail("DSN", "", st)
		}
	}
	if p.RequireTLS {
		if st := C.smtpc_envelope_set_requiretls(env, 1); !ok(st) {
			return fail("REQUIRETLS", "", st)
		}
	}
	if p.MTPriority != nil {
		if st := C.smtpc_envelope_set_mt_priority(env, C.int(*p.MTPriority)); !ok(st) {
			return fail("MT-PRIORITY", itoa(*p.MTPriority), st)
		}
	}
	if b := p.DeliverBy; b != nil {
		mode := C.int(2)
		if b.Return {
			mode = 1
		}
		if st := C.smtpc_envelope_set_deliver_by(env, C.int64_t(b.Seconds), mode, cbool(b.Trace)); !ok(st) {
			return fail("DELIVERBY", itoa(int(b.Seconds)), st)
		}
	}
	if p.HoldFor != 0 {
		secs := int64(p.HoldFor / time.Second)
		if secs <= 0 {
			secs = -1 // refused by the library with its reason
		}
		if st := C.smtpc_envelope_set_hold_for(env, C.uint64_t(secs)); !ok(st) {
			return fail("HOLDFOR", p.HoldFor.String(), st)
		}
	}
	if !p.HoldUntil.IsZero() {
		s := p.HoldUntil.UTC().Format("2006-01-02T15:04:05Z")
		tp, tn := cstr(s)
		if st := C.smtpc_envelope_set_hold_until(env, tp, tn); !ok(st) {
			return fail("HOLDUNTIL", s, st)
		}
	}
	if p.AuthIdentity != nil {
		ap, an := cstr(*p.AuthIdentity)
		if ap == nil {
			var empty [1]C.char
			ap = &empty[0] // "" (AUTH=<>), not NULL (no parameter)
		}
		if st := C.smtpc_envelope_set_auth(env, ap, an); !ok(st) {
			return fail("AUTH identity", *p.AuthIdentity, st)
		}
	}
	if p.Body != BodyAuto {
		if st := C.smtpc_envelope_set_body(env, C.int(p.Body)); !ok(st) {
			return fail("BODY", itoa(int(p.Body)), st)
		}
	}
	if p.SMTPUTF8 != SMTPUTF8Auto {
		if st := C.smtpc_envelope_set_smtputf8(env, C.int(p.SMTPUTF8)); !ok(st) {
			return fail("SMTPUTF8", itoa(int(p.SMTPUTF8)), st)
		}
	}
	return nil
}
