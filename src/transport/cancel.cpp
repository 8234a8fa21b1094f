// SPDX-License-Identifier: MIT
#include "cancel.hpp"

#include <cerrno>
#include <cstdint>
#include <fcntl.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

namespace smtpc::detail {

CancelSignal::CancelSignal() {
#ifdef __linux__
    read_fd_ = write_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
#else
    int p[2];
    if (::pipe(p) == 0) {
        for (int fd : p) {
            ::fcntl(fd, F_SETFD, FD_CLOEXEC);
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        }
        read_fd_ = p[0];
        write_fd_ = p[1];
    }
#endif
}

CancelSignal::~CancelSignal() {
    if (read_fd_ >= 0) ::close(read_fd_);
    if (write_fd_ >= 0 && write_fd_ != read_fd_) ::close(write_fd_);
}

void CancelSignal::raise() noexcept {
    flag_.store(true);
    if (write_fd_ < 0) return;
    int saved = errno;
    std::uint64_t one = 1;  // an eventfd takes 8 bytes; a pipe just as well
    ssize_t n;
    do n = ::write(write_fd_, &one, sizeof one);
    while (n < 0 && errno == EINTR);  // EAGAIN: a wake-up is already pending, which is enough
    errno = saved;
}

bool CancelSignal::take() const noexcept {
    // The flag is the request; the descriptor only wakes a poll. raise() sets the flag before it
    // writes, so a wake-up seen with the flag clear is a stale byte of a request already taken.
    if (!flag_.exchange(false)) return false;
    drain();
    fired_ = true;
    return true;
}

void CancelSignal::drain() const noexcept {
    if (read_fd_ < 0) return;
    int saved = errno;
    char buf[64];
    while (::read(read_fd_, buf, sizeof buf) > 0) {
    }
    errno = saved;
}

}  // namespace smtpc::detail
