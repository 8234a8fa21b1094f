/* SPDX-License-Identifier: MIT */
/*
 * Typed ESMTP parameters on the wire (issue 11; docs/extensions.md), against the scripted server:
 * the exact MAIL FROM and RCPT TO bytes for DSN (RET, ENVID, NOTIFY, ORCPT), MT-PRIORITY, DELIVERBY,
 * FUTURERELEASE, AUTH=, REQUIRETLS and BODY=BINARYMIME (with BDAT, the body as is); each refused with
 * SMTPC_ENOTSUPPORTED when the EHLO reply does not offer it, with nothing sent after EHLO and the
 * connection still usable; REQUIRETLS refused over plaintext and over an unverified certificate with
 * nothing sent after EHLO but STARTTLS; per-recipient enhanced status codes on the result.
 */
#include "tls_fault_common.h"

#include <string.h>

#define MSG "Subject: t\r\n\r\nhello\r\n"
#define MSG_WIRE MSG ".\r\n"
#define RPL_EHLO_ALL                                                                                     \
    "250-fault.test\r\n250-8BITMIME\r\n250-DSN\r\n250-MT-PRIORITY\r\n250-DELIVERBY 240\r\n"              \
    "250-FUTURERELEASE 604800 2012-10-10T00:00:00Z\r\n250-AUTH PLAIN\r\n250-ENHANCEDSTATUSCODES\r\n250 " \
    "SMTPUTF8\r\n"

static smtpc_envelope *new_env(const char *sender) {
    smtpc_envelope *env = NULL;
    assert_int_equal(smtpc_envelope_new(&env), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_sender(env, sender, SMTPC_NTS), SMTPC_OK);
    return env;
}

/* Every parameter at once, one command per round trip; the second recipient is refused. */
static void test_all_parameters(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_ALL);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, "250 2.1.5 ok\r\n");
    sc_expect(f, "RCPT ");
    sc_send(f, "550 5.1.1 no such user\r\n");
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, "250 2.6.0 queued\r\n");
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    f->env = new_env("s@example.org");
    assert_int_equal(smtpc_envelope_set_dsn(f->env, SMTPC_DSN_RET_HDRS, "QQ31+4=1 x", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient_dsn(f->env, "r1@example.org", SMTPC_NTS,
                                                      SMTPC_DSN_NOTIFY_SUCCESS | SMTPC_DSN_NOTIFY_DELAY,
                                                      "r1+x@example.org", SMTPC_NTS),
                     SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_recipient_dsn(f->env, "r2@example.org", SMTPC_NTS,
                                                      SMTPC_DSN_NOTIFY_NEVER, NULL, 0),
                     SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_mt_priority(f->env, -3), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_deliver_by(f->env, 300, SMTPC_DELIVERBY_RETURN, 1), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_hold_for(f->env, 3600), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_auth(f->env, "", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_OK);
    const smtpc_result *res = smtpc_client_last_result(f->client);
    assert_int_equal(smtpc_result_state(res, 0), SMTPC_RCPT_DELIVERED);
    assert_int_equal(smtpc_result_state(res, 1), SMTPC_RCPT_REFUSED);
    int k = 0, s = 0, d = 0;
    assert_int_equal(smtpc_reply_enhanced_parts(smtpc_result_reply(res, 0), &k, &s, &d), 1);
    assert_true(k == 2 && s == 6 && d == 0);
    assert_int_equal(smtpc_reply_enhanced_parts(smtpc_result_reply(res, 1), &k, &s, &d), 1);
    assert_true(k == 5 && s == 1 && d == 1);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(
        f, W_EHLO "MAIL FROM:<s@example.org> RET=HDRS ENVID=QQ31+2B4+3D1+20x AUTH=<> "
                  "MT-PRIORITY=-3 BY=300;RT HOLDFOR=3600\r\n"
                  "RCPT TO:<r1@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;r1+2Bx@example.org\r\n"
                  "RCPT TO:<r2@example.org> NOTIFY=NEVER\r\n" W_DATA MSG_WIRE W_QUIT);
}

/* HOLDUNTIL, DELIVERBY N, AUTH= with an identity, a UTF-8 ORCPT under SMTPUTF8; pipelined. */
static void test_hold_until_utf8(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, "250-fault.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-DSN\r\n250-DELIVERBY 240\r\n"
               "250-FUTURERELEASE 604800 2012-10-10T00:00:00Z\r\n250-AUTH PLAIN\r\n250 SMTPUTF8\r\n");
    sc_expect_lines(f, 3);
    sc_send(f, RPL_OK);
    sc_send(f, RPL_OK);
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_OK);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    f->env = new_env("s@example.org");
    assert_int_equal(smtpc_envelope_add_recipient_dsn(f->env, "j\xc3\xb6rg@example.org", SMTPC_NTS,
                                                      SMTPC_DSN_NOTIFY_FAILURE, "j\xc3\xb6rg+1@example.org",
                                                      SMTPC_NTS),
                     SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_deliver_by(f->env, 60, SMTPC_DELIVERBY_NOTIFY, 0), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_hold_until(f->env, "2012-10-10T01:00:00+01:00", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_auth(f->env, "sub=mitter@example.org", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO
                            "MAIL FROM:<s@example.org> SMTPUTF8 BODY=8BITMIME AUTH=sub+3Dmitter@example.org "
                            "BY=60;N HOLDUNTIL=2012-10-10T01:00:00+01:00\r\n"
                            "RCPT TO:<j\xc3\xb6rg@example.org> NOTIFY=FAILURE "
                            "ORCPT=utf-8;j\xc3\xb6rg\\x{2B}1@example.org\r\n" W_DATA MSG_WIRE W_QUIT);
}

/* A parameter the server does not offer (or a value beyond its advertised limit): refused before MAIL,
 * the message naming the extension; the connection stays usable. */
static void refused(fault_fixture *f, const char *ehlo, void (*set)(smtpc_envelope *), const char *needle) {
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, ehlo);
    sc_expect(f, "NOOP");
    sc_send(f, RPL_OK);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    f->env = new_env("s@example.org");
    assert_int_equal(smtpc_envelope_add_recipient(f->env, "r@example.org", SMTPC_NTS), SMTPC_OK);
    set(f->env);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_ENOTSUPPORTED);
    tf_assert_errmsg_has(f, needle);
    ASSERT_STATUS(f, smtpc_client_noop(f->client), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_NOOP W_QUIT);
}

static void set_dsn(smtpc_envelope *e) {
    assert_int_equal(smtpc_envelope_set_dsn(e, SMTPC_DSN_RET_FULL, NULL, 0), 0);
}
static void set_priority(smtpc_envelope *e) { assert_int_equal(smtpc_envelope_set_mt_priority(e, 1), 0); }
static void set_by_short(smtpc_envelope *e) {
    assert_int_equal(smtpc_envelope_set_deliver_by(e, 120, SMTPC_DELIVERBY_RETURN, 0), 0);
}
static void set_hold_long(smtpc_envelope *e) { assert_int_equal(smtpc_envelope_set_hold_for(e, 604801), 0); }
static void set_hold_late(smtpc_envelope *e) {
    assert_int_equal(smtpc_envelope_set_hold_until(e, "2012-10-10T00:00:01Z", SMTPC_NTS), 0);
}
static void set_auth(smtpc_envelope *e) {
    assert_int_equal(smtpc_envelope_set_auth(e, "u@example.org", SMTPC_NTS), 0);
}
static void set_binary(smtpc_envelope *e) {
    assert_int_equal(smtpc_envelope_set_body(e, SMTPC_BODY_BINARYMIME), 0);
}
static void set_requiretls(smtpc_envelope *e) { assert_int_equal(smtpc_envelope_set_requiretls(e, 1), 0); }

static void test_refused_dsn(void **state) { refused(*state, RPL_EHLO, set_dsn, "DSN"); }
static void test_refused_priority(void **state) { refused(*state, RPL_EHLO, set_priority, "MT-PRIORITY"); }
static void test_refused_deliverby(void **state) { refused(*state, RPL_EHLO, set_by_short, "DELIVERBY"); }
static void test_refused_deliverby_minimum(void **state) {
    refused(*state, RPL_EHLO_ALL, set_by_short, "minimum deliver-by time of 240");
}
static void test_refused_holdfor_maximum(void **state) {
    refused(*state, RPL_EHLO_ALL, set_hold_long, "maximum of 604800");
}
static void test_refused_holduntil_latest(void **state) {
    refused(*state, RPL_EHLO_ALL, set_hold_late, "latest release time");
}
static void test_refused_futurerelease(void **state) {
    refused(*state, RPL_EHLO, set_hold_long, "FUTURERELEASE");
}
static void test_refused_auth(void **state) { refused(*state, RPL_EHLO, set_auth, "AUTH"); }
static void test_refused_binarymime(void **state) {
    refused(*state, "250-fault.test\r\n250-CHUNKING\r\n250 8BITMIME\r\n", set_binary, "BINARYMIME");
}

/* dsn_optional: DSN left out silently when not offered. */
static void test_dsn_optional(void **state) {
    fault_fixture *f = *state;
    sc_hello(f, 0);
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_OK);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    f->env = new_env("s@example.org");
    assert_int_equal(smtpc_envelope_add_recipient_dsn(f->env, "r@example.org", SMTPC_NTS,
                                                      SMTPC_DSN_NOTIFY_FAILURE, "r@example.org", SMTPC_NTS),
                     SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_dsn(f->env, SMTPC_DSN_RET_FULL, "id", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_dsn_optional(f->env, 1), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_MAIL("s@example.org") W_RCPT("r@example.org") W_DATA MSG_WIRE W_QUIT);
}

/* The same keyword typed and raw: SMTPC_EINVAL, nothing sent after EHLO. */
static void test_typed_and_raw_conflict(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_ALL);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    f->env = new_env("s@example.org");
    assert_int_equal(smtpc_envelope_add_recipient(f->env, "r@example.org", SMTPC_NTS), SMTPC_OK);
    assert_int_equal(smtpc_envelope_set_mt_priority(f->env, 2), SMTPC_OK);
    assert_int_equal(smtpc_envelope_add_mail_option(f->env, "MT-PRIORITY=4", SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_EINVAL);
    tf_assert_errmsg_has(f, "MT-PRIORITY");
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_QUIT);
}

/* BINARYMIME: NUL, a bare CR and a bare LF go out as they are, in one BDAT LAST chunk. */
#define BIN_MSG "Subject: b\n\nbin\0ary\rdata\n"
static void test_binarymime_auto(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, "250-fault.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250 CHUNKING\r\n");
    sc_expect_lines(f, 3);
    sc_read_bytes(f, (long)sizeof BIN_MSG - 1);
    sc_send(f, RPL_OK);
    sc_send(f, RPL_OK);
    sc_send(f, RPL_OK);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    fault_envelope(f, "r@example.org", NULL);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, BIN_MSG, sizeof BIN_MSG - 1), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO "MAIL FROM:<s@example.org> BODY=BINARYMIME\r\n" W_RCPT(
                                   "r@example.org") "BDAT 25 LAST\r\n" BIN_MSG W_QUIT);
}

/* REQUIRETLS over plaintext: the server offers no STARTTLS; nothing is sent after EHLO. */
static void test_requiretls_plain(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, "250-fault.test\r\n250-REQUIRETLS\r\n250 8BITMIME\r\n");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    f->env = new_env("s@example.org");
    assert_int_equal(smtpc_envelope_add_recipient(f->env, "r@example.org", SMTPC_NTS), SMTPC_OK);
    set_requiretls(f->env);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_ETLS_REQUIRED);
    tf_assert_errmsg_has(f, "STARTTLS");
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO);
}

/* REQUIRETLS with a certificate the client does not trust (loopback, where the default policy is
 * opportunistic and would go on): the handshake fails; nothing but EHLO and STARTTLS in plaintext. */
static void test_requiretls_unverified(void **state) {
    fault_fixture *f = *state;
    sc_send(f, RPL_GREETING);
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_TLS);
    sc_expect(f, "STARTTLS");
    sc_send(f, RPL_220_GO);
    sc_raw(f, "{\"starttls\": true, \"optional\": true}");
    sc_expect_eof(f, 5.0);
    fault_start(f);
    fault_client(f, 5000, 5000); /* the system trust store: the test CA is not in it */
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    f->env = new_env("s@example.org");
    assert_int_equal(smtpc_envelope_add_recipient(f->env, "r@example.org", SMTPC_NTS), SMTPC_OK);
    set_requiretls(f->env);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_ETLS_VERIFY);
    fault_finish(f, 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_STARTTLS W_TLS);
}

/* REQUIRETLS over TLS whose verification was turned off: refused, nothing after the second EHLO. */
static void test_requiretls_verification_off(void **state) {
    fault_fixture *f = *state;
    sc_hello_starttls(f, RPL_EHLO_TLS);
    sc_expect(f, "EHLO ");
    sc_send(f, "250-fault.test\r\n250-REQUIRETLS\r\n250 8BITMIME\r\n");
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    fault_client(f, 5000, 5000);
    assert_int_equal(smtpc_client_set_tls_insecure_skip_verify_for_testing(f->client, 1), SMTPC_OK);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    f->env = new_env("s@example.org");
    assert_int_equal(smtpc_envelope_add_recipient(f->env, "r@example.org", SMTPC_NTS), SMTPC_OK);
    set_requiretls(f->env);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_ENOTSUPPORTED);
    tf_assert_errmsg_has(f, "verified");
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_STARTTLS W_TLS W_EHLO W_QUIT);
}

/* REQUIRETLS offered before STARTTLS only: what counts is the EHLO reply after it. */
static void test_requiretls_not_offered_after_tls(void **state) {
    fault_fixture *f = *state;
    sc_hello_starttls(f, "250-fault.test\r\n250-STARTTLS\r\n250-REQUIRETLS\r\n250 8BITMIME\r\n");
    sc_expect(f, "EHLO ");
    sc_send(f, RPL_EHLO_AFTER);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    tf_client(f, SMTPC_TLS_AUTO, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    f->env = new_env("s@example.org");
    assert_int_equal(smtpc_envelope_add_recipient(f->env, "r@example.org", SMTPC_NTS), SMTPC_OK);
    set_requiretls(f->env);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_ENOTSUPPORTED);
    tf_assert_errmsg_has(f, "REQUIRETLS");
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_STARTTLS W_TLS W_EHLO W_QUIT);
}

/* REQUIRETLS with a verified certificate and the extension offered after STARTTLS: sent. */
static void test_requiretls_sent(void **state) {
    fault_fixture *f = *state;
    sc_hello_starttls(f, RPL_EHLO_TLS);
    sc_expect(f, "EHLO ");
    sc_send(f, "250-fault.test\r\n250-REQUIRETLS\r\n250 8BITMIME\r\n");
    sc_expect(f, "MAIL ");
    sc_send(f, RPL_OK);
    sc_expect(f, "RCPT ");
    sc_send(f, RPL_OK);
    sc_expect(f, "DATA");
    sc_send(f, RPL_354);
    sc_read_data(f);
    sc_send(f, RPL_OK);
    sc_expect(f, "QUIT");
    sc_send(f, RPL_BYE);
    fault_start(f);
    tf_client(f, SMTPC_TLS_AUTO, 5000, 5000);
    ASSERT_STATUS(f, fault_connect(f), SMTPC_OK);
    f->env = new_env("s@example.org");
    assert_int_equal(smtpc_envelope_add_recipient(f->env, "r@example.org", SMTPC_NTS), SMTPC_OK);
    set_requiretls(f->env);
    ASSERT_STATUS(f, smtpc_client_sendmail(f->client, f->env, MSG, SMTPC_NTS), SMTPC_OK);
    ASSERT_STATUS(f, smtpc_client_quit(f->client), SMTPC_OK);
    assert_int_equal(fault_finish(f, 0), 0);
    FAULT_ASSERT_TRANSCRIPT(f, W_EHLO W_STARTTLS W_TLS W_EHLO
                            "MAIL FROM:<s@example.org> REQUIRETLS\r\n" W_RCPT("r@example.org")
                                W_DATA MSG_WIRE W_QUIT);
}

#define T(name) cmocka_unit_test_setup_teardown(test_##name, tf_setup, tf_teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(all_parameters),
        T(hold_until_utf8),
        T(refused_dsn),
        T(refused_priority),
        T(refused_deliverby),
        T(refused_deliverby_minimum),
        T(refused_holdfor_maximum),
        T(refused_holduntil_latest),
        T(refused_futurerelease),
        T(refused_auth),
        T(refused_binarymime),
        T(dsn_optional),
        T(typed_and_raw_conflict),
        T(binarymime_auto),
        T(requiretls_plain),
        T(requiretls_unverified),
        T(requiretls_verification_off),
        T(requiretls_not_offered_after_tls),
        T(requiretls_sent),
    };
    return cmocka_run_group_tests_name("tls_fault_extensions", tests, tf_group_setup, tf_group_teardown);
}
