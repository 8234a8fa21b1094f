/* SPDX-License-Identifier: MIT */
/*
 * Non-blocking mode against the STARTTLS faults of tests/tls_fault (test_tls_fault_starttls.c):
 * response injection after the 220 (in the same read as the 220, and arriving while the client is
 * about to start the handshake), stripping, STARTTLS refused, nothing pipelined past STARTTLS. Each
 * case runs with blocking calls and through the epoll loop (nb_compare.h): the same statuses,
 * messages, replies and the same bytes on the wire (plaintext, "--TLS--", then what TLS carried).
 */
#include "tls_fault_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nb_compare.h"

#define NB_WIRE(lit) lit, sizeof(lit) - 1
#define W_HELLO_TLS W_EHLO W_STARTTLS
#define RPL_EHLO_STRIPPED "250-fault.test\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"

static smtpc_client *client_required(fault_fixture *f, uint32_t command_ms) {
    return tf_client(f, SMTPC_TLS_REQUIRED, 5000, command_ms);
}

static smtpc_client *client_none(fault_fixture *f, uint32_t command_ms) {
    return tf_client(f, SMTPC_TLS_NONE, 5000, command_ms);
}

static smtpc_client *client_opportunistic(fault_fixture *f, uint32_t command_ms) {
    return tf_client(f, SMTPC_TLS_OPPORTUNISTIC, 5000, command_ms);
}

/* REQUIRED, with credentials allowed over a local plaintext link: only STARTTLS's absence stops AUTH. */
static smtpc_client *client_required_insecure_auth(fault_fixture *f, uint32_t command_ms) {
    smtpc_client *c = tf_client(f, SMTPC_TLS_REQUIRED, 5000, command_ms);
    assert_int_equal(smtpc_client_set_allow_insecure_auth(c, 1), SMTPC_OK);
    return c;
}

/* The reply to STARTTLS, with `bytes` behind it in the same write. */
static void script_injected(fault_fixture *f, int variant, const char *bytes, size_t len) {
    (void)variant;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send_n(f, bytes, len);
    sc_expect_eof(f, 5.0);
}

#define INJECT_FULL RPL_220_GO "250-x\r\n250 AUTH PLAIN\r\n"
#define INJECT_PARTIAL RPL_220_GO "250-AUTH PLAIN"
#define INJECT_980                                                                                        \
    "454 currently unavailable\r\n235 Authenticated\r\n250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n" \
    "354 Start mail input\r\n250 2.0.0 OK\r\n"

static void test_injection_same_read(void **state) {
    (void)state;
    static const nb_case cases[] = {
        {.name = "injected full line, REQUIRED",
         .setup = tf_setup,
         .script = script_injected,
         .bytes = NB_WIRE(INJECT_FULL),
         .make_client = client_required,
         .ops = {NB_CONNECT, NB_SENDMAIL, NB_NOOP},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE(W_HELLO_TLS)},
        {.name = "injected full line, starttls()",
         .setup = tf_setup,
         .script = script_injected,
         .bytes = NB_WIRE(INJECT_FULL),
         .make_client = client_none,
         .ops = {NB_CONNECT, NB_STARTTLS, NB_NOOP},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE(W_HELLO_TLS)},
        {.name = "injected partial line, REQUIRED",
         .setup = tf_setup,
         .script = script_injected,
         .bytes = NB_WIRE(INJECT_PARTIAL),
         .make_client = client_required,
         .ops = {NB_CONNECT, NB_SENDMAIL},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE(W_HELLO_TLS)},
        {.name = "injected partial line, starttls()",
         .setup = tf_setup,
         .script = script_injected,
         .bytes = NB_WIRE(INJECT_PARTIAL),
         .make_client = client_none,
         .ops = {NB_CONNECT, NB_STARTTLS},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE(W_HELLO_TLS)},
        {.name = "curl test980, REQUIRED",
         .setup = tf_setup,
         .script = script_injected,
         .bytes = NB_WIRE(INJECT_980),
         .make_client = client_required,
         .ops = {NB_CONNECT, NB_SENDMAIL},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE(W_HELLO_TLS)},
        {.name = "curl test980, OPPORTUNISTIC",
         .setup = tf_setup,
         .script = script_injected,
         .bytes = NB_WIRE(INJECT_980),
         .make_client = client_opportunistic,
         .ops = {NB_CONNECT, NB_SENDMAIL},
         .want = SMTPC_EPROTOCOL,
         .wire = NB_WIRE(W_HELLO_TLS)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) nb_compare_case(&cases[i]);
}

/* The injection arrives 50 ms after the 220, in its own segment. Whether the client has started the
 * handshake by then depends on timing, in either mode; what must hold in both: the status matches
 * what the wire shows (a ClientHello after STARTTLS: SMTPC_ETLS; nothing: SMTPC_EPROTOCOL), no TLS
 * session, nothing in plaintext after STARTTLS. */
static void script_injected_waiting(fault_fixture *f, int variant, const char *bytes, size_t len) {
    (void)variant;
    (void)bytes;
    (void)len;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send(f, RPL_220_GO);
    sc_sleep(f, 0.05);
    sc_send(f, "250-x\r\n250 AUTH PLAIN\r\n");
    sc_expect_eof(f, 5.0);
}

static void test_injection_waiting(void **state) {
    (void)state;
    static const nb_case k = {.name = "injection after the 220",
                              .setup = tf_setup,
                              .script = script_injected_waiting,
                              .make_client = client_required,
                              .ops = {NB_CONNECT, NB_SENDMAIL}};
    for (int nonblocking = 0; nonblocking < 2; nonblocking++) {
        void *st = NULL;
        assert_int_equal(tf_setup(&st), 0);
        fault_fixture *f = st;
        k.script(f, 0, NULL, 0);
        fault_start(f);
        nb_run run;
        nb_session(f, &k, nonblocking, &run);
        assert_int_equal(fault_finish(f, 10000), 0);
        if (tf_transcript_is_then_records(f, W_HELLO_TLS, sizeof W_HELLO_TLS - 1)) {
            if (run.st[1] != SMTPC_ETLS)
                fail_msg("mode %d, a handshake was started: %s", nonblocking, run.rec[1]);
            if (strstr(run.rec[1], "TLS handshake failed") == NULL)
                fail_msg("mode %d: %s", nonblocking, run.rec[1]);
        } else {
            if (run.st[1] != SMTPC_EPROTOCOL) fail_msg("mode %d, no handshake: %s", nonblocking, run.rec[1]);
            FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS);
        }
        if (strstr(run.rec[1], "connected 0 tls 0") == NULL) fail_msg("mode %d: %s", nonblocking, run.rec[1]);
        fault_teardown(&st);
    }
}

/* PIPELINING offered before TLS: nothing may follow EHLO or STARTTLS before its reply (the server
 * waits 100 ms and fails its script if anything arrives); after TLS, MAIL/RCPT/DATA pipelined. */
static void script_no_pipelining_past_starttls(fault_fixture *f, int variant, const char *bytes, size_t len) {
    (void)variant;
    (void)bytes;
    (void)len;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_expect_quiet(f, 0.1);
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_expect_quiet(f, 0.1);
    sc_send(f, RPL_220_GO);
    sc_starttls(f);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AFTER);
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_data(f);
    sc_send(f, "250 2.0.0 queued\r\n");
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    sc_expect_eof_notify(f, 5.0);
}

static void test_no_pipelining_past_starttls(void **state) {
    (void)state;
    static const nb_case k = {.name = "no pipelining past STARTTLS",
                              .setup = tf_setup,
                              .script = script_no_pipelining_past_starttls,
                              .make_client = client_required,
                              .ops = {NB_CONNECT, NB_SENDMAIL, NB_QUIT},
                              .want = SMTPC_OK,
                              .wire = NB_WIRE(W_HELLO_TLS W_TLS W_EHLO W_MAIL("s@example.org")
                                                  W_RCPT("r1@example.org") W_DATA TF_MSG_WIRE W_QUIT)};
    nb_compare_case(&k);
}

/* Stripping: the EHLO reply has no STARTTLS; under REQUIRED nothing but EHLO goes out. */
static void script_stripped(fault_fixture *f, int variant, const char *bytes, size_t len) {
    (void)variant;
    (void)bytes;
    (void)len;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_STRIPPED);
    sc_expect_eof(f, 5.0);
}

/* STARTTLS answered with `bytes`; then the server reads until the client closes, or (variant 1)
 * expects QUIT. */
static void script_refused(fault_fixture *f, int variant, const char *bytes, size_t len) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send_n(f, bytes, len);
    if (variant == 1) {
        sc_expect(f, "QUIT");
        sc_send(f, RPL_BYE);
    } else if (variant == 2) { /* OPPORTUNISTIC goes on in plaintext: two messages */
        for (int i = 0; i < 2; i++) {
            sc_expect_lines(f, 3);
            sc_send(f, RPL_OK RPL_OK RPL_354);
            sc_read_data(f);
            sc_send(f, "250 2.0.0 queued\r\n");
        }
        sc_expect(f, "QUIT");
        sc_send(f, RPL_BYE);
    }
    sc_expect_eof(f, 5.0);
}

#define RPL_454 "454 4.7.0 TLS not available due to temporary reason\r\n"
#define W_MAIL_SIZE "MAIL FROM:<s@example.org> SIZE=21\r\n"

static void test_stripping_and_454(void **state) {
    (void)state;
    static const nb_case cases[] = {
        {.name = "stripped, sendmail",
         .setup = tf_setup,
         .script = script_stripped,
         .make_client = client_required,
         .ops = {NB_CONNECT, NB_SENDMAIL},
         .want = SMTPC_ETLS_REQUIRED,
         .wire = NB_WIRE(W_EHLO)},
        {.name = "stripped, login",
         .setup = tf_setup,
         .script = script_stripped,
         .make_client = client_required_insecure_auth,
         .ops = {NB_CONNECT, NB_LOGIN},
         .want = SMTPC_ETLS_REQUIRED,
         .wire = NB_WIRE(W_EHLO)},
        {.name = "stripped, ehlo_or_helo_if_needed",
         .setup = tf_setup,
         .script = script_stripped,
         .make_client = client_required,
         .ops = {NB_CONNECT, NB_EHLO_OR_HELO},
         .want = SMTPC_ETLS_REQUIRED,
         .wire = NB_WIRE(W_EHLO)},
        {.name = "stripped, mail() after ehlo()",
         .setup = tf_setup,
         .script = script_stripped,
         .make_client = client_required,
         .ops = {NB_CONNECT, NB_EHLO, NB_MAIL, NB_MAIL},
         .want = SMTPC_ETLS_REQUIRED,
         .wire = NB_WIRE(W_EHLO)},
        {.name = "454, REQUIRED",
         .setup = tf_setup,
         .script = script_refused,
         .bytes = NB_WIRE(RPL_454),
         .make_client = client_required,
         .command_ms = 1500,
         .ops = {NB_CONNECT, NB_SENDMAIL},
         .want = SMTPC_ETLS_REQUIRED,
         .wire = NB_WIRE(W_HELLO_TLS)},
        {.name = "454, starttls()",
         .setup = tf_setup,
         .script = script_refused,
         .variant = 1,
         .bytes = NB_WIRE("454 4.7.0 not now\r\n"),
         .make_client = client_none,
         .ops = {NB_CONNECT, NB_STARTTLS, NB_QUIT},
         .want = SMTPC_EREPLY,
         .wire = NB_WIRE(W_HELLO_TLS W_QUIT)},
        {.name = "454, OPPORTUNISTIC: plaintext, STARTTLS asked once",
         .setup = tf_setup,
         .script = script_refused,
         .variant = 2,
         .bytes = NB_WIRE("454 4.7.0 not now\r\n"),
         .make_client = client_opportunistic,
         .ops = {NB_CONNECT, NB_SENDMAIL, NB_SENDMAIL, NB_QUIT},
         .want = SMTPC_OK,
         .wire =
             NB_WIRE(W_HELLO_TLS W_MAIL_SIZE W_RCPT("r1@example.org")
                         W_DATA TF_MSG_WIRE W_MAIL_SIZE W_RCPT("r1@example.org") W_DATA TF_MSG_WIRE W_QUIT)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) nb_compare_case(&cases[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_injection_same_read),
        cmocka_unit_test(test_injection_waiting),
        cmocka_unit_test(test_no_pipelining_past_starttls),
        cmocka_unit_test(test_stripping_and_454),
    };
    return cmocka_run_group_tests_name("nonblocking_tls_fault", tests, tf_group_setup, tf_group_teardown);
}
