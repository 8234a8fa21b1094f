// SPDX-License-Identifier: MIT
// Absolute deadlines on the monotonic clock. A deadline is fixed when a step starts and is not moved
// by progress within the step.
#pragma once

#include <chrono>
#include <cstdint>

namespace smtpc::detail {

class CancelSignal;

class Deadline {
  public:
    using Clock = std::chrono::steady_clock;

    static Deadline never() { return Deadline(); }
    // `ms` == 0 means no limit.
    static Deadline after_ms(std::uint32_t ms) {
        Deadline d;
        if (ms) {
            d.limited_ = true;
            d.at_ = Clock::now() + std::chrono::milliseconds(ms);
        }
        return d;
    }

    // A deadline that has already passed, for an attempt that must not wait (non-blocking mode): a
    // stream that would have to wait returns SMTPC_EAGAIN and says what it waits for.
    static Deadline immediate() {
        Deadline d;
        d.limited_ = true;
        d.immediate_ = true;
        d.at_ = Clock::now();
        return d;
    }

    bool limited() const { return limited_; }
    bool is_immediate() const { return immediate_; }
    // CLOCK_MONOTONIC milliseconds of the deadline (steady_clock is CLOCK_MONOTONIC on Linux), -1 none.
    std::int64_t monotonic_ms() const {
        if (!limited_) return -1;
        return std::chrono::duration_cast<std::chrono::milliseconds>(at_.time_since_epoch()).count();
    }
    bool expired() const { return limited_ && Clock::now() >= at_; }
    // Milliseconds left for poll(): -1 for no limit, 0 when expired, rounded up otherwise.
    int poll_timeout() const {
        if (!limited_) return -1;
        auto left = std::chrono::duration_cast<std::chrono::microseconds>(at_ - Clock::now()).count();
        if (left <= 0) return 0;
        auto ms = (left + 999) / 1000;
        return ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms);
    }

    // The same deadline, with waits that also stop when `c` is raised (see cancel.hpp).
    Deadline cancellable(const CancelSignal *c) const {
        Deadline d = *this;
        d.cancel_ = c;
        return d;
    }
    const CancelSignal *cancel() const { return cancel_; }

  private:
    bool limited_ = false;
    bool immediate_ = false;
    Clock::time_point at_{};
    const CancelSignal *cancel_ = nullptr;
};

// poll() one descriptor for `events` until something happens or the deadline passes, retrying EINTR
// with the time that is left. Returns the revents, 0 when the deadline passed, -1 on error (errno),
// or -1 with errno ECANCELED when the deadline's cancel signal was raised (before or during the wait).
int poll_until(int fd, short events, const Deadline &deadline);

}  // namespace smtpc::detail
