/* SPDX-License-Identifier: MIT */
/*
 * C side of the Go binding: trampolines that turn the library's callbacks (userdata last) into calls
 * of the exported Go functions in callbacks.go, the userdata being a runtime/cgo.Handle, and thin
 * wrappers for the calls that take a callback, so that Go never converts an integer to a pointer.
 */
#ifndef SMTPC_GO_GLUE_H
#define SMTPC_GO_GLUE_H

#include <stdint.h>

#include <smtpc.h>

smtpc_status smtpcgo_set_trace(smtpc_client *c, int level, uintptr_t h);
smtpc_status smtpcgo_set_progress(smtpc_client *c, uintptr_t h);
smtpc_status smtpcgo_sendmail_stream(smtpc_client *c, const smtpc_envelope *env, uintptr_t h,
                                     uint64_t size_hint);
smtpc_status smtpcgo_message_set_body_reader(smtpc_message *m, uint64_t size_hint, uintptr_t h);
smtpc_status smtpcgo_auth(smtpc_client *c, const char *mech, size_t mech_len, uintptr_t h,
                          int initial_response_ok);
smtpc_status smtpcgo_auth_oauth2(smtpc_client *c, const char *mech, size_t mech_len, const char *user,
                                 size_t user_len, const char *token, size_t token_len, uintptr_t h);

#endif
