// SPDX-License-Identifier: MIT
// Gives the C test test_tls_shared the library's internal TLS counters. Linked only into that test,
// which is built against the internal static library: the shared library exports nothing of this.
#include "tls/tls_config.hpp"

extern "C" void tls_test_counters(unsigned long *contexts, unsigned long *system_store_loads) {
    smtpc::detail::TlsCounters c = smtpc::detail::tls_counters();
    *contexts = c.contexts_created;
    *system_store_loads = c.system_store_loads;
}

extern "C" unsigned long tls_test_ca_der_parsed(void) { return smtpc::detail::tls_counters().ca_der_parsed; }
