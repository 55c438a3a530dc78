// udp_sockets.cc - the tunnel ports' UDP sockets (see udp_sockets.h).
#include "controlplane/udp_sockets.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "controlplane/port_pool.h"

namespace kp::cp {
namespace {

socklen_t ToSockaddr(const proto::Endpoint& e, sockaddr_storage* ss) {
  std::memset(ss, 0, sizeof *ss);
  if (e.family == KP_AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(e.port);
    std::memcpy(&a->sin_addr, &e.addr[12], 4);
    return sizeof *a;
  }
  auto* a = reinterpret_cast<sockaddr_in6*>(ss);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(e.port);
  std::memcpy(&a->sin6_addr, e.addr.data(), 16);
  return sizeof *a;
}

proto::Endpoint FromSockaddr(const sockaddr_storage& ss) {
  proto::Endpoint e;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    e.family = KP_AF_INET;
    e.addr[10] = e.addr[11] = 0xff;
    std::memcpy(&e.addr[12], &a->sin_addr, 4);
    e.port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    const uint8_t* b = reinterpret_cast<const uint8_t*>(&a->sin6_addr);
    bool mapped = std::all_of(b, b + 10, [](uint8_t x) { return x == 0; }) && b[10] == 0xff && b[11] == 0xff;
    e.family = mapped ? KP_AF_INET : KP_AF_INET6;
    std::memcpy(e.addr.data(), b, 16);
    e.port = ntohs(a->sin6_port);
  }
  return e;
}

}  // namespace

absl::StatusOr<TunnelSockets> TunnelSockets::Open(const std::vector<std::string>& addresses,
                                                  const std::vector<uint16_t>& ports) {
  TunnelSockets t;
  for (const std::string& addr : addresses) {
    for (uint16_t port : ports) {
      auto ep = ParseAddress(addr, port);
      if (!ep.ok()) return ep.status();
      int fam = ep->family == KP_AF_INET ? AF_INET : AF_INET6;
      int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
      int one = 1;
      if (fam == AF_INET) {
        setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
      } else {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one);
      }
      sockaddr_storage ss;
      socklen_t len = ToSockaddr(*ep, &ss);
      if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        std::string e = strerror(errno);
        close(fd);
        return absl::UnavailableError(absl::StrCat("cannot bind tunnel port ", addr, ":", port, ": ", e));
      }
      t.socks_.push_back({fd, *ep});
    }
  }
  return t;
}

TunnelSockets& TunnelSockets::operator=(TunnelSockets&& o) noexcept {
  if (this != &o) {
    for (const Sock& s : socks_) close(s.fd);
    socks_ = std::move(o.socks_);
    o.socks_.clear();
  }
  return *this;
}

TunnelSockets::~TunnelSockets() {
  for (const Sock& s : socks_) close(s.fd);
}

std::vector<int> TunnelSockets::fds() const {
  std::vector<int> v;
  for (const Sock& s : socks_) v.push_back(s.fd);
  return v;
}

void TunnelSockets::Drain(int fd, const FrameFn& fn) {
  const Sock* sock = nullptr;
  for (const Sock& s : socks_) {
    if (s.fd == fd) sock = &s;
  }
  if (sock == nullptr) return;
  uint8_t buf[2048];
  for (int i = 0; i < 64; i++) {
    sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_TRUNC, reinterpret_cast<sockaddr*>(&ss), &sl);
    if (n < 0) return;
    if (static_cast<size_t>(n) > sizeof buf) continue;  // larger than any control frame: drop
    fn(proto::ByteSpan(buf, static_cast<size_t>(n)), FromSockaddr(ss), sock->local);
  }
}

bool TunnelSockets::Send(const proto::Endpoint& local, const proto::Endpoint& dst, const proto::Bytes& b) {
  for (const Sock& s : socks_) {
    if (!(s.local == local)) continue;
    sockaddr_storage ss;
    socklen_t len = ToSockaddr(dst, &ss);
    if (sendto(s.fd, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
      send_errors_++;
      return false;
    }
    return true;
  }
  send_errors_++;
  return false;
}

}  // namespace kp::cp
