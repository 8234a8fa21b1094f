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

CancelSignal::~CancelSignal() {
    int r = read_fd_.load(), w = write_fd_.load();
    if (r >= 0) ::close(r);
    if (w >= 0 && w != r) ::close(w);
}

int CancelSignal::wake_fd() const noexcept {
    int fd = read_fd_.load();
    if (fd >= 0 || failed_) return fd;
    int saved = errno;
#ifdef __linux__
    int r = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), w = r;
#else
    int p[2] = {-1, -1};
    if (::pipe(p) == 0)
        for (int d : p) {
            ::fcntl(d, F_SETFD, FD_CLOEXEC);
            ::fcntl(d, F_SETFL, ::fcntl(d, F_GETFL) | O_NONBLOCK);
        }
    int r = p[0], w = p[1];
#endif
    errno = saved;
    if (r < 0) {
        failed_ = true;
        return -1;
    }
    read_fd_.store(r);
    write_fd_.store(w);  // from here raise() writes: the caller looks at the flag after this
    return r;
}

void CancelSignal::raise() noexcept {
    flag_.store(true);
    int fd = write_fd_.load();
    if (fd < 0) return;  // no wait has slept yet: the flag is enough
    int saved = errno;
    std::uint64_t one = 1;  // an eventfd takes 8 bytes; a pipe just as well
    ssize_t n;
    do n = ::write(fd, &one, sizeof one);
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
    int fd = read_fd_.load();
    if (fd < 0) return;
    int saved = errno;
    char buf[64];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
    errno = saved;
}

}  // namespace smtpc::detail
