/* SPDX-License-Identifier: MIT */
/*
 * Scripted TLS fault tests, part 1: STARTTLS negotiation, response injection and downgrades
 * (catalogue A.1-A.6, A.10; Postfix CVE-2011-0411, the "NO STARTTLS" paper, curl CVE-2021-22947 and
 * test980, Python CVE-2016-0772, the KMail stripping case).
 *
 * Every test checks the status, smtpc_client_is_connected() and the exact bytes the server
 * received: nothing may be sent in plaintext after STARTTLS unless the policy allows it.
 */
#include "tls_fault_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Nothing here waits for a timeout: the client's timeouts are 5 s, FAST_MS bounds each call. */
#define FAST_MS 2500

#define W_HELLO_TLS W_EHLO W_STARTTLS

/* ---------------------------------------------------------------------------------------------- */
/* Response injection after the 220 (A.1-A.3)                                                    */
/* ---------------------------------------------------------------------------------------------- */

enum api { VIA_SENDMAIL, VIA_STARTTLS };

/* The reply to STARTTLS and injected bytes arrive in one write (one segment on loopback): refused
 * with SMTPC_EPROTOCOL, connection closed, nothing sent after STARTTLS, no handshake started. */
static void injected_same_segment(fault_fixture *f, const char *reply_and_injection, smtpc_tls_policy policy,
                                  enum api api) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send(f, reply_and_injection);
    sc_expect_eof(f, 5.0);
    fault_start(f);
    tf_client(f, policy, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    smtpc_status st = api == VIA_SENDMAIL ? smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS)
                                          : smtpc_client_starttls(f->client);
    ASSERT_STATUS(f, st, SMTPC_EPROTOCOL);
    assert_int_equal(smtpc_client_last_status(f->client), SMTPC_EPROTOCOL);
    tf_assert_elapsed(f, 0, FAST_MS);
    tf_assert_connected(f, 0);
    assert_int_equal(smtpc_client_tls_active(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS);
    /* The handle is still safe: a command now fails without sending anything. */
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ENOTCONN);
}

#define INJECT_FULL RPL_220_GO "250-x\r\n250 AUTH PLAIN\r\n"
#define INJECT_PARTIAL RPL_220_GO "250-AUTH PLAIN"
/* curl test980: STARTTLS refused, with the replies to AUTH, MAIL, RCPT, DATA and the message pipelined
 * behind it. */
#define INJECT_980                                                                                        \
    "454 currently unavailable\r\n235 Authenticated\r\n250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n" \
    "354 Start mail input\r\n250 2.0.0 OK\r\n"

static void test_inject_full_line_required(void **state) {
    injected_same_segment(*state, INJECT_FULL, SMTPC_TLS_REQUIRED, VIA_SENDMAIL);
}

static void test_inject_full_line_starttls(void **state) {
    injected_same_segment(*state, INJECT_FULL, SMTPC_TLS_NONE, VIA_STARTTLS);
}

static void test_inject_partial_line_required(void **state) {
    injected_same_segment(*state, INJECT_PARTIAL, SMTPC_TLS_REQUIRED, VIA_SENDMAIL);
}

static void test_inject_partial_line_starttls(void **state) {
    injected_same_segment(*state, INJECT_PARTIAL, SMTPC_TLS_NONE, VIA_STARTTLS);
}

/* test980 under REQUIRED: the injected replies make it a protocol error (not merely a refusal). */
static void test_inject_980_required(void **state) {
    injected_same_segment(*state, INJECT_980, SMTPC_TLS_REQUIRED, VIA_SENDMAIL);
}

/* test980 under OPPORTUNISTIC: a 454 alone would let the session go on in plaintext, but the
 * pipelined replies behind it must not be taken as answers to MAIL/RCPT/DATA. */
static void test_inject_980_opportunistic(void **state) {
    injected_same_segment(*state, INJECT_980, SMTPC_TLS_OPPORTUNISTIC, VIA_SENDMAIL);
}

/* The injection arrives in a separate segment 50 ms after the 220. Either the client has already
 * started the handshake (it then reads the plaintext as a broken TLS record: SMTPC_ETLS, and the
 * server has a ClientHello after STARTTLS), or it sees the bytes waiting before it starts
 * (SMTPC_EPROTOCOL, nothing after STARTTLS). The status must match what the wire shows, and in both
 * cases no TLS session is established and nothing is sent in plaintext after STARTTLS. */
static void test_inject_after_220_delayed(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send(f, RPL_220_GO);
    sc_sleep(f, 0.05);
    sc_send(f, "250-x\r\n250 AUTH PLAIN\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    smtpc_status st = smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS);
    tf_assert_elapsed(f, 0, FAST_MS);
    tf_assert_connected(f, 0);
    assert_int_equal(smtpc_client_tls_active(f->client), 0);
    assert_int_equal(fault_finish(f, 0), 0);
    if (tf_transcript_is_then_records(f, W_HELLO_TLS, sizeof W_HELLO_TLS - 1)) {
        ASSERT_STATUS(f, st, SMTPC_ETLS);
        tf_assert_errmsg_has(f, "TLS handshake failed");
    } else {
        ASSERT_STATUS(f, st, SMTPC_EPROTOCOL);
        FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Nothing pipelined with or after STARTTLS (A.10)                                                */
/* ---------------------------------------------------------------------------------------------- */

/* PIPELINING is offered before TLS; the server waits 100 ms after STARTTLS (and after EHLO) and
 * fails its script if anything else arrives before it answers. The whole session then runs over TLS. */
static void test_no_pipelining_past_starttls(void **state) {
    fault_fixture *f = *state;
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
    sc_expect_lines(f, 3); /* MAIL, RCPT, DATA pipelined: allowed after TLS */
    sc_send(f, RPL_OK RPL_OK RPL_354);
    sc_read_data(f);
    sc_send(f, "250 2.0.0 queued\r\n");
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    sc_expect_eof_notify(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(f->client), 1);
    assert_int_equal(smtpc_client_tls_verified(f->client), 1);
    assert_string_equal(smtpc_client_tls_version(f->client), "TLSv1.3");
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS W_TLS W_EHLO W_MAIL("s@example.org") W_RCPT("r1@example.org")
                                   W_DATA TF_MSG_WIRE W_QUIT);
}

/* The explicit call: STARTTLS alone, nothing after it before the 220; afterwards no EHLO is sent by
 * starttls itself (smtplib's contract), the caller's EHLO goes over TLS. */
static void test_explicit_starttls_sends_only_starttls(void **state) {
    fault_fixture *f = *state;
    sc_hello_starttls(f, RPL_EHLO_TLS);
    sc_expect_quiet(f, 0.2); /* starttls() returned: nothing more until the caller asks (it waits 400 ms) */
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AFTER);
    sc_expect(f, "NOOP");
    sc_send(f, RPL_OK);
    sc_expect_eof_notify(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_NONE, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_starttls(f->client), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(f->client), 1);
    /* Everything learnt before TLS is forgotten (RFC 3207 4.2). */
    assert_null(smtpc_client_ehlo_reply(f->client));
    assert_int_equal(smtpc_client_has_extn(f->client, "starttls", SMTPC_NTS), 0);
    assert_int_equal(smtpc_client_has_extn(f->client, "auth", SMTPC_NTS), 0);
    struct timespec ts = {0, 400 * 1000 * 1000};
    nanosleep(&ts, NULL);
    ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_OK);
    smtpc_client_close(f->client);
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS W_TLS W_EHLO W_NOOP);
}

/* ---------------------------------------------------------------------------------------------- */
/* Stripping (A.4)                                                                                */
/* ---------------------------------------------------------------------------------------------- */

/* The EHLO reply has no STARTTLS. The server reads until the client closes: only EHLO arrives. */
static void stripped_setup(fault_fixture *f) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, "250-fault.test\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
}

static void stripped_check(fault_fixture *f, smtpc_status st) {
    ASSERT_STATUS(f, st, SMTPC_ETLS_REQUIRED);
    tf_assert_errmsg_has(f, "STARTTLS");
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
}

/* No credentials configured: sendmail must still refuse (the KMail case). */
static void test_stripped_sendmail_no_credentials(void **state) {
    fault_fixture *f = *state;
    stripped_setup(f);
    fault_envelope(f, "r1@example.org", NULL);
    stripped_check(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS));
}

/* With credentials: no AUTH in plaintext, even though AUTH PLAIN is offered and the peer is local. */
static void test_stripped_login(void **state) {
    fault_fixture *f = *state;
    stripped_setup(f);
    assert_int_equal(smtpc_client_set_allow_insecure_auth(f->client, 1), SMTPC_OK);
    stripped_check(f, smtpc_client_login(f->client, "user", SMTPC_NTS, "secret", SMTPC_NTS));
}

static void test_stripped_ehlo_or_helo_if_needed(void **state) {
    fault_fixture *f = *state;
    stripped_setup(f);
    stripped_check(f, smtpc_client_ehlo_or_helo_if_needed(f->client));
}

/* The low-level calls after a plain EHLO, one connection each: MAIL, RCPT, DATA and every command
 * sent by hand (NOOP, RSET, VRFY, EXPN, HELP, docmd, raw bytes) are refused with SMTPC_ETLS_REQUIRED
 * before anything is sent (VRFY and EXPN would carry an address in plaintext), and (the documented
 * contract of that status) the connection is closed; a second call then gets SMTPC_ENOTCONN. */
#define LOWLEVEL_CALLS 10
static smtpc_status lowlevel_call(smtpc_client *c, int i) {
    switch (i) {
    case 0: return smtpc_client_mail(c, "s@example.org", SMTPC_NTS, NULL, 0);
    case 1: return smtpc_client_rcpt(c, "r1@example.org", SMTPC_NTS, NULL, 0);
    case 2: return smtpc_client_data(c, TF_MSG, SMTPC_NTS);
    case 3: return smtpc_client_noop(c);
    case 4: return smtpc_client_rset(c);
    case 5: return smtpc_client_vrfy(c, "secret@example.org", SMTPC_NTS);
    case 6: return smtpc_client_expn(c, "staff", SMTPC_NTS);
    case 7: return smtpc_client_help(c, NULL, 0);
    case 8: return smtpc_client_docmd(c, "XCLIENT", SMTPC_NTS, "NAME=x", SMTPC_NTS);
    default: return smtpc_client_send_raw(c, "VRFY secret@example.org\r\n", SMTPC_NTS);
    }
}

static void test_stripped_lowlevel_refused(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, "250-fault.test\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n");
    sc_expect_eof(f, 5.0);
    tf_server_connections(f, LOWLEVEL_CALLS);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    for (int i = 0; i < LOWLEVEL_CALLS; i++) {
        ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
        ASSERT_STATUS(f, smtpc_client_ehlo(f->client, NULL, 0), SMTPC_OK);
        ASSERT_STATUS(f, lowlevel_call(f->client, i), SMTPC_ETLS_REQUIRED);
        tf_assert_connected(f, 0);
        ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_ENOTCONN);
        smtpc_client_close(f->client);
    }
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_EHLO W_EHLO W_EHLO W_EHLO W_EHLO W_EHLO W_EHLO W_EHLO W_EHLO);
}

/* ---------------------------------------------------------------------------------------------- */
/* STARTTLS refused (A.5)                                                                         */
/* ---------------------------------------------------------------------------------------------- */

/* Under REQUIRED every reply but 220 is SMTPC_ETLS_REQUIRED: connection closed, no handshake, no
 * plaintext MAIL, no QUIT. A server that closes after its reply (221, 421) does so with send_then_close;
 * the others wait for the client to close. Bounded: the command timeout is 1.5 s. */
static void refused_required(fault_fixture *f, const char *reply, int server_closes) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    if (server_closes) {
        sc_send_then_close(f, reply);
    } else {
        sc_send(f, reply);
        sc_expect_eof(f, 5.0);
    }
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 1500);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_clock_start(f);
    smtpc_status st = smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS);
    long long ms = fault_elapsed_ms(f);
    int done = fault_finish(f, 0);
    if (st != SMTPC_ETLS_REQUIRED) {
        fprintf(stderr, "sendmail returned %s after %lld ms, errmsg \"%s\", connected %d\n",
                smtpc_status_name(st), ms, smtpc_client_errmsg(f->client),
                smtpc_client_is_connected(f->client));
    }
    FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS);
    ASSERT_STATUS(f, st, SMTPC_ETLS_REQUIRED);
    assert_int_equal(done, 0);
    tf_assert_connected(f, 0);
    assert_true(ms < FAST_MS);
    assert_int_equal(smtpc_client_tls_active(f->client), 0);
    if (smtpc_client_last_reply(f->client) == NULL) {
        fail_msg("the STARTTLS reply is not kept");
    }
}

static void test_refused_454_required(void **state) {
    refused_required(*state, "454 4.7.0 TLS not available due to temporary reason\r\n", 0);
}

static void test_refused_502_required(void **state) {
    refused_required(*state, "502 5.5.1 command not implemented\r\n", 0);
}

static void test_refused_500_required(void **state) {
    refused_required(*state, "500 5.5.2 syntax error\r\n", 0);
}

static void test_refused_421_required(void **state) { refused_required(*state, RPL_421, 1); }

/* 221 is a positive reply but not 220: STARTTLS was not accepted (EAST O_1-O_4). */
static void test_refused_221_required(void **state) { refused_required(*state, "221 2.0.0 bye\r\n", 1); }

/* 354 (nonsense to STARTTLS) while the server keeps the connection open. */
static void test_refused_354_required(void **state) { refused_required(*state, "354 go ahead\r\n", 0); }

/* 250 "ok" to STARTTLS is not 220 either. */
static void test_refused_250_required(void **state) { refused_required(*state, "250 2.0.0 ok\r\n", 0); }

/* The explicit call gets SMTPC_EREPLY with the reply kept and the connection open (smtplib raises
 * SMTPResponseException and the session goes on, CVE-2016-0772 is about not raising). */
static void test_refused_454_explicit_starttls(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send(f, "454 4.7.0 not now\r\n");
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    tf_client(f, SMTPC_TLS_NONE, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_starttls(f->client), SMTPC_EREPLY);
    fault_assert_reply(smtpc_client_last_reply(f->client), 454, "4.7.0 not now");
    tf_assert_connected(f, 1);
    assert_int_equal(smtpc_client_tls_active(f->client), 0);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS W_QUIT);
}

/* Under OPPORTUNISTIC a 454 means plaintext, and STARTTLS is not asked again on that connection:
 * two messages, one STARTTLS. */
static void test_refused_454_opportunistic_plaintext(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send(f, "454 4.7.0 not now\r\n");
    for (int i = 0; i < 2; i++) {
        sc_expect_lines(f, 3);
        sc_send(f, RPL_OK RPL_OK RPL_354);
        sc_read_data(f);
        sc_send(f, "250 2.0.0 queued\r\n");
    }
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    tf_client(f, SMTPC_TLS_OPPORTUNISTIC, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_client_tls_active(f->client), 0);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    /* The SIZE offered before TLS is used (these are the session's only features). */
    FAULT_ASSERT_TRANSCRIPT(
        f, W_HELLO_TLS "MAIL FROM:<s@example.org> SIZE=21\r\n" W_RCPT("r1@example.org") W_DATA TF_MSG_WIRE
        "MAIL FROM:<s@example.org> SIZE=21\r\n" W_RCPT("r1@example.org") W_DATA TF_MSG_WIRE W_QUIT);
}

/* Ten connections in a row, each refused with 454 under REQUIRED: each ends at once with
 * SMTPC_ETLS_REQUIRED (no retry loop, no spin), the same client is reusable, nothing leaks. */
static void test_refused_454_required_reconnect_loop(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send(f, "454 4.7.0 not now\r\n");
    sc_expect_eof(f, 5.0);
    tf_server_connections(f, 10);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    fault_clock_start(f);
    for (int i = 0; i < 10; i++) {
        ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
        ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_ETLS_REQUIRED);
        tf_assert_connected(f, 0);
    }
    tf_assert_elapsed(f, 0, 5000);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_HELLO_TLS W_HELLO_TLS W_HELLO_TLS W_HELLO_TLS W_HELLO_TLS W_HELLO_TLS
                                   W_HELLO_TLS W_HELLO_TLS W_HELLO_TLS W_HELLO_TLS);
}

/* ---------------------------------------------------------------------------------------------- */
/* EHLO refused, HELO accepted (A.6)                                                              */
/* ---------------------------------------------------------------------------------------------- */

static void test_ehlo_refused_helo_only_required(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, "502 5.5.1 EHLO not implemented\r\n");
    sc_expect(f, "HELO ");
    sc_send(f, "250 fault.test\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_ETLS_REQUIRED);
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_HELO);
}

/* EHLO and HELO both refused: still SMTPC_ETLS_REQUIRED (the requirement wins over SMTPC_EHELO). */
static void test_ehlo_and_helo_refused_required(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, "502 5.5.1 EHLO not implemented\r\n");
    sc_expect(f, "HELO ");
    sc_send(f, "502 5.5.1 HELO not implemented\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    tf_client(f, SMTPC_TLS_REQUIRED, 5000, 5000);
    fault_envelope(f, "r1@example.org", NULL);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, TF_MSG, SMTPC_NTS), SMTPC_ETLS_REQUIRED);
    tf_assert_connected(f, 0);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_HELO);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tf_setup, tf_teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_inject_full_line_required),
        T(test_inject_full_line_starttls),
        T(test_inject_partial_line_required),
        T(test_inject_partial_line_starttls),
        T(test_inject_980_required),
        T(test_inject_980_opportunistic),
        T(test_inject_after_220_delayed),
        T(test_no_pipelining_past_starttls),
        T(test_explicit_starttls_sends_only_starttls),
        T(test_stripped_sendmail_no_credentials),
        T(test_stripped_login),
        T(test_stripped_ehlo_or_helo_if_needed),
        T(test_stripped_lowlevel_refused),
        T(test_refused_454_required),
        T(test_refused_502_required),
        T(test_refused_500_required),
        T(test_refused_421_required),
        T(test_refused_221_required),
        T(test_refused_354_required),
        T(test_refused_250_required),
        T(test_refused_454_explicit_starttls),
        T(test_refused_454_opportunistic_plaintext),
        T(test_refused_454_required_reconnect_loop),
        T(test_ehlo_refused_helo_only_required),
        T(test_ehlo_and_helo_refused_required),
    };
    return cmocka_run_group_tests_name("tls_fault_starttls", tests, tf_group_setup, tf_group_teardown);
}
