// SPDX-License-Identifier: MIT
// C facade: non-blocking mode (smtpc_client_set_nonblocking, smtpc_client_step and the loop's
// questions). The state machine is the client's (src/client); this file only converts.
#include "guard.hpp"

using namespace smtpc::detail;

extern "C" {

smtpc_status smtpc_client_set_nonblocking(smtpc_client *client, int enabled) {
    return client_call(client, [&] { return client->impl.set_nonblocking(enabled != 0); });
}

int smtpc_client_nonblocking(const smtpc_client *client) {
    return client && client->impl.nonblocking() ? 1 : 0;
}

int smtpc_client_fd(const smtpc_client *client) { return client ? client->impl.fd() : -1; }

int smtpc_client_wants(const smtpc_client *client) { return client ? client->impl.wants() : 0; }

int64_t smtpc_client_deadline_ms(const smtpc_client *client) {
    return client ? client->impl.deadline_ms() : -1;
}

smtpc_status smtpc_client_step(smtpc_client *client) {
    return client_call(client, [&] { return client->impl.step(); });
}

}  // extern "C"
