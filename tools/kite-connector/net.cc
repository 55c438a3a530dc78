// net.cc - socket helpers for kite-connector (see net.h).
#include "tools/kite-connector/net.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <time.h>

#include <cstdio>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kp::connector {

using proto::Endpoint;

Endpoint ToEndpoint(const sockaddr* sa) {
  Endpoint e;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    e.family = KP_AF_INET;
    e.addr[10] = e.addr[11] = 0xff;
    std::memcpy(e.addr.data() + 12, &in->sin_addr, 4);
    e.port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    std::memcpy(e.addr.data(), &in6->sin6_addr, 16);
    e.port = ntohs(in6->sin6_port);
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    e.family = std::memcmp(e.addr.data(), kMapped, 12) == 0 ? KP_AF_INET : KP_AF_INET6;
  }
  return e;
}

SockAddr ToSockAddr(const Endpoint& e) {
  SockAddr s;
  if (e.family == KP_AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&s.ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(e.port);
    std::memcpy(&in->sin_addr, e.addr.data() + 12, 4);
    s.len = sizeof(sockaddr_in);
  } else if (e.family == KP_AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&s.ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(e.port);
    std::memcpy(&in6->sin6_addr, e.addr.data(), 16);
    s.len = sizeof(sockaddr_in6);
  }
  return s;
}

absl::StatusOr<Endpoint> ParseAddress(std::string_view text, uint16_t port) {
  std::string host(text);
  sockaddr_in in{};
  sockaddr_in6 in6{};
  if (inet_pton(AF_INET, host.c_str(), &in.sin_addr) == 1) {
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    return ToEndpoint(reinterpret_cast<sockaddr*>(&in));
  }
  if (inet_pton(AF_INET6, host.c_str(), &in6.sin6_addr) == 1) {
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    Endpoint e = ToEndpoint(reinterpret_cast<sockaddr*>(&in6));
    e.family = KP_AF_INET6;  // keep an explicit ::ffff: literal as IPv6
    return e;
  }
  return absl::InvalidArgumentError(absl::StrCat("not a numeric IP address: '", host, "'"));
}

absl::StatusOr<Endpoint> ParseHostPort(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("bad address '", std::string(text),
                                                     "': want [v6addr]:port"));
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return absl::InvalidArgumentError(absl::StrCat("bad address '", std::string(text),
                                                     "': want addr:port or [v6addr]:port"));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  uint32_t p = 0;
  if (!absl::SimpleAtoi(absl::string_view(port.data(), port.size()), &p) || p == 0 || p > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad port in '", std::string(text), "'"));
  }
  return ParseAddress(host, static_cast<uint16_t>(p));
}

absl::StatusOr<std::vector<Endpoint>> Resolve(const std::string& host, uint16_t port) {
  if (auto lit = ParseAddress(host, port); lit.ok()) return std::vector<Endpoint>{*lit};
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) return absl::NotFoundError(absl::StrCat(host, ": ", gai_strerror(rc)));
  std::vector<Endpoint> out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    Endpoint e = ToEndpoint(ai->ai_addr);
    if (e.family == KP_AF_NONE) continue;
    e.port = port;
    bool dup = false;
    for (const Endpoint& o : out) dup = dup || o == e;
    if (!dup) out.push_back(e);
  }
  freeaddrinfo(res);
  if (out.empty()) return absl::NotFoundError(absl::StrCat(host, ": no address"));
  return out;
}

uint64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void Log(std::string_view msg) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &t);
  std::fprintf(stderr, "%s.%03ldZ kite-connector: %.*s\n", when, ts.tv_nsec / 1000000,
               static_cast<int>(msg.size()), msg.data());
}

}  // namespace kp::connector
