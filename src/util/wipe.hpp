// SPDX-License-Identifier: MIT
// Memory that may hold credentials: an allocator that wipes every block it gives back, and the string
// type built on it. Growth (the old block), destruction and shrinking all go through deallocate(), so a
// secret never reaches freed memory, whatever the string does with it.
//
// One gap is left to the user: a std::basic_string keeps up to 15 characters inside the object itself
// (the small-string buffer), which the allocator never sees. Reserve at least kWipingMinCapacity
// before putting a secret in (SecretString does so on construction), or wipe the object's bytes
// before it goes away.
#pragma once

#include <openssl/crypto.h>

#include <cstddef>
#include <memory>
#include <string>

namespace smtpc::detail {

template <class T> struct WipingAllocator {
    using value_type = T;

    WipingAllocator() noexcept = default;
    template <class U> WipingAllocator(const WipingAllocator<U> &) noexcept {}

    T *allocate(std::size_t n) { return std::allocator<T>().allocate(n); }
    void deallocate(T *p, std::size_t n) noexcept {
        OPENSSL_cleanse(p, n * sizeof(T));
        std::allocator<T>().deallocate(p, n);
    }

    template <class U> bool operator==(const WipingAllocator<U> &) const noexcept { return true; }
    template <class U> bool operator!=(const WipingAllocator<U> &) const noexcept { return false; }
};

using WipingString = std::basic_string<char, std::char_traits<char>, WipingAllocator<char>>;

// A capacity beyond every standard library's small-string buffer: a string reserved to this holds
// its bytes in an allocated block from the start.
constexpr std::size_t kWipingMinCapacity = 32;

// Wipes every byte the string can hold (size up to capacity, the small-string buffer included) and
// empties it, keeping the capacity.
inline void wipe(WipingString &s) noexcept {
    OPENSSL_cleanse(&s[0], s.capacity());
    s.clear();
}

}  // namespace smtpc::detail
