// port_pool.cc - public port allocation (see port_pool.h).
#include "controlplane/port_pool.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace kp::cp {

absl::StatusOr<proto::Endpoint> ParseAddress(const std::string& text, uint16_t port) {
  proto::Endpoint e;
  e.port = port;
  in_addr a4;
  in6_addr a6;
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    e.family = KP_AF_INET;
    e.addr[10] = 0xff;
    e.addr[11] = 0xff;
    std::memcpy(&e.addr[12], &a4, 4);
    return e;
  }
  if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) {
    e.family = KP_AF_INET6;
    std::memcpy(e.addr.data(), &a6, 16);
    return e;
  }
  return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not an IP address"));
}

std::string AddressText(const proto::Endpoint& e) {
  char buf[INET6_ADDRSTRLEN] = "-";
  if (e.family == KP_AF_INET) {
    inet_ntop(AF_INET, &e.addr[12], buf, sizeof buf);
  } else if (e.family == KP_AF_INET6) {
    inet_ntop(AF_INET6, e.addr.data(), buf, sizeof buf);
  }
  return buf;
}

absl::StatusOr<PortAllocator> PortAllocator::Create(const std::vector<PortPool>& pools) {
  PortAllocator p;
  for (const PortPool& pool : pools) {
    auto base = ParseAddress(pool.address, 0);
    if (!base.ok()) return base.status();
    p.ranges_.push_back({*base, pool.first, pool.last});
  }
  return p;
}

bool PortAllocator::InUse(const proto::Endpoint& e) const { return used_.count({e.addr, e.port}) > 0; }

void PortAllocator::Reserve(const proto::Endpoint& e) { used_.insert({e.addr, e.port}); }

void PortAllocator::Release(const proto::Endpoint& e) { used_.erase({e.addr, e.port}); }

size_t PortAllocator::capacity() const {
  size_t n = 0;
  for (const Range& r : ranges_) n += static_cast<size_t>(r.last - r.first) + 1;
  return n;
}

absl::StatusOr<proto::Endpoint> PortAllocator::Allocate(uint16_t preferred) {
  if (preferred != 0) {
    for (const Range& r : ranges_) {
      if (preferred < r.first || preferred > r.last) continue;
      proto::Endpoint e = r.base;
      e.port = preferred;
      if (InUse(e)) continue;
      Reserve(e);
      return e;
    }
    for (const Range& r : ranges_) {
      if (preferred >= r.first && preferred <= r.last) {
        return absl::AlreadyExistsError(absl::StrCat("public port ", preferred, " is taken"));
      }
    }
    return absl::OutOfRangeError(absl::StrCat("public port ", preferred, " is outside every port pool"));
  }
  for (const Range& r : ranges_) {
    proto::Endpoint e = r.base;
    for (uint32_t p = r.first; p <= r.last; p++) {
      e.port = static_cast<uint16_t>(p);
      if (!InUse(e)) {
        Reserve(e);
        return e;
      }
    }
  }
  return absl::ResourceExhaustedError("no public port free in any pool");
}

}  // namespace kp::cp
