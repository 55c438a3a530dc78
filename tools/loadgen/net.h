// net.h - sockets for kp-loadgen: an owning file descriptor, UDP socket set-up
// and the echo server used by tests and by integration setups as the "service"
// behind a kite.
//
// EchoServer answers every datagram to its sender, in batches
// (recvmmsg/sendmmsg).  A test can install a Transform that edits each batch
// before it is sent back (drop, duplicate, reorder or corrupt datagrams) to
// check what the client detects.
#ifndef KITEPLANE_TOOLS_LOADGEN_NET_H_
#define KITEPLANE_TOOLS_LOADGEN_NET_H_

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/loadgen/options.h"

namespace kiteplane::loadgen {

// Owns one file descriptor; closes it on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_ = -1;
};

uint64_t MonotonicNs();

// A non-blocking UDP socket of `family`, bound to `bind` (or the wildcard when
// null), connected to `peer` when not null.  Asks for large socket buffers.
absl::StatusOr<Fd> OpenUdp(int family, const Endpoint* bind, const Endpoint* peer);

// The local port a socket is bound to.
absl::StatusOr<uint16_t> LocalPort(int fd);

struct Datagram {
  std::vector<uint8_t> data;
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
};

class EchoServer {
 public:
  using Transform = std::function<void(std::vector<Datagram>& batch)>;

  static absl::StatusOr<EchoServer> Open(const Endpoint& listen, uint32_t batch = 32);

  uint16_t port() const { return port_; }
  void set_transform(Transform t) { transform_ = std::move(t); }

  // Echoes until `stop` is set or `duration_s` has passed.
  absl::Status Run(const std::atomic<bool>& stop, double duration_s);

  uint64_t received() const { return received_; }
  uint64_t sent() const { return sent_; }

 private:
  EchoServer(Fd fd, uint16_t port, uint32_t batch)
      : fd_(std::move(fd)), port_(port), batch_(batch) {}
  void SendAll(std::vector<mmsghdr>& msgs);

  Fd fd_;
  uint16_t port_ = 0;
  uint32_t batch_ = 32;
  Transform transform_;
  uint64_t received_ = 0, sent_ = 0;
};

}  // namespace kiteplane::loadgen

#endif  // KITEPLANE_TOOLS_LOADGEN_NET_H_
