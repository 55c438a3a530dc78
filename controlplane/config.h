// config.h - the control plane's configuration, as built by the Lua config.
//
// PolicyHost (policy.h) runs the operator's Lua file; each declarative call
// (frontend{}, port_pool{}, account{}, kite{}, store{}, dataplane{},
// management{}, metrics{}, timers{}, limits{}, sandbox{}) fills one part of a
// Config.  Everything here is plain data, validated once at load, so the rest
// of the control plane never sees Lua.  Defaults serve the loopback demo.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controlplane/lua_sandbox.h"

namespace kp::cp {

struct PortPool {
  std::string address;  // public address the kites of this pool are published on
  uint16_t first = 0;
  uint16_t last = 0;
};

struct AccountSpec {
  std::string name;
  uint64_t quota_bytes = 0;       // per period for each kite of the account; 0 = unlimited
  uint32_t quota_period_s = 86400;
  uint32_t max_kites = 0;         // 0 = unlimited
};

// A statically declared kite.  Fields left 0 take the account's values.
struct KiteSpec {
  std::string name;
  std::string secret;
  std::string account;
  uint16_t port = 0;              // preferred public port; 0 = any from the pool
  uint64_t quota_bytes = 0;
  uint32_t quota_period_s = 0;
  uint32_t rate_pps = 0;
  uint32_t rate_kbps = 0;
  uint16_t burst_ms = 0;
  uint32_t max_sessions = 1;      // connectors that may serve it at once
};

struct Timers {
  uint32_t tick_ms = 1000;            // accounting / credit tick
  uint32_t heartbeat_s = 10;          // expected connector heartbeat interval
  uint32_t dead_after_s = 35;         // session declared dead after this silence
  uint32_t cookie_rotate_s = 3600;    // flow-cookie key rotation
  uint32_t token_lifetime_s = 30;     // CHALLENGE token validity
  uint32_t drain_deadline_s = 30;     // lame-duck deadline given to connectors
  uint32_t session_linger_s = 3600;   // dead sessions kept for resume, then deleted
};

struct Limits {
  uint32_t register_rate_per_s = 5;   // registration attempts per source address
  uint32_t register_burst = 10;
  uint32_t max_sources_tracked = 65536;
  uint64_t lease_bytes = 1u << 20;    // quota credit per core per grant
  uint32_t max_sessions = 4096;
  uint32_t max_kites = 65536;
  uint32_t max_kites_per_session = 64;
};

struct Config {
  std::string source;                   // file it came from ("<default>" if embedded)
  std::vector<std::string> addresses;   // front-end tunnel (own) addresses
  std::vector<uint16_t> tunnel_ports;
  uint16_t mtu = 1400;
  std::optional<std::array<uint8_t, 6>> gateway_mac;
  std::optional<std::array<uint8_t, 6>> own_mac;
  std::vector<std::string> bogons;      // "prefix/len"
  std::vector<PortPool> pools;
  std::map<std::string, AccountSpec> accounts;
  std::map<std::string, KiteSpec> kites;
  std::string store_path = "/tmp/kiteplane-demo.db";
  std::string dataplane_socket = "/run/kiteplane/ctl.sock";
  std::string mgmt_socket = "/run/kiteplane/mgmt.sock";
  std::string mgmt_group;               // "" = keep the process group
  uint32_t mgmt_mode = 0660;
  std::string metrics_listen = "127.0.0.1:9477";  // "" = metrics off
  uint32_t metrics_max_kite_series = 100;
  Timers timers;
  Limits limits;
  SandboxLimits sandbox;
};

}  // namespace kp::cp
