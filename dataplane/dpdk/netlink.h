// netlink.h - the few rtnetlink requests the DPDK data plane makes to the
// kernel about its exception interface: bring the link up, set its MTU, add the
// front-end's addresses to it, and dump its neighbour table (RTM_GETNEIGH)
// so next-hop MACs can follow the kernel's ARP/ND resolution.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kp::dpdk {

struct Neighbour {
  uint8_t addr[16];  // IPv6, or IPv4-mapped IPv6
  uint8_t mac[6];
};

// Errors: Internal with the errno text.
absl::Status LinkUp(int ifindex);
// Sets the link's MTU (IFLA_MTU).
absl::Status SetLinkMtu(int ifindex, uint32_t mtu);
// `addr16` in the 16-byte form; IPv4-mapped means IPv4.
absl::Status AddAddress(int ifindex, const uint8_t addr16[16], int prefix_len);
// Reachable/stale/permanent/delay/probe entries with a link-layer address.
absl::StatusOr<std::vector<Neighbour>> DumpNeighbours(int ifindex);

// "a.b.c.d" or IPv6 text -> 16-byte form; false when neither.
bool ParseAddr16(const std::string& text, uint8_t out[16], bool* is_v4);

}  // namespace kp::dpdk
