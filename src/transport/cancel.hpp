// SPDX-License-Identifier: MIT
// A cancel request for a blocking call: an atomic flag plus a wake-up descriptor that every wait of
// the call (poll_until) watches beside the socket, so that a request from another thread or from a
// signal handler stops the wait at once rather than at its deadline.
#pragma once

#include <atomic>

namespace smtpc::detail {

class CancelSignal {
  public:
    CancelSignal() = default;
    ~CancelSignal();
    CancelSignal(const CancelSignal &) = delete;
    CancelSignal &operator=(const CancelSignal &) = delete;

    // Async-signal-safe and thread-safe: sets the flag, then writes to the descriptor if there is one
    // (errno kept).
    void raise() noexcept;
    // Consumes a pending request (flag and wake-up bytes): true when there was one. The waiting side
    // calls it; it also marks the request as having stopped the call (fired()).
    bool take() const noexcept;
    // Reads stale wake-up bytes (a request already taken), leaving the flag alone.
    void drain() const noexcept;
    // The descriptor a wait that sleeps polls, made by the first such wait (a client that never
    // sleeps, as in non-blocking mode, never makes one: creating it cost a system call pair per
    // client); -1 when none can be made (no descriptor left), and the wait then looks at the flag
    // every kSliceMs. Made before the wait looks at the flag, so that a request is either seen there
    // or written to the descriptor (both sides use sequentially consistent atomics). Only the thread
    // running the call uses it.
    int wake_fd() const noexcept;
    static constexpr int kSliceMs = 50;
    // Whether a request stopped a wait since the last clear_fired(); only the calling thread uses it.
    bool fired() const { return fired_; }
    void clear_fired() const { fired_ = false; }

  private:
    static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
                  "a signal handler may only touch lock-free atomics");
    mutable std::atomic<bool> flag_{false};
    mutable std::atomic<int> read_fd_{-1};
    mutable std::atomic<int> write_fd_{-1};  // the same descriptor as read_fd_ for an eventfd
    mutable bool failed_ = false;            // no descriptor could be made: not tried again
    mutable bool fired_ = false;
};

}  // namespace smtpc::detail
