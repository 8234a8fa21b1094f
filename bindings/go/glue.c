/* SPDX-License-Identifier: MIT */
#include "glue.h"

#include "_cgo_export.h"

static int read_tramp(char *buf, size_t cap, size_t *len, void *userdata) {
    return goSmtpcRead(buf, cap, len, (uintptr_t)userdata);
}

static void trace_tramp(smtpc_trace_kind kind, const char *data, size_t len, int64_t time_us,
                        void *userdata) {
    goSmtpcTrace((int)kind, (char *)data, len, time_us, (uintptr_t)userdata);
}

static int progress_tramp(uint64_t sent, uint64_t total, void *userdata) {
    return goSmtpcProgress(sent, total, (uintptr_t)userdata);
}

static int auth_tramp(const char *challenge, size_t challenge_len, int is_initial, smtpc_auth_response *resp,
                      void *userdata) {
    return goSmtpcAuth((char *)challenge, challenge_len, is_initial, resp, (uintptr_t)userdata);
}

static int token_tramp(smtpc_auth_response *token, void *userdata) {
    return goSmtpcToken(token, (uintptr_t)userdata);
}

smtpc_status smtpcgo_set_trace(smtpc_client *c, int level, uintptr_t h) {
    if (level == 0) return smtpc_client_set_trace(c, 0, NULL, NULL);
    return smtpc_client_set_trace(c, level, trace_tramp, (void *)h);
}

smtpc_status smtpcgo_set_progress(smtpc_client *c, uintptr_t h) {
    if (h == 0) return smtpc_client_set_progress(c, NULL, NULL);
    return smtpc_client_set_progress(c, progress_tramp, (void *)h);
}

smtpc_status smtpcgo_sendmail_stream(smtpc_client *c, const smtpc_envelope *env, uintptr_t h,
                                     uint64_t size_hint) {
    return smtpc_client_sendmail_stream(c, env, size_hint, read_tramp, (void *)h);
}

smtpc_status smtpcgo_message_set_body_reader(smtpc_message *m, uint64_t size_hint, uintptr_t h) {
    return smtpc_message_set_body_reader(m, size_hint, read_tramp, (void *)h);
}

smtpc_status smtpcgo_auth(smtpc_client *c, const char *mech, size_t mech_len, uintptr_t h,
                          int initial_response_ok) {
    return smtpc_client_auth(c, mech, mech_len, initial_response_ok, auth_tramp, (void *)h);
}

smtpc_status smtpcgo_auth_oauth2(smtpc_client *c, const char *mech, size_t mech_len, const char *user,
                                 size_t user_len, const char *token, size_t token_len, uintptr_t h) {
    return smtpc_client_auth_oauth2(c, mech, mech_len, user, user_len, token, token_len,
                                    h ? token_tramp : NULL, (void *)h);
}
