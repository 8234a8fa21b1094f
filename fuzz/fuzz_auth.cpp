// SPDX-License-Identifier: MIT
// fuzz_auth: the whole AUTH exchange through the engine (Engine::begin_auth) with every mechanism —
// PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1, SCRAM-SHA-256, XOAUTH2, OAUTHBEARER and a custom callback —
// against a hostile server: challenges of any bytes, SCRAM server-first/server-final messages, OAuth
// error JSON, bad base64, replies split anywhere, early closes.
//
// Input: byte 0 = flags: bits 0-2 the mechanism (in the order above), bit 3 initial response allowed,
// bit 4 deliver each reply in chunks, bit 5 time out instead of EOF when the replies run out, bit 6
// long credentials (an initial response too long for the AUTH line is sent after the first 334);
// byte 1 seeds the chunk sizes. Then fields separated by "\n#\n": the custom mechanism's responses
// ('|'-separated, each given after a fixed credential prefix; "!" aborts, "-" leaves the response
// unset), then one field per server reply: a field starting with three digits is sent as it is, any
// other is a challenge sent as "334 <base64>\r\n".
// Oracles: no crash; the exchange ends (Done) within the challenge limit: at most kMaxAuthChallenges
// responses, then at most one "*"; every line written is one CRLF-terminated line without bare CR,
// LF or NUL: the AUTH line (≤ 512 octets, canonical base64 initial response), then base64 responses
// or "*"; the output is bounded; credentials never reach the trace (the AUTH line and every response
// are traced masked, and no other trace line nor the error message holds the password, the token,
// a custom response or their base64, unless the server sent it); nothing is
// written once the connection must close; SMTPC_OK only after a 235, and with SCRAM only after the
// server's signature (computed here independently); the error message is printable.
#include "auth/base64.hpp"
#include "auth/sasl.hpp"
#include "fuzz_common.hpp"
#include "proto/engine.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <deque>
#include <vector>

namespace d = smtpc::detail;

namespace {

constexpr std::string_view kUser = "user";
constexpr std::string_view kPassword = "pencil";  // RFC 5802 / RFC 7677 test vectors
constexpr std::string_view kToken = "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg";
constexpr std::string_view kHost = "server.example.com";
const char *const kMechs[] = {"PLAIN",         "LOGIN",   "CRAM-MD5",    "SCRAM-SHA-1",
                              "SCRAM-SHA-256", "XOAUTH2", "OAUTHBEARER", "X-CUSTOM"};

// Every response of the custom mechanism starts with this (21 octets: its base64 is the fixed first 28
// characters of the response's), so that a leaked response is found in any text without the fuzzer
// choosing what to look for.
constexpr std::string_view kCustomCredential = "custom-credential-7f3";

struct Script {
    std::deque<std::string_view> responses;  // for the custom mechanism
};

int custom_fn(const char *challenge, std::size_t len, int is_initial, smtpc_auth_response *resp,
              void *userdata) {
    auto *s = static_cast<Script *>(userdata);
    FUZZ_CHECK(is_initial ? (challenge == nullptr && len == 0) : (challenge != nullptr || len == 0),
               "callback challenge %p/%zu with is_initial %d", static_cast<const void *>(challenge), len,
               is_initial);
    if (s->responses.empty()) return 0;
    std::string_view r = s->responses.front();
    s->responses.pop_front();
    if (r == "!") return 1;
    if (r == "-") return 0;
    resp->out->assign(std::string(kCustomCredential) + std::string(r));
    resp->set = true;
    return 0;
}

struct Tracer final : d::TraceSink {
    std::vector<std::string> sent;        // SEND lines as traced
    std::string other;                    // every traced byte but SEND and RECV lines
    std::vector<std::string> challenges;  // decoded "334 <base64>" lines received
    void trace(smtpc_trace_kind kind, std::string_view text) override {
        if (kind == SMTPC_TRACE_SEND) {
            sent.emplace_back(text);
        } else if (kind == SMTPC_TRACE_RECV) {
            std::string_view t = text;
            while (!t.empty() &&
                   (t.back() == '\n' || t.back() == '\r' || t.back() == ' ' || t.back() == '\t'))
                t.remove_suffix(1);
            std::string decoded;
            if (t.substr(0, 4) == "334 " && d::base64_decode(t.substr(4), decoded))
                challenges.push_back(decoded);
        } else {
            other.append(text);
        }
    }
};

// The server signature a server that knows the password sends after `server_first` (RFC 5802 section
// 3), computed here independently of src/auth/scram.cpp; "" when server_first cannot be used.
std::string scram_server_signature(std::string_view mech, std::string_view user, std::string_view password,
                                   std::string_view client_nonce, std::string_view server_first) {
    std::string nonce, salt_b64;
    long iterations = -1;
    std::string_view rest = server_first;
    while (!rest.empty()) {
        std::size_t comma = rest.find(',');
        std::string_view a = rest.substr(0, comma);
        if (a.size() >= 2 && a[1] == '=') {
            if (a[0] == 'r' && nonce.empty()) nonce = a.substr(2);
            else if (a[0] == 's' && salt_b64.empty()) salt_b64 = a.substr(2);
            else if (a[0] == 'i' && iterations < 0)
                iterations = std::strtol(std::string(a.substr(2)).c_str(), nullptr, 10);
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    std::string salt;
    if (nonce.empty() || !d::base64_decode(salt_b64, salt) || iterations < 1 || iterations > 1000000)
        return {};
    const EVP_MD *md = mech == "SCRAM-SHA-1" ? EVP_sha1() : EVP_sha256();
    unsigned char salted[EVP_MAX_MD_SIZE], server_key[EVP_MAX_MD_SIZE], sig[EVP_MAX_MD_SIZE];
    int n = EVP_MD_size(md);
    unsigned len = 0;
    std::string auth_message = "n=" + std::string(user) + ",r=" + std::string(client_nonce) + "," +
                               std::string(server_first) + ",c=biws,r=" + nonce;
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                          reinterpret_cast<const unsigned char *>(salt.data()), static_cast<int>(salt.size()),
                          static_cast<int>(iterations), md, n, salted) != 1 ||
        !HMAC(md, salted, n, reinterpret_cast<const unsigned char *>("Server Key"), 10, server_key, &len) ||
        !HMAC(md, server_key, n, reinterpret_cast<const unsigned char *>(auth_message.data()),
              auth_message.size(), sig, &len))
        return {};
    return d::base64_encode(std::string_view(reinterpret_cast<const char *>(sig), len));
}

class Rng {
  public:
    explicit Rng(std::uint8_t seed) : x_(0x9e3779b9u ^ (seed * 0x01000193u)) {}
    std::size_t next() {
        x_ ^= x_ << 13;
        x_ ^= x_ >> 17;
        x_ ^= x_ << 5;
        return 1 + (x_ >> 8) % 37;
    }

  private:
    std::uint32_t x_;
};

bool is_base64_line(std::string_view s) {
    std::string out;
    return s.empty() || d::base64_decode(s, out);
}

class Driver {
  public:
    Driver(std::uint8_t flags, std::uint8_t seed, std::deque<std::string> replies, Script *script)
        : flags_(flags), rng_(seed), replies_(std::move(replies)), script_(script) {
        engine_.set_trace(&tracer_);
    }

    void run(std::size_t input_size) {
        engine_.begin_connection();
        replies_.push_front(
            "250-server.example.com\r\n250 AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 "
            "XOAUTH2 OAUTHBEARER X-CUSTOM\r\n");
        replies_.push_front("220 server.example.com ESMTP\r\n");
        if (pump() != SMTPC_OK || engine_.must_close()) return;
        if (!engine_.begin_command(d::Cmd::Ehlo, "EHLO client.example\r\n")) return;
        if (pump() != SMTPC_OK || engine_.must_close()) return;
        wire_.clear();
        tracer_.sent.clear();
        tracer_.other.clear();
        tracer_.challenges.clear();

        unsigned m = flags_ & 7;
        bool initial_ok = flags_ & 8;
        std::string user(kUser), password(kPassword);
        if (flags_ & 64) {
            user.assign(300, 'u');
            password.assign(300, 'p');
        }
        if (m == 3) nonce_ = "fyko+d2lbbFgONRv9qkxdawL";  // fixed SCRAM client nonces (RFC 5802, RFC 7677)
        if (m == 4) nonce_ = "rOprNGfwEbeRWgbNEkqO";
        user_ = user;
        password_ = password;
        std::unique_ptr<d::SaslMechanism> mech;
        switch (m) {
        case 0: mech = d::make_plain("", user, password); break;
        case 1: mech = d::make_login(user, password); break;
        case 2: mech = d::make_cram_md5(user, password); break;
        case 3: mech = d::make_scram("SHA-1", "", user, password, nonce_); break;
        case 4: mech = d::make_scram("SHA-256", "", user, password, nonce_); break;
        case 5:
        case 6: mech = d::make_oauth(kMechs[m], user, kToken, kHost, 587); break;
        default: mech = d::make_callback(kMechs[m], custom_fn, script_); break;
        }
        secrets_ = {password, std::string(kToken), d::base64_encode(password), d::base64_encode(kToken),
                    d::base64_encode(std::string("\0", 1) + user + std::string("\0", 1) + password)};
        if (m == 7) {
            secrets_.emplace_back(kCustomCredential);
            secrets_.push_back(d::base64_encode(kCustomCredential));
        }
        FUZZ_CHECK(mech && mech->name() == kMechs[m], "mechanism %s not made", kMechs[m]);

        d::Check c = engine_.begin_auth(std::move(mech), initial_ok);
        if (!c) {
            FUZZ_CHECK(!c.message.empty(), "refused to start without a message");
            return;
        }
        smtpc_status st = pump();
        check_exchange(st, input_size);
    }

  private:
    smtpc_status pump() {
        std::size_t guard = 0;
        for (;;) {
            FUZZ_CHECK(++guard < 100000, "the exchange does not terminate");
            d::Engine::Want want = engine_.want();
            if (want == d::Engine::Want::Done) break;
            if (engine_.must_close())
                FUZZ_CHECK(want == d::Engine::Want::Read, "wants to write once the connection must close");
            if (want == d::Engine::Want::Write) {
                std::string_view out = engine_.output();
                FUZZ_CHECK(!out.empty(), "Write wanted with nothing to write");
                std::size_t n = std::min(out.size(), rng_.next() * 11);
                wire_.append(out.substr(0, n));
                engine_.output_written(n);
            } else if (want == d::Engine::Want::Body) {
                FUZZ_CHECK(false, "body wanted in an AUTH exchange");
            } else {
                FUZZ_CHECK(engine_.expects_reply(), "waits for a reply with no command outstanding");
                if (replies_.empty()) {
                    if (flags_ & 32) engine_.failed(SMTPC_ETIMEOUT, "timed out");
                    else engine_.received_eof();
                    continue;
                }
                std::string reply = std::move(replies_.front());
                replies_.pop_front();
                std::string_view r(reply);
                while (!r.empty()) {
                    std::size_t n = (flags_ & 16) ? std::min(r.size(), rng_.next()) : r.size();
                    engine_.received(r.data(), n);
                    r.remove_prefix(n);
                    if (engine_.want() != d::Engine::Want::Read) {
                        // The rest of this reply arrives later (or not at all if the engine is done).
                        if (!r.empty()) replies_.emplace_front(r);
                        break;
                    }
                }
            }
        }
        return engine_.status();
    }

    void check_exchange(smtpc_status st, std::size_t input_size) {
        const std::string_view mech = kMechs[flags_ & 7];
        if (std::getenv("FUZZ_AUTH_DEBUG"))
            std::fprintf(stderr, "  %s: status %d close %d '%s'\n  wrote '%s'\n", kMechs[flags_ & 7], st,
                         engine_.must_close(), fuzz::escape(engine_.message(), 400).c_str(),
                         fuzz::escape(wire_, 800).c_str());
        FUZZ_CHECK(wire_.size() <= 8 * input_size + 65536, "%zu bytes written for %zu input bytes",
                   wire_.size(), input_size);
        // Split what was written into lines.
        std::vector<std::string_view> lines;
        std::string_view w(wire_);
        while (!w.empty()) {
            std::size_t e = w.find("\r\n");
            FUZZ_CHECK(e != std::string_view::npos, "unterminated line '%s' written",
                       fuzz::escape(w).c_str());
            std::string_view line = w.substr(0, e);
            FUZZ_CHECK(line.find_first_of(std::string("\r\n\0", 3)) == std::string_view::npos,
                       "bare CR, LF or NUL in written line '%s'", fuzz::escape(line).c_str());
            lines.push_back(line);
            w.remove_prefix(e + 2);
        }
        if (!lines.empty()) {
            std::string_view first = lines[0];
            std::string prefix = "AUTH " + std::string(mech);
            FUZZ_CHECK(first.substr(0, prefix.size()) == prefix, "first line '%s'",
                       fuzz::escape(first).c_str());
            FUZZ_CHECK(first.size() + 2 <= d::kMaxCommandLine, "AUTH line of %zu octets", first.size() + 2);
            std::string_view rest = first.substr(prefix.size());
            if (!rest.empty()) {
                FUZZ_CHECK(rest[0] == ' ' && (rest.substr(1) == "=" || is_base64_line(rest.substr(1))),
                           "AUTH line '%s'", fuzz::escape(first).c_str());
            }
        }
        std::size_t responses = 0, cancels = 0;
        for (std::size_t i = 1; i < lines.size(); ++i) {
            if (lines[i] == "*") {
                ++cancels;
                FUZZ_CHECK(i + 1 == lines.size(), "a line after the cancelling '*'");
                continue;
            }
            ++responses;
            FUZZ_CHECK(is_base64_line(lines[i]), "response line '%s' is not base64",
                       fuzz::escape(lines[i]).c_str());
        }
        FUZZ_CHECK(responses <= static_cast<std::size_t>(d::kMaxAuthChallenges), "%zu responses", responses);
        FUZZ_CHECK(cancels <= 1, "%zu cancels", cancels);

        // The trace: the AUTH line and every response masked; no secret anywhere.
        for (std::size_t i = 0; i < tracer_.sent.size(); ++i) {
            const std::string &t = tracer_.sent[i];
            if (i == 0) {
                std::string plain = "AUTH " + std::string(mech) + "\r\n";
                std::string masked = "AUTH " + std::string(mech) + " ****\r\n";
                FUZZ_CHECK(t == plain || t == masked, "AUTH line traced as '%s'", fuzz::escape(t).c_str());
            } else {
                FUZZ_CHECK(t == "****\r\n" || t == "*\r\n", "response traced as '%s'",
                           fuzz::escape(t).c_str());
            }
        }
        // The SEND lines were checked to be exactly the masked forms (RECV lines are the server's own
        // text); the other trace lines and the error message must not hold a credential the server
        // did not send itself.
        for (const std::string &s : secrets_)
            if (!s.empty() && !server_said(s))
                FUZZ_CHECK(tracer_.other.find(s) == std::string::npos &&
                               engine_.message().find(s) == std::string::npos,
                           "a credential ('%s') in the trace or the error message", fuzz::escape(s).c_str());

        const d::Reply *last = engine_.last_reply();
        if (st == SMTPC_OK) FUZZ_CHECK(last && last->code == 235, "SMTPC_OK without a 235");
        if (st != SMTPC_OK) FUZZ_CHECK(!engine_.message().empty(), "status %d without a message", st);
        // SCRAM: SMTPC_OK only when the server proved it knows the password (its signature over this
        // exchange, after the server-first message the client answered).
        if (st == SMTPC_OK && mech.substr(0, 5) == "SCRAM") {
            const std::vector<std::string> &ch = tracer_.challenges;
            std::size_t first = 0;
            while (first < ch.size() && ch[first].compare(0, 2, "r=") != 0) ++first;
            FUZZ_CHECK(first < ch.size(), "%s succeeded without a server-first message", kMechs[flags_ & 7]);
            std::string want = scram_server_signature(mech, user_, password_, nonce_, ch[first]);
            FUZZ_CHECK(!want.empty(), "%s succeeded after a server-first message it should refuse: '%s'",
                       kMechs[flags_ & 7], fuzz::escape(ch[first]).c_str());
            bool proved = false;
            for (std::size_t i = first + 1; i < ch.size(); ++i) {
                const std::string &c = ch[i];
                proved = proved || (c.compare(0, 2 + want.size(), "v=" + want) == 0 &&
                                    (c.size() == 2 + want.size() || c[2 + want.size()] == ','));
            }
            FUZZ_CHECK(proved, "%s succeeded without the server's signature 'v=%s'", kMechs[flags_ & 7],
                       want.c_str());
        }
        for (char ch : engine_.message()) {
            auto c = static_cast<unsigned char>(ch);
            FUZZ_CHECK(c >= 0x20 && c != 0x7f, "control byte 0x%02x in the error message '%s'", c,
                       fuzz::escape(engine_.message()).c_str());
        }
        if (!engine_.must_close())
            FUZZ_CHECK(!engine_.expects_reply(), "the exchange ended with replies outstanding");
    }

    // The server may echo anything; a secret it sent itself proves nothing.
    bool server_said(const std::string &s) const { return server_bytes_.find(s) != std::string::npos; }

  public:
    std::string server_bytes_;

  private:
    std::uint8_t flags_;
    Rng rng_;
    std::deque<std::string> replies_;
    Script *script_;
    d::Engine engine_{SMTPC_PROTOCOL_SMTP};
    Tracer tracer_;
    std::string wire_;
    std::vector<std::string> secrets_;
    std::string user_, password_, nonce_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    if (size < 2) return 0;
    std::uint8_t flags = data[0], seed = data[1];
    std::string_view rest(reinterpret_cast<const char *>(data + 2), size - 2);
    std::vector<std::string_view> fields;
    static constexpr std::string_view kSep = "\n#\n";
    for (;;) {
        std::size_t p = rest.find(kSep);
        fields.push_back(rest.substr(0, p));
        if (p == std::string_view::npos) break;
        rest.remove_prefix(p + kSep.size());
    }
    Script script;
    std::string_view cs = fields[0];
    for (;;) {
        std::size_t p = cs.find('|');
        script.responses.push_back(cs.substr(0, p));
        if (p == std::string_view::npos) break;
        cs.remove_prefix(p + 1);
    }
    std::deque<std::string> replies;
    std::string server;
    for (std::size_t i = 1; i < fields.size(); ++i) {
        std::string_view f = fields[i];
        bool raw = f.size() >= 3 && f[0] >= '0' && f[0] <= '9' && f[1] >= '0' && f[1] <= '9' && f[2] >= '0' &&
                   f[2] <= '9';
        replies.push_back(raw ? std::string(f) : "334 " + d::base64_encode(f) + "\r\n");
        server.append(f).append(replies.back());
    }
    Driver drv(flags, seed, std::move(replies), &script);
    drv.server_bytes_ = server;
    drv.run(size);
    return 0;
}
