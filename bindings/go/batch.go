// SPDX-License-Identifier: MIT

package smtpc

// #include <stdlib.h>
// #include "glue.h"
import "C"

import (
	"context"
	"io"
	"unsafe"
)

// Message is one message for the queue of Enqueue: an envelope and a body, in memory or read from
// an io.Reader while it is sent.
type Message struct {
	Envelope *Envelope
	Body     []byte    // the message (copied by Enqueue)
	Reader   io.Reader // or read from here as it is sent (Body must then be nil)
	SizeHint int64     // with Reader: declared with SIZE when not 0
	// FromHeaders takes what Envelope leaves unset from the message's headers and never transmits
	// its Bcc fields, as SendMessage does (Body only, not Reader).
	FromHeaders bool
	Tag         uint64 // echoed in the MessageResult
}

// MessageState is what became of a queued message. The library may add states.
type MessageState int

const (
	MessageDelivered MessageState = 0 // accepted for every recipient
	MessagePartial   MessageState = 1 // accepted for some recipients only (see Result)
	MessageRefused   MessageState = 2 // refused by the server (MAIL, every RCPT, DATA or the message)
	MessageNotSent   MessageState = 3 // its end of data never went out: nothing delivered, may be sent again
	MessageUnknown   MessageState = 4 // lost after its end of data: may or may not have been delivered
)

func (s MessageState) String() string {
	switch s {
	case MessageDelivered:
		return "delivered"
	case MessagePartial:
		return "partial"
	case MessageRefused:
		return "refused"
	case MessageNotSent:
		return "not sent"
	case MessageUnknown:
		return "unknown"
	}
	return "MessageState(" + itoa(int(s)) + ")"
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// MessageResult is the outcome of one queued message.
type MessageResult struct {
	Tag    uint64
	State  MessageState
	Err    error   // what Sendmail would have returned for it (an *Error), nil when delivered
	Reply  *Reply  // the reply that decided it, nil when none came
	Result *Result // each recipient's outcome
}

// queued is what the Go side keeps for a queued message until its result is taken: the body's C
// copy and the reader's handle, which the library borrows.
type queued struct {
	body   unsafe.Pointer
	handle uintptrHandle
	state  *callbackState
}

func (q *queued) free() {
	if q.body != nil {
		C.free(q.body)
		q.body = nil
	}
	q.handle.del()
	q.handle = 0
}

// Enqueue queues m for sending over the client's connection, back to back with the other queued
// messages (pipelined across messages, a window of them in flight with CHUNKING); take the results
// with NextResult, in the order the messages were queued. A message that fails a check is not
// queued. While messages are queued, the other calls that talk to the server return ErrState.
// The body is copied (a Reader is read as the message is sent, during Enqueue, NextResult or Quit).
func (c *Client) Enqueue(ctx context.Context, m *Message) error {
	if m == nil {
		return argError("Enqueue", "nil message")
	}
	if m.Reader != nil && m.Body != nil {
		return argError("Enqueue", "both Body and Reader set")
	}
	var msg *C.smtpc_message
	if st := Status(C.smtpc_message_new(&msg)); st != StatusOK {
		return newError("Enqueue", st, "")
	}
	defer C.smtpc_message_free(msg)
	if m.Envelope != nil {
		env, err := m.Envelope.build("Enqueue", m.FromHeaders)
		if err != nil {
			return err
		}
		st := Status(C.smtpc_message_set_envelope(msg, env))
		C.smtpc_envelope_free(env)
		if st != StatusOK {
			return newError("Enqueue", st, "")
		}
	}
	q := &queued{}
	if m.Reader != nil {
		q.state = &callbackState{cb: c.cb, reader: m.Reader}
		q.handle = uintptrHandle(newHandle(q.state))
		hint := m.SizeHint
		if hint < 0 {
			hint = 0
		}
		C.smtpcgo_message_set_body_reader(msg, C.uint64_t(hint), C.uintptr_t(q.handle))
	} else {
		// Borrowed by the library until the result is taken: C memory, not Go memory.
		if len(m.Body) > 0 {
			q.body = C.CBytes(m.Body)
		}
		C.smtpc_message_set_body(msg, (*C.char)(q.body), C.size_t(len(m.Body)))
	}
	C.smtpc_message_set_envelope_from_headers(msg, cbool(m.FromHeaders))
	C.smtpc_message_set_tag(msg, C.uint64_t(m.Tag))
	err := c.run(ctx, "Enqueue", false, func(h *C.smtpc_client) C.smtpc_status {
		st := C.smtpc_client_enqueue(h, msg)
		if Status(st) == StatusOK {
			c.queue = append(c.queue, q)
		}
		return st
	})
	if err != nil && !c.holds(q) {
		q.free()
	}
	return err
}

func (c *Client) holds(q *queued) bool {
	for _, x := range c.queue {
		if x == q {
			return true
		}
	}
	return false
}

// NextResult takes the result of the oldest queued message, driving the connection until it is
// complete; nil, nil when no message is queued. err is about this call (ErrCancelled when ctx
// ended, ...), the message's own outcome is in the result.
func (c *Client) NextResult(ctx context.Context) (*MessageResult, error) {
	var out *MessageResult
	err := c.run(ctx, "NextResult", false, func(h *C.smtpc_client) C.smtpc_status {
		var r *C.smtpc_message_result
		st := C.smtpc_client_next_result(h, &r)
		if Status(st) != StatusOK || r == nil {
			return st
		}
		defer C.smtpc_message_result_free(r)
		out = &MessageResult{
			Tag:    uint64(C.smtpc_message_result_tag(r)),
			State:  MessageState(C.smtpc_message_result_state(r)),
			Reply:  copyReply(C.smtpc_message_result_reply(r)),
			Result: copyResult(C.smtpc_message_result_recipients(r)),
		}
		var q *queued
		if len(c.queue) > 0 {
			q, c.queue = c.queue[0], c.queue[1:]
		}
		if ms := Status(C.smtpc_message_result_status(r)); ms != StatusOK {
			var n C.size_t
			p := C.smtpc_message_result_errmsg(r, &n)
			e := newError("NextResult", ms, C.GoStringN(p, C.int(n)))
			if replyStatus(ms) {
				e.Reply = out.Reply
			}
			e.Result = out.Result
			if q != nil && q.state != nil && ms == StatusUser {
				e.cause = q.state.err
			}
			out.Err = e
		}
		if q != nil {
			q.free()
		}
		return st
	})
	return out, err
}

// SetWindow bounds the queue: at most messages queued and not complete, and no message started
// while those in flight add up to bytes or more (defaults 32 and 1 MiB).
func (c *Client) SetWindow(messages uint32, bytes uint64) error {
	return c.run(nil, "SetWindow", false, func(h *C.smtpc_client) C.smtpc_status {
		return C.smtpc_client_set_window(h, C.uint32_t(messages), C.uint64_t(bytes))
	})
}

// Queued is the number of queued messages whose results have not been taken.
func (c *Client) Queued() int {
	var n C.size_t
	c.getter(func(h *C.smtpc_client) { n = C.smtpc_client_queued(h) })
	return int(n)
}

// InFlight is the number of queued messages whose commands went out and whose outcome is unknown.
func (c *Client) InFlight() int {
	var n C.size_t
	c.getter(func(h *C.smtpc_client) { n = C.smtpc_client_in_flight(h) })
	return int(n)
}
