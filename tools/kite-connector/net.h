// net.h - small socket helpers for kite-connector.
//
// UniqueFd (RAII file descriptor), conversion between sockaddr and the wire's
// 16-byte Endpoint form, "host:port" parsing for numeric addresses, name
// resolution for front-ends, a monotonic clock in nanoseconds, and the
// one-line logger the connector writes to stderr.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "controlplane/proto/messages.h"

namespace kp::connector {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// A socket address with its length.
struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family() const { return ss.ss_family; }
};

proto::Endpoint ToEndpoint(const sockaddr* sa);
SockAddr ToSockAddr(const proto::Endpoint& e);

// "192.0.2.1:53" or "[2001:db8::1]:53" (numeric only).  InvalidArgument else.
absl::StatusOr<proto::Endpoint> ParseHostPort(std::string_view text);
// Numeric address without port ("192.0.2.1", "2001:db8::1").
absl::StatusOr<proto::Endpoint> ParseAddress(std::string_view text, uint16_t port);
// Resolves a host name or literal to its addresses (NotFound on failure).
absl::StatusOr<std::vector<proto::Endpoint>> Resolve(const std::string& host, uint16_t port);

uint64_t MonotonicNs();

// Writes "<UTC time> kite-connector: <msg>" to stderr.
void Log(std::string_view msg);

}  // namespace kp::connector
