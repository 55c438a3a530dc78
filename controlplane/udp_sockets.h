// udp_sockets.h - TunnelSockets: one UDP socket per (front-end address,
// tunnel port), where the exception path delivers tunnel control frames.
//
// Sockets are bound with IP_FREEBIND / IPV6_FREEBIND so the control plane
// can start before the address is configured, are non-blocking, and remember
// their local endpoint so a session always answers from the exact (address,
// port) its connector talks to.  RAII: closed on destruction.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controlplane/proto/messages.h"

namespace kp::cp {

class TunnelSockets {
 public:
  using FrameFn = std::function<void(proto::ByteSpan, const proto::Endpoint& src, const proto::Endpoint& local)>;

  // Errors: InvalidArgument (address), Unavailable (socket or bind failed,
  // naming the address and port).
  static absl::StatusOr<TunnelSockets> Open(const std::vector<std::string>& addresses,
                                            const std::vector<uint16_t>& ports);
  TunnelSockets() = default;
  TunnelSockets(TunnelSockets&& o) noexcept : socks_(std::move(o.socks_)) { o.socks_.clear(); }
  TunnelSockets& operator=(TunnelSockets&& o) noexcept;
  ~TunnelSockets();

  std::vector<int> fds() const;
  // Reads up to 64 datagrams from `fd` and hands each to `fn`.
  void Drain(int fd, const FrameFn& fn);
  // Sends from the socket bound to `local`.  Returns false if none or on error.
  bool Send(const proto::Endpoint& local, const proto::Endpoint& dst, const proto::Bytes& b);
  uint64_t send_errors() const { return send_errors_; }

 private:
  struct Sock {
    int fd;
    proto::Endpoint local;
  };
  std::vector<Sock> socks_;
  uint64_t send_errors_ = 0;
};

}  // namespace kp::cp
