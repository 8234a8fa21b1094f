// SPDX-License-Identifier: MIT

package smtpc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/smtp"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"smtpc"
)

const msg1 = "From: a@example.org\r\nTo: b@example.org\r\nSubject: go\r\n\r\nHello from Go.\r\n.leading dot\r\n"

func dial(t *testing.T, addr string, opts *smtpc.Options) *smtpc.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := smtpc.DialContext(ctx, addr, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func asError(t *testing.T, err error) *smtpc.Error {
	t.Helper()
	var se *smtpc.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not an *smtpc.Error", err, err)
	}
	return se
}

// Sendmail with one recipient accepted and one refused: the result says which, the server got the
// message for the accepted one only, byte for byte.
func TestSendmailPerRecipient(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t)
	c := dial(t, srv.addr, nil)
	res, err := c.Sendmail(context.Background(), &smtpc.Envelope{
		From: "a@example.org", To: []string{"b@example.org", "reject-me@example.org"},
	}, []byte(msg1))
	if err != nil {
		t.Fatalf("Sendmail: %v", err)
	}
	if len(res.Recipients) != 2 {
		t.Fatalf("%d recipients in the result", len(res.Recipients))
	}
	if r := res.Recipients[0]; r.Address != "b@example.org" || r.State != smtpc.Delivered || r.DataReply == nil || r.DataReply.Code != 250 {
		t.Errorf("recipient 0: %+v", r)
	}
	r := res.Recipients[1]
	if r.State != smtpc.Refused || r.RcptReply == nil || r.RcptReply.Code != 550 || r.RcptReply.Enhanced != "5.1.1" {
		t.Errorf("recipient 1: %+v (reply %v)", r, r.RcptReply)
	}
	if f := res.Failures(); len(f) != 1 || f["reject-me@example.org"].State != smtpc.Refused {
		t.Errorf("Failures() = %v", f)
	}
	if res.MailReply == nil || res.MailReply.Code != 250 {
		t.Errorf("MAIL reply %v", res.MailReply)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	msgs := srv.messages(t, 1)
	if len(msgs) != 1 {
		t.Fatalf("%d messages on the server", len(msgs))
	}
	m := msgs[0]
	if m.MailFrom != "a@example.org" || len(m.RcptTos) != 1 || m.RcptTos[0] != "b@example.org" {
		t.Errorf("envelope on the server: %q %q", m.MailFrom, m.RcptTos)
	}
	if got := m.content(t); !bytes.Equal(got, []byte(msg1)) {
		t.Errorf("content on the server:\n%q\nwant\n%q", got, msg1)
	}
}

// Every recipient refused: ErrRecipientsRefused, an *Error with each recipient's reply, and RSET.
func TestRecipientsRefused(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t)
	c := dial(t, srv.addr, nil)
	_, err := c.Sendmail(context.Background(), &smtpc.Envelope{
		From: "a@example.org", To: []string{"reject1@example.org", "defer2@example.org"},
	}, []byte(msg1))
	if !errors.Is(err, smtpc.ErrRecipientsRefused) {
		t.Fatalf("err = %v, want ErrRecipientsRefused", err)
	}
	se := asError(t, err)
	if se.Status != smtpc.StatusRecipientsRefused || se.Result == nil || len(se.Result.Recipients) != 2 {
		t.Fatalf("%+v", se)
	}
	codes := []int{se.Result.Recipients[0].RcptReply.Code, se.Result.Recipients[1].RcptReply.Code}
	if codes[0] != 550 || codes[1] != 450 {
		t.Errorf("RCPT codes %v", codes)
	}
	if !strings.Contains(se.Error(), "Sendmail") {
		t.Errorf("message %q", se.Error())
	}
	c.Quit()
	sess := srv.sessionBytes(t, 1)
	if len(sess) != 1 || !bytes.Contains(sess[0], []byte("RCPT TO:<defer2@example.org>\r\nRSET\r\nQUIT\r\n")) {
		t.Errorf("session bytes: %q", sess)
	}
	if n := len(srv.messages(t, 0)); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

// A refused sender carries the reply; errors.Is/As and Temporary work.
func TestSenderRefused(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t)
	c := dial(t, srv.addr, nil)
	_, err := c.Sendmail(context.Background(), &smtpc.Envelope{From: "refuse@example.org", To: []string{"b@example.org"}}, []byte(msg1))
	if !errors.Is(err, smtpc.ErrSenderRefused) || errors.Is(err, smtpc.ErrRecipientsRefused) {
		t.Fatalf("err = %v", err)
	}
	se := asError(t, err)
	if se.Reply == nil || se.Reply.Code != 550 || se.Temporary() {
		t.Errorf("reply %v", se.Reply)
	}
}

// The net/smtp-shaped calls, one command at a time, and the bytes that reached the server.
func TestNetSMTPStyle(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t)
	c, err := smtpc.Dial(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatalf("Hello: %v", err)
	}
	if err := c.Hello("again"); !errors.Is(err, smtpc.ErrState) {
		t.Errorf("second Hello: %v", err)
	}
	if ok, params := c.Extension("size"); !ok || params != "33554432" {
		t.Errorf("Extension(size) = %v %q", ok, params)
	}
	if ok, _ := c.Extension("X-NOPE"); ok {
		t.Error("Extension(X-NOPE)")
	}
	if f := c.Features(); f["size"] != "33554432" {
		t.Errorf("Features() = %v", f)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@example.org", "BODY=8BITMIME"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@example.org"); err != nil {
		t.Fatal(err)
	}
	err = c.Rcpt("reject@example.org")
	if se := asError(t, err); se.Status != smtpc.StatusReply || se.Reply.Code != 550 {
		t.Fatalf("refused Rcpt: %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: x\n\nbare LF\n.dot\n")
	if err := w.Close(); err != nil {
		t.Fatalf("Data Close: %v", err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("bad\r\nRSET@example.org"); !errors.Is(err, smtpc.ErrInvalid) {
		t.Errorf("CRLF in Rcpt: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	m := srv.messages(t, 1)[0]
	if got := string(m.content(t)); got != "Subject: x\r\n\r\nbare LF\r\n.dot\r\n" {
		t.Errorf("content %q", got)
	}
	want := "EHLO client.example.org\r\nNOOP\r\nMAIL FROM:<a@example.org> BODY=8BITMIME\r\nRCPT TO:<b@example.org>\r\n" +
		"RCPT TO:<reject@example.org>\r\nDATA\r\nSubject: x\r\n\r\nbare LF\r\n..dot\r\n.\r\nRSET\r\nQUIT\r\n"
	if s := srv.sessionBytes(t, 1); len(s) != 1 || string(s[0]) != want {
		t.Errorf("session bytes:\n%q\nwant\n%q", s, want)
	}
	if err := c.Noop(); !errors.Is(err, smtpc.ErrNotConnected) {
		t.Errorf("Noop after Quit: %v", err)
	}
}

// The package-level SendMail, as net/smtp's.
func TestSendMailFunc(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t)
	if err := smtpc.SendMail(srv.addr, nil, "a@example.org", []string{"b@example.org", "c@example.org"}, []byte(msg1)); err != nil {
		t.Fatal(err)
	}
	m := srv.messages(t, 1)
	if len(m) != 1 || len(m[0].RcptTos) != 2 || !bytes.Equal(m[0].content(t), []byte(msg1)) {
		t.Fatalf("%+v", m)
	}
	err := smtpc.SendMail(srv.addr, nil, "a@example.org", []string{"a\x00b@example.org"}, []byte(msg1))
	if se := asError(t, err); se.Status != smtpc.StatusInvalid || !strings.Contains(se.Message, "recipient") {
		t.Errorf("NUL in a recipient: %v", err)
	}
}

// LMTP: one reply per recipient after the message.
func TestLMTP(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t, "--mode", "lmtp")
	c := dial(t, srv.addr, &smtpc.Options{Protocol: smtpc.LMTP})
	res, err := c.Sendmail(context.Background(), &smtpc.Envelope{
		From: "a@example.org", To: []string{"ok@example.org", "fail@example.org"},
	}, []byte(msg1))
	if err != nil {
		t.Fatalf("Sendmail: %v", err)
	}
	if r := res.Recipients[0]; r.State != smtpc.Delivered || r.DataReply.Code != 250 {
		t.Errorf("ok: %+v %v", r, r.DataReply)
	}
	if r := res.Recipients[1]; r.State != smtpc.Failed || r.DataReply.Code != 550 || r.Reply() != r.DataReply {
		t.Errorf("fail: %+v %v", r, r.DataReply)
	}
	c.Quit()
	s := srv.sessionBytes(t, 1)
	if len(s) != 1 || !bytes.HasPrefix(s[0], []byte("LHLO ")) {
		t.Errorf("session %q", s)
	}
	if m := srv.messages(t, 1); len(m) != 1 || m[0].Mode != "lmtp" || len(m[0].Replies) != 2 {
		t.Errorf("%+v", m)
	}
}

// lineReader makes a message of n lines on the fly, never holding more than one line.
type lineReader struct {
	lines, next int
	pending     []byte
	reads       int
	sum         io.Writer
}

func (r *lineReader) Read(p []byte) (int, error) {
	r.reads++
	if len(r.pending) == 0 {
		if r.next == r.lines {
			return 0, io.EOF
		}
		r.pending = []byte(fmt.Sprintf("line %07d: the quick brown fox jumps over the lazy dog 0123456789\r\n", r.next))
		if r.next%1000 == 0 {
			r.pending = append([]byte("."), r.pending...) // dot-stuffed on the wire
		}
		r.next++
		r.sum.Write(r.pending)
	}
	n := copy(p, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// A large message streamed from an io.Reader: the server got exactly the bytes read, and progress
// was reported in blocks.
func TestLargeStreamedBody(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t)
	c := dial(t, srv.addr, nil)
	h := sha256.New()
	r := &lineReader{lines: 60000, sum: h} // about 4 MB
	var calls, last uint64
	if err := c.SetProgress(func(sent, total uint64) bool { calls++; last = sent; return true }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := c.SendmailReader(context.Background(), &smtpc.Envelope{From: "a@example.org", To: []string{"b@example.org"}}, r, 0)
	if err != nil {
		t.Fatalf("SendmailReader: %v", err)
	}
	elapsed := time.Since(start)
	if res.Recipients[0].State != smtpc.Delivered {
		t.Errorf("%+v", res)
	}
	c.Quit()
	m := srv.messages(t, 1)
	if len(m) != 1 {
		t.Fatal("no message")
	}
	got := m[0].content(t)
	if sum := sha256.Sum256(got); !bytes.Equal(sum[:], h.Sum(nil)) {
		t.Errorf("content differs: %d bytes received", len(got))
	}
	if last != uint64(len(got)) || calls < 2 {
		t.Errorf("progress: %d calls, last %d of %d", calls, last, len(got))
	}
	t.Logf("%d bytes in %v (%d reads, %d progress calls)", len(got), elapsed, r.reads, calls)
}

type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, r.err
	}
	k := copy(p, bytes.Repeat([]byte("x"), min(len(p), r.n)))
	r.n -= k
	return k, nil
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// An error from the reader withdraws the message: ErrUser wrapping the reader's error, nothing
// delivered.
func TestReaderError(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t)
	c := dial(t, srv.addr, &smtpc.Options{DisableChunking: true})
	boom := errors.New("disk on fire")
	res, err := c.SendmailReader(context.Background(), &smtpc.Envelope{From: "a@example.org", To: []string{"b@example.org"}},
		&failingReader{n: 100000, err: boom}, 0)
	if !errors.Is(err, boom) || !errors.Is(err, smtpc.ErrUser) {
		t.Fatalf("err = %v", err)
	}
	if res == nil || res.Recipients[0].State != smtpc.Accepted {
		t.Errorf("result %+v", res)
	}
	if c.IsConnected() {
		t.Error("still connected after a withdrawn message")
	}
	s := srv.sessionBytes(t, 1)
	if len(s) != 1 || bytes.Contains(s[0], []byte("\r\n.\r\n")) {
		t.Errorf("the end of data was sent: %q", tail(s))
	}
	if n := len(srv.messages(t, 0)); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func tail(s [][]byte) string {
	if len(s) == 0 {
		return ""
	}
	b := s[len(s)-1]
	if len(b) > 200 {
		b = b[len(b)-200:]
	}
	return string(b)
}

// A panic in a callback does not cross into C: the call returns, then the panic goes on in Go.
func TestCallbackPanic(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t)
	c := dial(t, srv.addr, nil)
	func() {
		defer func() {
			if p := recover(); p != "reader panic" {
				t.Fatalf("recovered %v", p)
			}
		}()
		c.SendmailReader(context.Background(), &smtpc.Envelope{From: "a@example.org", To: []string{"b@example.org"}},
			readerFunc(func([]byte) (int, error) { panic("reader panic") }), 0)
		t.Fatal("no panic")
	}()
	// The client is still usable.
	if err := c.Connect(context.Background(), srv.addr); err != nil && !errors.Is(err, smtpc.ErrState) {
		t.Fatal(err)
	}
	if _, err := c.Sendmail(context.Background(), &smtpc.Envelope{From: "a@example.org", To: []string{"b@example.org"}}, []byte(msg1)); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.messages(t, 1)); n != 1 {
		t.Errorf("%d messages", n)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// A trace function that calls back into its own client: getters work, commands are refused with
// ErrState, nothing deadlocks. The trace never shows the password.
func TestTraceAndReentry(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t, "--auth", "user@example.org:s3cret", "--auth-plaintext")
	var c *smtpc.Client
	var trace bytes.Buffer
	var reentry, getter atomic.Int32
	opts := &smtpc.Options{Trace: func(kind smtpc.TraceKind, data []byte, _ time.Time) {
		fmt.Fprintf(&trace, "%d %s", kind, data)
		if kind == smtpc.TraceSend && bytes.HasPrefix(data, []byte("NOOP")) {
			if err := c.Noop(); errors.Is(err, smtpc.ErrState) {
				reentry.Add(1)
			}
			if c.IsConnected() && c.LastReply() != nil {
				getter.Add(1)
			}
		}
	}}
	c = dial(t, srv.addr, opts)
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtpc.PlainAuth("", "user@example.org", "s3cret", "127.0.0.1")); err != nil {
		t.Fatalf("Auth: %v", err)
	}
	if reentry.Load() != 1 || getter.Load() != 1 {
		t.Errorf("re-entry refused %d, getters %d", reentry.Load(), getter.Load())
	}
	c.Close()
	if strings.Contains(trace.String(), base64.StdEncoding.EncodeToString([]byte("\x00user@example.org\x00s3cret"))) ||
		!strings.Contains(trace.String(), "AUTH PLAIN ****") {
		t.Errorf("trace:\n%s", trace.String())
	}
	if err := c.Noop(); !errors.Is(err, smtpc.ErrState) {
		t.Errorf("Noop after Close: %v", err)
	}
}

// AUTH: the library's PLAIN (bytes checked on the wire), a wrong password (ErrAuth with the
// reply), and a net/smtp Auth run through the custom-mechanism callback.
func TestAuth(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t, "--auth", "user@example.org:s3cret", "--auth-plaintext")
	c := dial(t, srv.addr, nil)
	err := c.Auth(smtpc.PlainAuth("", "user@example.org", "wrong", "127.0.0.1"))
	if !errors.Is(err, smtpc.ErrAuth) {
		t.Fatalf("wrong password: %v", err)
	}
	if se := asError(t, err); se.Reply == nil || se.Reply.Code != 535 {
		t.Errorf("reply %v", se.Reply)
	}
	if err := c.Auth(smtpc.PlainAuth("", "user@example.org", "s3cret", "mail.example.org")); !errors.Is(err, smtpc.ErrInvalid) {
		t.Errorf("PlainAuth for another host: %v", err)
	}
	if err := c.Auth(smtpc.PlainAuth("", "user@example.org", "s3cret", "127.0.0.1")); err != nil {
		t.Fatalf("PlainAuth: %v", err)
	}
	if m := c.AuthMechanism(); m != "PLAIN" {
		t.Errorf("AuthMechanism() = %q", m)
	}
	c.Quit()

	// net/smtp's own PlainAuth, driven through the callback; it checks ServerInfo (localhost).
	c2 := dial(t, srv.addr, nil)
	if err := c2.Auth(smtp.PlainAuth("", "user@example.org", "s3cret", "127.0.0.1")); err != nil {
		t.Fatalf("net/smtp PlainAuth: %v", err)
	}
	c2.Quit()
	// A Start error stops before anything is sent.
	c3 := dial(t, srv.addr, nil)
	if err := c3.Auth(smtp.PlainAuth("", "user@example.org", "s3cret", "elsewhere")); !errors.Is(err, smtpc.ErrUser) {
		t.Errorf("net/smtp PlainAuth, wrong host: %v", err)
	}
	c3.Quit()

	s := srv.sessionBytes(t, 3)
	plain := base64.StdEncoding.EncodeToString([]byte("\x00user@example.org\x00s3cret"))
	if len(s) != 3 || !bytes.Contains(s[0], []byte("AUTH PLAIN "+plain+"\r\n")) || !bytes.Contains(s[1], []byte("AUTH PLAIN "+plain+"\r\n")) {
		t.Errorf("sessions %q", s)
	}
	if len(s) == 3 && bytes.Contains(s[2], []byte("AUTH")) {
		t.Errorf("AUTH sent after Start failed: %q", s[2])
	}
}

// STARTTLS with the certificate verified against the test CA; a CA that did not sign it fails with
// ErrTLSVerify and nothing but EHLO and STARTTLS goes out.
func TestStartTLSVerified(t *testing.T) {
	t.Parallel()
	dir := pki(t)
	srv := startAiosmtpd(t, "--tls-cert", filepath.Join(dir, "server.pem"), "--tls-key", filepath.Join(dir, "server.key"))
	cfg, err := smtpc.NewTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.SetCAFile(filepath.Join(dir, "ca.pem")); err != nil {
		t.Fatal(err)
	}
	c := dial(t, srv.addr, &smtpc.Options{TLSPolicy: smtpc.TLSRequired, TLSConfig: cfg})
	cfg.Close() // the client keeps its reference
	if _, err := c.Sendmail(context.Background(), &smtpc.Envelope{From: "a@example.org", To: []string{"b@example.org"}}, []byte(msg1)); err != nil {
		t.Fatalf("Sendmail over TLS: %v", err)
	}
	st, ok := c.TLSConnectionState()
	fp, _ := os.ReadFile(filepath.Join(dir, "server.fp"))
	if !ok || !st.Verified || st.PeerFingerprint != strings.TrimSpace(string(fp)) || st.Version == "" {
		t.Errorf("TLS state %+v", st)
	}
	c.Quit()
	if m := srv.messages(t, 1); len(m) != 1 || m[0].TLS != "starttls" {
		t.Fatalf("%+v", m)
	}

	// net/smtp style: StartTLS verifies on loopback too; the wrong CA is refused.
	bad, _ := smtpc.NewTLSConfig()
	defer bad.Close()
	if err := bad.SetCAFile(filepath.Join(dir, "ca2.pem")); err != nil {
		t.Fatal(err)
	}
	c2, err := smtpc.Dial(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	err = c2.StartTLS(bad)
	if !errors.Is(err, smtpc.ErrTLSVerify) {
		t.Fatalf("StartTLS with the wrong CA: %v", err)
	}
	if c2.IsConnected() {
		t.Error("connected after a failed verification")
	}
	s := srv.sessionBytes(t, 2)
	if len(s) != 2 || !strings.HasPrefix(string(s[1]), "EHLO ") || !strings.HasSuffix(string(s[1]), "\r\nSTARTTLS\r\n") {
		t.Errorf("second session: %q", s)
	}

	// net/smtp style with the right CA: StartTLS, then the transaction over TLS.
	good, _ := smtpc.NewTLSConfig()
	defer good.Close()
	if err := good.SetCAFile(filepath.Join(dir, "ca.pem")); err != nil {
		t.Fatal(err)
	}
	c3 := dial(t, srv.addr, nil)
	if err := c3.StartTLS(good); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if st, ok := c3.TLSConnectionState(); !ok || !st.Verified {
		t.Errorf("after StartTLS: %+v", st)
	}
	if ok, _ := c3.Extension("STARTTLS"); ok {
		t.Error("STARTTLS still offered after TLS: the EHLO before TLS was not forgotten")
	}
	if err := c3.Mail("a@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c3.Rcpt("b@example.org"); err != nil {
		t.Fatal(err)
	}
	w, _ := c3.Data()
	w.Write([]byte(msg1))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c3.Quit()
	if m := srv.messages(t, 2); len(m) != 2 || m[1].TLS != "starttls" {
		t.Errorf("second message: %+v", m)
	}

	// A TLS configuration's errors carry the reason.
	cfg3, _ := smtpc.NewTLSConfig()
	defer cfg3.Close()
	err = cfg3.SetCAFile(filepath.Join(dir, "no-such-file.pem"))
	if se := asError(t, err); se.Status != smtpc.StatusTLS || se.Message == "" {
		t.Errorf("missing CA file: %v", err)
	}
}

// A server that drops the connection after the message: delivery unknown, per recipient, with the
// exact bytes sent in the transcript.
func TestFaultDeliveryUnknown(t *testing.T) {
	t.Parallel()
	f := startFault(t,
		map[string]interface{}{"send": "220 fault.test ESMTP\r\n"},
		map[string]interface{}{"expect": "EHLO"},
		map[string]interface{}{"send": "250-fault.test\r\n250 8BITMIME\r\n"},
		map[string]interface{}{"expect": "MAIL FROM:<a@example.org>"},
		map[string]interface{}{"send": "250 ok\r\n"},
		map[string]interface{}{"expect": "RCPT TO:<b@example.org>"},
		map[string]interface{}{"send": "250 ok\r\n"},
		map[string]interface{}{"expect": "DATA"},
		map[string]interface{}{"send": "354 go\r\n"},
		map[string]interface{}{"read_until": "\r\n.\r\n"},
		map[string]interface{}{"rst": true},
	)
	c := dial(t, f.addr, &smtpc.Options{LocalName: "client.test"})
	res, err := c.Sendmail(context.Background(), &smtpc.Envelope{From: "a@example.org", To: []string{"b@example.org"}}, []byte("Subject: f\r\n\r\nbody\r\n"))
	if !errors.Is(err, smtpc.ErrDeliveryUnknown) {
		t.Fatalf("err = %v", err)
	}
	if res.Recipients[0].State != smtpc.Unknown {
		t.Errorf("state %v", res.Recipients[0].State)
	}
	ok, tr := f.done(t)
	want := "EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\nSubject: f\r\n\r\nbody\r\n.\r\n"
	if !ok || string(tr) != want {
		t.Errorf("script ok %v, transcript:\n%q\nwant\n%q", ok, tr, want)
	}
}

// A context deadline stops a call waiting on a silent server: ErrCancelled that is also
// context.DeadlineExceeded, promptly, and the next call is not affected.
func TestContextDeadline(t *testing.T) {
	t.Parallel()
	f := startFault(t,
		map[string]interface{}{"send": "220 fault.test ESMTP\r\n"},
		map[string]interface{}{"expect": "EHLO"},
		map[string]interface{}{"send": "250 fault.test\r\n"},
		map[string]interface{}{"expect": "MAIL FROM:<a@example.org>"},
		map[string]interface{}{"sleep": 1},
	)
	c := dial(t, f.addr, &smtpc.Options{LocalName: "client.test"})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := c.Sendmail(ctx, &smtpc.Envelope{From: "a@example.org", To: []string{"b@example.org"}}, []byte(msg1))
	took := time.Since(t0)
	if !errors.Is(err, smtpc.ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if se := asError(t, err); !se.Timeout() {
		t.Error("Timeout() false")
	}
	if took > 2*time.Second {
		t.Errorf("cancel took %v", took)
	}
	if c.IsConnected() {
		t.Error("still connected")
	}
	_, tr := f.done(t)
	if want := "EHLO client.test\r\nMAIL FROM:<a@example.org>\r\n"; string(tr) != want {
		t.Errorf("transcript %q, want %q", tr, want)
	}
	// A context that already ended stops the call before anything is sent.
	if err := c.Connect(ctx, f.addr); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Connect with an ended context: %v", err)
	}
}

func TestStatusNames(t *testing.T) {
	t.Parallel()
	if smtpc.StatusTimeout.String() != "SMTPC_ETIMEOUT" || smtpc.StatusCancelled.String() != "SMTPC_ECANCELLED" {
		t.Error(smtpc.StatusTimeout.String(), smtpc.StatusCancelled.String())
	}
	if smtpc.Version() == "" {
		t.Error("no version")
	}
	if want := os.Getenv("SMTPC_EXPECTED_VERSION"); want != "" && smtpc.Version() != want {
		t.Errorf("library version %q, want %q", smtpc.Version(), want)
	}
	_, err := smtpc.Dial("127.0.0.1:1")
	if !errors.Is(err, smtpc.ErrConnect) || asError(t, err).OSErrno == 0 {
		t.Errorf("Dial to a closed port: %v", err)
	}
}

// A Client dropped without Close is freed by its finalizer (the server sees the connection
// closed), and its trace function is not called from the finalizer goroutine.
func TestFinalizer(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t)
	var afterDrop atomic.Int32
	var dropped atomic.Bool
	func() {
		c, err := smtpc.DialContext(context.Background(), srv.addr, &smtpc.Options{
			Trace: func(smtpc.TraceKind, []byte, time.Time) {
				if dropped.Load() {
					afterDrop.Add(1)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Noop(); err != nil {
			t.Fatal(err)
		}
	}()
	dropped.Store(true)
	deadline := time.Now().Add(10 * time.Second)
	for len(srv.sessionBytes(t, 0)) == 0 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
	}
	if s := srv.sessionBytes(t, 0); len(s) != 1 || !strings.HasSuffix(string(s[0]), "NOOP\r\n") {
		t.Errorf("the connection of a dropped client was not closed: %q", s)
	}
	if n := afterDrop.Load(); n != 0 {
		t.Errorf("the trace was called %d times after the client was dropped", n)
	}
}

// Cancel from another goroutine stops a call waiting on a silent server.
func TestCancelFromGoroutine(t *testing.T) {
	t.Parallel()
	f := startFault(t,
		map[string]interface{}{"send": "220 fault.test ESMTP\r\n"},
		map[string]interface{}{"expect": "EHLO"},
		map[string]interface{}{"sleep": 1},
	)
	c := dial(t, f.addr, nil)
	go func() {
		time.Sleep(200 * time.Millisecond)
		c.Cancel()
	}()
	t0 := time.Now()
	if err := c.Noop(); !errors.Is(err, smtpc.ErrCancelled) || time.Since(t0) > 900*time.Millisecond {
		t.Errorf("Noop: %v after %v", err, time.Since(t0))
	}
	f.done(t)
}

// SendMessage takes the envelope from the headers and never transmits Bcc.
func TestSendMessage(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t)
	c := dial(t, srv.addr, nil)
	msg := "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nCc: \"C\" <carol@example.org>\r\n" +
		"Bcc: dave@example.org\r\nSubject: hdr\r\n\r\nbody\r\n"
	res, err := c.SendMessage(context.Background(), nil, []byte(msg))
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if got := res.Delivered(); strings.Join(got, ",") != "bob@example.org,dave@example.org,carol@example.org" {
		t.Errorf("delivered to %v", got)
	}
	c.Quit()
	m := srv.messages(t, 1)[0]
	want := "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nCc: \"C\" <carol@example.org>\r\nSubject: hdr\r\n\r\nbody\r\n"
	if m.MailFrom != "alice@example.org" || string(m.content(t)) != want {
		t.Errorf("server got from %q:\n%q", m.MailFrom, m.content(t))
	}
}

// OAuth2TokenAuth: the token function's error stops the exchange before anything is sent; its
// token goes out in the XOAUTH2 initial response.
func TestOAuth2Token(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t, "--auth", "user@example.org:s3cret", "--auth-plaintext", "--ehlo-extra", "AUTH XOAUTH2")
	c := dial(t, srv.addr, &smtpc.Options{LocalName: "client.test"})
	noToken := errors.New("token service down")
	err := c.Auth(smtpc.OAuth2TokenAuth("XOAUTH2", "user@example.org", func() (string, error) { return "", noToken }))
	if !errors.Is(err, smtpc.ErrUser) || !errors.Is(err, noToken) {
		t.Fatalf("failing token function: %v", err)
	}
	err = c.Auth(smtpc.OAuth2TokenAuth("XOAUTH2", "user@example.org", func() (string, error) { return "tok123", nil }))
	if err == nil || errors.Is(err, smtpc.ErrUser) {
		t.Fatalf("XOAUTH2 to a server that does not implement it: %v", err)
	}
	c.Close()
	s := srv.sessionBytes(t, 1)
	xo := base64.StdEncoding.EncodeToString([]byte("user=user@example.org\x01auth=Bearer tok123\x01\x01"))
	if len(s) != 1 || !strings.HasPrefix(string(s[0]), "EHLO client.test\r\nAUTH XOAUTH2 "+xo+"\r\n") {
		t.Errorf("session %q", s)
	}
}

// Another goroutine's call while the running call is inside a callback waits its turn (it is not
// taken for re-entry).
func TestConcurrentCallWaits(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t)
	inTrace := make(chan struct{})
	var once atomic.Bool
	c := dial(t, srv.addr, &smtpc.Options{Trace: func(kind smtpc.TraceKind, data []byte, _ time.Time) {
		if kind == smtpc.TraceSend && bytes.HasPrefix(data, []byte("NOOP")) && once.CompareAndSwap(false, true) {
			close(inTrace)
			time.Sleep(300 * time.Millisecond)
		}
	}})
	other := make(chan error)
	go func() {
		<-inTrace
		other <- c.Noop()
	}()
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if err := <-other; err != nil {
		t.Errorf("the other goroutine's Noop: %v", err)
	}
	c.Quit()
	if s := srv.sessionBytes(t, 1); len(s) != 1 || !strings.HasSuffix(string(s[0]), "NOOP\r\nNOOP\r\nQUIT\r\n") {
		t.Errorf("session %q", s)
	}
}

// Every Go constant that mirrors a C enumerator has the header's value.
func TestConstantsMatchHeader(t *testing.T) {
	t.Parallel()
	for _, d := range smtpc.ConstDrift() {
		t.Error(d)
	}
	if smtpc.StatusCancelled.String() != "SMTPC_ECANCELLED" || smtpc.StatusInvalid.String() != "SMTPC_EINVAL" {
		t.Error("status names")
	}
}
