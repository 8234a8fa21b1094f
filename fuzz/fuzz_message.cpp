// SPDX-License-Identifier: MIT
// fuzz_message: send_message's header parsing and Bcc removal (src/message: prepare_message), with
// what leaves it run through the DATA encoder as the client sends it.
//
// Input: byte 0 = flags (bit 0: the caller gives the recipients, bit 1: the caller gives the
// sender), byte 1 seeds the block sizes the pieces are encoded in; the rest is the message.
// Oracles, on the encoded bytes as a server reads them (fuzz/message_reference.hpp, written
// independently of src/message, on the lines after line-end normalisation):
//  - the DATA stream is well formed, and un-stuffed it is exactly the message's lines minus every
//    Bcc and Resent-Bcc field with its continuation lines: no Bcc line in the header section (in any
//    case, obsolete white space before the colon included) and nothing else lost or added;
//  - normalized_size() of the pieces (what SIZE declares) is the size of that;
//  - the pieces point into the caller's message (no copy);
//  - when the recipients come from the headers, they are exactly the addresses of the (Resent-)To,
//    (Resent-)Bcc and (Resent-)Cc fields in that order, so every Bcc address is in the envelope;
//    the sender is the first address of (Resent-)Sender, else (Resent-)From;
//  - a message the parser refuses still has its Bcc fields removed correctly by without_fields().
#include "fuzz_common.hpp"
#include "message/headers.hpp"
#include "message_reference.hpp"
#include "proto/data_encoder.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace d = smtpc::detail;

namespace {

class Rng {
  public:
    explicit Rng(std::uint8_t seed) : x_(0x9e3779b9u ^ (seed * 0x01000193u)) {}
    std::size_t next() {
        x_ ^= x_ << 13;
        x_ ^= x_ >> 17;
        x_ ^= x_ << 5;
        return 1 + (x_ >> 8) % 61;
    }

  private:
    std::uint32_t x_;
};

std::string encode(const std::vector<std::string_view> &pieces, Rng &rng) {
    d::DataEncoder enc;
    std::string out;
    for (std::string_view p : pieces) {
        while (!p.empty()) {
            std::size_t n = std::min(p.size(), rng.next());
            enc.encode(p.data(), n, out);
            p.remove_prefix(n);
        }
    }
    enc.finish(out);
    return out;
}

void check_pieces(std::string_view msg, const std::vector<std::string_view> &pieces, Rng &rng) {
    for (std::string_view p : pieces)
        FUZZ_CHECK(p.empty() || (p.data() >= msg.data() && p.data() + p.size() <= msg.data() + msg.size()),
                   "a piece outside the caller's message");
    std::string wire = encode(pieces, rng);
    std::string got, why;
    FUZZ_CHECK(msgref::unstuff(wire, got, why), "malformed DATA stream (%s): '%s'", why.c_str(),
               fuzz::escape(wire).c_str());
    std::string bcc = msgref::bcc_in_header_section(got);
    FUZZ_CHECK(bcc.empty(), "a %s field reached the server: '%s'", bcc.c_str(), fuzz::escape(got).c_str());
    std::string want = msgref::expected_without_bcc(msg);
    FUZZ_CHECK(got == want, "sent '%s'\nexpected '%s'", fuzz::escape(got).c_str(),
               fuzz::escape(want).c_str());
    FUZZ_CHECK(d::DataEncoder::normalized_size(pieces) == got.size(), "normalized_size %llu, %zu sent",
               static_cast<unsigned long long>(d::DataEncoder::normalized_size(pieces)), got.size());
}

// The envelope the reference expects from the headers.
void check_envelope(std::string_view msg, const d::Envelope &env, bool given_sender, bool given_rcpts) {
    std::string norm = msgref::normalise(msg);
    msgref::Parsed p = msgref::parse(msgref::lines(norm));
    std::size_t resent = 0;
    for (const auto &f : p.fields) resent += msgref::eq_nocase(f.name, "Resent-Date");
    FUZZ_CHECK(resent <= 1, "accepted with %zu Resent-Date fields", resent);
    std::string prefix = resent == 1 ? "Resent-" : "";
    if (!given_rcpts) {
        std::vector<std::string> want;
        for (const char *name : {"To", "Bcc", "Cc"})
            for (const auto &f : p.fields)
                if (msgref::eq_nocase(f.name, prefix + name))
                    for (const std::string &a : d::parse_address_list(f.value)) {
                        d::Address addr;
                        FUZZ_CHECK(d::parse_address(a, false, addr), "accepted with a bad address '%s'",
                                   fuzz::escape(a).c_str());
                        want.push_back(addr.value);
                    }
        FUZZ_CHECK(want.size() == env.recipients.size(), "%zu recipients, %zu expected",
                   env.recipients.size(), want.size());
        for (std::size_t i = 0; i < want.size(); ++i)
            FUZZ_CHECK(env.recipients[i].value == want[i],
                       "recipient %zu is '%s', '%s' expected (a Bcc address lost?)", i,
                       fuzz::escape(env.recipients[i].value).c_str(), fuzz::escape(want[i]).c_str());
    }
    if (!given_sender) {
        const msgref::Field *from = nullptr;
        for (const char *name : {"Sender", "From"}) {
            for (const auto &f : p.fields)
                if (!from && msgref::eq_nocase(f.name, prefix + name)) from = &f;
            if (from) break;
        }
        FUZZ_CHECK(from != nullptr, "a sender without a %sFrom or %sSender field", prefix.c_str(),
                   prefix.c_str());
        std::vector<std::string> addrs = d::parse_address_list(from->value);
        FUZZ_CHECK(!addrs.empty(), "a sender from a field without an address");
        d::Address addr;
        FUZZ_CHECK(d::parse_address(addrs.front(), true, addr), "accepted a bad sender");
        FUZZ_CHECK(env.sender.value == addr.value, "sender '%s', '%s' expected",
                   fuzz::escape(env.sender.value).c_str(), fuzz::escape(addr.value).c_str());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    if (size < 2) return 0;
    const bool given_rcpts = data[0] & 1, given_sender = data[0] & 2;
    Rng rng(data[1]);
    std::string_view msg(reinterpret_cast<const char *>(data + 2), size - 2);

    d::Envelope given;
    if (given_rcpts) {
        d::Address a;
        d::parse_address("given@example.org", false, a);
        given.recipients.push_back(a);
    }
    if (given_sender) {
        d::parse_address("sender@example.org", true, given.sender);
        given.sender_set = true;
    }
    d::OutgoingMessage out;
    d::Check c = d::prepare_message(msg, &given, out);
    if (c) {
        check_pieces(msg, out.pieces, rng);
        check_envelope(msg, out.envelope, given_sender, given_rcpts);
        if (given_rcpts) FUZZ_CHECK(out.envelope.recipients.size() == 1, "given recipients not used");
        if (given_sender)
            FUZZ_CHECK(out.envelope.sender.value == "sender@example.org", "given sender not used");
    } else {
        FUZZ_CHECK(c.status == SMTPC_EINVAL, "refused with status %d", c.status);
        d::MessageHeaders h = d::parse_headers(msg);
        std::vector<const d::HeaderField *> drop;
        for (const auto &f : h.fields)
            if (d::iequals(f.name, "Bcc") || d::iequals(f.name, "Resent-Bcc")) drop.push_back(&f);
        check_pieces(msg, d::without_fields(msg, h, drop), rng);
    }
    return 0;
}
