/* SPDX-License-Identifier: MIT */
/*
 * Compile-only check that include/smtpc.h is self-contained, strict C99 (-std=c99 -pedantic) and
 * warning-free. It is the first include, included twice to check the include guard, and every type
 * and macro is used so that a declaration error cannot hide in an unused part.
 */
#include <smtpc.h>
#include <smtpc.h>

/* C89-style static assertions (no _Static_assert in C99). */
#define HT_ASSERT(name, cond) typedef char ht_assert_##name[(cond) ? 1 : -1]

HT_ASSERT(version_number, SMTPC_VERSION_NUMBER ==
                              SMTPC_VERSION_MAJOR * 10000 + SMTPC_VERSION_MINOR * 100 + SMTPC_VERSION_PATCH);
HT_ASSERT(status_is_int, sizeof(smtpc_status) == sizeof(int));
HT_ASSERT(nts_is_max, SMTPC_NTS == (size_t)-1);
HT_ASSERT(ok_is_zero, SMTPC_OK == 0);
HT_ASSERT(errors_negative, SMTPC_EINVAL < 0 && SMTPC_EUSER < 0);
HT_ASSERT(ports, SMTPC_SMTP_PORT == 25 && SMTPC_LMTP_PORT == 2003);

/* Non-static, so that the compiler checks each prototype against a use; never called. */
int smtpc_headertest_c99(smtpc_client *client, smtpc_envelope *env);

static int ht_read(char *buf, size_t cap, size_t *len, void *userdata) {
    (void)buf;
    (void)cap;
    (void)userdata;
    *len = 0;
    return 0;
}

static void ht_trace(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us, void *userdata) {
    (void)kind;
    (void)data;
    (void)len;
    (void)time_us;
    (void)userdata;
}

int smtpc_headertest_c99(smtpc_client *client, smtpc_envelope *env) {
    smtpc_read_fn read_fn = ht_read;
    smtpc_trace_fn trace_fn = ht_trace;
    smtpc_protocol proto = SMTPC_PROTOCOL_LMTP;
    smtpc_rcpt_state state = SMTPC_RCPT_DELIVERED;
    smtpc_trace_kind kind = SMTPC_TRACE_INFO;
    const smtpc_result *res = smtpc_client_last_result(client);
    const smtpc_reply *reply = smtpc_result_data_reply(res, 0);
    smtpc_status st = smtpc_client_set_trace(client, 1, trace_fn, NULL);
    (void)proto;
    (void)kind;
    if (smtpc_result_state(res, 0) == state && smtpc_reply_code(reply) == 250) {
        st = smtpc_client_sendmail_stream(client, env, (uint64_t)0, read_fn, NULL);
    }
    return st == SMTPC_OK ? (int)smtpc_version_number() : SMTPC_EINTERNAL;
}
