// SPDX-License-Identifier: MIT

package smtpc_test

// The test servers of tests/servers (aiosmtpd, Postfix, the scripted fault server), started by
// the tests as the Python binding's conftest starts them, and the test PKI.

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const python = "/usr/bin/python3"

func sourceDir() string {
	if d := os.Getenv("SMTPC_SOURCE_DIR"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

func serversDir() string { return filepath.Join(sourceDir(), "tests", "servers") }

type server struct {
	t        *testing.T
	cmd      *exec.Cmd
	addr     string // "127.0.0.1:port"
	port     int
	tlsPort  int
	spool    string
	sessions string
	out      *bufio.Reader
}

var aiosmtpdOnce struct {
	sync.Once
	err error
}

func needAiosmtpd(t *testing.T) {
	aiosmtpdOnce.Do(func() {
		if _, err := os.Stat(python); err != nil {
			aiosmtpdOnce.err = err
			return
		}
		aiosmtpdOnce.err = exec.Command(python, "-c", "import aiosmtpd").Run()
	})
	if aiosmtpdOnce.err != nil {
		t.Skipf("needs %s with aiosmtpd (Debian python3-aiosmtpd): %v", python, aiosmtpdOnce.err)
	}
}

// start runs a server script with args (plus --spool and --sessions when withSpool) and waits for
// its READY line.
func start(t *testing.T, script string, withSpool bool, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	s := &server{t: t, spool: filepath.Join(dir, "spool"), sessions: filepath.Join(dir, "sessions")}
	all := append([]string{filepath.Join(serversDir(), script)}, args...)
	if withSpool {
		for _, d := range []string{s.spool, s.sessions} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, "--spool", s.spool, "--sessions", s.sessions)
	}
	s.cmd = exec.Command(python, all...)
	s.cmd.Stderr = os.Stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", script, err)
	}
	t.Cleanup(s.stop)
	s.out = bufio.NewReader(stdout)
	line, err := s.readLine(60 * time.Second)
	if err != nil || !strings.HasPrefix(line, "READY ") {
		t.Fatalf("%s did not start: %q %v", script, line, err)
	}
	s.port, err = strconv.Atoi(strings.TrimSpace(line[6:]))
	if err != nil {
		t.Fatalf("%s: READY line %q", script, line)
	}
	s.addr = fmt.Sprintf("127.0.0.1:%d", s.port)
	return s
}

// readLine reads one line of the server's stdout within d.
func (s *server) readLine(d time.Duration) (string, error) {
	type res struct {
		line string
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		l, err := s.out.ReadString('\n')
		ch <- res{strings.TrimRight(l, "\n"), err}
	}()
	select {
	case r := <-ch:
		return r.line, r.err
	case <-time.After(d):
		return "", fmt.Errorf("no line from the server within %v", d)
	}
}

func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// message is one msg-*.json of the spool (see tests/servers/aiosmtpd_server.py).
type message struct {
	MailFrom    string   `json:"mail_from"`
	MailOptions []string `json:"mail_options"`
	RcptTos     []string `json:"rcpt_tos"`
	ContentHex  string   `json:"content_hex"`
	TLS         string   `json:"tls"`
	Mode        string   `json:"mode"`
	Replies     []string `json:"replies"`
}

func (m message) content(t *testing.T) []byte {
	b, err := hex.DecodeString(m.ContentHex)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readJSONs(t *testing.T, dir, prefix string, v func(raw []byte)) int {
	names, _ := filepath.Glob(filepath.Join(dir, prefix+"-*.json"))
	sort.Strings(names)
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		v(raw)
	}
	return len(names)
}

// messages waits (up to 10 s) for at least n messages in the spool and returns them all.
func (s *server) messages(t *testing.T, n int) []message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out []message
		readJSONs(t, s.spool, "msg", func(raw []byte) {
			var m message
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		})
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sessionBytes waits for n finished connections and returns every byte each one sent.
func (s *server) sessionBytes(t *testing.T, n int) [][]byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out [][]byte
		readJSONs(t, s.sessions, "session", func(raw []byte) {
			var v struct {
				RawHex string `json:"raw_hex"`
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			b, _ := hex.DecodeString(v.RawHex)
			out = append(out, b)
		})
		if len(out) >= n || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startAiosmtpd(t *testing.T, args ...string) *server {
	needAiosmtpd(t)
	return start(t, "aiosmtpd_server.py", true, args...)
}

// --- the test PKI (tests/servers/make_test_pki.sh), made once per run ---------------------------

var pkiOnce struct {
	sync.Once
	dir string
	err error
}

func pki(t *testing.T) string {
	pkiOnce.Do(func() {
		// The PKI of the ctest fixture tls_pki (tests/tls) when the run has one: made once per run.
		if d := os.Getenv("SMTPC_TEST_PKI_DIR"); d != "" {
			if _, err := os.Stat(filepath.Join(d, "server.fp")); err == nil {
				pkiOnce.dir = d
				return
			}
		}
		if _, err := exec.LookPath("openssl"); err != nil {
			pkiOnce.err = err
			return
		}
		dir, err := os.MkdirTemp("", "smtpc-go-pki-")
		if err != nil {
			pkiOnce.err = err
			return
		}
		pkiDirs = append(pkiDirs, dir)
		out, err := exec.Command("bash", filepath.Join(serversDir(), "make_test_pki.sh"), dir).CombinedOutput()
		if err != nil {
			pkiOnce.err = fmt.Errorf("%v: %s", err, out)
		}
		pkiOnce.dir = dir
	})
	if pkiOnce.err != nil {
		t.Skipf("test PKI: %v", pkiOnce.err)
	}
	return pkiOnce.dir
}

var pkiDirs []string

// --- the fault server ------------------------------------------------------------------------------

type faultServer struct {
	*server
	transcript string
}

// startFault plays steps (tests/servers/fault_server.py's JSON script) on one connection.
func startFault(t *testing.T, steps ...map[string]interface{}) *faultServer {
	dir := t.TempDir()
	script := filepath.Join(dir, "script.json")
	raw, err := json.Marshal(steps)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	tr := filepath.Join(dir, "transcript")
	s := start(t, "fault_server.py", false, "--script", script, "--transcript", tr, "--max-time", "30")
	return &faultServer{server: s, transcript: tr}
}

// done waits for the script's end ("DONE 0" when every step ran as scripted) and returns the
// transcript: every byte the client sent.
func (f *faultServer) done(t *testing.T) (bool, []byte) {
	t.Helper()
	line, err := f.readLine(20 * time.Second)
	if err != nil {
		t.Fatalf("fault server: %v", err)
	}
	b, err := os.ReadFile(f.transcript)
	if err != nil {
		t.Fatal(err)
	}
	return line == "DONE 0", b
}
