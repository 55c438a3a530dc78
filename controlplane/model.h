// model.h - the control plane's records: kites and sessions.
//
// Plain data shared by the registry (registry.h), the durable store
// (store.h), the tunnel server and the management API.  A Kite is a name the
// front-end publishes on one public (address, port) with a stable kite id; a
// Session is one connector's authenticated tunnel, with the session keys that
// must survive a control-plane restart so connectors keep heartbeating to
// the same session id.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "controlplane/proto/crypto.h"
#include "controlplane/proto/messages.h"

namespace kp::cp {

struct Kite {
  uint32_t kite_id = 0;
  std::string name;
  std::string account;
  proto::Endpoint pub;             // public address and UDP port
  bool enabled = true;             // false: disabled (quota, operator); kp_kite.state DISABLED
  std::string disabled_reason;
  uint8_t disabled_code = 0;       // kp_result_code sent in NOTICE KITE_DISABLED
  uint32_t rate_pps = 0;
  uint32_t rate_kbps = 0;
  uint16_t burst_ms = 0;
  uint32_t max_sessions = 1;
  // Quota accounting (bytes both directions, see quota.h).
  uint64_t quota_bytes = 0;        // per period; 0 = unlimited
  uint32_t quota_period_s = 86400;
  uint64_t period_start = 0;       // unix seconds
  int64_t used_base = 0;           // data-plane used_bytes at the period start
  uint64_t used_period = 0;        // spent in this period
  uint64_t last_used_total = 0;    // last data-plane used_bytes seen
  uint64_t granted_per_core = 0;   // cumulative credit granted to each core
  uint64_t extra_bytes = 0;        // added by on_quota_exhausted this period
  std::set<uint32_t> sessions;     // live sessions serving the kite (<= 6)
};

struct Session {
  uint32_t session_id = 0;
  proto::Endpoint connector;       // NAT address and port
  proto::Endpoint local;           // front-end tunnel address and port it uses
  uint16_t mtu = KP_DEFAULT_MTU;
  proto::SessionKeys keys;
  proto::Token token{};
  proto::PublicKey client_pubkey{};
  proto::PublicKey server_pubkey{};
  uint64_t tx_seq = 0;             // last seq sent
  uint64_t rx_top = 0;             // highest seq accepted
  uint64_t created = 0;            // unix seconds
  uint64_t last_rx = 0;            // unix seconds of the last valid message
  std::set<uint32_t> kites;        // kite ids accepted in this session
  // Not durable:
  proto::ReplayWindow rx;
  proto::Bytes register_result;    // for retransmitted REGISTERs
  uint64_t rebinds = 0;
};

}  // namespace kp::cp
