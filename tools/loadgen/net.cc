// net.cc - sockets and the echo server of kp-loadgen (see net.h).
#include "tools/loadgen/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tools/loadgen/payload.h"

namespace kiteplane::loadgen {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull +
         static_cast<uint64_t>(ts.tv_nsec);
}

absl::StatusOr<Fd> OpenUdp(int family, const Endpoint* bind, const Endpoint* peer) {
  Fd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Errno("socket");
  int buf = 4 << 20;
  // Best effort: the kernel caps these at net.core.[rw]mem_max.
  (void)setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  (void)setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  if (bind != nullptr) {
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&bind->addr), bind->len) != 0) {
      return Errno(absl::StrCat("bind ", bind->text));
    }
  }
  if (peer != nullptr) {
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&peer->addr), peer->len) != 0) {
      return Errno(absl::StrCat("connect ", peer->text));
    }
  }
  return fd;
}

absl::StatusOr<uint16_t> LocalPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return Errno("getsockname");
  }
  if (ss.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

absl::StatusOr<EchoServer> EchoServer::Open(const Endpoint& listen, uint32_t batch) {
  absl::StatusOr<Fd> fd = OpenUdp(listen.family, &listen, nullptr);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<uint16_t> port = LocalPort(fd->get());
  if (!port.ok()) return port.status();
  return EchoServer(std::move(*fd), *port, batch == 0 ? 1 : batch);
}

absl::Status EchoServer::Run(const std::atomic<bool>& stop, double duration_s) {
  const uint64_t deadline = MonotonicNs() + static_cast<uint64_t>(duration_s * 1e9);
  // Fixed receive buffers; the same iovecs (trimmed to each datagram's
  // length) carry the echo back unless a transform wants copies.
  std::vector<std::vector<uint8_t>> bufs(batch_, std::vector<uint8_t>(kMaxPayload + 1));
  std::vector<sockaddr_storage> peers(batch_);
  std::vector<mmsghdr> msgs(batch_);
  std::vector<iovec> iov(batch_);
  while (!stop.load(std::memory_order_relaxed) && MonotonicNs() < deadline) {
    pollfd p{fd_.get(), POLLIN, 0};
    int pr = ::poll(&p, 1, 20);  // short, so `stop` and the deadline are seen
    if (pr < 0 && errno != EINTR) return Errno("poll");
    if (pr <= 0) continue;
    for (;;) {
      for (uint32_t i = 0; i < batch_; ++i) {
        iov[i] = {bufs[i].data(), bufs[i].size()};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &peers[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
      }
      int n = ::recvmmsg(fd_.get(), msgs.data(), batch_, MSG_DONTWAIT, nullptr);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        return Errno("recvmmsg");
      }
      received_ += static_cast<uint64_t>(n);
      if (transform_) {
        std::vector<Datagram> batch(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
          batch[i].data.assign(bufs[i].data(), bufs[i].data() + msgs[i].msg_len);
          batch[i].peer = peers[i];
          batch[i].peer_len = msgs[i].msg_hdr.msg_namelen;
        }
        transform_(batch);
        std::vector<mmsghdr> out(batch.size());
        std::vector<iovec> out_iov(batch.size());
        for (size_t i = 0; i < batch.size(); ++i) {
          out_iov[i] = {batch[i].data.data(), batch[i].data.size()};
          out[i] = {};
          out[i].msg_hdr.msg_iov = &out_iov[i];
          out[i].msg_hdr.msg_iovlen = 1;
          out[i].msg_hdr.msg_name = &batch[i].peer;
          out[i].msg_hdr.msg_namelen = batch[i].peer_len;
        }
        SendAll(out);
      } else {
        for (int i = 0; i < n; ++i) iov[i].iov_len = msgs[i].msg_len;
        msgs.resize(static_cast<size_t>(n));
        SendAll(msgs);
        msgs.resize(batch_);
      }
      if (static_cast<uint32_t>(n) < batch_) break;
    }
  }
  return absl::OkStatus();
}

void EchoServer::SendAll(std::vector<mmsghdr>& msgs) {
  size_t done = 0;
  int spins = 0;
  while (done < msgs.size()) {
    int n = ::sendmmsg(fd_.get(), msgs.data() + done,
                       static_cast<unsigned>(msgs.size() - done), 0);
    if (n > 0) {
      done += static_cast<size_t>(n);
      sent_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == ENOBUFS) && ++spins < 1000) {
      pollfd p{fd_.get(), POLLOUT, 0};
      (void)::poll(&p, 1, 10);
      continue;
    }
    // A peer gone (ECONNREFUSED from an earlier ICMP) must not stop the echo:
    // skip that datagram.
    ++done;
  }
}

}  // namespace kiteplane::loadgen
