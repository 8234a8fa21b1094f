// SPDX-License-Identifier: MIT

package smtpc_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"smtpc"
)

// TestPostfix runs against a private Postfix (tests/servers/postfix_server.py: root and Debian
// postfix and sasl2-bin) with STARTTLS and Cyrus SASL: the run script's "postfix" mode sets
// SMTPC_GO_POSTFIX=1 (ctest entry go.postfix, labels postfix and root).
func TestPostfix(t *testing.T) {
	if os.Getenv("SMTPC_GO_POSTFIX") == "" {
		t.Skip("set SMTPC_GO_POSTFIX=1 (ctest go.postfix) to run the Postfix tests")
	}
	if os.Geteuid() != 0 {
		t.Skip("Postfix tests need root")
	}
	for _, tool := range []string{"postfix", "saslpasswd2"} {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err := os.Stat(filepath.Join("/usr/sbin", tool)); err != nil {
				t.Skipf("Postfix tests need %s", tool)
			}
		}
	}
	needAiosmtpd(t) // the sink behind Postfix
	dir := pki(t)
	const user, password = "pfuser", "s3cret pass"
	srv := start(t, "postfix_server.py", true, "--tls-cert", filepath.Join(dir, "server.pem"),
		"--tls-key", filepath.Join(dir, "server.key"), "--sasl", user+":"+password)
	if line, err := srv.readLine(10 * time.Second); err == nil && strings.HasPrefix(line, "TLSPORT ") {
		srv.tlsPort, _ = strconv.Atoi(strings.TrimSpace(line[8:]))
	}
	cfg, err := smtpc.NewTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	defer cfg.Close()
	if err := cfg.SetCAFile(filepath.Join(dir, "ca.pem")); err != nil {
		t.Fatal(err)
	}

	t.Run("StartTLSAuthSendmail", func(t *testing.T) {
		c := dial(t, srv.addr, &smtpc.Options{TLSPolicy: smtpc.TLSRequired, TLSConfig: cfg, TLSServerName: "localhost"})
		if err := c.Auth(smtpc.PasswordAuth("", user, password)); err != nil {
			t.Fatalf("Auth: %v", err)
		}
		if st, ok := c.TLSConnectionState(); !ok || !st.Verified {
			t.Fatalf("TLS %+v", st)
		}
		msg := []byte("Subject: postfix\r\n\r\nthrough Postfix, TLS and SCRAM\r\n")
		res, err := c.Sendmail(context.Background(), &smtpc.Envelope{
			From: "a@example.org", To: []string{"b@example.org", "reject-x@example.org"},
		}, msg)
		if err != nil {
			t.Fatalf("Sendmail: %v", err)
		}
		if res.Recipients[0].State != smtpc.Delivered || res.Recipients[1].State != smtpc.Refused ||
			res.Recipients[1].RcptReply.Code != 550 {
			t.Errorf("result %+v", res.Recipients)
		}
		if err := c.Quit(); err != nil {
			t.Fatal(err)
		}
		m := srv.messages(t, 1)
		if len(m) != 1 || !bytes.Equal(m[0].content(t), msg) || len(m[0].RcptTos) != 1 || m[0].RcptTos[0] != "b@example.org" {
			t.Fatalf("sink got %+v", m)
		}
	})

	t.Run("WrongPassword", func(t *testing.T) {
		c := dial(t, srv.addr, &smtpc.Options{TLSPolicy: smtpc.TLSRequired, TLSConfig: cfg, TLSServerName: "localhost"})
		err := c.Auth(smtpc.MechanismAuth("SCRAM-SHA-256", "", user, "not it"))
		if !errors.Is(err, smtpc.ErrAuth) {
			t.Fatalf("err = %v", err)
		}
		var se *smtpc.Error
		if errors.As(err, &se); se.Reply == nil || se.Reply.Code != 535 {
			t.Errorf("reply %v", se.Reply)
		}
	})

	t.Run("ImplicitTLSStreamed", func(t *testing.T) {
		if srv.tlsPort == 0 {
			t.Skip("postfix_server.py gave no TLSPORT")
		}
		c := dial(t, "127.0.0.1:"+strconv.Itoa(srv.tlsPort), &smtpc.Options{TLSPolicy: smtpc.TLSImplicit, TLSConfig: cfg, TLSServerName: "localhost"})
		body := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n", 16384) // 1 MiB
		res, err := c.SendmailReader(context.Background(), &smtpc.Envelope{From: "a@example.org", To: []string{"big@example.org"}},
			strings.NewReader(body), int64(len(body)))
		if err != nil || res.Recipients[0].State != smtpc.Delivered {
			t.Fatalf("SendmailReader: %v %+v", err, res)
		}
		c.Quit()
		var got []byte
		for _, m := range srv.messages(t, 2) {
			if len(m.RcptTos) == 1 && m.RcptTos[0] == "big@example.org" {
				got = m.content(t)
			}
		}
		if string(got) != body {
			t.Errorf("sink got %d bytes, want %d", len(got), len(body))
		}
	})
}
