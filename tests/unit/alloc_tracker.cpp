// SPDX-License-Identifier: MIT
#include "alloc_tracker.hpp"

#include <cstdlib>
#include <new>

namespace {
bool g_track = false;
std::size_t g_max_alloc = 0;
}  // namespace

namespace unit {

void alloc_tracking(bool on) {
    if (on) g_max_alloc = 0;
    g_track = on;
}

std::size_t alloc_tracked_max() { return g_max_alloc; }

}  // namespace unit

void *operator new(std::size_t n) {
    if (g_track && n > g_max_alloc) g_max_alloc = n;
    if (void *p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
