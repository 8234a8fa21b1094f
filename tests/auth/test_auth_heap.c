/* SPDX-License-Identifier: MIT */
/*
 * No credential left in the heap: every AUTH mechanism is run through the public API with the
 * allocator interposed, and every heap block is searched for the secrets when it is freed (a
 * realloc that moves a block frees the old one) and, at checkpoints, while it is still live.
 *
 * The interposer: this executable defines malloc, free, calloc, realloc and the aligned
 * allocators, forwarding to glibc's __libc_* functions, so that every allocation of the process
 * (libsmtpc, libstdc++, OpenSSL, the C library itself) goes through it. It keeps the set of live
 * blocks and, while a scenario runs, searches each block at free time (malloc_usable_size bytes)
 * for the patterns: the password and the token, their base64 at each of the three alignments a
 * base64 text can give them (the characters that depend only on the secret's bytes), the exact
 * PLAIN message, the CRAM-MD5 digest, and SCRAM's SaltedPassword, ClientKey, StoredKey and proof.
 *
 * Scenarios: PLAIN and LOGIN (with and without an initial response, and LOGIN refused with 535) and
 * smtpc_client_login against aiosmtpd (tests/servers/aiosmtpd_server.py --auth); CRAM-MD5,
 * SCRAM-SHA-256 (a full exchange: RAND_bytes is interposed too, so the client nonce is fixed and the
 * script can hold the server's messages; and one cancelled for a wrong server signature), XOAUTH2 and
 * OAUTHBEARER with a token and with a token callback, and a custom mechanism against the fault server
 * (tests/servers/fault_server.py); then a connection lost while an AUTH line is unsent (a server that
 * stops reading a large response, then resets) and while an initial response waits for its 334 (a
 * long token, then a close); and, when the TLS test helpers are built, LOGIN and PLAIN over STARTTLS
 * to aiosmtpd (OpenSSL's record buffers). Each checks the exact bytes the server received, the live
 * heap after AUTH returns, and the heap after quit and free; the end of the program scans every block
 * still live.
 *
 * Skipped (exit 77) under AddressSanitizer, which owns malloc.
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_SCAN_SKIP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_SCAN_SKIP 1
#endif
#endif

#ifdef HEAP_SCAN_SKIP

int main(void) {
    printf("skipped: AddressSanitizer replaces malloc, so this heap scan cannot interpose it\n");
    return 77;
}

#else

#include "auth_common.h"
#include "fault_common.h"
#include "itest.h"
#ifdef HEAP_SCAN_TLS
#include "tls_common.h"
#endif

#include <errno.h>
#include <malloc.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

/* ---- the allocator interposer ------------------------------------------------------------------ */

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

#define LIVE_BITS 20
#define LIVE_SLOTS ((size_t)1 << LIVE_BITS)
#define LIVE_MASK (LIVE_SLOTS - 1)

static uintptr_t g_live[LIVE_SLOTS]; /* open addressing, linear probing; 0 = empty */
static size_t g_live_count;
static int g_live_overflow;
static long g_allocations;
static char g_lock;

typedef struct pattern {
    char name[64];
    unsigned char bytes[128];
    size_t len;
} pattern;

#define MAX_PATTERNS 48
static pattern g_pat[MAX_PATTERNS];
static int g_npat;
static volatile int g_armed; /* free-time scanning on */

typedef struct hit {
    char where[48];
    char pattern[64];
    size_t block, offset;
} hit;

#define MAX_HITS 12
static hit g_hits[MAX_HITS];
static int g_nhits;
static long g_hits_total;
static const char *g_phase = "";

static void lock(void) {
    while (__atomic_test_and_set(&g_lock, __ATOMIC_ACQUIRE)) {
    }
}

static void unlock(void) { __atomic_clear(&g_lock, __ATOMIC_RELEASE); }

static size_t slot_of(uintptr_t p) {
    return (size_t)(((uint64_t)p * 0x9E3779B97F4A7C15ull) >> (64 - LIVE_BITS));
}

static void live_add(void *p) {
    if (p == NULL) {
        return;
    }
    lock();
    g_allocations++;
    if (g_live_count >= LIVE_SLOTS / 4 * 3) {
        g_live_overflow = 1;
    } else {
        size_t i = slot_of((uintptr_t)p);
        while (g_live[i] != 0 && g_live[i] != (uintptr_t)p) {
            i = (i + 1) & LIVE_MASK;
        }
        if (g_live[i] == 0) {
            g_live[i] = (uintptr_t)p;
            g_live_count++;
        }
    }
    unlock();
}

static void live_remove(void *p) {
    if (p == NULL) {
        return;
    }
    lock();
    size_t i = slot_of((uintptr_t)p);
    while (g_live[i] != 0 && g_live[i] != (uintptr_t)p) {
        i = (i + 1) & LIVE_MASK;
    }
    if (g_live[i] != 0) {
        /* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
        size_t j = i;
        for (;;) {
            j = (j + 1) & LIVE_MASK;
            if (g_live[j] == 0) {
                break;
            }
            size_t k = slot_of(g_live[j]);
            int stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (stays) {
                continue;
            }
            g_live[i] = g_live[j];
            i = j;
        }
        g_live[i] = 0;
        g_live_count--;
    }
    unlock();
}

/* The first pattern found in the block, or -1; *offset tells where. No allocation in here. */
static int find_pattern(const void *p, size_t n, size_t *offset) {
    for (int i = 0; i < g_npat; i++) {
        const void *at = memmem(p, n, g_pat[i].bytes, g_pat[i].len);
        if (at != NULL) {
            *offset = (size_t)((const char *)at - (const char *)p);
            return i;
        }
    }
    return -1;
}

static void record_hit(const char *how, int pat, size_t block, size_t offset) {
    lock();
    g_hits_total++;
    if (g_nhits < MAX_HITS) {
        hit *h = &g_hits[g_nhits++];
        snprintf(h->where, sizeof h->where, "%s %s", how, g_phase);
        snprintf(h->pattern, sizeof h->pattern, "%s", g_pat[pat].name);
        h->block = block;
        h->offset = offset;
    }
    unlock();
}

static void scan_freed(void *p, const char *how) {
    if (!g_armed || p == NULL) {
        return;
    }
    size_t n = malloc_usable_size(p), off = 0;
    int pat = find_pattern(p, n, &off);
    if (pat >= 0) {
        record_hit(how, pat, n, off);
    }
}

void *malloc(size_t size) {
    void *p = __libc_malloc(size);
    live_add(p);
    return p;
}

void *calloc(size_t n, size_t size) {
    void *p = __libc_calloc(n, size);
    live_add(p);
    return p;
}

/* A freed block is zeroed once searched: stale bytes the test itself freed (a transcript holds the
 * credentials as sent) must not turn up later in a reused block as if the library had kept them. */
void free(void *p) {
    if (p == NULL) {
        return;
    }
    scan_freed(p, "freed");
    live_remove(p);
    memset(p, 0, malloc_usable_size(p));
    __libc_free(p);
}

void *realloc(void *p, size_t size) {
    if (p == NULL) {
        return malloc(size);
    }
    size_t n = malloc_usable_size(p);
    if (!g_armed) {
        /* The test's own buffers: moved by hand, so that the old block is zeroed too. */
        if (size == 0) {
            free(p);
            return NULL;
        }
        void *q = malloc(size);
        if (q != NULL) {
            memcpy(q, p, n < size ? n : size);
            free(p);
        }
        return q;
    }
    /* Search the old block first: once realloc has moved it, its bytes belong to the allocator. */
    size_t off = 0;
    int pat = find_pattern(p, n, &off);
    void *q = __libc_realloc(p, size);
    if (q != p && (q != NULL || size == 0)) {
        if (pat >= 0) {
            record_hit("freed by realloc", pat, n, off);
        }
        live_remove(p);
        live_add(q);
    }
    return q;
}

void *reallocarray(void *p, size_t n, size_t size) {
    if (size != 0 && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n * size);
}

void *memalign(size_t align, size_t size) {
    void *p = __libc_memalign(align, size);
    live_add(p);
    return p;
}

void *aligned_alloc(size_t align, size_t size) { return memalign(align, size); }

int posix_memalign(void **out, size_t align, size_t size) {
    if (align < sizeof(void *) || (align & (align - 1)) != 0) {
        return EINVAL;
    }
    void *p = memalign(align, size);
    if (p == NULL) {
        return ENOMEM;
    }
    *out = p;
    return 0;
}

void *valloc(size_t size) { return memalign((size_t)sysconf(_SC_PAGESIZE), size); }

void *pvalloc(size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return memalign(page, (size + page - 1) / page * page);
}

/* Every live block: the secrets must not be anywhere in the heap at this point. */
static void scan_live(const char *phase) {
    g_phase = phase;
    lock();
    for (size_t i = 0; i < LIVE_SLOTS; i++) {
        if (g_live[i] == 0) {
            continue;
        }
        void *p = (void *)g_live[i];
        size_t n = malloc_usable_size(p), off = 0;
        int pat = find_pattern(p, n, &off);
        if (pat >= 0) {
            unlock();
            record_hit("live", pat, n, off);
            lock();
        }
    }
    unlock();
}

static void arm(const char *phase) {
    g_nhits = 0;
    g_hits_total = 0;
    g_phase = phase;
    g_armed = 1;
}

static void disarm(void) { g_armed = 0; }

static void assert_no_hits(void) {
    if (g_live_overflow) {
        fail_msg("the live-block table overflowed: the scan is incomplete");
    }
    if (g_hits_total == 0) {
        return;
    }
    disarm();
    char msg[2048];
    size_t used = 0;
    for (int i = 0; i < g_nhits && used < sizeof msg - 200; i++) {
        used += (size_t)snprintf(msg + used, sizeof msg - used,
                                 "\n  %s: %s in a block of %zu bytes at offset %zu", g_hits[i].where,
                                 g_hits[i].pattern, g_hits[i].block, g_hits[i].offset);
    }
    fail_msg("%ld heap block(s) hold a credential:%s", g_hits_total, msg);
}

/* RAND_bytes as OpenSSL's, except that it gives fixed bytes while g_fixed_rand is set: the SCRAM
 * client nonce becomes known in advance, so the fault server's script can answer it. */
static int g_fixed_rand;

int RAND_bytes(unsigned char *buf, int num) {
    if (!g_fixed_rand) {
        return RAND_bytes_ex(NULL, buf, (size_t)num, 0);
    }
    for (int i = 0; i < num; i++) {
        buf[i] = (unsigned char)(0x5a ^ (i * 37));
    }
    return 1;
}

/* ---- the secrets and their forms --------------------------------------------------------------- */

#define USER "heapuser"
#define PASSWORD "Heap-Scan-Passw0rd-7f3a9c"
#define TOKEN "ya29.Heap-Scan-Token-5e8d1b0c4f"
#define CRAM_CHALLENGE "<1896.697170952@postoffice.example.net>"
#define SCRAM_SALT "QSXCR+Q6sek8bf92"
#define SCRAM_ITERATIONS 4096
#define SCRAM_SERVER_NONCE "3rfcNHYJY1ZVvWVs7j"

static void add_pattern(const char *name, const void *bytes, size_t len) {
    assert_true(g_npat < MAX_PATTERNS);
    assert_true(len >= 8 && len <= sizeof g_pat[0].bytes);
    pattern *p = &g_pat[g_npat++];
    snprintf(p->name, sizeof p->name, "%s", name);
    memcpy(p->bytes, bytes, len);
    p->len = len;
}

/* The secret, and the base64 characters that depend on its bytes alone at each of the three byte
 * alignments it can have inside an encoded message. */
static void add_secret(const char *name, const void *secret, size_t len) {
    add_pattern(name, secret, len);
    for (size_t k = 0; k < 3; k++) {
        unsigned char in[64];
        char enc[96], label[64];
        assert_true(k + len <= sizeof in);
        memset(in, 0, k);
        memcpy(in + k, secret, len);
        auth_b64_into(in, k + len, enc);
        size_t first = (8 * k + 5) / 6, end = (8 * (k + len)) / 6;
        snprintf(label, sizeof label, "base64 of the %s (alignment %zu)", name, k);
        add_pattern(label, enc + first, end - first);
    }
}

static char g_cram_hex[33];
static unsigned char g_salted[32], g_client_key[32], g_stored_key[32], g_proof[32], g_server_sig[32];
static char g_scram_client_first[160], g_scram_server_first[256], g_scram_client_final[256];
static char g_scram_server_final[128];

static void hmac256(const void *key, size_t klen, const char *data, unsigned char out[32]) {
    unsigned int n = 0;
    assert_non_null(HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)data, strlen(data), out, &n));
    assert_int_equal(n, 32);
}

/* The client nonce RAND_bytes gives while g_fixed_rand is set: base64 of 24 fixed bytes. */
static void scram_client_nonce(char out[33]) {
    unsigned char raw[24];
    for (int i = 0; i < 24; i++) {
        raw[i] = (unsigned char)(0x5a ^ (i * 37));
    }
    auth_b64_into(raw, sizeof raw, out);
}

static int group_setup_patterns(void) {
    g_npat = 0;
    add_secret("password", PASSWORD, strlen(PASSWORD));
    add_secret("token", TOKEN, strlen(TOKEN));
    /* PLAIN's message and its base64 (the message starts the encoding: alignment 0 suffices). */
    static const char plain[] = "\0" USER "\0" PASSWORD;
    char enc[128];
    add_pattern("PLAIN message", plain, sizeof plain - 1);
    add_pattern("base64 of the PLAIN message", enc, auth_b64_into(plain, sizeof plain - 1, enc));

    /* CRAM-MD5: the digest is the password's stand-in. */
    unsigned char mac[16];
    unsigned int n = 0;
    if (HMAC(EVP_md5(), PASSWORD, (int)strlen(PASSWORD), (const unsigned char *)CRAM_CHALLENGE,
             strlen(CRAM_CHALLENGE), mac, &n) == NULL) {
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        snprintf(g_cram_hex + 2 * i, 3, "%02x", mac[i]);
    }
    add_secret("CRAM-MD5 digest", g_cram_hex, 32);

    /* SCRAM-SHA-256 (RFC 5802, RFC 7677), computed here as the server would. */
    char cnonce[33];
    scram_client_nonce(cnonce);
    unsigned char salt[16];
    int salt_len = EVP_DecodeBlock(salt, (const unsigned char *)SCRAM_SALT, (int)strlen(SCRAM_SALT));
    if (salt_len != 12) {
        return -1;
    }
    if (PKCS5_PBKDF2_HMAC(PASSWORD, (int)strlen(PASSWORD), salt, salt_len, SCRAM_ITERATIONS, EVP_sha256(), 32,
                          g_salted) != 1) {
        return -1;
    }
    char bare[128], auth_message[640];
    snprintf(bare, sizeof bare, "n=" USER ",r=%s", cnonce);
    snprintf(g_scram_client_first, sizeof g_scram_client_first, "n,,%s", bare);
    snprintf(g_scram_server_first, sizeof g_scram_server_first,
             "r=%s" SCRAM_SERVER_NONCE ",s=" SCRAM_SALT ",i=%d", cnonce, SCRAM_ITERATIONS);
    char without_proof[160];
    snprintf(without_proof, sizeof without_proof, "c=biws,r=%s" SCRAM_SERVER_NONCE, cnonce);
    snprintf(auth_message, sizeof auth_message, "%s,%s,%s", bare, g_scram_server_first, without_proof);
    unsigned char client_sig[32], server_key[32];
    unsigned int dlen = 0;
    hmac256(g_salted, 32, "Client Key", g_client_key);
    if (EVP_Digest(g_client_key, 32, g_stored_key, &dlen, EVP_sha256(), NULL) != 1) {
        return -1;
    }
    hmac256(g_stored_key, 32, auth_message, client_sig);
    for (int i = 0; i < 32; i++) {
        g_proof[i] = g_client_key[i] ^ client_sig[i];
    }
    hmac256(g_salted, 32, "Server Key", server_key);
    hmac256(server_key, 32, auth_message, g_server_sig);
    char proof_text[64], sig_text[64];
    auth_b64_into(g_proof, 32, proof_text);
    auth_b64_into(g_server_sig, 32, sig_text);
    snprintf(g_scram_client_final, sizeof g_scram_client_final, "%s,p=%s", without_proof, proof_text);
    snprintf(g_scram_server_final, sizeof g_scram_server_final, "v=%s", sig_text);
    add_pattern("SCRAM SaltedPassword", g_salted, 32);
    add_pattern("SCRAM ClientKey", g_client_key, 32);
    add_pattern("SCRAM StoredKey", g_stored_key, 32);
    add_pattern("SCRAM ClientProof", g_proof, 32);
    add_secret("SCRAM ClientProof in base64", proof_text, 44);
    return 0;
}

/* ---- servers and fixtures ---------------------------------------------------------------------- */

static itest_server g_aiosmtpd; /* --auth heapuser:PASSWORD --auth-plaintext */
#ifdef HEAP_SCAN_TLS
static itest_server g_tls;      /* STARTTLS with the test PKI; AUTH offered over TLS only */
#endif
static auth_trace g_trace;
static smtpc_client *g_client; /* the aiosmtpd tests' client, freed by the teardown after a failure */

static int group_setup(void **state) {
    (void)state;
    if (group_setup_patterns() != 0) {
        return -1;
    }
    static const char *const args[] = {"--auth", USER ":" PASSWORD, "--auth-plaintext", NULL};
    if (itest_start_aiosmtpd(&g_aiosmtpd, 0, args) != 0) {
        return -1;
    }
#ifdef HEAP_SCAN_TLS
    static const char *const tls_args[] = {"--auth", USER ":" PASSWORD, NULL};
    if (tls_pki_setup() != 0 || tls_start_aiosmtpd(&g_tls, "server", tls_args) != 0) {
        return -1;
    }
#endif
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    itest_stop(&g_aiosmtpd);
#ifdef HEAP_SCAN_TLS
    itest_stop(&g_tls);
    tls_pki_teardown();
#endif
    return 0;
}

static int setup(void **state) {
    memset(&g_trace, 0, sizeof g_trace);
    return fault_setup(state);
}

static int trace_setup(void **state) {
    (void)state;
    memset(&g_trace, 0, sizeof g_trace);
    return 0;
}

static int trace_teardown(void **state) {
    (void)state;
    disarm();
    smtpc_client_free(g_client);
    g_client = NULL;
    auth_trace_free(&g_trace);
    return 0;
}

static int teardown(void **state) {
    disarm();
    auth_trace_free(&g_trace);
    return fault_teardown(state);
}

#define RPL_EHLO_AUTH                                                                                \
    "250-fault.test\r\n250-AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER " \
    "X-CUSTOM\r\n"                                                                                   \
    "250 8BITMIME\r\n"

#define ASSERT_ST(c, got, want)                                                                  \
    do {                                                                                         \
        smtpc_status st_ = (got);                                                                \
        if (st_ != (want))                                                                       \
            fail_msg("%s returned %s, expected %s; errmsg \"%s\"", #got, smtpc_status_name(st_), \
                     smtpc_status_name(want), smtpc_client_errmsg(c));                           \
    } while (0)

/* ---- the scanner itself ------------------------------------------------------------------------ */

/* The interposer is in force (libsmtpc's and libstdc++'s allocations reach it) and finds a secret
 * in a freed block: otherwise every other test would pass for nothing. */
static void test_scanner_sees_library_allocations(void **state) {
    (void)state;
    long before = g_allocations;
    smtpc_client *c = NULL;
    assert_int_equal(smtpc_client_new(&c, SMTPC_PROTOCOL_SMTP), SMTPC_OK);
    assert_int_equal(smtpc_client_set_local_hostname(c, "client.test", SMTPC_NTS), SMTPC_OK);
    smtpc_client_free(c);
    assert_true(g_allocations > before);

    arm("self-test");
    char *p = malloc(100);
    assert_non_null(p);
    memset(p, 'x', 100);
    memcpy(p + 40, PASSWORD, strlen(PASSWORD));
    scan_live("self-test live");
    assert_int_equal(g_hits_total, 1);
    char *q = realloc(p, 1 << 20); /* moves: the old block is freed */
    assert_non_null(q);
    assert_int_equal(g_hits_total, 2);
    memset(q, 0, 100);
    free(q);
    assert_int_equal(g_hits_total, 2);
    disarm();
    g_hits_total = 0;
    g_nhits = 0;
}

/* ---- aiosmtpd: PLAIN, LOGIN, login() ------------------------------------------------------------ */

/* `user` other than USER: aiosmtpd refuses (535) and the call returns SMTPC_EAUTH. */
static void aiosmtpd_user_case(const char *mech, int initial, const char *user, const char *want_auth) {
    smtpc_status want_st = strcmp(user, USER) == 0 ? SMTPC_OK : SMTPC_EAUTH;
    arm("during PLAIN/LOGIN");
    smtpc_client *c = g_client = itest_client(SMTPC_PROTOCOL_SMTP, "client.test");
    assert_non_null(c);
    assert_int_equal(smtpc_client_set_trace(c, 1, auth_trace_cb, &g_trace), SMTPC_OK);
    ASSERT_ST(c, itest_connect(c, &g_aiosmtpd), SMTPC_OK);
    if (mech == NULL) {
        ASSERT_ST(c, smtpc_client_login(c, user, SMTPC_NTS, PASSWORD, SMTPC_NTS), want_st);
    } else {
        smtpc_status st =
            smtpc_client_auth_password(c, mech, SMTPC_NTS, user, SMTPC_NTS, PASSWORD, SMTPC_NTS, initial);
        ASSERT_ST(c, st, want_st);
    }
    scan_live("after AUTH returned");
    assert_no_hits();
    ASSERT_ST(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    g_client = NULL;
    scan_live("after quit and free");
    assert_no_hits();
    disarm();

    char *raw = NULL;
    size_t len = 0;
    assert_int_equal(itest_last_session(&g_aiosmtpd, &raw, &len), 0);
    char want[512];
    snprintf(want, sizeof want, "EHLO client.test\r\n%sQUIT\r\n", want_auth);
    if (len != strlen(want) || memcmp(raw, want, len) != 0) {
        itest_dump("server received", raw, len);
        itest_dump("expected       ", want, strlen(want));
        free(raw);
        fail_msg("the server's raw capture differs");
    }
    free(raw);
}

static void aiosmtpd_case(const char *mech, int initial, const char *want_auth) {
    aiosmtpd_user_case(mech, initial, USER, want_auth);
}

static void test_plain(void **state) {
    (void)state;
    static const char plain[] = "\0" USER "\0" PASSWORD;
    char enc[128], want[256];
    auth_b64_into(plain, sizeof plain - 1, enc);
    snprintf(want, sizeof want, "AUTH PLAIN %s\r\n", enc);
    aiosmtpd_case("PLAIN", 1, want);
    snprintf(want, sizeof want, "AUTH PLAIN\r\n%s\r\n", enc);
    aiosmtpd_case("PLAIN", 0, want);
    /* smtpc_client_login picks PLAIN from aiosmtpd's "LOGIN PLAIN". */
    snprintf(want, sizeof want, "AUTH PLAIN %s\r\n", enc);
    aiosmtpd_case(NULL, 1, want);
}

static void test_login(void **state) {
    (void)state;
    char user[32], pw[64], want[256];
    auth_b64_into(USER, strlen(USER), user);
    auth_b64_into(PASSWORD, strlen(PASSWORD), pw);
    snprintf(want, sizeof want, "AUTH LOGIN %s\r\n%s\r\n", user, pw);
    aiosmtpd_case("LOGIN", 1, want);
    snprintf(want, sizeof want, "AUTH LOGIN\r\n%s\r\n%s\r\n", user, pw);
    aiosmtpd_case("LOGIN", 0, want);
    /* Refused (535, an unknown user): the same bytes went out and nothing is left either. */
    auth_b64_into("nobody", 6, user);
    snprintf(want, sizeof want, "AUTH LOGIN %s\r\n%s\r\n", user, pw);
    aiosmtpd_user_case("LOGIN", 1, "nobody", want);
}

#ifdef HEAP_SCAN_TLS
/* Over STARTTLS the AUTH lines also pass through OpenSSL's record buffers (encrypted in place). */
static void tls_case(const char *mech, const char *want_auth) {
    arm("during AUTH over TLS");
    smtpc_client *c = g_client = tls_client(SMTPC_TLS_REQUIRED, 1);
    assert_int_equal(smtpc_client_set_trace(c, 1, auth_trace_cb, &g_trace), SMTPC_OK);
    ASSERT_ST(c, tls_connect(c, &g_tls, "localhost"), SMTPC_OK);
    size_t idx = g_tls.connections - 1;
    ASSERT_ST(c, smtpc_client_auth_password(c, mech, SMTPC_NTS, USER, SMTPC_NTS, PASSWORD, SMTPC_NTS, 1),
              SMTPC_OK);
    scan_live("after AUTH returned");
    assert_no_hits();
    ASSERT_ST(c, smtpc_client_quit(c), SMTPC_OK);
    smtpc_client_free(c);
    g_client = NULL;
    scan_live("after quit and free");
    assert_no_hits();
    disarm();

    tls_check_session(&g_tls, idx, ITEST_STR("EHLO " TLS_CLIENT_NAME "\r\nSTARTTLS\r\n"), 1);
    size_t len = 0;
    char *got = tls_session_text(&g_tls, idx, "tls_hex", &len);
    char want[512];
    snprintf(want, sizeof want, "EHLO " TLS_CLIENT_NAME "\r\n%sQUIT\r\n", want_auth);
    if (got == NULL || len != strlen(want) || memcmp(got, want, len) != 0) {
        itest_dump("received over TLS", got, got ? len : 0);
        itest_dump("expected         ", want, strlen(want));
        free(got);
        fail_msg("the server's TLS capture differs");
    }
    free(got);
}

static void test_login_and_plain_over_starttls(void **state) {
    (void)state;
    char user[32], pw[64], want[256];
    auth_b64_into(USER, strlen(USER), user);
    auth_b64_into(PASSWORD, strlen(PASSWORD), pw);
    snprintf(want, sizeof want, "AUTH LOGIN %s\r\n%s\r\n", user, pw);
    tls_case("LOGIN", want);
    static const char plain[] = "\0" USER "\0" PASSWORD;
    char enc[128];
    auth_b64_into(plain, sizeof plain - 1, enc);
    snprintf(want, sizeof want, "AUTH PLAIN %s\r\n", enc);
    tls_case("PLAIN", want);
}
#endif

/* ---- the fault server: CRAM-MD5, SCRAM-SHA-256, OAuth, custom ---------------------------------- */

static smtpc_client *fault_begin(fault_fixture *f) {
    fault_start(f);
    arm("during AUTH");
    smtpc_client *c = fault_client(f, 5000, 5000);
    assert_int_equal(smtpc_client_set_trace(c, 1, auth_trace_cb, &g_trace), SMTPC_OK);
    ASSERT_ST(c, fault_connect(f), SMTPC_OK);
    return c;
}

/* AUTH has returned: nothing live holds a secret; then quit (when the connection is still open),
 * free, and search again. */
static void fault_end(fault_fixture *f, int quit) {
    smtpc_client *c = f->client;
    scan_live("after AUTH returned");
    assert_no_hits();
    if (quit) {
        ASSERT_ST(c, smtpc_client_quit(c), SMTPC_OK);
    }
    smtpc_client_free(c);
    f->client = NULL;
    scan_live("after quit and free");
    assert_no_hits();
    disarm();
    assert_int_equal(fault_finish(f, 0), 0);
}

static void hello_auth(fault_fixture *f) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AUTH);
}

static void bye(fault_fixture *f) {
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
}

static void transcript_is(const fault_fixture *f, const char *want) {
    fault_assert_transcript(f, want, strlen(want));
}

static void test_cram_md5(void **state) {
    fault_fixture *f = *state;
    char challenge[128], response[128], want[512];
    auth_b64_into(CRAM_CHALLENGE, strlen(CRAM_CHALLENGE), challenge);
    char plain[80];
    snprintf(plain, sizeof plain, USER " %s", g_cram_hex);
    auth_b64_into(plain, strlen(plain), response);
    hello_auth(f);
    sc_expect(f, "AUTH CRAM-MD5");
    char line[160];
    snprintf(line, sizeof line, "334 %s\r\n", challenge);
    sc_send(f, line);
    sc_expect(f, ""); /* the response: checked in the transcript, so the script holds no secret */
    sc_send(f, "235 2.7.0 ok\r\n");
    bye(f);
    smtpc_client *c = fault_begin(f);
    ASSERT_ST(c,
              smtpc_client_auth_password(c, "CRAM-MD5", SMTPC_NTS, USER, SMTPC_NTS, PASSWORD, SMTPC_NTS, 1),
              SMTPC_OK);
    fault_end(f, 1);
    snprintf(want, sizeof want, W_EHLO "AUTH CRAM-MD5\r\n%s\r\n" W_QUIT, response);
    transcript_is(f, want);
}

static void test_scram_sha256(void **state) {
    fault_fixture *f = *state;
    char first[256], server_first[384], final[384], server_final[256], line[512], want[1024];
    auth_b64_into(g_scram_client_first, strlen(g_scram_client_first), first);
    auth_b64_into(g_scram_server_first, strlen(g_scram_server_first), server_first);
    auth_b64_into(g_scram_client_final, strlen(g_scram_client_final), final);
    auth_b64_into(g_scram_server_final, strlen(g_scram_server_final), server_final);
    hello_auth(f);
    sc_expect(f, "AUTH SCRAM-SHA-256 ");
    snprintf(line, sizeof line, "334 %s\r\n", server_first);
    sc_send(f, line);
    sc_expect(f, "");
    snprintf(line, sizeof line, "334 %s\r\n", server_final);
    sc_send(f, line);
    sc_expect(f, "");
    sc_send(f, "235 2.7.0 ok\r\n");
    bye(f);
    g_fixed_rand = 1;
    smtpc_client *c = fault_begin(f);
    smtpc_status st =
        smtpc_client_auth_password(c, "SCRAM-SHA-256", SMTPC_NTS, USER, SMTPC_NTS, PASSWORD, SMTPC_NTS, 1);
    g_fixed_rand = 0;
    ASSERT_ST(c, st, SMTPC_OK);
    fault_end(f, 1);
    snprintf(want, sizeof want, W_EHLO "AUTH SCRAM-SHA-256 %s\r\n%s\r\n\r\n" W_QUIT, first, final);
    transcript_is(f, want);
}

/* A server whose final message does not prove it knows the password: the client cancels with "*" after
 * having sent its proof. */
static void test_scram_bad_server_signature(void **state) {
    fault_fixture *f = *state;
    char first[256], server_first[384], final[384], line[512], want[1024];
    auth_b64_into(g_scram_client_first, strlen(g_scram_client_first), first);
    auth_b64_into(g_scram_server_first, strlen(g_scram_server_first), server_first);
    auth_b64_into(g_scram_client_final, strlen(g_scram_client_final), final);
    hello_auth(f);
    sc_expect(f, "AUTH SCRAM-SHA-256 ");
    snprintf(line, sizeof line, "334 %s\r\n", server_first);
    sc_send(f, line);
    sc_expect(f, "");
    sc_send(f, "334 dj1BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE9\r\n"); /* v=AAA...A= */
    sc_expect(f, "*");
    sc_send(f, "501 5.7.0 Authentication aborted\r\n");
    bye(f);
    g_fixed_rand = 1;
    smtpc_client *c = fault_begin(f);
    smtpc_status st =
        smtpc_client_auth_password(c, "SCRAM-SHA-256", SMTPC_NTS, USER, SMTPC_NTS, PASSWORD, SMTPC_NTS, 1);
    g_fixed_rand = 0;
    ASSERT_ST(c, st, SMTPC_EAUTH);
    fault_end(f, 1);
    snprintf(want, sizeof want, W_EHLO "AUTH SCRAM-SHA-256 %s\r\n%s\r\n*\r\n" W_QUIT, first, final);
    transcript_is(f, want);
}

typedef struct token_state {
    int calls;
} token_state;

static int token_cb(smtpc_auth_response *token, void *userdata) {
    token_state *st = userdata;
    st->calls++;
    return smtpc_auth_response_set(token, TOKEN, SMTPC_NTS) == SMTPC_OK ? 0 : 1;
}

static void oauth_case(fault_fixture *f, const char *mech, int use_callback) {
    hello_auth(f);
    sc_expect(f, "AUTH ");
    sc_send(f, "235 2.7.0 ok\r\n");
    bye(f);
    smtpc_client *c = fault_begin(f);
    token_state ts = {0};
    if (use_callback) {
        ASSERT_ST(c, smtpc_client_auth_oauth2(c, mech, SMTPC_NTS, USER, SMTPC_NTS, NULL, 0, token_cb, &ts),
                  SMTPC_OK);
        assert_int_equal(ts.calls, 1);
    } else {
        ASSERT_ST(c,
                  smtpc_client_auth_oauth2(c, mech, SMTPC_NTS, USER, SMTPC_NTS, TOKEN, SMTPC_NTS, NULL, NULL),
                  SMTPC_OK);
    }
    fault_end(f, 1);
    char msg[256], enc[400], want[600];
    if (strcmp(mech, "XOAUTH2") == 0) {
        snprintf(msg, sizeof msg, "user=" USER "\001auth=Bearer " TOKEN "\001\001");
    } else {
        snprintf(msg, sizeof msg,
                 "n,a=" USER ",\001host=127.0.0.1\001port=%d\001auth=Bearer " TOKEN "\001\001", f->srv.port);
    }
    auth_b64_into(msg, strlen(msg), enc);
    snprintf(want, sizeof want, W_EHLO "AUTH %s %s\r\n" W_QUIT, mech, enc);
    transcript_is(f, want);
}

static void test_xoauth2_token(void **state) { oauth_case(*state, "XOAUTH2", 0); }
static void test_xoauth2_callback(void **state) { oauth_case(*state, "XOAUTH2", 1); }
static void test_oauthbearer_token(void **state) { oauth_case(*state, "OAUTHBEARER", 0); }
static void test_oauthbearer_callback(void **state) { oauth_case(*state, "OAUTHBEARER", 1); }

/* A caller's mechanism whose responses carry the password; `big` repeats it to that many bytes. */
typedef struct custom_state {
    int calls;
    size_t big;
    char *buf;
} custom_state;

static int custom_cb(const char *challenge, size_t len, int is_initial, smtpc_auth_response *resp,
                     void *userdata) {
    (void)challenge;
    (void)len;
    custom_state *st = userdata;
    st->calls++;
    if (is_initial) {
        return smtpc_auth_response_set(resp, USER, SMTPC_NTS) == SMTPC_OK ? 0 : 1;
    }
    if (st->big == 0) {
        return smtpc_auth_response_set(resp, "pw " PASSWORD, SMTPC_NTS) == SMTPC_OK ? 0 : 1;
    }
    /* The caller's own buffer is the caller's business: wiped here before it is freed. */
    size_t n = strlen(PASSWORD);
    char *buf = st->buf;
    for (size_t i = 0; i < st->big; i++) {
        buf[i] = i % (n + 1) == n ? ' ' : PASSWORD[i % (n + 1)];
    }
    smtpc_status rc = smtpc_auth_response_set(resp, buf, st->big);
    memset(buf, 0, st->big);
    return rc == SMTPC_OK ? 0 : 1;
}

static void test_custom_mechanism(void **state) {
    fault_fixture *f = *state;
    hello_auth(f);
    sc_expect(f, "AUTH X-CUSTOM ");
    sc_send(f, "334 cGFzc3dvcmQ/\r\n"); /* "password?" */
    sc_expect(f, "");
    sc_send(f, "235 2.7.0 ok\r\n");
    bye(f);
    smtpc_client *c = fault_begin(f);
    custom_state st = {0};
    ASSERT_ST(c, smtpc_client_auth(c, "X-CUSTOM", SMTPC_NTS, 1, custom_cb, &st), SMTPC_OK);
    assert_int_equal(st.calls, 2);
    fault_end(f, 1);
    char u[32], p[96], want[256];
    auth_b64_into(USER, strlen(USER), u);
    auth_b64_into("pw " PASSWORD, strlen("pw " PASSWORD), p);
    snprintf(want, sizeof want, W_EHLO "AUTH X-CUSTOM %s\r\n%s\r\n" W_QUIT, u, p);
    transcript_is(f, want);
}

/* ---- connection lost with credentials in the output ----------------------------------------- */

/* A response far larger than the socket buffers (a server that reads a little and stops, then
 * resets): most of its base64 is still in the client's output when the connection breaks. */
static void test_connection_lost_with_unsent_response(void **state) {
    fault_fixture *f = *state;
    f->extra_args[0] = "--rcvbuf";
    f->extra_args[1] = "4096";
    hello_auth(f);
    sc_expect(f, "AUTH X-CUSTOM\r\n");
    sc_send(f, "334 \r\n");
    sc_read_bytes(f, 4096);
    sc_sleep(f, 0.3);
    sc_rst(f);
    custom_state st = {.big = 12u << 20};
    st.buf = malloc(st.big); /* before arming: the scan skips nothing, the buffer is wiped */
    assert_non_null(st.buf);
    smtpc_client *c = fault_begin(f);
    smtpc_status got = smtpc_client_auth(c, "X-CUSTOM", SMTPC_NTS, 0, custom_cb, &st);
    if (got != SMTPC_EDISCONNECTED && got != SMTPC_EIO) {
        fail_msg("smtpc_client_auth returned %s, expected a lost connection; errmsg \"%s\"",
                 smtpc_status_name(got), smtpc_client_errmsg(c));
    }
    assert_int_equal(st.calls, 1);
    assert_int_equal(smtpc_client_is_connected(c), 0);
    fault_end(f, 0);
    free(st.buf);
    /* The server got the AUTH line and the first 4096 bytes of the response's base64. */
    static char head[6144], head_b64[8200];
    size_t n = strlen(PASSWORD);
    for (size_t i = 0; i < sizeof head; i++) {
        head[i] = i % (n + 1) == n ? ' ' : PASSWORD[i % (n + 1)];
    }
    auth_b64_into(head, sizeof head, head_b64);
    fault_assert_transcript_prefix(f, W_EHLO "AUTH X-CUSTOM\r\n", strlen(W_EHLO "AUTH X-CUSTOM\r\n"),
                                   head_b64, strlen(head_b64));
    assert_int_equal(f->transcript_len, strlen(W_EHLO "AUTH X-CUSTOM\r\n") + 4096);
}

/* An initial response too long for the AUTH line waits for the server's 334 (RFC 4954 section 4);
 * the server closes instead. */
static void test_connection_lost_with_deferred_initial_response(void **state) {
    fault_fixture *f = *state;
    hello_auth(f);
    sc_expect(f, "AUTH XOAUTH2\r\n");
    sc_close(f);
    /* A long token: TOKEN, then filler, so that the initial response exceeds the 512-octet line. */
    static char token[700];
    snprintf(token, sizeof token, "%s", TOKEN);
    memset(token + strlen(TOKEN), 'Q', sizeof token - 1 - strlen(TOKEN));
    token[sizeof token - 1] = '\0';
    smtpc_client *c = fault_begin(f);
    smtpc_status got =
        smtpc_client_auth_oauth2(c, "XOAUTH2", SMTPC_NTS, USER, SMTPC_NTS, token, SMTPC_NTS, NULL, NULL);
    if (got != SMTPC_EDISCONNECTED) {
        fail_msg("smtpc_client_auth_oauth2 returned %s, expected SMTPC_EDISCONNECTED; errmsg \"%s\"",
                 smtpc_status_name(got), smtpc_client_errmsg(c));
    }
    fault_end(f, 0);
    transcript_is(f, W_EHLO "AUTH XOAUTH2\r\n");
}

/* ---- the end: every block still live ----------------------------------------------------------- */

static void test_nothing_left_live(void **state) {
    (void)state;
    arm("at the end");
    scan_live("at the end");
    assert_no_hits();
    disarm();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scanner_sees_library_allocations),
        cmocka_unit_test_setup_teardown(test_plain, trace_setup, trace_teardown),
        cmocka_unit_test_setup_teardown(test_login, trace_setup, trace_teardown),
#ifdef HEAP_SCAN_TLS
        cmocka_unit_test_setup_teardown(test_login_and_plain_over_starttls, trace_setup, trace_teardown),
#endif
        cmocka_unit_test_setup_teardown(test_cram_md5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scram_sha256, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scram_bad_server_signature, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xoauth2_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xoauth2_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oauthbearer_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oauthbearer_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_mechanism, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_lost_with_unsent_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_lost_with_deferred_initial_response, setup, teardown),
        cmocka_unit_test(test_nothing_left_live),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

#endif /* HEAP_SCAN_SKIP */
