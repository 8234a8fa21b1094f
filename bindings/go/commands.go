// SPDX-License-Identifier: MIT

package smtpc

// #include "glue.h"
import "C"

import (
	"bytes"
	"context"
	"errors"
	"io"
)

// Hello sends EHLO (LHLO for LMTP), or HELO when EHLO is refused, with localName as the client's
// name, as net/smtp's Hello: only needed to choose the name, and only before any other command.
func (c *Client) Hello(localName string) error {
	p, n := cstr(localName)
	var said bool
	c.getter(func(h *C.smtpc_client) {
		said = C.smtpc_client_does_esmtp(h) != 0 || C.smtpc_client_helo_reply(h) != nil
	})
	if said {
		return newError("Hello", StatusState, "Hello called after EHLO or HELO was answered")
	}
	return c.run(nil, "Hello", false, func(h *C.smtpc_client) C.smtpc_status {
		if localName != "" {
			if st := C.smtpc_client_set_local_hostname(h, p, n); Status(st) != StatusOK {
				return st
			}
		}
		return c.hello(h)
	})
}

// hello sends EHLO, or HELO when EHLO is refused, unless one was answered: what net/smtp's methods
// do first. Unlike smtpc_client_ehlo_or_helo_if_needed() it does not apply the TLS policy, so that
// in the net/smtp-shaped calls STARTTLS happens when StartTLS is called (the policy's guard on
// MAIL, RCPT and DATA still applies: TLSAuto to a remote peer refuses them in plaintext).
func (c *Client) hello(h *C.smtpc_client) C.smtpc_status {
	if C.smtpc_client_does_esmtp(h) != 0 || C.smtpc_client_helo_reply(h) != nil {
		return 0
	}
	st := C.smtpc_client_ehlo(h, nil, 0)
	if Status(st) == StatusReply && c.protocol == SMTP {
		st = C.smtpc_client_helo(h, nil, 0)
	}
	return st
}

// Ehlo sends EHLO (LHLO) with name ("" for the local host name) and returns the reply.
func (c *Client) Ehlo(name string) (*Reply, error) {
	p, n := cstr(name)
	return c.command("Ehlo", func(h *C.smtpc_client) C.smtpc_status { return C.smtpc_client_ehlo(h, p, n) })
}

// command runs one command and returns its reply (also with the error when there is one).
func (c *Client) command(op string, f func(h *C.smtpc_client) C.smtpc_status) (*Reply, error) {
	var r *Reply
	err := c.run(nil, op, false, func(h *C.smtpc_client) C.smtpc_status {
		st := f(h)
		r = copyReply(C.smtpc_client_last_reply(h))
		return st
	})
	return r, err
}

// StartTLS sends STARTTLS and runs the TLS handshake, then EHLO again, as net/smtp's StartTLS. cfg
// nil keeps the client's configuration. The certificate is verified, also on loopback (where the
// default policy, TLSAuto, would only record a failure), unless the policy is TLSOpportunistic or
// cfg turns verification off.
func (c *Client) StartTLS(cfg *TLSConfig) error {
	if cfg != nil {
		if err := c.SetTLSConfig(cfg); err != nil {
			return err
		}
	}
	return c.run(nil, "StartTLS", false, func(h *C.smtpc_client) C.smtpc_status {
		if c.policy == TLSAuto {
			C.smtpc_client_set_tls_policy(h, C.smtpc_tls_policy(TLSRequired))
			defer C.smtpc_client_set_tls_policy(h, C.smtpc_tls_policy(TLSAuto))
		}
		if st := C.smtpc_client_starttls(h); Status(st) != StatusOK {
			return st
		}
		return c.hello(h)
	})
}

// Extension reports whether the server offers the extension ext (case-insensitive) and its
// parameters, as net/smtp's Extension (sending EHLO first when needed).
func (c *Client) Extension(ext string) (bool, string) {
	p, n := cstr(ext)
	var ok bool
	var params string
	_ = c.run(nil, "Extension", false, func(h *C.smtpc_client) C.smtpc_status {
		if st := c.hello(h); Status(st) != StatusOK {
			return st
		}
		var ln C.size_t
		v := C.smtpc_client_extn_params(h, p, n, &ln)
		if v != nil {
			ok, params = true, C.GoStringN(v, C.int(ln))
		}
		return 0
	})
	return ok, params
}

// Mail sends MAIL FROM:<from> with optional ESMTP parameters ("BODY=8BITMIME"), sent only to an
// ESMTP server. EHLO is sent first when needed. Unlike net/smtp's Mail it adds no parameter itself.
func (c *Client) Mail(from string, params ...string) error {
	p, n := cstr(from)
	o, on := cstr(joinParams(params))
	return c.run(nil, "Mail", false, func(h *C.smtpc_client) C.smtpc_status {
		if st := c.hello(h); Status(st) != StatusOK {
			return st
		}
		return C.smtpc_client_mail(h, p, n, o, on)
	})
}

// Rcpt sends RCPT TO:<to> with optional ESMTP parameters ("NOTIFY=FAILURE").
func (c *Client) Rcpt(to string, params ...string) error {
	p, n := cstr(to)
	o, on := cstr(joinParams(params))
	return c.run(nil, "Rcpt", false, func(h *C.smtpc_client) C.smtpc_status {
		return C.smtpc_client_rcpt(h, p, n, o, on)
	})
}

func joinParams(params []string) string {
	var b bytes.Buffer
	for i, s := range params {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s)
	}
	return b.String()
}

// Data returns a writer for the message, as net/smtp's Data. The message is collected in memory
// and sent when the writer is closed (DATA, the message with line ends made CRLF and dot-stuffed,
// then "."); Close returns the server's verdict. For a large message use SendmailReader, which
// streams it.
func (c *Client) Data() (io.WriteCloser, error) {
	if c.lock() {
		return nil, newError("Data", StatusState, "called from a callback of the running call on this client")
	}
	defer c.mu.Unlock()
	if c.c == nil {
		return nil, newError("Data", StatusState, "use of a closed Client")
	}
	if C.smtpc_client_is_connected(c.c) == 0 {
		return nil, newError("Data", StatusNotConnected, "not connected")
	}
	return &dataWriter{c: c}, nil
}

type dataWriter struct {
	c      *Client
	buf    bytes.Buffer
	closed bool
}

func (w *dataWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("smtpc: write to a closed Data writer")
	}
	return w.buf.Write(p)
}

func (w *dataWriter) Close() error {
	if w.closed {
		return errors.New("smtpc: Data writer closed twice")
	}
	w.closed = true
	msg := w.buf.Bytes()
	p, n := cbytes(msg)
	return w.c.run(nil, "Data", true, func(h *C.smtpc_client) C.smtpc_status {
		return C.smtpc_client_data(h, p, n)
	})
}

// Noop sends NOOP.
func (c *Client) Noop() error {
	return c.run(nil, "Noop", false, func(h *C.smtpc_client) C.smtpc_status {
		if st := c.hello(h); Status(st) != StatusOK {
			return st
		}
		return C.smtpc_client_noop(h)
	})
}

// Reset sends RSET, ending the current mail transaction.
func (c *Client) Reset() error {
	return c.run(nil, "Reset", false, func(h *C.smtpc_client) C.smtpc_status {
		if st := c.hello(h); Status(st) != StatusOK {
			return st
		}
		return C.smtpc_client_rset(h)
	})
}

// Verify sends VRFY addr; nil when the server answered 2xx (net/smtp's Verify).
func (c *Client) Verify(addr string) error {
	p, n := cstr(addr)
	return c.run(nil, "Verify", false, func(h *C.smtpc_client) C.smtpc_status {
		if st := c.hello(h); Status(st) != StatusOK {
			return st
		}
		return C.smtpc_client_vrfy(h, p, n)
	})
}

// Expn sends EXPN with a list name and returns the reply (its lines are the members).
func (c *Client) Expn(list string) (*Reply, error) {
	p, n := cstr(list)
	return c.command("Expn", func(h *C.smtpc_client) C.smtpc_status {
		if st := c.hello(h); Status(st) != StatusOK {
			return st
		}
		return C.smtpc_client_expn(h, p, n)
	})
}

// Help sends HELP, with an optional argument, and returns the reply.
func (c *Client) Help(what string) (*Reply, error) {
	p, n := cstr(what)
	return c.command("Help", func(h *C.smtpc_client) C.smtpc_status {
		if st := c.hello(h); Status(st) != StatusOK {
			return st
		}
		return C.smtpc_client_help(h, p, n)
	})
}

// Docmd sends an arbitrary command ("XCLIENT", "NAME=x") and returns its reply (smtplib's docmd).
func (c *Client) Docmd(cmd, args string) (*Reply, error) {
	p, n := cstr(cmd)
	a, an := cstr(args)
	return c.command("Docmd", func(h *C.smtpc_client) C.smtpc_status { return C.smtpc_client_docmd(h, p, n, a, an) })
}

// Quit sends QUIT and closes the connection (the Client stays allocated: Close it, or connect again).
func (c *Client) Quit() error {
	return c.run(nil, "Quit", false, func(h *C.smtpc_client) C.smtpc_status { return C.smtpc_client_quit(h) })
}

// --- sending mail -----------------------------------------------------------------------------

// Envelope is the sender, the recipients and their ESMTP parameters of one message.
type Envelope struct {
	From        string      // the reverse-path; "" for the null sender "<>"
	To          []string    // the recipients, in order
	MailOptions []string    // MAIL FROM parameters ("BODY=8BITMIME", "SMTPUTF8", "RET=HDRS"); never SIZE
	RcptOptions []string    // parameters sent with every RCPT TO ("NOTIFY=SUCCESS,FAILURE")
	Params      *MailParams // typed ESMTP parameters (DSN, REQUIRETLS, BODY, ...); nil for none
}

// build makes the C envelope; the caller frees it. For SendMessage, an empty From or To leaves the
// library to take them from the message's headers.
func (e *Envelope) build(op string, fromHeaders bool) (*C.smtpc_envelope, error) {
	var env *C.smtpc_envelope
	if st := Status(C.smtpc_envelope_new(&env)); st != StatusOK {
		return nil, newError(op, st, "")
	}
	fail := func(what, value string, st C.smtpc_status) error {
		msg := C.GoString(C.smtpc_envelope_errmsg(env))
		if msg == "" {
			msg = Status(st).Error()
		}
		C.smtpc_envelope_free(env)
		return newError(op, Status(st), what+" "+quote(value)+": "+msg)
	}
	if e == nil {
		return env, nil
	}
	if !fromHeaders || e.From != "" {
		p, n := cstr(e.From)
		if st := C.smtpc_envelope_set_sender(env, p, n); Status(st) != StatusOK {
			return nil, fail("sender", e.From, st)
		}
	}
	var dsn *DSN
	if e.Params != nil {
		dsn = e.Params.DSN
	}
	for _, to := range e.To {
		p, n := cstr(to)
		var st C.smtpc_status
		if dsn != nil && (dsn.Notify != 0 || dsn.ORcpt[to] != "") {
			op, on := cstr(dsn.ORcpt[to])
			st = C.smtpc_envelope_add_recipient_dsn(env, p, n, C.uint(dsn.Notify), op, on)
		} else {
			st = C.smtpc_envelope_add_recipient(env, p, n)
		}
		if Status(st) != StatusOK {
			return nil, fail("recipient", to, st)
		}
	}
	if e.Params != nil {
		if err := e.Params.apply(env, func(what, value string, st C.smtpc_status) error {
			return fail(what, value, st)
		}); err != nil {
			return nil, err
		}
	}
	for _, o := range e.MailOptions {
		p, n := cstr(o)
		if st := C.smtpc_envelope_add_mail_option(env, p, n); Status(st) != StatusOK {
			return nil, fail("mail option", o, st)
		}
	}
	for _, o := range e.RcptOptions {
		p, n := cstr(o)
		if st := C.smtpc_envelope_add_rcpt_option(env, p, n); Status(st) != StatusOK {
			return nil, fail("recipient option", o, st)
		}
	}
	return env, nil
}

func quote(s string) string {
	const max = 80
	if len(s) > max {
		s = s[:max] + "..."
	}
	return "\"" + s + "\""
}

// Sendmail sends msg to every recipient of env, as smtplib's sendmail: EHLO when needed (with the
// TLS policy applied), MAIL FROM (with SIZE when offered), RCPT TO for each recipient, and DATA or
// BDAT, pipelined when the server offers it. The result tells each recipient's fate; it is also
// in the *Error when err is not nil. err is nil when the message was accepted for at least one
// recipient: the others are in Result.Failures().
func (c *Client) Sendmail(ctx context.Context, env *Envelope, msg []byte) (*Result, error) {
	if env == nil || len(env.To) == 0 {
		return nil, argError("Sendmail", "no recipients")
	}
	e, err := env.build("Sendmail", false)
	if err != nil {
		return nil, err
	}
	defer C.smtpc_envelope_free(e)
	p, n := cbytes(msg)
	return c.send(ctx, "Sendmail", func(h *C.smtpc_client) C.smtpc_status {
		return C.smtpc_client_sendmail(h, e, p, n)
	})
}

// SendmailReader is Sendmail with the message read from r in blocks while it is sent, so a message
// of any size goes out in constant memory. size, when not 0, is declared with SIZE (the message's
// size after line ends are made CRLF). An error from r aborts the transaction (the connection is
// closed, so the server discards the message) and is the cause of the returned ErrUser error.
// r is not read before the server accepted DATA.
func (c *Client) SendmailReader(ctx context.Context, env *Envelope, r io.Reader, size int64) (*Result, error) {
	if env == nil || len(env.To) == 0 {
		return nil, argError("SendmailReader", "no recipients")
	}
	if r == nil {
		return nil, argError("SendmailReader", "nil reader")
	}
	if size < 0 {
		size = 0
	}
	e, err := env.build("SendmailReader", false)
	if err != nil {
		return nil, err
	}
	defer C.smtpc_envelope_free(e)
	st := &callbackState{cb: c.cb, reader: r}
	h := newHandle(st)
	defer h.Delete()
	return c.send(ctx, "SendmailReader", func(hc *C.smtpc_client) C.smtpc_status {
		return C.smtpcgo_sendmail_stream(hc, e, C.uintptr_t(h), C.uint64_t(size))
	})
}

// SendMessage sends an RFC 5322 message with the envelope taken from its headers where env gives
// none (Sender or From; To, Cc and Bcc; or the Resent- fields), as smtplib's send_message. Bcc
// fields are never transmitted. env may be nil.
func (c *Client) SendMessage(ctx context.Context, env *Envelope, msg []byte) (*Result, error) {
	e, err := env.build("SendMessage", true)
	if err != nil {
		return nil, err
	}
	defer C.smtpc_envelope_free(e)
	p, n := cbytes(msg)
	return c.send(ctx, "SendMessage", func(h *C.smtpc_client) C.smtpc_status {
		return C.smtpc_client_send_message(h, e, p, n)
	})
}

func (c *Client) send(ctx context.Context, op string, f func(h *C.smtpc_client) C.smtpc_status) (*Result, error) {
	var res *Result
	err := c.run(ctx, op, true, func(h *C.smtpc_client) C.smtpc_status {
		st := f(h)
		res = copyResult(C.smtpc_client_last_result(h))
		return st
	})
	return res, err
}

// SendMail connects to addr, authenticates with a when it is not nil, sends msg from from to every
// address of to, and quits: net/smtp's SendMail. TLS follows the default policy (TLSAuto: STARTTLS
// required and verified to a remote server, used when offered on loopback). Unlike net/smtp, a
// refused recipient does not stop the others: err is nil when the message was accepted for at
// least one (as smtplib's sendmail); use Client.Sendmail to see each recipient's outcome.
func SendMail(addr string, a Auth, from string, to []string, msg []byte) error {
	c, err := Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if a != nil {
		if err := c.Auth(a); err != nil {
			return err
		}
	}
	if _, err := c.Sendmail(context.Background(), &Envelope{From: from, To: to}, msg); err != nil {
		return err
	}
	return c.Quit()
}
