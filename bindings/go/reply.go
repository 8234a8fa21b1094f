// SPDX-License-Identifier: MIT

package smtpc

// #include <smtpc.h>
import "C"

import (
	"fmt"
	"strings"
)

// Reply is a server reply, copied out of the library (it stays valid whatever the client does next).
type Reply struct {
	Code     int      // the three-digit code (200..599)
	Enhanced string   // the RFC 3463 enhanced status code ("2.1.0"), or ""
	Lines    []string // each line's text after the code and separator, as received
	Text     string   // the lines joined as Python's smtplib joins them: stripped, with "\n"
}

func (r *Reply) String() string {
	if r == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%d %s", r.Code, strings.ReplaceAll(r.Text, "\n", " / "))
}

// copyReply copies a borrowed reply; nil for NULL.
func copyReply(r *C.smtpc_reply) *Reply {
	if r == nil {
		return nil
	}
	var n C.size_t
	text := C.smtpc_reply_text(r, &n)
	out := &Reply{
		Code:     int(C.smtpc_reply_code(r)),
		Enhanced: C.GoString(C.smtpc_reply_enhanced(r)),
		Text:     C.GoStringN(text, C.int(n)),
	}
	count := C.smtpc_reply_line_count(r)
	out.Lines = make([]string, 0, int(count))
	for i := C.size_t(0); i < count; i++ {
		var ln C.size_t
		p := C.smtpc_reply_line(r, i, &ln)
		if p == nil {
			break
		}
		out.Lines = append(out.Lines, C.GoStringN(p, C.int(ln)))
	}
	return out
}

// RecipientState is what became of one recipient of a transaction (smtpc_rcpt_state). The library
// may add states: treat an unknown value as not delivered.
type RecipientState int

const (
	NotAttempted RecipientState = 0 // the transaction stopped before its RCPT TO was answered
	Refused      RecipientState = 1 // RCPT TO was refused (RcptReply says why)
	Accepted     RecipientState = 2 // RCPT TO accepted, the message not (yet) sent
	Delivered    RecipientState = 3 // the message was accepted for this recipient
	Failed       RecipientState = 4 // the message was refused for this recipient
	Unknown      RecipientState = 5 // the connection was lost before this recipient's reply
)

func (s RecipientState) String() string {
	switch s {
	case NotAttempted:
		return "not attempted"
	case Refused:
		return "refused"
	case Accepted:
		return "accepted"
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("RecipientState(%d)", int(s))
}

// RecipientResult is the outcome for one recipient.
type RecipientResult struct {
	Address   string         // the recipient as given
	State     RecipientState // what became of it
	RcptReply *Reply         // the reply to RCPT TO, nil when not answered
	DataReply *Reply         // the reply that decided the message's fate (LMTP: this recipient's own), or nil
}

// Reply is the reply that explains the recipient's state: DataReply when there is one, else
// RcptReply.
func (r RecipientResult) Reply() *Reply {
	if r.DataReply != nil {
		return r.DataReply
	}
	return r.RcptReply
}

// Result is the per-recipient outcome of a mail transaction, copied out of the library.
type Result struct {
	MailReply  *Reply // the reply to MAIL FROM, nil when not answered
	Recipients []RecipientResult
}

// Delivered lists the recipients the message was accepted for.
func (r *Result) Delivered() []string {
	var out []string
	if r == nil {
		return out
	}
	for _, rr := range r.Recipients {
		if rr.State == Delivered {
			out = append(out, rr.Address)
		}
	}
	return out
}

// Failures maps every recipient that was not delivered to its outcome (net/smtp callers usually
// only learn of the first refusal; this is all of them).
func (r *Result) Failures() map[string]RecipientResult {
	out := map[string]RecipientResult{}
	if r == nil {
		return out
	}
	for _, rr := range r.Recipients {
		if rr.State != Delivered {
			out[rr.Address] = rr
		}
	}
	return out
}

func copyResult(res *C.smtpc_result) *Result {
	if res == nil {
		return nil
	}
	out := &Result{MailReply: copyReply(C.smtpc_result_mail_reply(res))}
	n := C.smtpc_result_count(res)
	out.Recipients = make([]RecipientResult, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		var ln C.size_t
		p := C.smtpc_result_recipient(res, i, &ln)
		out.Recipients = append(out.Recipients, RecipientResult{
			Address:   C.GoStringN(p, C.int(ln)),
			State:     RecipientState(C.smtpc_result_state(res, i)),
			RcptReply: copyReply(C.smtpc_result_rcpt_reply(res, i)),
			DataReply: copyReply(C.smtpc_result_data_reply(res, i)),
		})
	}
	return out
}
