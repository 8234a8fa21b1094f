// SPDX-License-Identifier: MIT

package smtpc_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"smtpc"
)

// Three messages queued on one connection: one delivered from memory, one refused (every
// recipient), one streamed from a reader; results in order, with tags, and the server got exactly
// the two delivered messages.
func TestEnqueue(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t)
	c := dial(t, srv.addr, nil)
	ctx := context.Background()
	body3 := "Subject: three\r\n\r\n" + strings.Repeat("streamed line\r\n", 5000)
	msgs := []*smtpc.Message{
		{Envelope: &smtpc.Envelope{From: "a@example.org", To: []string{"one@example.org"}}, Body: []byte("Subject: one\r\n\r\n1\r\n"), Tag: 1},
		{Envelope: &smtpc.Envelope{From: "a@example.org", To: []string{"reject-two@example.org"}}, Body: []byte("Subject: two\r\n\r\n2\r\n"), Tag: 2},
		{Envelope: &smtpc.Envelope{From: "a@example.org", To: []string{"three@example.org"}}, Reader: strings.NewReader(body3), Tag: 3},
	}
	for _, m := range msgs {
		if err := c.Enqueue(ctx, m); err != nil {
			t.Fatalf("Enqueue %d: %v", m.Tag, err)
		}
	}
	if err := c.Enqueue(ctx, &smtpc.Message{Envelope: &smtpc.Envelope{From: "a@example.org"}, Body: []byte("x")}); !errors.Is(err, smtpc.ErrInvalid) {
		t.Errorf("a message without recipients: %v", err)
	}
	if err := c.Noop(); !errors.Is(err, smtpc.ErrState) && c.Queued() > 0 {
		t.Errorf("Noop with messages queued: %v", err)
	}
	want := []smtpc.MessageState{smtpc.MessageDelivered, smtpc.MessageRefused, smtpc.MessageDelivered}
	for i, w := range want {
		r, err := c.NextResult(ctx)
		if err != nil || r == nil {
			t.Fatalf("NextResult %d: %v %v", i, r, err)
		}
		if r.Tag != uint64(i+1) || r.State != w {
			t.Errorf("result %d: tag %d state %v, want %v (%v)", i, r.Tag, r.State, w, r.Err)
		}
		if w == smtpc.MessageRefused {
			if !errors.Is(r.Err, smtpc.ErrRecipientsRefused) || r.Result.Recipients[0].RcptReply.Code != 550 {
				t.Errorf("refused: %v %+v", r.Err, r.Result)
			}
		} else if r.Err != nil {
			t.Errorf("result %d: %v", i, r.Err)
		}
	}
	if r, err := c.NextResult(ctx); r != nil || err != nil {
		t.Errorf("a fourth result: %v %v", r, err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	got := srv.messages(t, 2)
	if len(got) != 2 {
		t.Fatalf("%d messages on the server", len(got))
	}
	var contents []string
	for _, m := range got {
		contents = append(contents, m.RcptTos[0]+" "+string(m.content(t)))
	}
	sort.Strings(contents)
	if contents[0] != "one@example.org Subject: one\r\n\r\n1\r\n" || contents[1] != "three@example.org "+body3 {
		t.Errorf("contents %q", contents)
	}
}
