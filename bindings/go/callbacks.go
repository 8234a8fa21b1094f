// SPDX-License-Identifier: MIT

package smtpc

// #include "glue.h"
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/cgo"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"
)

// callbackState is what a cgo.Handle given to the library as userdata refers to. Each callback
// recovers a panic (re-raised by the Go call once the library returned) and never lets one cross
// into C.
type callbackState struct {
	cb       *callbackShared
	trace    TraceFunc
	progress ProgressFunc
	reader   io.Reader
	auth     Auth
	initial  []byte // the initial response Auth.Start gave (nil: none)
	token    func() (string, error)
	err      error // the last error a callback of this state returned
}

// fail records why a callback aborted: for the running call, and for this state (a queued
// message's reader may fail during a later call than the one whose result reports it).
func (st *callbackState) fail(err error) {
	st.cb.err = err
	st.err = err
}

// callbackShared is the part of a Client its callbacks touch. The handles refer to it, not to the
// Client, so that a Client with a trace or progress function can still become unreachable (and be
// finalized) when its user drops it.
type callbackShared struct {
	inCb  int32       // > 0 while a callback of the running call runs (re-entry detection)
	gid   uint64      // the goroutine running that callback (atomic)
	panic interface{} // a panic recovered in a callback, re-raised after the call
	err   error       // an error a callback returned (reader, AUTH), the cause of StatusUser
}

func newHandle(st *callbackState) cgo.Handle { return cgo.NewHandle(st) }

func stateOf(h C.uintptr_t) *callbackState {
	st, _ := cgo.Handle(h).Value().(*callbackState)
	return st
}

// enter marks the client as inside a callback (for re-entry detection); the returned function
// leaves, recording a panic.
func (st *callbackState) enter() func() {
	atomic.StoreUint64(&st.cb.gid, goid())
	atomic.AddInt32(&st.cb.inCb, 1)
	return func() {
		if p := recover(); p != nil && st.cb.panic == nil {
			st.cb.panic = p
		}
		atomic.AddInt32(&st.cb.inCb, -1)
	}
}

//export goSmtpcTrace
func goSmtpcTrace(kind C.int, data *C.char, n C.size_t, timeUS C.int64_t, h C.uintptr_t) {
	st := stateOf(h)
	if st == nil || st.trace == nil {
		return
	}
	defer st.enter()()
	var t time.Time
	if timeUS != 0 {
		t = time.UnixMicro(int64(timeUS))
	}
	st.trace(TraceKind(kind), C.GoBytes(unsafe.Pointer(data), C.int(n)), t)
}

//export goSmtpcProgress
func goSmtpcProgress(sent, total C.uint64_t, h C.uintptr_t) (abort C.int) {
	st := stateOf(h)
	if st == nil || st.progress == nil {
		return 0
	}
	abort = 1 // also when the function panics
	defer st.enter()()
	if st.progress(uint64(sent), uint64(total)) {
		abort = 0
	} else {
		st.fail(errors.New("the progress function withdrew the message"))
	}
	return abort
}

//export goSmtpcRead
func goSmtpcRead(buf *C.char, capacity C.size_t, n *C.size_t, h C.uintptr_t) (abort C.int) {
	*n = 0
	st := stateOf(h)
	if st == nil || st.reader == nil {
		return 1
	}
	abort = 1
	defer st.enter()()
	if capacity == 0 {
		return 0
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(capacity))
	// Fill the buffer (fewer, larger blocks: each call is a crossing between C and Go). An
	// io.Reader may return 0, nil: ask again, a bounded number of times in a row, rather than
	// signal the end of the message, which a 0 means to the library. An error after some bytes
	// comes back at the next call, so those bytes are sent first.
	filled, idle := 0, 0
	for filled < len(dst) {
		got, err := st.reader.Read(dst[filled:])
		if got < 0 || got > len(dst)-filled {
			st.fail(fmt.Errorf("io.Reader returned %d bytes for a %d-byte buffer", got, len(dst)-filled))
			return 1
		}
		filled += got
		if err == io.EOF {
			st.reader = eofReader{}
			break
		}
		if err != nil {
			if filled == 0 {
				st.fail(err)
				return 1
			}
			st.reader = &errReader{err: err}
			break
		}
		if got == 0 {
			if idle++; idle == 100 {
				if filled > 0 {
					break
				}
				st.fail(io.ErrNoProgress)
				return 1
			}
		} else {
			idle = 0
		}
	}
	*n = C.size_t(filled)
	return 0
}

type errReader struct{ err error }

func (r *errReader) Read([]byte) (int, error) { return 0, r.err }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

//export goSmtpcAuth
func goSmtpcAuth(challenge *C.char, n C.size_t, isInitial C.int, resp *C.smtpc_auth_response, h C.uintptr_t) (abort C.int) {
	st := stateOf(h)
	if st == nil || st.auth == nil {
		return 1
	}
	abort = 1
	defer st.enter()()
	var out []byte
	if isInitial != 0 {
		// The initial response was computed by Start before the exchange began.
		out = st.initial
		st.initial = nil
		if out == nil {
			return 0
		}
	} else {
		var err error
		out, err = st.auth.Next(C.GoBytes(unsafe.Pointer(challenge), C.int(n)), true)
		if err != nil {
			st.fail(err)
			return 1
		}
	}
	p, ln := cbytes(out)
	if s := Status(C.smtpc_auth_response_set(resp, p, ln)); s != StatusOK {
		st.fail(s)
		return 1
	}
	return 0
}

//export goSmtpcToken
func goSmtpcToken(resp *C.smtpc_auth_response, h C.uintptr_t) (abort C.int) {
	st := stateOf(h)
	if st == nil || st.token == nil {
		return 1
	}
	abort = 1
	defer st.enter()()
	tok, err := st.token()
	if err != nil {
		st.fail(err)
		return 1
	}
	b := []byte(tok)
	p, ln := cbytes(b)
	s := Status(C.smtpc_auth_response_set(resp, p, ln))
	wipe(b)
	if s != StatusOK {
		st.fail(s)
		return 1
	}
	return 0
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// uintptrHandle is a cgo.Handle that may be 0 (no callback).
type uintptrHandle cgo.Handle

func (h uintptrHandle) del() {
	if h != 0 {
		cgo.Handle(h).Delete()
	}
}

// goid is the current goroutine's id, read from its stack header ("goroutine 12 [running]:"). Used
// only to tell a callback calling its own client (re-entry) from another goroutine that must wait.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
