// config.h - kite-connector's JSON configuration (docs/connector.md).
//
// Parsed with nlohmann-json without exceptions and validated strictly: an
// unknown key, a wrong type, a bad address, a bad kite name, an empty secret
// or a duplicate kite is an InvalidArgument error that names the offending
// path (for example "kites[1].service").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "controlplane/proto/messages.h"

namespace kp::connector {

struct KiteConfig {
  std::string name;
  std::string secret;         // HMAC key: the secret's bytes as written
  proto::Endpoint service;    // local service address:port (numeric)
};

struct FrontendConfig {
  std::string address;          // host name or numeric address
  std::vector<uint16_t> ports;  // tunnel ports, tried in order
};

struct Config {
  std::vector<KiteConfig> kites;
  std::vector<FrontendConfig> frontends;
  uint16_t mtu = KP_DEFAULT_MTU;     // path MTU toward the front-ends
  uint32_t max_flows = 4096;         // client flows (local sockets) at once
  uint32_t flow_idle_s = 120;        // a flow idle this long is closed
  uint32_t backoff_initial_ms = 1000;
  uint32_t backoff_max_ms = 60000;
  uint32_t stats_interval_s = 10;    // --stats-file rewrite period
};

absl::StatusOr<Config> ParseConfig(std::string_view json_text);
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

}  // namespace kp::connector
