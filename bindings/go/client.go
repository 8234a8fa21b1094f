// SPDX-License-Identifier: MIT

package smtpc

// #include <stdlib.h>
// #include "glue.h"
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Protocol is the protocol a client speaks.
type Protocol int

const (
	SMTP Protocol = 0 // RFC 5321: EHLO/HELO, default port 25
	LMTP Protocol = 1 // RFC 2033: LHLO, default port 2003, one reply per recipient after the message
)

// TLSPolicy says when the client uses TLS (smtpc_tls_policy; see docs/tls.md).
type TLSPolicy int

const (
	// TLSAuto, the default, chooses by the kind of peer: none on a Unix socket, opportunistic on a
	// loopback address, required (and verified) to any other peer; implicit TLS on port 465.
	TLSAuto TLSPolicy = 0
	// TLSNone: no TLS unless StartTLS is called (net/smtp's and smtplib's behaviour).
	TLSNone TLSPolicy = 1
	// TLSOpportunistic: STARTTLS when offered; a failed verification is recorded, not fatal.
	TLSOpportunistic TLSPolicy = 2
	// TLSRequired: STARTTLS with a verified certificate, or fail before anything but EHLO is sent.
	TLSRequired TLSPolicy = 3
	// TLSImplicit: TLS from the first byte (RFC 8314, port 465).
	TLSImplicit TLSPolicy = 4
)

// TraceKind is the nature of a traced protocol event.
type TraceKind int

const (
	TraceSend TraceKind = 1 // a command line the client sent
	TraceRecv TraceKind = 2 // a reply line received
	TraceData TraceKind = 3 // a block of the message as sent
	TraceInfo TraceKind = 4 // a note from the library (connection opened, closed, address tried)
)

// TraceFunc receives the protocol trace. data is a copy (it may be kept). t is the zero Time at
// trace level 1. Credentials are never traced in clear. It runs on the goroutine of the call that
// traces, including Close: it must not call methods of the same Client that talk to the server
// (they fail with ErrState), and a panic in it is re-raised when the call returns.
type TraceFunc func(kind TraceKind, data []byte, t time.Time)

// Options configure a Client. The zero value is a usable SMTP client with the library's defaults.
type Options struct {
	Protocol  Protocol
	LocalName string // the name sent with EHLO/HELO/LHLO; "" for this machine's fully qualified name

	// ConnectTimeout bounds the connection and the greeting, CommandTimeout each command and its
	// reply (every step of a transaction gets a fresh one). 0 keeps the library's defaults (30 s and
	// 300 s); a negative value means no limit. A context deadline applies in addition.
	ConnectTimeout time.Duration
	CommandTimeout time.Duration

	TLSPolicy     TLSPolicy
	TLSConfig     *TLSConfig // nil: the default configuration (system trust store, verification on)
	TLSServerName string     // the name to verify and send as SNI when it is not the host dialled
	// InsecureSkipVerifyForTesting accepts any server certificate. Never in production.
	InsecureSkipVerifyForTesting bool
	// AllowInsecureAuth lets AUTH send credentials over a connection that is neither TLS-verified
	// nor to this machine.
	AllowInsecureAuth bool

	// SourceHost and SourcePort bind the outgoing socket before connecting ("" and 0: any).
	SourceHost string
	SourcePort uint16

	DisablePipelining bool // one command per round trip even when the server offers PIPELINING
	DisableChunking   bool // DATA even when the server offers CHUNKING (BDAT)

	Trace      TraceFunc
	TraceLevel int // 1 (default when Trace is set) or 2 (with timestamps)
}

// Client is one SMTP or LMTP session over the C library. A Client is used by one goroutine at a
// time, except Cancel, which any goroutine may call; calls from another goroutine wait their turn.
//
// Close it when done: Close frees the C handle (closing the connection without QUIT). A finalizer
// frees a Client that was dropped without Close, with its trace function removed first, so that
// no callback ever runs on the finalizer goroutine; relying on it leaks the connection until a
// garbage collection, so call Close (or Quit and Close).
type Client struct {
	mu       sync.Mutex
	c        *C.smtpc_client
	cb       *callbackShared
	cancelMu sync.RWMutex // Cancel holds it shared, the free in Close exclusively

	protocol Protocol
	host     string // as dialled, for ServerInfo
	policy   TLSPolicy
	trace    cgo.Handle
	progress cgo.Handle
	tlsCfg   *TLSConfig // kept alive while the client may use it

	staleCancel bool // a context's cancel reached the library after its call had finished

	queue []*queued // messages queued with Enqueue whose results were not taken, oldest first
}

// New makes a client without connecting (smtpc_client_new). Connect it with Connect.
func New(opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	var h *C.smtpc_client
	if st := Status(C.smtpc_client_new(&h, C.smtpc_protocol(opts.Protocol))); st != StatusOK {
		return nil, newError("New", st, "")
	}
	c := &Client{c: h, cb: &callbackShared{}, protocol: opts.Protocol}
	runtime.SetFinalizer(c, (*Client).finalize)
	if err := c.apply(opts); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func ms(d time.Duration) C.uint32_t {
	switch {
	case d < 0:
		return 0
	case d == 0:
		return 0
	case d < time.Millisecond:
		return 1
	case d > time.Duration(1<<32-1)*time.Millisecond:
		return 1<<32 - 1
	}
	return C.uint32_t(d / time.Millisecond)
}

func (c *Client) apply(o *Options) error {
	check := func(op string, st C.smtpc_status) error {
		if Status(st) != StatusOK {
			return c.errorFor(op, Status(st), false)
		}
		return nil
	}
	if o.LocalName != "" {
		p, n := cstr(o.LocalName)
		if err := check("New: LocalName", C.smtpc_client_set_local_hostname(c.c, p, n)); err != nil {
			return err
		}
	}
	if o.ConnectTimeout != 0 {
		C.smtpc_client_set_connect_timeout(c.c, ms(o.ConnectTimeout))
	}
	if o.CommandTimeout != 0 {
		C.smtpc_client_set_command_timeout(c.c, ms(o.CommandTimeout))
	}
	if err := c.SetTLSPolicy(o.TLSPolicy); err != nil {
		return err
	}
	if o.TLSConfig != nil {
		if err := c.SetTLSConfig(o.TLSConfig); err != nil {
			return err
		}
	}
	if o.TLSServerName != "" {
		p, n := cstr(o.TLSServerName)
		if err := check("New: TLSServerName", C.smtpc_client_set_tls_server_name(c.c, p, n)); err != nil {
			return err
		}
	}
	if o.SourceHost != "" || o.SourcePort != 0 {
		p, n := cstr(o.SourceHost)
		if err := check("New: SourceHost", C.smtpc_client_set_source_address(c.c, p, n, C.uint16_t(o.SourcePort))); err != nil {
			return err
		}
	}
	if o.InsecureSkipVerifyForTesting {
		C.smtpc_client_set_tls_insecure_skip_verify_for_testing(c.c, 1)
	}
	if o.AllowInsecureAuth {
		C.smtpc_client_set_allow_insecure_auth(c.c, 1)
	}
	if o.DisablePipelining {
		C.smtpc_client_set_pipelining(c.c, 0)
	}
	if o.DisableChunking {
		C.smtpc_client_set_chunking(c.c, 0)
	}
	if o.Trace != nil {
		level := o.TraceLevel
		if level == 0 {
			level = 1
		}
		if err := c.SetTrace(level, o.Trace); err != nil {
			return err
		}
	}
	return nil
}

// Dial connects to addr ("host:port", "host" for port 25, "[::1]:25", or the path of a Unix
// socket) as net/smtp's Dial does, and reads the greeting. The client's TLS policy is TLSAuto.
func Dial(addr string) (*Client, error) {
	return DialContext(context.Background(), addr, nil)
}

// DialContext is Dial with options and a context whose cancellation or deadline stops the connect.
func DialContext(ctx context.Context, addr string, opts *Options) (*Client, error) {
	c, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := c.Connect(ctx, addr); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Connect connects to addr (see Dial) and reads the greeting.
func (c *Client) Connect(ctx context.Context, addr string) error {
	if addr == "" {
		return argError("Connect", "empty address")
	}
	p, n := cstr(addr)
	err := c.run(ctx, "Connect", false, func(h *C.smtpc_client) C.smtpc_status {
		return C.smtpc_client_connect(h, p, n, 0)
	})
	if err == nil {
		c.host = addr
		if i := strings.LastIndexByte(addr, ':'); i > 0 && !strings.HasPrefix(addr, "/") &&
			(strings.Count(addr, ":") == 1 || strings.HasPrefix(addr, "[")) {
			c.host = strings.Trim(addr[:i], "[]")
		}
	}
	return err
}

// cstr gives a Go string to C as (pointer, length) without a NUL terminator. The bytes are a Go
// copy that C only reads during the call.
func cstr(s string) (*C.char, C.size_t) {
	if s == "" {
		return nil, 0
	}
	b := []byte(s)
	return (*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// cbytes is cstr for a byte slice (no copy; the slice must stay unchanged during the call).
func cbytes(b []byte) (*C.char, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// lock takes the client for one call. reentry is true when the caller is a callback of the call
// that holds it, on that call's goroutine (the library then refuses every status-returning call
// with SMTPC_ESTATE); another goroutine waits for the running call.
func (c *Client) lock() (reentry bool) {
	if c.mu.TryLock() {
		return false
	}
	if atomic.LoadInt32(&c.cb.inCb) > 0 && atomic.LoadUint64(&c.cb.gid) == goid() {
		return true
	}
	c.mu.Lock()
	return false
}

// run makes one call that may block. A context that can end gets a goroutine that cancels the call
// (smtpc_client_cancel) when the context ends and exits as soon as the call returns.
func (c *Client) run(ctx context.Context, op string, withResult bool, f func(h *C.smtpc_client) C.smtpc_status) error {
	if c.lock() {
		return newError(op, StatusState, "called from a callback of the running call on this client")
	}
	defer c.mu.Unlock()
	if c.c == nil {
		return newError(op, StatusState, "use of a closed Client")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		e := newError(op, StatusCancelled, "context ended before the call")
		e.cause = err
		return e
	}
	c.cb.panic, c.cb.err = nil, nil

	var st Status
	var raised bool
	if done := ctx.Done(); done == nil {
		st = Status(f(c.c))
	} else {
		var mu sync.Mutex
		finished := false
		stop := make(chan struct{})
		exited := make(chan struct{})
		go func() {
			defer close(exited)
			select {
			case <-done:
				mu.Lock()
				if !finished {
					raised = true
					C.smtpc_client_cancel(c.c)
				}
				mu.Unlock()
			case <-stop:
			}
		}()
		st = Status(f(c.c))
		mu.Lock()
		finished = true
		mu.Unlock()
		close(stop)
		<-exited
	}
	if raised && st != StatusCancelled {
		// The cancel arrived after the library's last look at it: it is pending, and would stop the
		// next call that talks to the server. That call reports where it came from.
		c.staleCancel = true
	}
	if p := c.cb.panic; p != nil {
		c.cb.panic = nil
		panic(p)
	}
	if st == StatusOK {
		return nil
	}
	e := c.errorFor(op, st, withResult)
	if st == StatusCancelled {
		if raised {
			e.cause = ctx.Err()
		} else if c.staleCancel {
			c.staleCancel = false
			e.Message += " (by a context that ended as an earlier call returned)"
		}
	}
	if st == StatusUser && c.cb.err != nil {
		e.cause = c.cb.err
	}
	c.cb.err = nil
	return e
}

// replyStatuses are the statuses whose error carries the reply that caused them.
func replyStatus(st Status) bool {
	switch st {
	case StatusGreeting, StatusHelo, StatusReply, StatusClosing, StatusSenderRefused,
		StatusRecipientsRefused, StatusDataRefused, StatusAuth:
		return true
	}
	return false
}

func (c *Client) errorFor(op string, st Status, withResult bool) *Error {
	e := newError(op, st, C.GoString(C.smtpc_client_errmsg(c.c)))
	if replyStatus(st) || st == StatusDisconnected {
		r := copyReply(C.smtpc_client_last_reply(c.c))
		if r != nil && (replyStatus(st) || r.Code >= 400) {
			e.Reply = r
		}
	}
	if withResult {
		e.Result = copyResult(C.smtpc_client_last_result(c.c))
	}
	if st == StatusIO || st == StatusConnect {
		e.OSErrno = syscall.Errno(C.smtpc_client_os_error(c.c))
	}
	return e
}

// getter runs a call that does not block and cannot fail (a state read), also from a callback.
func (c *Client) getter(f func(h *C.smtpc_client)) bool {
	if !c.lock() {
		defer c.mu.Unlock()
	}
	if c.c == nil {
		return false
	}
	f(c.c)
	return true
}

// Cancel stops the call running on the client (from another goroutine): it returns ErrCancelled
// promptly and the connection is closed. With no call running, the next call that talks to the
// server is cancelled before it sends anything. Safe from any goroutine and from callbacks.
func (c *Client) Cancel() {
	// Not under mu, which the running call holds; cancelMu keeps Close from freeing the handle
	// while the cancel uses it.
	c.cancelMu.RLock()
	defer c.cancelMu.RUnlock()
	if c.c != nil {
		C.smtpc_client_cancel(c.c)
	}
}

// Close closes the connection without QUIT and frees the client; later calls return ErrState. It
// may call the trace function (the library traces the close). From a callback of the running call
// it only closes the connection: the call then ends with an error and the handle is freed by Close
// called afterwards.
func (c *Client) Close() error {
	if c.lock() {
		C.smtpc_client_close(c.c) // deferred by the library until the running call returns
		return nil
	}
	defer c.mu.Unlock()
	if c.c == nil {
		return nil
	}
	c.cb.panic = nil
	c.cancelMu.Lock()
	C.smtpc_client_free(c.c) // the handles stay valid until it returns
	c.c = nil
	c.cancelMu.Unlock()
	c.release()
	runtime.SetFinalizer(c, nil)
	if p := c.cb.panic; p != nil {
		c.cb.panic = nil
		panic(p)
	}
	return nil
}

func (c *Client) release() {
	for _, q := range c.queue { // the library dropped them with the handle
		q.free()
	}
	c.queue = nil
	if c.trace != 0 {
		c.trace.Delete()
		c.trace = 0
	}
	if c.progress != 0 {
		c.progress.Delete()
		c.progress = 0
	}
	c.tlsCfg = nil
}

func (c *Client) finalize() {
	if c.c != nil {
		C.smtpcgo_set_trace(c.c, 0, 0) // no Go callback on the finalizer goroutine
		C.smtpc_client_free(c.c)
		c.c = nil
	}
	c.release()
}

// SetTrace sets the protocol trace: level 0 off, 1 every line, 2 with timestamps.
func (c *Client) SetTrace(level int, fn TraceFunc) error {
	if level != 0 && fn == nil {
		return argError("SetTrace", "trace level %d without a function", level)
	}
	if c.lock() {
		return newError("SetTrace", StatusState, "called from a callback of the running call on this client")
	}
	defer c.mu.Unlock()
	if c.c == nil {
		return newError("SetTrace", StatusState, "use of a closed Client")
	}
	var h cgo.Handle
	if level != 0 {
		h = cgo.NewHandle(&callbackState{cb: c.cb, trace: fn})
	}
	st := Status(C.smtpcgo_set_trace(c.c, C.int(level), C.uintptr_t(h)))
	if st != StatusOK {
		if h != 0 {
			h.Delete()
		}
		return c.errorFor("SetTrace", st, false)
	}
	if c.trace != 0 {
		c.trace.Delete()
	}
	c.trace = h
	return nil
}

// ProgressFunc is told how many bytes of the message the library has taken, of total (0 when
// unknown). Return false to withdraw the message (the call fails with ErrUser, nothing delivered).
type ProgressFunc func(sent, total uint64) bool

// SetProgress sets (or with nil removes) the progress function of the messages this client sends.
func (c *Client) SetProgress(fn ProgressFunc) error {
	if c.lock() {
		return newError("SetProgress", StatusState, "called from a callback of the running call on this client")
	}
	defer c.mu.Unlock()
	if c.c == nil {
		return newError("SetProgress", StatusState, "use of a closed Client")
	}
	var h cgo.Handle
	if fn != nil {
		h = cgo.NewHandle(&callbackState{cb: c.cb, progress: fn})
	}
	if st := Status(C.smtpcgo_set_progress(c.c, C.uintptr_t(h))); st != StatusOK {
		if h != 0 {
			h.Delete()
		}
		return c.errorFor("SetProgress", st, false)
	}
	if c.progress != 0 {
		c.progress.Delete()
	}
	c.progress = h
	return nil
}

// SetTLSPolicy sets when TLS is used (takes effect at the next connect or command).
func (c *Client) SetTLSPolicy(p TLSPolicy) error {
	return c.run(nil, "SetTLSPolicy", false, func(h *C.smtpc_client) C.smtpc_status {
		st := C.smtpc_client_set_tls_policy(h, C.smtpc_tls_policy(p))
		if Status(st) == StatusOK {
			c.policy = p
		}
		return st
	})
}

// SetTLSConfig makes the client use cfg (nil: the default configuration) from the next handshake.
func (c *Client) SetTLSConfig(cfg *TLSConfig) error {
	var p *C.smtpc_tls_config
	if cfg != nil {
		p = cfg.ptr()
		if p == nil {
			return newError("SetTLSConfig", StatusState, "use of a closed TLSConfig")
		}
	}
	err := c.run(nil, "SetTLSConfig", false, func(h *C.smtpc_client) C.smtpc_status {
		return C.smtpc_client_set_tls_config(h, p)
	})
	if err == nil {
		c.tlsCfg = cfg // the library holds its own reference; this keeps the Go object tidy
	}
	runtime.KeepAlive(cfg)
	return err
}

// --- state -----------------------------------------------------------------------------------

// Protocol is the protocol the client speaks.
func (c *Client) Protocol() Protocol { return c.protocol }

// IsConnected reports whether the client holds an open connection.
func (c *Client) IsConnected() bool {
	var v C.int
	c.getter(func(h *C.smtpc_client) { v = C.smtpc_client_is_connected(h) })
	return v != 0
}

// LastReply is a copy of the last reply received (nil when none).
func (c *Client) LastReply() *Reply {
	var r *Reply
	c.getter(func(h *C.smtpc_client) { r = copyReply(C.smtpc_client_last_reply(h)) })
	return r
}

// LastResult is a copy of the per-recipient outcome of the last transaction (nil when none).
func (c *Client) LastResult() *Result {
	var r *Result
	c.getter(func(h *C.smtpc_client) { r = copyResult(C.smtpc_client_last_result(h)) })
	return r
}

// Features is the server's EHLO feature map: lower-case keyword to parameters, as smtplib's
// esmtp_features (empty before EHLO).
func (c *Client) Features() map[string]string {
	out := map[string]string{}
	c.getter(func(h *C.smtpc_client) {
		n := C.smtpc_client_extn_count(h)
		for i := C.size_t(0); i < n; i++ {
			var kn, pn C.size_t
			k := C.smtpc_client_extn_name(h, i, &kn)
			p := C.smtpc_client_extn_params_at(h, i, &pn)
			if k == nil || p == nil {
				break
			}
			out[C.GoStringN(k, C.int(kn))] = C.GoStringN(p, C.int(pn))
		}
	})
	return out
}

// AuthMechanism is the mechanism of the last successful authentication on this connection
// ("SCRAM-SHA-256"), or "".
func (c *Client) AuthMechanism() string {
	var m string
	c.getter(func(h *C.smtpc_client) { m = C.GoString(C.smtpc_client_auth_mechanism(h)) })
	return m
}

// TLSState describes the connection's TLS.
type TLSState struct {
	Active          bool   // the connection is encrypted
	Verified        bool   // and the certificate and name were verified
	Version         string // "TLSv1.3"
	Cipher          string // "TLS_AES_256_GCM_SHA384"
	PeerSubject     string // "CN=localhost"
	PeerFingerprint string // SHA-256 of the certificate, lower-case hex
	VerifyResult    int    // OpenSSL's X509_V_ERR_* code of the last handshake (0: none)
	Resumed         bool   // the TLS session was resumed from an earlier connection
}

// TLSConnectionState is the connection's TLS state; ok is false when it is not encrypted.
func (c *Client) TLSConnectionState() (state TLSState, ok bool) {
	c.getter(func(h *C.smtpc_client) {
		state = TLSState{
			Active:          C.smtpc_client_tls_active(h) != 0,
			Verified:        C.smtpc_client_tls_verified(h) != 0,
			Version:         C.GoString(C.smtpc_client_tls_version(h)),
			Cipher:          C.GoString(C.smtpc_client_tls_cipher(h)),
			PeerSubject:     C.GoString(C.smtpc_client_tls_peer_subject(h)),
			PeerFingerprint: C.GoString(C.smtpc_client_tls_peer_fingerprint(h)),
			VerifyResult:    int(C.smtpc_client_tls_verify_result(h)),
			Resumed:         C.smtpc_client_tls_resumed(h) != 0,
		}
	})
	return state, state.Active
}
