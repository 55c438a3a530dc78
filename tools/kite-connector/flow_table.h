// flow_table.h - kite-connector's table of client flows.
//
// A client flow is (session, kite, client address, client port).  Each flow
// owns one UDP socket connected to the kite's local service, remembers the
// DATA header bytes [8, 40) of the latest datagram from that client (echoed on
// every reply, docs/protocol.md §4) and when it arrived.  The table is bounded
// (max_flows): Insert first expires idle flows, then fails with
// ResourceExhausted.  Flows idle longer than idle_ns are removed by
// ExpireIdle; removing a flow closes its socket (and so its epoll watch).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/kite-connector/net.h"

namespace kp::connector {

struct FlowKey {
  uint32_t session_id = 0;
  uint32_t kite_id = 0;
  uint8_t family = 0;
  std::array<uint8_t, 16> addr{};
  uint16_t port = 0;
  bool operator==(const FlowKey&) const = default;
};

struct FlowKeyHash {
  size_t operator()(const FlowKey& k) const;
};

struct Flow {
  uint64_t serial = 0;     // unique, never reused: the epoll cookie
  FlowKey key;
  size_t kite_index = 0;   // index into the configured kites
  UniqueFd fd;             // connected to the kite's local service
  std::array<uint8_t, KP_COOKIE_INPUT_LEN + 8> echo{};  // header bytes [8, 40)
  uint64_t last_client_ns = 0;    // latest datagram from the client
  uint64_t last_activity_ns = 0;  // latest datagram either way
};

class FlowTable {
 public:
  FlowTable(size_t max_flows, uint64_t idle_ns) : max_flows_(max_flows), idle_ns_(idle_ns) {}

  Flow* Find(const FlowKey& key);
  Flow* FindBySerial(uint64_t serial);
  // Adds a flow owning `fd`.  When the table is full, idle flows are expired
  // first; if it is still full: ResourceExhausted (the fd is closed).
  absl::StatusOr<Flow*> Insert(const FlowKey& key, size_t kite_index, UniqueFd fd,
                               uint64_t now_ns);
  // Removes flows idle for idle_ns or more; returns how many.
  size_t ExpireIdle(uint64_t now_ns);
  // Removes every flow of a session (it ended); returns how many.
  size_t RemoveSession(uint32_t session_id);
  void Remove(uint64_t serial);
  size_t size() const { return flows_.size(); }
  size_t capacity() const { return max_flows_; }

 private:
  size_t max_flows_;
  uint64_t idle_ns_;
  uint64_t next_serial_ = 1;
  std::unordered_map<FlowKey, std::unique_ptr<Flow>, FlowKeyHash> flows_;
  std::unordered_map<uint64_t, Flow*> by_serial_;
};

}  // namespace kp::connector
