// SPDX-License-Identifier: MIT

package smtpc_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"smtpc"
)

// Typed DSN parameters: encoded on MAIL and RCPT as RFC 3461 says (xtext), and refused with
// ErrNotSupported, nothing sent after EHLO, by a server that does not offer DSN.
func TestDSNParams(t *testing.T) {
	t.Parallel()
	srv := startAiosmtpd(t, "--ehlo-extra", "DSN")
	env := &smtpc.Envelope{
		From: "a@example.org", To: []string{"b@example.org", "c@example.org"},
		Params: &smtpc.MailParams{DSN: &smtpc.DSN{
			Ret: smtpc.DSNRetHeaders, EnvID: "id 1+", Notify: smtpc.NotifySuccess | smtpc.NotifyFailure,
			ORcpt: map[string]string{"b@example.org": "orig@example.org"},
		}},
	}
	c := dial(t, srv.addr, nil)
	if _, err := c.Sendmail(context.Background(), env, []byte(msg1)); err != nil {
		t.Fatalf("Sendmail: %v", err)
	}
	c.Quit()
	s := string(srv.sessionBytes(t, 1)[0])
	for _, want := range []string{
		"MAIL FROM:<a@example.org> ", " RET=HDRS", " ENVID=id+201+2B",
		"RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;orig@example.org\r\n",
		"RCPT TO:<c@example.org> NOTIFY=SUCCESS,FAILURE\r\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("%q not in the session:\n%s", want, s)
		}
	}

	plain := startAiosmtpd(t)
	c2 := dial(t, plain.addr, &smtpc.Options{LocalName: "client.test"})
	_, err := c2.Sendmail(context.Background(), env, []byte(msg1))
	if !errors.Is(err, smtpc.ErrNotSupported) {
		t.Fatalf("DSN to a server without it: %v", err)
	}
	c2.Quit()
	if s := string(plain.sessionBytes(t, 1)[0]); s != "EHLO client.test\r\nQUIT\r\n" {
		t.Errorf("session %q", s)
	}

	// A bad value is refused when the envelope is built, naming the parameter.
	bad := -10
	_, err = c.Sendmail(context.Background(), &smtpc.Envelope{From: "a@example.org", To: []string{"b@example.org"},
		Params: &smtpc.MailParams{MTPriority: &bad}}, []byte(msg1))
	var se *smtpc.Error
	if !errors.As(err, &se) || se.Status != smtpc.StatusInvalid || !strings.Contains(se.Message, "MT-PRIORITY") {
		t.Errorf("MT-PRIORITY -10: %v", err)
	}
}
