// SPDX-License-Identifier: MIT
// Micro-benchmarks of the sans-IO core (Google Benchmark). Throughput is reported as bytes/s of
// input: server bytes for the reply parser, message bytes for the DATA encoder.
#include "proto/data_encoder.hpp"
#include "proto/features.hpp"
#include "proto/reply.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace d = smtpc::detail;

namespace {

const std::string kPostfixEhlo =
    "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
    "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n";

const std::string kEximEhlo =
    "250-mx.example.net Hello client.example [127.0.0.1]\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n250-DSN\r\n"
    "250-PIPELINING\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250-CHUNKING\r\n250-STARTTLS\r\n250-PRDR\r\n"
    "250-SMTPUTF8\r\n250 HELP\r\n";

// The replies to a pipelined MAIL, 98 RCPT and DATA: 100 replies in one buffer.
std::string pipelined_batch() {
    std::string s = "250 2.1.0 Ok\r\n";
    for (int i = 0; i < 98; ++i) s += "250 2.1.5 Ok\r\n";
    s += "354 End data with <CR><LF>.<CR><LF>\r\n";
    return s;
}

// Parses every reply in `in`, `chunk` bytes at a time (0: all at once).
std::size_t parse_all(d::ReplyParser &p, const std::string &in, std::size_t chunk) {
    std::size_t replies = 0, off = 0;
    while (off < in.size()) {
        std::size_t n = chunk ? std::min(chunk, in.size() - off) : in.size() - off;
        std::size_t piece = 0;
        while (piece < n) {
            std::size_t used = 0;
            auto r = p.feed(in.data() + off + piece, n - piece, used);
            piece += used;
            if (r == d::ReplyParser::Result::Complete) {
                d::Reply reply = p.take_reply();
                benchmark::DoNotOptimize(reply);
                ++replies;
            } else if (r == d::ReplyParser::Result::Error) {
                std::abort();
            } else {
                break;
            }
        }
        off += n;
    }
    return replies;
}

void BM_ReplyParse(benchmark::State &state, const std::string *input, std::size_t chunk) {
    d::ReplyParser p;
    std::size_t replies = 0;
    for (auto _ : state) replies += parse_all(p, *input, chunk);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * input->size()));
    state.counters["replies/s"] =
        benchmark::Counter(static_cast<double>(replies), benchmark::Counter::kIsRate);
}

const std::string kPipelined = pipelined_batch();
BENCHMARK_CAPTURE(BM_ReplyParse, ehlo_postfix, &kPostfixEhlo, 0);
BENCHMARK_CAPTURE(BM_ReplyParse, ehlo_exim, &kEximEhlo, 0);
BENCHMARK_CAPTURE(BM_ReplyParse, pipelined100, &kPipelined, 0);
BENCHMARK_CAPTURE(BM_ReplyParse, pipelined100_bytewise, &kPipelined, 1);

void BM_EhloFeatures(benchmark::State &state) {
    d::ReplyParser p;
    for (auto _ : state) {
        std::size_t used = 0;
        p.feed(kPostfixEhlo.data(), kPostfixEhlo.size(), used);
        d::Reply r = p.take_reply();
        d::Features f;
        f.parse(r);
        benchmark::DoNotOptimize(f);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kPostfixEhlo.size()));
}
BENCHMARK(BM_EhloFeatures);

constexpr std::size_t kMessageSize = 10 * 1024 * 1024;

// Typical text: header block, then lines of 20..76 characters with CRLF, ~1 in 200 starting with '.'.
std::string typical_message() {
    std::string s = "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: benchmark\r\n"
                    "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <bench@example.org>\r\n\r\n";
    const char *words[] = {"lorem",      "ipsum", "dolor",  "sit", "amet",    "consectetur",
                           "adipiscing", "elit",  "sed",    "do",  "eiusmod", "tempor",
                           "incididunt", "ut",    "labore", "et",  "dolore",  "magna"};
    unsigned x = 12345;
    std::size_t line = 0;
    while (s.size() < kMessageSize) {
        std::size_t len = 0, target = 20 + (x % 57);
        if (++line % 200 == 0) s += '.';
        while (len < target) {
            x = x * 1103515245u + 12345u;
            const char *w = words[(x >> 16) % 18];
            s += w;
            s += ' ';
            len += std::strlen(w) + 1;
        }
        s += "\r\n";
    }
    s.resize(kMessageSize);
    return s;
}

// Worst case for stuffing: every line starts with '.'.
std::string dot_message() {
    std::string s;
    while (s.size() < kMessageSize) s += ".a line that starts with a dot and must be stuffed............\r\n";
    s.resize(kMessageSize);
    return s;
}

// Worst case for line ends: every line ends with a lone LF (each becomes CRLF).
std::string lone_lf_message() {
    std::string s;
    while (s.size() < kMessageSize) s += "a line of text that ends with a lone line feed, as Unix files do\n";
    s.resize(kMessageSize);
    return s;
}

// Worst of both: "." and a lone LF, repeated (every byte pair is a stuffed line).
std::string tiny_dot_lines() {
    std::string s;
    while (s.size() < kMessageSize) s += ".\n";
    s.resize(kMessageSize);
    return s;
}

// Encodes the message in 64 KiB blocks, as the client does.
void BM_Encode(benchmark::State &state, std::string (*make)()) {
    const std::string msg = make();
    std::string out;
    out.reserve(msg.size() * 2 + 16);
    constexpr std::size_t kBlock = 64 * 1024;
    for (auto _ : state) {
        out.clear();
        d::DataEncoder e;
        for (std::size_t off = 0; off < msg.size(); off += kBlock)
            e.encode(msg.data() + off, std::min(kBlock, msg.size() - off), out);
        e.finish(out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * msg.size()));
    state.counters["out/in"] = static_cast<double>(out.size()) / static_cast<double>(msg.size());
}
BENCHMARK_CAPTURE(BM_Encode, typical_text, typical_message)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, every_line_dot, dot_message)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, all_lone_lf, lone_lf_message)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, dot_lf_pairs, tiny_dot_lines)->Unit(benchmark::kMillisecond);

// Reference: the same bytes appended to a string (what the encoder would cost if it only copied).
void BM_MemcpyAppend(benchmark::State &state) {
    const std::string msg = typical_message();
    std::string out;
    out.reserve(msg.size() + 16);
    constexpr std::size_t kBlock = 64 * 1024;
    for (auto _ : state) {
        out.clear();
        for (std::size_t off = 0; off < msg.size(); off += kBlock)
            out.append(msg.data() + off, std::min(kBlock, msg.size() - off));
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * msg.size()));
}
BENCHMARK(BM_MemcpyAppend)->Unit(benchmark::kMillisecond);

// SIZE computation (one pass over the message before MAIL FROM).
void BM_NormalizedSize(benchmark::State &state) {
    const std::string msg = typical_message();
    for (auto _ : state) benchmark::DoNotOptimize(d::DataEncoder::normalized_size(msg.data(), msg.size()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * msg.size()));
}
BENCHMARK(BM_NormalizedSize)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
