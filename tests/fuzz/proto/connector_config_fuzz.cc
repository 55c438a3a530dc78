// connector_config_fuzz.cc - fuzz target for kite-connector's JSON
// configuration parser (tools/kite-connector/config.h).
//
// Any input must yield a Config or an InvalidArgument status, never a crash
// or an exception escaping; an accepted Config must satisfy the documented
// invariants (at least one kite and front-end, valid names, ports > 0).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tools/kite-connector/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cfg = kp::connector::ParseConfig(text);
  if (!cfg.ok()) {
    if (cfg.status().code() != absl::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  if (cfg->kites.empty() || cfg->frontends.empty()) std::abort();
  for (const auto& k : cfg->kites) {
    if (!kp::proto::ValidateKiteName(k.name).ok() || k.secret.size() < 16 ||
        k.service.port == 0) {
      std::abort();
    }
  }
  for (const auto& f : cfg->frontends) {
    if (f.ports.empty() || f.address.empty()) std::abort();
    for (uint16_t p : f.ports) {
      if (p == 0) std::abort();
    }
  }
  return 0;
}
