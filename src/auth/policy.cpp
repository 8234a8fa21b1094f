// SPDX-License-Identifier: MIT
#include "policy.hpp"

#include "../transport/address.hpp"

namespace smtpc::detail {

bool credentials_permitted(const sockaddr_storage *peer, bool tls_verified, bool allow_insecure) {
    if (allow_insecure || tls_verified) return true;
    return peer != nullptr && is_local_address(*peer);
}

}  // namespace smtpc::detail
