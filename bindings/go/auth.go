// SPDX-License-Identifier: MIT

package smtpc

// #include "glue.h"
import "C"

import (
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"net/smtp"
	"strings"
)

// Auth is net/smtp's Auth interface: any net/smtp mechanism (smtp.PlainAuth, smtp.CRAMMD5Auth or
// one of your own) works with Client.Auth, run through the library's custom-mechanism call. The
// constructors of this package (PlainAuth, CRAMMD5Auth, PasswordAuth, MechanismAuth, OAuth2Auth)
// are done by the library itself (SCRAM included, credentials wiped after use, never traced), and
// also work with net/smtp.
type Auth = smtp.Auth

// ServerInfo is net/smtp's ServerInfo, given to Auth.Start.
type ServerInfo = smtp.ServerInfo

type passwordAuth struct {
	mechanism          string // "" for the strongest offered
	identity, user, pw string
	host               string // net/smtp's PlainAuth host check ("" for none)
}

// PlainAuth is net/smtp's PlainAuth: AUTH PLAIN with an optional authorisation identity. As in
// net/smtp, the credentials go only over TLS or to this machine (the library's rule, which also
// needs a verified certificate; Options.AllowInsecureAuth lifts it), and only when host is the
// host dialled.
func PlainAuth(identity, username, password, host string) Auth {
	return &passwordAuth{mechanism: "PLAIN", identity: identity, user: username, pw: password, host: host}
}

// CRAMMD5Auth is net/smtp's CRAMMD5Auth: AUTH CRAM-MD5.
func CRAMMD5Auth(username, secret string) Auth {
	return &passwordAuth{mechanism: "CRAM-MD5", user: username, pw: secret}
}

// PasswordAuth logs in with the strongest mechanism the server offers among SCRAM-SHA-256,
// SCRAM-SHA-1, CRAM-MD5, PLAIN and LOGIN (smtplib's login()). identity may be "".
func PasswordAuth(identity, username, password string) Auth {
	return &passwordAuth{identity: identity, user: username, pw: password}
}

// MechanismAuth authenticates with one named password mechanism: "PLAIN", "LOGIN", "CRAM-MD5",
// "SCRAM-SHA-1" or "SCRAM-SHA-256".
func MechanismAuth(mechanism, identity, username, password string) Auth {
	return &passwordAuth{mechanism: strings.ToUpper(mechanism), identity: identity, user: username, pw: password}
}

// Start and Next make the built-in mechanisms usable with net/smtp too (PLAIN and CRAM-MD5 only).
func (a *passwordAuth) Start(server *ServerInfo) (string, []byte, error) {
	switch a.mechanism {
	case "PLAIN":
		if a.host != "" && server.Name != a.host {
			return "", nil, errors.New("wrong host name")
		}
		if !server.TLS && !isLocalhost(server.Name) {
			return "", nil, errors.New("unencrypted connection")
		}
		return "PLAIN", []byte(a.identity + "\x00" + a.user + "\x00" + a.pw), nil
	case "CRAM-MD5":
		return "CRAM-MD5", nil, nil
	}
	return "", nil, fmt.Errorf("smtpc: %s works only with smtpc.Client", a.name())
}

func (a *passwordAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	if a.mechanism == "CRAM-MD5" {
		d := hmac.New(md5.New, []byte(a.pw))
		d.Write(fromServer)
		return []byte(fmt.Sprintf("%s %x", a.user, d.Sum(nil))), nil
	}
	return nil, errors.New("unexpected server challenge")
}

func (a *passwordAuth) name() string {
	if a.mechanism == "" {
		return "PasswordAuth"
	}
	return a.mechanism
}

func isLocalhost(name string) bool {
	return name == "localhost" || name == "127.0.0.1" || name == "::1"
}

type oauth2Auth struct {
	mechanism, user, token string
	fn                     func() (string, error)
}

// OAuth2Auth authenticates with an OAuth 2.0 bearer token: mechanism "XOAUTH2" (Google,
// Microsoft) or "OAUTHBEARER" (RFC 7628).
func OAuth2Auth(mechanism, username, token string) Auth {
	return &oauth2Auth{mechanism: strings.ToUpper(mechanism), user: username, token: token}
}

// OAuth2TokenAuth is OAuth2Auth with the token asked of fn when the exchange needs it (fn may fetch
// or refresh it). An error from fn aborts the exchange before anything is sent (ErrUser, with fn's
// error as its cause).
func OAuth2TokenAuth(mechanism, username string, fn func() (string, error)) Auth {
	return &oauth2Auth{mechanism: strings.ToUpper(mechanism), user: username, fn: fn}
}

func (a *oauth2Auth) Start(*ServerInfo) (string, []byte, error) {
	return "", nil, fmt.Errorf("smtpc: %s works only with smtpc.Client", a.mechanism)
}

func (a *oauth2Auth) Next([]byte, bool) ([]byte, error) {
	return nil, errors.New("unexpected challenge")
}

// Auth authenticates with a (net/smtp's Auth): EHLO first when needed. Credentials are never sent
// over a connection that is neither TLS-verified nor to this machine unless
// Options.AllowInsecureAuth was set (ErrAuthInsecure, nothing sent). A refusal is ErrAuth, with the
// server's reply in the *Error.
func (c *Client) Auth(a Auth) error {
	switch a := a.(type) {
	case nil:
		return argError("Auth", "nil Auth")
	case *passwordAuth:
		return c.authPassword(a)
	case *oauth2Auth:
		return c.authOAuth2(a)
	}
	return c.authCustom(a)
}

func (c *Client) authPassword(a *passwordAuth) error {
	user, pw := []byte(a.user), []byte(a.pw)
	defer wipe(pw)
	up, un := cbytes(user)
	pp, pn := cbytes(pw)
	ip, in := cstr(a.identity)
	mp, mn := cstr(a.mechanism)
	if a.host != "" && a.host != c.host {
		return argError("Auth", "PlainAuth host %q is not the host dialled (%q); nothing was sent", a.host, c.host)
	}
	return c.run(nil, "Auth", false, func(h *C.smtpc_client) C.smtpc_status {
		if st := C.smtpc_client_set_authzid(h, ip, in); Status(st) != StatusOK {
			return st
		}
		if a.mechanism == "" {
			return C.smtpc_client_login(h, up, un, pp, pn)
		}
		return C.smtpc_client_auth_password(h, mp, mn, up, un, pp, pn, 1)
	})
}

func (c *Client) authOAuth2(a *oauth2Auth) error {
	tok := []byte(a.token)
	defer wipe(tok)
	up, un := cstr(a.user)
	mp, mn := cstr(a.mechanism)
	tp, tn := cbytes(tok)
	var h uintptrHandle
	if a.fn != nil {
		h = uintptrHandle(newHandle(&callbackState{cb: c.cb, token: a.fn}))
		defer h.del()
	}
	return c.run(nil, "Auth", false, func(hc *C.smtpc_client) C.smtpc_status {
		return C.smtpcgo_auth_oauth2(hc, mp, mn, up, un, tp, tn, C.uintptr_t(h))
	})
}

// authCustom runs any net/smtp Auth through the library's custom-mechanism call: Start is asked
// for the mechanism and initial response once EHLO has told what the server offers, Next for each
// challenge.
func (c *Client) authCustom(a Auth) error {
	var info ServerInfo
	if err := c.run(nil, "Auth", false, func(h *C.smtpc_client) C.smtpc_status {
		st := C.smtpc_client_ehlo_or_helo_if_needed(h)
		info.Name = c.host
		info.TLS = C.smtpc_client_tls_active(h) != 0
		mech := "AUTH"
		p, n := cstr(mech)
		if v := C.smtpc_client_extn_params(h, p, n, nil); v != nil {
			info.Auth = strings.Fields(C.GoString(v))
		}
		return st
	}); err != nil {
		return err
	}
	proto, initial, err := a.Start(&info)
	if err != nil {
		e := newError("Auth", StatusUser, "the Auth's Start failed; nothing was sent")
		e.cause = err
		return e
	}
	st := &callbackState{cb: c.cb, auth: a, initial: initial}
	h := newHandle(st)
	defer h.Delete()
	mp, mn := cstr(proto)
	return c.run(nil, "Auth", false, func(hc *C.smtpc_client) C.smtpc_status {
		return C.smtpcgo_auth(hc, mp, mn, C.uintptr_t(h), 1)
	})
}
