// SPDX-License-Identifier: MIT
// Compile-only check that include/smtpc.h is clean C++17 (-std=c++17 -pedantic, no extensions):
// extern "C" linkage, no C-only constructs, no warnings. Included twice to check the guard.
#include <smtpc.h>
#include <smtpc.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

static_assert(std::is_enum<smtpc_status>::value && sizeof(smtpc_status) == sizeof(int),
              "smtpc_status is an int-sized enum");
static_assert(std::is_same<decltype(SMTPC_EINVAL), smtpc_status>::value &&
                  std::is_same<decltype(SMTPC_OK), smtpc_status>::value,
              "the codes have the status type: one type for FFI generators");
static_assert(std::is_same<decltype(smtpc_client_last_status(nullptr)), smtpc_status>::value,
              "getters return the status type");
static_assert(SMTPC_VERSION_NUMBER ==
                  SMTPC_VERSION_MAJOR * 10000 + SMTPC_VERSION_MINOR * 100 + SMTPC_VERSION_PATCH,
              "SMTPC_VERSION_NUMBER matches its parts");
static_assert(SMTPC_NTS == static_cast<std::size_t>(-1), "SMTPC_NTS is SIZE_MAX");
static_assert(SMTPC_OK == 0 && SMTPC_EINVAL == -1 && SMTPC_EUSER == -22, "status codes are stable");
static_assert(static_cast<int>(SMTPC_PROTOCOL_SMTP) == 0 && static_cast<int>(SMTPC_PROTOCOL_LMTP) == 1,
              "protocol values are stable");
static_assert(
    std::is_same<decltype(&smtpc_client_new), smtpc_status (*)(smtpc_client **, smtpc_protocol)>::value,
    "smtpc_client_new has the documented signature");
static_assert(std::is_same<smtpc_read_fn, int (*)(char *, std::size_t, std::size_t *, void *)>::value,
              "smtpc_read_fn has the documented signature");

namespace {
// A C++ user passes a capture-less lambda as a C callback.
void use_callbacks(smtpc_client *client, const smtpc_envelope *env) {
    smtpc_trace_fn trace = [](smtpc_trace_kind, const char *, std::size_t, std::int64_t, void *) {};
    smtpc_read_fn read = [](char *, std::size_t, std::size_t *len, void *) -> int {
        *len = 0;
        return 0;
    };
    if (smtpc_client_set_trace(client, 2, trace, nullptr) == SMTPC_OK) {
        (void)smtpc_client_sendmail_stream(client, env, 0, read, nullptr);
    }
}
}  // namespace

// Referenced so the anonymous-namespace function is not unused; never called.
void smtpc_headertest_cxx17(smtpc_client *client, const smtpc_envelope *env);
void smtpc_headertest_cxx17(smtpc_client *client, const smtpc_envelope *env) { use_callbacks(client, env); }
