// SPDX-License-Identifier: MIT
// A cancel request for a blocking call: an atomic flag plus a wake-up descriptor that every wait of
// the call (poll_until) watches beside the socket, so that a request from another thread or from a
// signal handler stops the wait at once rather than at its deadline.
#pragma once

#include <atomic>

namespace smtpc::detail {

class CancelSignal {
  public:
    CancelSignal();  // the descriptor is made here: ready() tells whether that worked
    ~CancelSignal();
    CancelSignal(const CancelSignal &) = delete;
    CancelSignal &operator=(const CancelSignal &) = delete;

    bool ready() const { return read_fd_ >= 0; }
    // Async-signal-safe and thread-safe: sets the flag, then writes to the descriptor (errno kept).
    void raise() noexcept;
    // Consumes a pending request (flag and wake-up bytes): true when there was one. The waiting side
    // calls it; it also marks the request as having stopped the call (fired()).
    bool take() const noexcept;
    // Reads stale wake-up bytes (a request already taken), leaving the flag alone.
    void drain() const noexcept;
    int fd() const { return read_fd_; }
    // Whether a request stopped a wait since the last clear_fired(); only the calling thread uses it.
    bool fired() const { return fired_; }
    void clear_fired() const { fired_ = false; }

  private:
    static_assert(std::atomic<bool>::is_always_lock_free,
                  "a signal handler may only touch lock-free atomics");
    mutable std::atomic<bool> flag_{false};
    int read_fd_ = -1;
    int write_fd_ = -1;  // the same descriptor as read_fd_ for an eventfd
    mutable bool fired_ = false;
};

}  // namespace smtpc::detail
