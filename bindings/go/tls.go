// SPDX-License-Identifier: MIT

package smtpc

// #include "glue.h"
import "C"

import (
	"runtime"
	"sync"
)

// TLSVersion is a TLS protocol version for TLSConfig.SetMinVersion.
type TLSVersion int

const (
	TLS12 TLSVersion = 12
	TLS13 TLSVersion = 13
)

// TLSConfig is a TLS configuration (smtpc_tls_config, the analogue of crypto/tls.Config for the
// library's OpenSSL): trust anchors, client certificate, verification switches, minimum version
// and ciphers. Defaults: the system trust store, peer and host-name verification on, TLS 1.2 at
// least. Make one, set it up, and share it between clients: its first handshake freezes it (the
// setters of trust anchors, certificate, version and ciphers then return ErrState).
//
// A client keeps its own reference, so Close may be called as soon as the configuration has been
// given to the clients that use it. A finalizer closes a TLSConfig that was not closed (it calls no
// Go code).
type TLSConfig struct {
	mu  sync.Mutex
	cfg *C.smtpc_tls_config
}

// NewTLSConfig makes a configuration with the secure defaults.
func NewTLSConfig() (*TLSConfig, error) {
	var p *C.smtpc_tls_config
	if st := Status(C.smtpc_tls_config_new(&p)); st != StatusOK {
		return nil, newError("NewTLSConfig", st, "")
	}
	t := &TLSConfig{cfg: p}
	runtime.SetFinalizer(t, (*TLSConfig).Close)
	return t, nil
}

func (t *TLSConfig) ptr() *C.smtpc_tls_config {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cfg
}

// Close drops this reference; clients using the configuration keep theirs.
func (t *TLSConfig) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cfg != nil {
		C.smtpc_tls_config_free(t.cfg)
		t.cfg = nil
		runtime.SetFinalizer(t, nil)
	}
	return nil
}

func (t *TLSConfig) call(op string, f func(p *C.smtpc_tls_config) C.smtpc_status) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cfg == nil {
		return newError(op, StatusState, "use of a closed TLSConfig")
	}
	st := Status(f(t.cfg))
	if st == StatusOK {
		return nil
	}
	return newError(op, st, C.GoString(C.smtpc_tls_config_errmsg(t.cfg)))
}

// SetCAFile trusts the CA certificates of a PEM file instead of the system store (read now).
func (t *TLSConfig) SetCAFile(path string) error {
	p, n := cstr(path)
	return t.call("SetCAFile", func(c *C.smtpc_tls_config) C.smtpc_status { return C.smtpc_tls_config_set_ca_file(c, p, n) })
}

// SetCAPath trusts the CA certificates of an OpenSSL hashed directory instead of the system store.
func (t *TLSConfig) SetCAPath(path string) error {
	p, n := cstr(path)
	return t.call("SetCAPath", func(c *C.smtpc_tls_config) C.smtpc_status { return C.smtpc_tls_config_set_ca_path(c, p, n) })
}

// AddCADER trusts one CA certificate in DER form (as x509.Certificate.Raw holds it).
func (t *TLSConfig) AddCADER(der []byte) error {
	if len(der) == 0 {
		return argError("AddCADER", "empty certificate")
	}
	return t.call("AddCADER", func(c *C.smtpc_tls_config) C.smtpc_status {
		p, n := cbytes(der)
		return C.smtpc_tls_config_add_ca_der(c, p, n)
	})
}

// SetClientCert presents a client certificate: certFile (PEM, with its chain), keyFile ("" when the
// key is in certFile) and the key's pass phrase ("" when not encrypted; not kept).
func (t *TLSConfig) SetClientCert(certFile, keyFile, password string) error {
	cp, cn := cstr(certFile)
	kp, kn := cstr(keyFile)
	pw := []byte(password)
	defer wipe(pw)
	pp, pn := cbytes(pw)
	return t.call("SetClientCert", func(c *C.smtpc_tls_config) C.smtpc_status {
		return C.smtpc_tls_config_set_client_cert(c, cp, cn, kp, kn, pp, pn)
	})
}

// SetVerifyPeer turns verification of the server's certificate chain on or off (and with it the
// host-name check). Off, the connection counts as unauthenticated for AUTH.
func (t *TLSConfig) SetVerifyPeer(on bool) error {
	return t.call("SetVerifyPeer", func(c *C.smtpc_tls_config) C.smtpc_status {
		return C.smtpc_tls_config_set_verify_peer(c, cbool(on))
	})
}

// SetVerifyHostname turns the check that the certificate names the server on or off.
func (t *TLSConfig) SetVerifyHostname(on bool) error {
	return t.call("SetVerifyHostname", func(c *C.smtpc_tls_config) C.smtpc_status {
		return C.smtpc_tls_config_set_verify_hostname(c, cbool(on))
	})
}

// SetMinVersion sets the lowest TLS version accepted (default TLS12).
func (t *TLSConfig) SetMinVersion(v TLSVersion) error {
	return t.call("SetMinVersion", func(c *C.smtpc_tls_config) C.smtpc_status {
		return C.smtpc_tls_config_set_min_version(c, C.smtpc_tls_version(v))
	})
}

// SetCiphers sets OpenSSL's cipher list for TLS 1.2 ("ECDHE+AESGCM:ECDHE+CHACHA20").
func (t *TLSConfig) SetCiphers(list string) error {
	p, n := cstr(list)
	return t.call("SetCiphers", func(c *C.smtpc_tls_config) C.smtpc_status { return C.smtpc_tls_config_set_ciphers(c, p, n) })
}

// SetSessionResumption turns TLS session resumption on (the default) or off; off also forgets
// every saved session.
func (t *TLSConfig) SetSessionResumption(on bool) error {
	return t.call("SetSessionResumption", func(c *C.smtpc_tls_config) C.smtpc_status {
		return C.smtpc_tls_config_set_session_resumption(c, cbool(on))
	})
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Version is the version of the libsmtpc loaded ("0.1.0").
func Version() string { return C.GoString(C.smtpc_version()) }
