// SPDX-License-Identifier: MIT
// Unit tests of the AUTH core (src/auth/ and the AUTH exchange of src/proto/engine.cpp):
//  - the SASL mechanisms against the RFC test vectors (CRAM-MD5 RFC 2195, SCRAM-SHA-1 RFC 5802 section
//    5, SCRAM-SHA-256 RFC 7677 section 3), PLAIN (RFC 4616) with an authorisation identity, LOGIN,
//    XOAUTH2 and OAUTHBEARER (RFC 7628) messages and their answers to an error challenge;
//  - strict base64 (RFC 4648, canonical padding only), also into wiped memory; wipe() and SecretString;
//  - the plaintext rule's credentials_permitted() for IPv4, IPv6, IPv4-mapped, AF_UNIX and unknown peers;
//  - engine transcripts: initial response on the AUTH line (trace redacted), an initial response too
//    long for the 512-octet line sent after an empty 334, invalid challenges, the challenge limit,
//    235 before the SCRAM server signature, 535, 421, and no credential in any trace text.
#include "auth/base64.hpp"
#include "auth/policy.hpp"
#include "auth/sasl.hpp"
#include "proto/engine.hpp"

#include "unit_common.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

using smtpc::detail::base64_decode;
using smtpc::detail::base64_encode;
using smtpc::detail::Check;
using smtpc::detail::Cmd;
using smtpc::detail::credentials_permitted;
using smtpc::detail::Engine;
using smtpc::detail::SaslMechanism;
using smtpc::detail::SecretString;
using Step = smtpc::detail::SaslMechanism::Step;
using Want = smtpc::detail::Engine::Want;

namespace {

// -------------------------------------------------------------------------------------------------
// Helpers

const char *step_name(Step s) {
    switch (s) {
    case Step::Respond: return "Respond";
    case Step::None: return "None";
    case Step::Abort: return "Abort";
    }
    return "?";
}

void expect_step(Step got, Step want, const std::string &error, const char *file, int line) {
    if (got == want) return;
    print_error("step %s (error \"%s\"), expected %s\n", step_name(got), error.c_str(), step_name(want));
    _fail(file, line);
}
#define EXPECT_STEP(got, want, error) expect_step((got), (want), (error), __FILE__, __LINE__)

std::string b64(std::string_view s) { return base64_encode(s); }

// The mechanism's initial response; fails unless it responds.
std::string initial(SaslMechanism &m, const char *file, int line) {
    SecretString out;
    std::string error;
    expect_step(m.initial(out, error), Step::Respond, error, file, line);
    return std::string(out.view());
}
#define INITIAL(m) initial((m), __FILE__, __LINE__)

std::string respond(SaslMechanism &m, std::string_view challenge, const char *file, int line) {
    SecretString out;
    std::string error;
    expect_step(m.respond(challenge, out, error), Step::Respond, error, file, line);
    return std::string(out.view());
}
#define RESPOND(m, challenge) respond((m), (challenge), __FILE__, __LINE__)

// The mechanism aborts on `challenge`; returns its error text.
std::string respond_abort(SaslMechanism &m, std::string_view challenge, const char *file, int line) {
    SecretString out;
    std::string error;
    expect_step(m.respond(challenge, out, error), Step::Abort, error, file, line);
    if (error.empty()) {
        print_error("an aborting mechanism gave no error text\n");
        _fail(file, line);
    }
    return error;
}
#define RESPOND_ABORT(m, challenge) respond_abort((m), (challenge), __FILE__, __LINE__)

// Records every trace text; secrets must never appear in any of them.
struct Recorder final : smtpc::detail::TraceSink {
    struct Event {
        smtpc_trace_kind kind;
        std::string text;
    };
    std::vector<Event> events;
    void trace(smtpc_trace_kind kind, std::string_view text) override {
        events.push_back({kind, std::string(text)});
    }
    std::vector<std::string> sent() const {
        std::vector<std::string> out;
        for (const auto &e : events)
            if (e.kind == SMTPC_TRACE_SEND) out.push_back(e.text);
        return out;
    }
    // Fails when any trace text contains `secret`.
    void assert_absent(std::string_view secret, const char *file, int line) const {
        for (const auto &e : events)
            if (!secret.empty() && e.text.find(secret) != std::string::npos) {
                print_error("trace text \"%s\" contains the secret \"%s\"\n", unit::escaped(e.text).c_str(),
                            unit::escaped(secret).c_str());
                _fail(file, line);
            }
    }
};
#define ASSERT_NOT_TRACED(rec, secret) (rec).assert_absent((secret), __FILE__, __LINE__)

void expect_sent(const Recorder &r, std::initializer_list<std::string_view> lines, const char *file,
                 int line) {
    std::vector<std::string> got = r.sent();
    std::string g, w;
    for (const auto &s : got) g += "\"" + unit::escaped(s) + "\" ";
    for (auto s : lines) w += "\"" + unit::escaped(s) + "\" ";
    if (g != w) {
        print_error("traced SEND lines: %s\n  expected:         %s\n", g.c_str(), w.c_str());
        _fail(file, line);
    }
}
#define EXPECT_SENT(r, ...) expect_sent((r), {__VA_ARGS__}, __FILE__, __LINE__)

const char *want_name(Want w) {
    switch (w) {
    case Want::Write: return "Write";
    case Want::Read: return "Read";
    case Want::Body: return "Body";
    case Want::Done: return "Done";
    }
    return "?";
}

void expect_want(const Engine &e, Want w, const char *file, int line) {
    if (e.want() == w) return;
    print_error("want() is %s, expected %s (status %s \"%s\", pending output \"%s\")\n", want_name(e.want()),
                want_name(w), smtpc_status_name(e.status()), e.message().c_str(),
                unit::escaped(e.output()).c_str());
    _fail(file, line);
}
#define EXPECT_WANT(e, w) expect_want((e), (w), __FILE__, __LINE__)

void expect_output(Engine &e, std::string_view bytes, const char *file, int line) {
    expect_want(e, Want::Write, file, line);
    if (e.output() != bytes) {
        print_error("output differs\n  actual:   \"%s\"\n  expected: \"%s\"\n",
                    unit::escaped(e.output()).c_str(), unit::escaped(bytes).c_str());
        _fail(file, line);
    }
    e.output_written(e.output().size());
}
#define EXPECT_OUTPUT(e, bytes) expect_output((e), (bytes), __FILE__, __LINE__)

void feed(Engine &e, std::string_view bytes, const char *file, int line) {
    expect_want(e, Want::Read, file, line);
    e.received(bytes.data(), bytes.size());
}
#define FEED(e, bytes) feed((e), (bytes), __FILE__, __LINE__)

void expect_status(const Engine &e, smtpc_status st, std::string_view message, const char *file, int line) {
    expect_want(e, Want::Done, file, line);
    if (e.status() != st || e.message() != message) {
        print_error("status %s \"%s\"\n  expected %s \"%s\"\n", smtpc_status_name(e.status()),
                    e.message().c_str(), smtpc_status_name(st), std::string(message).c_str());
        _fail(file, line);
    }
}
#define EXPECT_STATUS(e, st, msg) expect_status((e), (st), (msg), __FILE__, __LINE__)

void expect_last_reply(const Engine &e, int code, std::string_view text, const char *file, int line) {
    const auto *r = e.last_reply();
    if (!r || r->code != code || r->text != text) {
        print_error("last reply %d \"%s\", expected %d \"%s\"\n", r ? r->code : 0,
                    r ? unit::escaped(r->text).c_str() : "(none)", code, unit::escaped(text).c_str());
        _fail(file, line);
    }
}
#define EXPECT_LAST_REPLY(e, code, text) expect_last_reply((e), (code), (text), __FILE__, __LINE__)

void expect_started(const Check &c, const char *file, int line) {
    if (c) return;
    print_error("operation refused to start: %s \"%s\"\n", smtpc_status_name(c.status), c.message.c_str());
    _fail(file, line);
}
#define EXPECT_STARTED(check) expect_started((check), __FILE__, __LINE__)

const char kEhloAuth[] =
    "250-mx.example.org\r\n250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256\r\n250 8BITMIME\r\n";

// A connected engine after EHLO, tracing into `rec`.
void connect_ehlo(Engine &e, Recorder &rec) {
    e.set_trace(&rec);
    e.begin_connection();
    FEED(e, "220 mx.example.org ESMTP\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    EXPECT_STARTED(e.begin_command(Cmd::Ehlo, "EHLO client.example\r\n"));
    EXPECT_OUTPUT(e, "EHLO client.example\r\n");
    FEED(e, kEhloAuth);
    EXPECT_STATUS(e, SMTPC_OK, "");
    assert_true(e.does_esmtp());
}

// RFC 5802 section 5 and RFC 7677 section 3.
const char kScram1Nonce[] = "fyko+d2lbbFgONRv9qkxdawL";
const char kScram1ServerFirst[] = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
const char kScram1ClientFinal[] =
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=";
const char kScram1ServerFinal[] = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=";
const char kScram256Nonce[] = "rOprNGfwEbeRWgbNEkqO";
const char kScram256ServerFirst[] =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const char kScram256ClientFinal[] = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const char kScram256ServerFinal[] = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

// -------------------------------------------------------------------------------------------------
// Mechanisms

void test_cram_md5_rfc2195(void **) {
    auto m = smtpc::detail::make_cram_md5("tim", "tanstaaftanstaaf");
    assert_string_equal(std::string(m->name()).c_str(), "CRAM-MD5");
    SecretString out;
    std::string error;
    EXPECT_STEP(m->initial(out, error), Step::None, error);  // no initial response: the server speaks first
    EXPECT_BYTES(RESPOND(*m, "<1896.697170952@postoffice.reston.mci.net>"),
                 "tim b913a602c7eda7a495b4e6e7334d3890");
    assert_true(m->complete());
    RESPOND_ABORT(*m, "<1896.697170952@postoffice.reston.mci.net>");  // one challenge only

    auto e = smtpc::detail::make_cram_md5("tim", "tanstaaftanstaaf");
    RESPOND_ABORT(*e, "");  // an empty challenge has nothing to sign
}

void test_scram_sha1_rfc5802(void **) {
    auto m = smtpc::detail::make_scram("SHA-1", "", "user", "pencil", kScram1Nonce);
    assert_string_equal(std::string(m->name()).c_str(), "SCRAM-SHA-1");
    EXPECT_BYTES(INITIAL(*m), "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
    assert_false(m->complete());
    EXPECT_BYTES(RESPOND(*m, kScram1ServerFirst), kScram1ClientFinal);
    assert_false(m->complete());
    EXPECT_BYTES(RESPOND(*m, kScram1ServerFinal), "");  // RFC 4954: an empty response to the final challenge
    assert_true(m->complete());
    RESPOND_ABORT(*m, "x=1");  // nothing may follow
}

void test_scram_sha256_rfc7677(void **) {
    auto m = smtpc::detail::make_scram("SHA-256", "", "user", "pencil", kScram256Nonce);
    assert_string_equal(std::string(m->name()).c_str(), "SCRAM-SHA-256");
    EXPECT_BYTES(INITIAL(*m), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    EXPECT_BYTES(RESPOND(*m, kScram256ServerFirst), kScram256ClientFinal);
    assert_false(m->complete());
    EXPECT_BYTES(RESPOND(*m, kScram256ServerFinal), "");
    assert_true(m->complete());
}

void test_scram_without_initial_response(void **) {
    // initial_response_ok = 0: the server's empty 334 comes first, then client-first.
    auto m = smtpc::detail::make_scram("SHA-1", "", "user", "pencil", kScram1Nonce);
    EXPECT_BYTES(RESPOND(*m, ""), "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
    EXPECT_BYTES(RESPOND(*m, kScram1ServerFirst), kScram1ClientFinal);
    EXPECT_BYTES(RESPOND(*m, kScram1ServerFinal), "");
    assert_true(m->complete());

    auto n = smtpc::detail::make_scram("SHA-1", "", "user", "pencil", kScram1Nonce);
    RESPOND_ABORT(*n, kScram1ServerFirst);  // a server-first before client-first
}

void test_scram_forged_server_signature(void **) {
    for (const char *forged : {"v=rmF9pqV8S7suAoZWja4dJRkFsKQ?", "v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                               "v=rmF9pqV8S7suAoZWja4dJRkFsKR=", "v=", "v=rmF9pqV8S7suAoZWja4dJRkF",
                               "e=other-error", "garbage", ""}) {
        auto m = smtpc::detail::make_scram("SHA-1", "", "user", "pencil", kScram1Nonce);
        INITIAL(*m);
        RESPOND(*m, kScram1ServerFirst);
        std::string err = RESPOND_ABORT(*m, forged);
        if (m->complete())
            fail_msg("a forged server-final \"%s\" completed the exchange (%s)", forged, err.c_str());
    }
    // The SHA-256 signature is not accepted by SCRAM-SHA-1, nor the other way round.
    auto m = smtpc::detail::make_scram("SHA-256", "", "user", "pencil", kScram256Nonce);
    INITIAL(*m);
    RESPOND(*m, kScram256ServerFirst);
    RESPOND_ABORT(*m, kScram1ServerFinal);
    assert_false(m->complete());
}

void test_scram_hostile_server_first(void **) {
    auto first = [](std::string_view server_first) {
        auto m = smtpc::detail::make_scram("SHA-1", "", "user", "pencil", kScram1Nonce);
        SecretString out;
        std::string error;
        m->initial(out, error);
        return m->respond(server_first, out, error) == Step::Abort && !m->complete();
    };
    // Nonce not extending ours, or equal to ours.
    assert_true(first("r=otherNonce,s=QSXCR+Q6sek8bf92,i=4096"));
    assert_true(first("r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096"));
    // Missing or malformed fields, bad salt, iteration counts out of range.
    assert_true(first("r=fyko+d2lbbFgONRv9qkxdawL3rfc,i=4096"));
    assert_true(first("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92"));
    assert_true(first("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=not base64!,i=4096"));
    assert_true(first("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=,i=4096"));
    assert_true(first("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=0"));
    assert_true(first("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=-1"));
    assert_true(first("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096x"));
    assert_true(first("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=1000001"));
    assert_true(first("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=99999999999999999999999999"));
    assert_true(first("m=ext,r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096"));
    assert_true(first("e=invalid-proof"));
    assert_true(first(""));
    assert_true(first(","));
}

void test_scram_authzid_and_escaping(void **) {
    // authzid goes in the GS2 header and, base64-encoded, in the c= attribute; '=' and ',' in names are
    // escaped as =3D and =2C (RFC 5802 section 5.1).
    auto m = smtpc::detail::make_scram("SHA-1", "ad=m,in", "us,er=", "pencil", "abc");
    EXPECT_BYTES(INITIAL(*m), "n,a=ad=3Dm=2Cin,n=us=2Cer=3D,r=abc");
    std::string final_msg = RESPOND(*m, "r=abcdef,s=QSXCR+Q6sek8bf92,i=1");
    std::string prefix = "c=" + b64("n,a=ad=3Dm=2Cin,") + ",r=abcdef,p=";
    EXPECT_BYTES(final_msg.substr(0, prefix.size()), prefix);

    // Without a fixed nonce a fresh random one is made each time (and never empty).
    auto r1 = smtpc::detail::make_scram("SHA-256", "", "u", "p");
    auto r2 = smtpc::detail::make_scram("SHA-256", "", "u", "p");
    std::string a = INITIAL(*r1), b = INITIAL(*r2);
    assert_true(a.size() > std::strlen("n,,n=u,r=") + 16);
    assert_true(a != b);
}

void test_plain(void **) {
    auto m = smtpc::detail::make_plain("authzid", "user", "pass");
    assert_string_equal(std::string(m->name()).c_str(), "PLAIN");
    EXPECT_BYTES(INITIAL(*m), SV("authzid\0user\0pass"));
    EXPECT_BYTES(b64(INITIAL(*m)), "YXV0aHppZAB1c2VyAHBhc3M=");

    auto n = smtpc::detail::make_plain("", "user", "pass");
    EXPECT_BYTES(INITIAL(*n), SV("\0user\0pass"));

    // Without an initial response: an empty 334, then the message; anything else aborts.
    auto p = smtpc::detail::make_plain("", "tim", "tanstaaf");
    EXPECT_BYTES(RESPOND(*p, ""), SV("\0tim\0tanstaaf"));
    RESPOND_ABORT(*p, "");
    auto q = smtpc::detail::make_plain("", "tim", "tanstaaf");
    RESPOND_ABORT(*q, "send me your password");
}

void test_login(void **) {
    // With the initial response (RFC 4954 style): user name, then password whatever the prompt says.
    auto m = smtpc::detail::make_login("user@example.org", "s3cret");
    assert_string_equal(std::string(m->name()).c_str(), "LOGIN");
    EXPECT_BYTES(INITIAL(*m), "user@example.org");
    EXPECT_BYTES(RESPOND(*m, "Password:"), "s3cret");
    RESPOND_ABORT(*m, "Password:");

    // Without: the prompts are not parsed (aiosmtpd says "User Name\0" and "Password\0").
    auto n = smtpc::detail::make_login("user@example.org", "s3cret");
    EXPECT_BYTES(RESPOND(*n, SV("User Name\0")), "user@example.org");
    EXPECT_BYTES(RESPOND(*n, SV("Password\0")), "s3cret");
    RESPOND_ABORT(*n, "Username:");
    auto o = smtpc::detail::make_login("u", "p");
    EXPECT_BYTES(RESPOND(*o, "Password:"), "u");  // even a misleading first prompt gets the user name
}

void test_xoauth2(void **) {
    auto m =
        smtpc::detail::make_oauth("XOAUTH2", "someuser@example.com",
                                  "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", "smtp.example.com", 587);
    assert_string_equal(std::string(m->name()).c_str(), "XOAUTH2");
    EXPECT_BYTES(INITIAL(*m), "user=someuser@example.com\x01"
                              "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01");
    // Google's documented example of the encoded form.
    EXPECT_BYTES(b64(INITIAL(*m)),
                 "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbG"
                 "NrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
    assert_true(m->failure_detail().empty());
    // The error challenge (JSON) is answered with an empty response, and kept as the failure detail.
    const char json[] = "{\"status\":\"400\",\"schemes\":\"Bearer\",\"scope\":\"https://mail.google.com/\"}";
    EXPECT_BYTES(RESPOND(*m, json), "");
    EXPECT_BYTES(m->failure_detail(), json);
    RESPOND_ABORT(*m, json);  // a second error challenge is a protocol violation

    // Without an initial response the message follows an empty 334.
    auto n = smtpc::detail::make_oauth("XOAUTH2", "u", "t", "", 0);
    EXPECT_BYTES(RESPOND(*n, ""), "user=u\x01"
                                  "auth=Bearer t\x01\x01");
}

void test_oauthbearer(void **) {
    // RFC 7628 section 4.1's example (host and port sent as the RFC suggests).
    auto m =
        smtpc::detail::make_oauth("OAUTHBEARER", "user@example.com",
                                  "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", "server.example.com", 143);
    assert_string_equal(std::string(m->name()).c_str(), "OAUTHBEARER");
    EXPECT_BYTES(INITIAL(*m), "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
                              "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01");
    // The error challenge is answered with a lone 0x01 (RFC 7628 section 3.2.3), base64 "AQ==".
    const char json[] = "{\"status\":\"invalid_token\",\"scope\":\"example_scope\","
                        "\"openid-configuration\":\"https://example.com/.well-known/openid-configuration\"}";
    std::string r = RESPOND(*m, json);
    EXPECT_BYTES(r, "\x01");
    EXPECT_BYTES(b64(r), "AQ==");
    EXPECT_BYTES(m->failure_detail(), json);

    // No host, no port: those keys are left out. An empty error challenge still gets 0x01 and a detail.
    auto n = smtpc::detail::make_oauth("OAUTHBEARER", "u", "t", "", 0);
    EXPECT_BYTES(INITIAL(*n), "n,a=u,\x01"
                              "auth=Bearer t\x01\x01");
    EXPECT_BYTES(RESPOND(*n, ""), "\x01");
    assert_false(n->failure_detail().empty());
}

struct CallbackState {
    int calls = 0;
    std::vector<std::string> challenges;
    std::vector<int> initial_flags;
    int abort_at = -1;  // call index that aborts
    bool leave_unset = false;
};

int callback_mech(const char *challenge, size_t len, int is_initial, smtpc_auth_response *resp,
                  void *userdata) {
    auto *st = static_cast<CallbackState *>(userdata);
    int n = st->calls++;
    st->challenges.emplace_back(challenge ? std::string(challenge, len) : std::string("(null)"));
    st->initial_flags.push_back(is_initial);
    if (n == st->abort_at) return 1;
    if (st->leave_unset) return 0;
    std::string r = is_initial ? std::string("first\0response", 14) : "re:" + std::string(challenge, len);
    return smtpc_auth_response_set(resp, r.data(), r.size()) == SMTPC_OK ? 0 : 1;
}

void test_callback_mechanism(void **) {
    CallbackState st;
    auto m = smtpc::detail::make_callback("X-TEST", callback_mech, &st);
    assert_string_equal(std::string(m->name()).c_str(), "X-TEST");
    EXPECT_BYTES(INITIAL(*m), SV("first\0response"));
    EXPECT_BYTES(RESPOND(*m, SV("chal\0lenge")), SV("re:chal\0lenge"));
    assert_int_equal(st.calls, 2);
    EXPECT_BYTES(st.challenges[0], "(null)");
    assert_int_equal(st.initial_flags[0], 1);
    assert_int_equal(st.initial_flags[1], 0);
    assert_int_equal(m->abort_status(), SMTPC_EUSER);

    // Leaving the response unset: no initial response, an empty response to a challenge.
    CallbackState quiet;
    quiet.leave_unset = true;
    auto q = smtpc::detail::make_callback("X-TEST", callback_mech, &quiet);
    SecretString out;
    std::string error;
    EXPECT_STEP(q->initial(out, error), Step::None, error);
    EXPECT_BYTES(RESPOND(*q, "c"), "");

    // Aborting.
    CallbackState ab;
    ab.abort_at = 1;
    auto a = smtpc::detail::make_callback("X-TEST", callback_mech, &ab);
    INITIAL(*a);
    RESPOND_ABORT(*a, "c");

    // smtpc_auth_response_set's argument checks.
    assert_int_equal(smtpc_auth_response_set(nullptr, "x", 1), SMTPC_EINVAL);
    SecretString buf;
    smtpc_auth_response resp{&buf};
    assert_int_equal(smtpc_auth_response_set(&resp, nullptr, 1), SMTPC_EINVAL);
    assert_int_equal(smtpc_auth_response_set(&resp, nullptr, 0), SMTPC_OK);
    EXPECT_BYTES(buf.view(), "");
    assert_int_equal(smtpc_auth_response_set(&resp, "one", 3), SMTPC_OK);
    assert_int_equal(smtpc_auth_response_set(&resp, "two!", 4), SMTPC_OK);  // a later call replaces
    EXPECT_BYTES(buf.view(), "two!");
}

// -------------------------------------------------------------------------------------------------
// Wiped memory (src/util/wipe.hpp; the heap itself is searched by tests/auth/test_auth_heap.c)

// wipe() zeroes every byte the string could hold, not just its size, and keeps the block.
void test_wipe_clears_capacity(void **) {
    smtpc::detail::WipingString s;
    s.reserve(100);
    s.assign(90, 'p');
    s.resize(10);  // 80 stale bytes past the size
    const char *block = s.data();
    std::size_t cap = s.capacity();
    smtpc::detail::wipe(s);
    assert_true(s.empty());
    assert_true(s.data() == block);
    for (std::size_t i = 0; i < cap; ++i)
        if (block[i] != 0) fail_msg("byte %zu survived wipe()", i);
}

// A SecretString never keeps its bytes in the string object itself (where the allocator cannot wipe
// them), even when short; assign() wipes what it replaces.
void test_secret_string_storage(void **) {
    SecretString s("pw");
    const char *inside = reinterpret_cast<const char *>(&s);
    assert_false(s.view().data() >= inside && s.view().data() < inside + sizeof s);
    assert_true(s.str().capacity() >= smtpc::detail::kWipingMinCapacity);
    s.assign("a longer secret");
    const char *block = s.view().data();
    s.assign("x");
    assert_true(block == s.view().data());
    for (std::size_t i = 1; i < 15; ++i)
        if (block[i] != 0) fail_msg("byte %zu of the replaced secret survived assign()", i);
    EXPECT_BYTES(s.view(), "x");
}

// base64 of a secret goes into wiped memory and appends; a failed decoding leaves nothing behind.
void test_base64_into_wiped_memory(void **) {
    smtpc::detail::WipingString out("AUTH PLAIN ");
    base64_encode(SV("\0user\0pass"), out);
    EXPECT_BYTES(out, "AUTH PLAIN AHVzZXIAcGFzcw==");
    smtpc::detail::WipingString dec;
    assert_true(base64_decode("AHVzZXIAcGFzcw==", dec));
    EXPECT_BYTES(dec, SV("\0user\0pass"));
    assert_false(base64_decode("AHVzZXIAcGFzcw=!", dec));
    assert_true(dec.empty());
    for (std::size_t i = 0; i < dec.capacity(); ++i)
        if (dec.data()[i] != 0) fail_msg("byte %zu of a failed decoding survived", i);
}

// -------------------------------------------------------------------------------------------------
// base64

void test_base64_rfc4648(void **) {
    const char *pairs[][2] = {{"", ""},
                              {"f", "Zg=="},
                              {"fo", "Zm8="},
                              {"foo", "Zm9v"},
                              {"foob", "Zm9vYg=="},
                              {"fooba", "Zm9vYmE="},
                              {"foobar", "Zm9vYmFy"}};
    for (auto &p : pairs) {
        EXPECT_BYTES(b64(p[0]), p[1]);
        std::string out = "junk";
        if (!base64_decode(p[1], out)) fail_msg("\"%s\" did not decode", p[1]);
        EXPECT_BYTES(out, p[0]);
    }
    // Every byte value round-trips.
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    std::string back;
    assert_true(base64_decode(b64(all), back));
    EXPECT_BYTES(back, all);
    EXPECT_BYTES(b64(SV("\xff\xfe\x00")), "//4A");
}

void test_base64_strict(void **) {
    for (const char *bad : {
             "Zh==",   // non-canonical: trailing bits set before "=="
             "Zm9=",   // non-canonical: trailing bits set before "="
             "Zg",     // padding missing
             "Zg=",    // padding short
             "Zm8",    // padding missing
             "Zg===",  // too much padding
             "=",
             "==",
             "====",
             "Zm9v Zg==",  // whitespace inside
             " Zm9v",
             "Zm9v ",
             "Zm9v\r\n",
             "Zm9v\t",
             "Zm9vYg==Zm9v",  // padding in the middle
             "Zg=a",
             "Z===",
             "Zm9v!A==",  // outside the alphabet
             "Zm9-",      // base64url is not base64
             "Zm9_",
             "*",
         }) {
        std::string out;
        if (base64_decode(bad, out))
            fail_msg("\"%s\" was accepted (decoded to \"%s\")", bad, unit::escaped(out).c_str());
    }
    std::string out;
    assert_false(base64_decode(SV("Zm9v\0\0\0\0"), out));
}

// -------------------------------------------------------------------------------------------------
// The plaintext rule

sockaddr_storage v4(const char *addr) {
    sockaddr_storage ss{};
    auto *sin = reinterpret_cast<sockaddr_in *>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(25);
    if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) fail_msg("bad test address %s", addr);
    return ss;
}

sockaddr_storage v6(const char *addr) {
    sockaddr_storage ss{};
    auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(25);
    if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1) fail_msg("bad test address %s", addr);
    return ss;
}

void expect_permitted(const sockaddr_storage *peer, bool tls_verified, bool allow, bool want,
                      const char *what, const char *file, int line) {
    if (credentials_permitted(peer, tls_verified, allow) == want) return;
    print_error("credentials_permitted(%s, tls_verified=%d, allow_insecure=%d) is %d, expected %d\n", what,
                tls_verified, allow, !want, want);
    _fail(file, line);
}
#define EXPECT_PERMITTED(peer, tls, allow, want) \
    expect_permitted((peer), (tls), (allow), (want), #peer, __FILE__, __LINE__)

void test_policy_ipv4(void **) {
    for (const char *local : {"127.0.0.1", "127.255.0.1", "127.0.0.2", "127.255.255.255"}) {
        sockaddr_storage a = v4(local);
        if (!credentials_permitted(&a, false, false)) fail_msg("%s is not local", local);
    }
    for (const char *remote : {"10.0.0.1", "192.0.2.1", "128.0.0.1", "126.255.255.255", "0.0.0.0",
                               "169.254.0.1", "192.168.1.1", "255.255.255.255"}) {
        sockaddr_storage a = v4(remote);
        if (credentials_permitted(&a, false, false)) fail_msg("%s counts as local", remote);
        // TLS-verified, or explicitly allowed: permitted anywhere.
        if (!credentials_permitted(&a, true, false)) fail_msg("%s refused with verified TLS", remote);
        if (!credentials_permitted(&a, false, true)) fail_msg("%s refused with allow_insecure", remote);
    }
}

void test_policy_ipv6(void **) {
    sockaddr_storage lo = v6("::1");
    EXPECT_PERMITTED(&lo, false, false, true);
    sockaddr_storage mapped_lo = v6("::ffff:127.0.0.1");
    EXPECT_PERMITTED(&mapped_lo, false, false, true);
    sockaddr_storage mapped_lo2 = v6("::ffff:127.1.2.3");
    EXPECT_PERMITTED(&mapped_lo2, false, false, true);
    for (const char *remote : {"2001:db8::1", "::ffff:192.0.2.1", "::", "::2", "fe80::1", "fd00::1",
                               "::127.0.0.1" /* deprecated IPv4-compatible form: not loopback */,
                               "64:ff9b::7f00:1" /* NAT64 of 127.0.0.1: a remote translator */}) {
        sockaddr_storage a = v6(remote);
        if (credentials_permitted(&a, false, false)) fail_msg("%s counts as local", remote);
        if (!credentials_permitted(&a, true, false)) fail_msg("%s refused with verified TLS", remote);
        if (!credentials_permitted(&a, false, true)) fail_msg("%s refused with allow_insecure", remote);
    }
}

void test_policy_unix_and_unknown(void **) {
    sockaddr_storage ss{};
    auto *sun = reinterpret_cast<sockaddr_un *>(&ss);
    sun->sun_family = AF_UNIX;
    std::strcpy(sun->sun_path, "/run/smtpc-test.sock");
    EXPECT_PERMITTED(&ss, false, false, true);
    sockaddr_storage unnamed{};
    unnamed.ss_family = AF_UNIX;
    EXPECT_PERMITTED(&unnamed, false, false, true);

    // Unknown peer: never local; still permitted with verified TLS or when allowed.
    EXPECT_PERMITTED(nullptr, false, false, false);
    EXPECT_PERMITTED(nullptr, true, false, true);
    EXPECT_PERMITTED(nullptr, false, true, true);
    // An address of an unknown family is not local.
    sockaddr_storage other{};
    other.ss_family = AF_UNSPEC;
    EXPECT_PERMITTED(&other, false, false, false);
}

// -------------------------------------------------------------------------------------------------
// Engine transcripts

void test_engine_initial_response_redacted(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    Recorder rec;
    connect_ehlo(e, rec);
    EXPECT_STARTED(e.begin_auth(smtpc::detail::make_plain("", "user", "pass"), true));
    EXPECT_OUTPUT(e, "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
    FEED(e, "235 2.7.0 Authentication successful\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");
    assert_false(e.must_close());
    EXPECT_LAST_REPLY(e, 235, "2.7.0 Authentication successful");
    EXPECT_SENT(rec, "EHLO client.example\r\n", "AUTH PLAIN ****\r\n");
    ASSERT_NOT_TRACED(rec, "AHVzZXIAcGFzcw==");
    ASSERT_NOT_TRACED(rec, "pass");

    // Without the initial response: the AUTH line alone, then the response after the 334.
    Engine f(SMTPC_PROTOCOL_SMTP);
    Recorder rf;
    connect_ehlo(f, rf);
    EXPECT_STARTED(f.begin_auth(smtpc::detail::make_login("user", "pass"), false));
    EXPECT_OUTPUT(f, "AUTH LOGIN\r\n");
    FEED(f, "334 VXNlcm5hbWU6\r\n");
    EXPECT_OUTPUT(f, "dXNlcg==\r\n");
    FEED(f, "334 UGFzc3dvcmQ6\r\n");
    EXPECT_OUTPUT(f, "cGFzcw==\r\n");
    FEED(f, "235 2.7.0 ok\r\n");
    EXPECT_STATUS(f, SMTPC_OK, "");
    EXPECT_SENT(rf, "EHLO client.example\r\n", "AUTH LOGIN\r\n", "****\r\n", "****\r\n");
    ASSERT_NOT_TRACED(rf, "dXNlcg==");
    ASSERT_NOT_TRACED(rf, "cGFzcw==");
}

// An AUTH line still unsent when the connection is lost is wiped, not just dropped: the engine's output
// buffer (still allocated, so it can be looked at) holds zeros where the line was. The heap itself is
// searched by tests/auth/test_auth_heap.c, which cannot run under AddressSanitizer; this can.
void test_engine_wipes_unsent_auth_line(void **) {
    for (bool end_by_new_operation : {false, true}) {
        Engine e(SMTPC_PROTOCOL_SMTP);
        Recorder rec;
        connect_ehlo(e, rec);
        EXPECT_STARTED(e.begin_auth(smtpc::detail::make_login("user", "a-password-of-some-length"), false));
        EXPECT_OUTPUT(e, "AUTH LOGIN\r\n");
        FEED(e, "334 VXNlcm5hbWU6\r\n");
        EXPECT_OUTPUT(e, "dXNlcg==\r\n");
        FEED(e, "334 UGFzc3dvcmQ6\r\n");
        EXPECT_WANT(e, Want::Write);
        std::string_view line = e.output();
        EXPECT_BYTES(line, b64("a-password-of-some-length") + "\r\n");
        const char *at = line.data();
        std::size_t n = line.size();
        e.output_written(5);
        e.failed(SMTPC_EIO, "connection reset");
        EXPECT_STATUS(e, SMTPC_EIO, "connection reset");
        if (end_by_new_operation) {
            EXPECT_STARTED(e.begin_command(Cmd::Other, "NOOP\r\n"));  // the next command reuses the buffer
            at += 6;
            n -= 6;
        } else {
            e.end_connection();
        }
        for (std::size_t i = 0; i < n; ++i)
            if (at[i] != 0) fail_msg("byte %zu of the unsent AUTH line survived", i);
    }
}

void test_engine_long_initial_response(void **) {
    // "AUTH PLAIN " + base64 + CRLF must fit in 512 octets. A 372-byte message encodes to 496
    // characters (509 octets on the line: fits); 373 bytes encode to 500 (513 octets: too long).
    for (std::size_t msg_len : {std::size_t(372), std::size_t(373), std::size_t(2000)}) {
        std::string password(msg_len - 6, 'p');  // "\0user\0" + password
        std::string encoded = b64(std::string("\0user\0", 6) + password);
        Engine e(SMTPC_PROTOCOL_SMTP);
        Recorder rec;
        connect_ehlo(e, rec);
        EXPECT_STARTED(e.begin_auth(smtpc::detail::make_plain("", "user", password), true));
        if (msg_len == 372) {
            assert_int_equal(std::string("AUTH PLAIN ").size() + encoded.size() + 2, 509);
            EXPECT_OUTPUT(e, "AUTH PLAIN " + encoded + "\r\n");
            EXPECT_SENT(rec, "EHLO client.example\r\n", "AUTH PLAIN ****\r\n");
        } else {
            EXPECT_OUTPUT(e, "AUTH PLAIN\r\n");
            FEED(e, "334 \r\n");
            EXPECT_OUTPUT(e, encoded + "\r\n");
            EXPECT_SENT(rec, "EHLO client.example\r\n", "AUTH PLAIN\r\n", "****\r\n");
        }
        FEED(e, "235 2.7.0 ok\r\n");
        EXPECT_STATUS(e, SMTPC_OK, "");
        ASSERT_NOT_TRACED(rec, password);
        ASSERT_NOT_TRACED(rec, encoded.substr(0, 40));
    }
}

void test_engine_invalid_challenge(void **) {
    for (const char *bad : {"334 not*base64\r\n", "334 Zh==\r\n", "334 VXNlcm5hbWU\r\n",
                            "334-VXNlcm5h\r\n334 bWU6\r\n" /* a multiline challenge */}) {
        Engine e(SMTPC_PROTOCOL_SMTP);
        Recorder rec;
        connect_ehlo(e, rec);
        EXPECT_STARTED(e.begin_auth(smtpc::detail::make_login("user", "pass"), false));
        EXPECT_OUTPUT(e, "AUTH LOGIN\r\n");
        FEED(e, bad);
        EXPECT_OUTPUT(e, "*\r\n");
        FEED(e, "501 5.7.0 Authentication aborted\r\n");
        EXPECT_STATUS(e, SMTPC_EAUTH, "authentication cancelled: the server's challenge is not valid base64");
        assert_false(e.must_close());
        EXPECT_SENT(rec, "EHLO client.example\r\n", "AUTH LOGIN\r\n", "*\r\n");
    }
    // A 421 answer to the "*" closes.
    Engine e(SMTPC_PROTOCOL_SMTP);
    Recorder rec;
    connect_ehlo(e, rec);
    EXPECT_STARTED(e.begin_auth(smtpc::detail::make_login("user", "pass"), false));
    EXPECT_OUTPUT(e, "AUTH LOGIN\r\n");
    FEED(e, "334 ???\r\n");
    EXPECT_OUTPUT(e, "*\r\n");
    FEED(e, "421 4.3.2 bye\r\n");
    EXPECT_WANT(e, Want::Done);
    assert_int_equal(e.status(), SMTPC_EAUTH);
    assert_true(e.must_close());
}

void test_engine_challenge_limit(void **) {
    CallbackState st;
    Engine e(SMTPC_PROTOCOL_SMTP);
    Recorder rec;
    connect_ehlo(e, rec);
    EXPECT_STARTED(e.begin_auth(smtpc::detail::make_callback("X-ENDLESS", callback_mech, &st), false));
    EXPECT_OUTPUT(e, "AUTH X-ENDLESS\r\n");
    for (int i = 1; i <= smtpc::detail::kMaxAuthChallenges; ++i) {
        FEED(e, "334 " + b64("c" + std::to_string(i)) + "\r\n");
        EXPECT_OUTPUT(e, b64("re:c" + std::to_string(i)) + "\r\n");
    }
    FEED(e, "334 " + b64("c6") + "\r\n");  // the sixth challenge is one too many
    EXPECT_OUTPUT(e, "*\r\n");
    FEED(e, "501 5.7.0 Authentication aborted\r\n");
    EXPECT_STATUS(e, SMTPC_EAUTH, "authentication cancelled: the server sent more than 5 challenges");
    assert_false(e.must_close());
    assert_int_equal(st.calls, 5);
    assert_int_equal(smtpc::detail::kMaxAuthChallenges, 5);
}

void test_engine_scram_full_exchange(void **) {
    for (int sha256 = 0; sha256 <= 1; ++sha256) {
        Engine e(SMTPC_PROTOCOL_SMTP);
        Recorder rec;
        connect_ehlo(e, rec);
        EXPECT_STARTED(
            e.begin_auth(smtpc::detail::make_scram(sha256 ? "SHA-256" : "SHA-1", "", "user", "pencil",
                                                   sha256 ? kScram256Nonce : kScram1Nonce),
                         true));
        std::string mech = sha256 ? "SCRAM-SHA-256" : "SCRAM-SHA-1";
        std::string client_first = std::string("n,,n=user,r=") + (sha256 ? kScram256Nonce : kScram1Nonce);
        EXPECT_OUTPUT(e, "AUTH " + mech + " " + b64(client_first) + "\r\n");
        FEED(e, "334 " + b64(sha256 ? kScram256ServerFirst : kScram1ServerFirst) + "\r\n");
        EXPECT_OUTPUT(e, b64(sha256 ? kScram256ClientFinal : kScram1ClientFinal) + "\r\n");
        // As Postfix/Cyrus do: the server-final comes as a 334; the client answers with an empty line.
        FEED(e, "334 " + b64(sha256 ? kScram256ServerFinal : kScram1ServerFinal) + "\r\n");
        EXPECT_OUTPUT(e, "\r\n");
        FEED(e, "235 2.7.0 Authentication successful\r\n");
        EXPECT_STATUS(e, SMTPC_OK, "");
        assert_false(e.must_close());
        EXPECT_SENT(rec, "EHLO client.example\r\n", "AUTH " + mech + " ****\r\n", "****\r\n", "****\r\n");
        ASSERT_NOT_TRACED(rec, "pencil");
        ASSERT_NOT_TRACED(rec, b64(sha256 ? kScram256ClientFinal : kScram1ClientFinal));
        ASSERT_NOT_TRACED(rec, b64(client_first));
    }
}

// A mechanism's error may quote the server (SCRAM's e= attribute, in the server-first or the
// server-final message): its bytes reach the error message escaped, never raw (fuzz_auth's finding).
void test_engine_mechanism_error_escaped(void **) {
    const std::string hostile = std::string("e=\x1b[2J\r\n250 Ok: queued\0", 23);
    for (bool in_final : {false, true}) {
        Engine e(SMTPC_PROTOCOL_SMTP);
        Recorder rec;
        connect_ehlo(e, rec);
        EXPECT_STARTED(
            e.begin_auth(smtpc::detail::make_scram("SHA-1", "", "user", "pencil", kScram1Nonce), true));
        EXPECT_OUTPUT(e, "AUTH SCRAM-SHA-1 " + b64("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL") + "\r\n");
        if (in_final) {
            FEED(e, "334 " + b64(kScram1ServerFirst) + "\r\n");
            EXPECT_OUTPUT(e, b64(kScram1ClientFinal) + "\r\n");
        }
        FEED(e, "334 " + b64(hostile) + "\r\n");
        EXPECT_OUTPUT(e, "*\r\n");
        FEED(e, "501 5.7.0 Authentication aborted\r\n");
        EXPECT_STATUS(e, SMTPC_EAUTH,
                      "authentication cancelled: server error: \\x1b[2J\\x0d / 250 Ok: queued\\x00");
    }
}

void test_engine_scram_forged_signature(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    Recorder rec;
    connect_ehlo(e, rec);
    EXPECT_STARTED(
        e.begin_auth(smtpc::detail::make_scram("SHA-1", "", "user", "pencil", kScram1Nonce), true));
    EXPECT_OUTPUT(e, "AUTH SCRAM-SHA-1 " + b64("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL") + "\r\n");
    FEED(e, "334 " + b64(kScram1ServerFirst) + "\r\n");
    EXPECT_OUTPUT(e, b64(kScram1ClientFinal) + "\r\n");
    FEED(e, "334 " + b64("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=") + "\r\n");
    EXPECT_OUTPUT(e, "*\r\n");
    FEED(e, "501 5.7.0 Authentication aborted\r\n");
    EXPECT_WANT(e, Want::Done);
    assert_int_equal(e.status(), SMTPC_EAUTH);
    assert_true(e.message().find("signature") != std::string::npos);
}

void test_engine_235_before_scram_server_final(void **) {
    // After client-first only, and after client-final (before the server proved it knows the password).
    for (int stage = 0; stage < 2; ++stage) {
        Engine e(SMTPC_PROTOCOL_SMTP);
        Recorder rec;
        connect_ehlo(e, rec);
        EXPECT_STARTED(
            e.begin_auth(smtpc::detail::make_scram("SHA-256", "", "user", "pencil", kScram256Nonce), true));
        EXPECT_OUTPUT(e, "AUTH SCRAM-SHA-256 " + b64("n,,n=user,r=rOprNGfwEbeRWgbNEkqO") + "\r\n");
        if (stage == 1) {
            FEED(e, "334 " + b64(kScram256ServerFirst) + "\r\n");
            EXPECT_OUTPUT(e, b64(kScram256ClientFinal) + "\r\n");
        }
        FEED(e, "235 2.7.0 Authentication successful\r\n");
        EXPECT_WANT(e, Want::Done);
        assert_int_equal(e.status(), SMTPC_EAUTH);
        assert_true(e.must_close());
        EXPECT_BYTES(e.message(),
                     "the server accepted authentication without proving its identity (SCRAM-SHA-256 "
                     "exchange incomplete); connection closed");
    }
}

void test_engine_535_and_421(void **) {
    Engine e(SMTPC_PROTOCOL_SMTP);
    Recorder rec;
    connect_ehlo(e, rec);
    EXPECT_STARTED(e.begin_auth(smtpc::detail::make_plain("", "user", "wrong"), true));
    EXPECT_OUTPUT(e, "AUTH PLAIN " + b64(SV("\0user\0wrong")) + "\r\n");
    FEED(e, "535 5.7.8 Authentication credentials invalid\r\n");
    EXPECT_STATUS(e, SMTPC_EAUTH,
                  "PLAIN authentication failed: 535 5.7.8 Authentication credentials invalid");
    assert_false(e.must_close());
    EXPECT_LAST_REPLY(e, 535, "5.7.8 Authentication credentials invalid");
    // The connection goes on: another command works.
    EXPECT_STARTED(e.begin_command(Cmd::Other, "NOOP\r\n"));
    EXPECT_OUTPUT(e, "NOOP\r\n");
    FEED(e, "250 2.0.0 ok\r\n");
    EXPECT_STATUS(e, SMTPC_OK, "");

    for (const char *reply :
         {"454 4.7.0 Temporary authentication failure\r\n", "534 5.7.9 weak mechanism\r\n",
          "538 5.7.11 Encryption required\r\n", "503 5.5.1 Error: already authenticated\r\n",
          "504 5.5.4 Unrecognized authentication type\r\n"}) {
        Engine f(SMTPC_PROTOCOL_SMTP);
        Recorder rf;
        connect_ehlo(f, rf);
        EXPECT_STARTED(f.begin_auth(smtpc::detail::make_cram_md5("user", "pw"), true));
        EXPECT_OUTPUT(f, "AUTH CRAM-MD5\r\n");
        FEED(f, reply);
        EXPECT_WANT(f, Want::Done);
        assert_int_equal(f.status(), SMTPC_EAUTH);
        assert_false(f.must_close());
        assert_int_equal(f.last_reply()->code, std::atoi(reply));
    }

    Engine g(SMTPC_PROTOCOL_SMTP);
    Recorder rg;
    connect_ehlo(g, rg);
    EXPECT_STARTED(g.begin_auth(smtpc::detail::make_login("user", "pass"), true));
    EXPECT_OUTPUT(g, "AUTH LOGIN dXNlcg==\r\n");
    FEED(g, "334 UGFzc3dvcmQ6\r\n");
    EXPECT_OUTPUT(g, "cGFzcw==\r\n");
    FEED(g, "421 4.3.2 shutting down\r\n");
    EXPECT_STATUS(g, SMTPC_ECLOSING, "LOGIN authentication failed: 421 4.3.2 shutting down");
    assert_true(g.must_close());
    EXPECT_LAST_REPLY(g, 421, "4.3.2 shutting down");
}

void test_engine_oauth_error_challenge(void **) {
    const std::string json =
        "{\"status\":\"400\",\"schemes\":\"Bearer\",\"scope\":\"https://mail.google.com/\"}";
    for (int bearer = 0; bearer <= 1; ++bearer) {
        Engine e(SMTPC_PROTOCOL_SMTP);
        Recorder rec;
        connect_ehlo(e, rec);
        EXPECT_STARTED(e.begin_auth(
            smtpc::detail::make_oauth(bearer ? "OAUTHBEARER" : "XOAUTH2", "u@example.org", "tok3n", "", 0),
            true));
        std::string msg = bearer ? std::string("n,a=u@example.org,\x01"
                                               "auth=Bearer tok3n\x01\x01")
                                 : std::string("user=u@example.org\x01"
                                               "auth=Bearer tok3n\x01\x01");
        std::string mech = bearer ? "OAUTHBEARER" : "XOAUTH2";
        EXPECT_OUTPUT(e, "AUTH " + mech + " " + b64(msg) + "\r\n");
        FEED(e, "334 " + b64(json) + "\r\n");
        EXPECT_OUTPUT(e, bearer ? "AQ==\r\n" : "\r\n");
        FEED(e, "535 5.7.8 Username and Password not accepted\r\n");
        EXPECT_STATUS(e, SMTPC_EAUTH,
                      mech +
                          " authentication failed: 535 5.7.8 Username and Password not accepted "
                          "(server said: " +
                          json + ")");
        ASSERT_NOT_TRACED(rec, "tok3n");
        ASSERT_NOT_TRACED(rec, b64(msg).substr(0, 20));
    }
}

void test_engine_mechanism_aborts_initial(void **) {
    // A callback that aborts at the initial response: nothing is queued, EUSER.
    CallbackState st;
    st.abort_at = 0;
    Engine e(SMTPC_PROTOCOL_SMTP);
    Recorder rec;
    connect_ehlo(e, rec);
    Check c = e.begin_auth(smtpc::detail::make_callback("X-TEST", callback_mech, &st), true);
    assert_int_equal(c.status, SMTPC_EUSER);
    EXPECT_WANT(e, Want::Done);
    EXPECT_SENT(rec, "EHLO client.example\r\n");

    // Aborting on a challenge: "*" and EUSER.
    CallbackState st2;
    st2.abort_at = 1;
    Engine f(SMTPC_PROTOCOL_SMTP);
    Recorder rf;
    connect_ehlo(f, rf);
    EXPECT_STARTED(f.begin_auth(smtpc::detail::make_callback("X-TEST", callback_mech, &st2), true));
    EXPECT_OUTPUT(f, "AUTH X-TEST " + b64(SV("first\0response")) + "\r\n");
    FEED(f, "334 " + b64("chal") + "\r\n");
    EXPECT_OUTPUT(f, "*\r\n");
    FEED(f, "501 5.7.0 Authentication aborted\r\n");
    EXPECT_STATUS(f, SMTPC_EUSER, "authentication cancelled: the authentication callback aborted");
    assert_false(f.must_close());

    // An empty initial response is sent as "=" (RFC 4954 section 4).
    CallbackState st3;
    Engine g(SMTPC_PROTOCOL_SMTP);
    Recorder rg;
    connect_ehlo(g, rg);
    EXPECT_STARTED(g.begin_auth(smtpc::detail::make_plain("", "", ""), true));
    EXPECT_OUTPUT(g, "AUTH PLAIN AAA=\r\n");
    FEED(g, "535 no\r\n");
    EXPECT_WANT(g, Want::Done);
    (void)st3;
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cram_md5_rfc2195),
        cmocka_unit_test(test_scram_sha1_rfc5802),
        cmocka_unit_test(test_scram_sha256_rfc7677),
        cmocka_unit_test(test_scram_without_initial_response),
        cmocka_unit_test(test_scram_forged_server_signature),
        cmocka_unit_test(test_scram_hostile_server_first),
        cmocka_unit_test(test_scram_authzid_and_escaping),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_xoauth2),
        cmocka_unit_test(test_oauthbearer),
        cmocka_unit_test(test_callback_mechanism),
        cmocka_unit_test(test_wipe_clears_capacity),
        cmocka_unit_test(test_engine_wipes_unsent_auth_line),
        cmocka_unit_test(test_engine_mechanism_error_escaped),
        cmocka_unit_test(test_secret_string_storage),
        cmocka_unit_test(test_base64_into_wiped_memory),
        cmocka_unit_test(test_base64_rfc4648),
        cmocka_unit_test(test_base64_strict),
        cmocka_unit_test(test_policy_ipv4),
        cmocka_unit_test(test_policy_ipv6),
        cmocka_unit_test(test_policy_unix_and_unknown),
        cmocka_unit_test(test_engine_initial_response_redacted),
        cmocka_unit_test(test_engine_long_initial_response),
        cmocka_unit_test(test_engine_invalid_challenge),
        cmocka_unit_test(test_engine_challenge_limit),
        cmocka_unit_test(test_engine_scram_full_exchange),
        cmocka_unit_test(test_engine_scram_forged_signature),
        cmocka_unit_test(test_engine_235_before_scram_server_final),
        cmocka_unit_test(test_engine_535_and_421),
        cmocka_unit_test(test_engine_oauth_error_challenge),
        cmocka_unit_test(test_engine_mechanism_aborts_initial),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
