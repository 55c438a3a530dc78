// port_pool.h - PortAllocator: public (address, UDP port)s for kites.
//
// Built from the config's port_pool{} ranges.  A kite keeps its endpoint for
// life (it is stored with the kite), so allocation happens once per new kite
// name: the policy's preferred port if it is inside a pool and free,
// otherwise the lowest free port of the first pool with room.  Reserve()
// marks endpoints recovered from the store (even ones outside today's pools,
// so a reload that shrinks a pool never hands a live port to a second kite).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "controlplane/config.h"
#include "controlplane/proto/messages.h"

namespace kp::cp {

class PortAllocator {
 public:
  // Errors: InvalidArgument for a pool address that does not parse.
  static absl::StatusOr<PortAllocator> Create(const std::vector<PortPool>& pools);

  // Errors: ResourceExhausted when every pool is full; AlreadyExists when
  // `preferred` is taken (the caller may retry with 0); OutOfRange when
  // `preferred` is outside every pool.
  absl::StatusOr<proto::Endpoint> Allocate(uint16_t preferred);
  void Reserve(const proto::Endpoint& e);
  void Release(const proto::Endpoint& e);
  bool InUse(const proto::Endpoint& e) const;
  size_t capacity() const;
  size_t used() const { return used_.size(); }

 private:
  struct Range {
    proto::Endpoint base;  // address, port unused
    uint16_t first, last;
  };
  using Key = std::pair<std::array<uint8_t, 16>, uint16_t>;
  std::vector<Range> ranges_;
  std::set<Key> used_;
};

// Parses an IPv4 or IPv6 text address into the wire's 16-byte form.
absl::StatusOr<proto::Endpoint> ParseAddress(const std::string& text, uint16_t port);
// "a.b.c.d" or "v6" text of an endpoint's address (no port).
std::string AddressText(const proto::Endpoint& e);

}  // namespace kp::cp
