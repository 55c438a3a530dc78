// policy.h - PolicyHost: the operator's Lua configuration and policy hooks.
//
// Load() builds a fresh sandbox, registers the declarative config calls
// (config_bindings.cc), runs the file, checks the result and the hook types.
// A config error names the file, the line and the key.  The same Load() backs
// `--check-config`, startup and reload (SIGHUP, `kitectl reload`): the caller
// swaps its PolicyHost only when Load() succeeded.  Hooks run under the
// sandbox's instruction budget and memory cap; a failing or runaway hook
// returns its safe default and moves a per-hook failure counter.  Lua never
// runs per packet: hooks are called on registration, quota exhaustion, ticks,
// session loss and lame duck only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "controlplane/config.h"
#include "controlplane/lua_sandbox.h"

namespace kp::cp {

// What on_register (or the static config) decided for one kite claim.
struct Admission {
  bool known = false;     // a secret is available (static kite or hook)
  bool accept = false;
  std::string reason;     // why refused, for logs and the connector
  std::string secret;
  std::string account;
  uint16_t port = 0;
  uint64_t quota_bytes = 0;
  uint32_t quota_period_s = 86400;
  uint32_t rate_pps = 0;
  uint32_t rate_kbps = 0;
  uint16_t burst_ms = 0;
  uint32_t max_sessions = 1;
};

struct RegisterQuery {
  std::string kite;
  std::string source;     // "addr:port" of the connector
  uint32_t session_id = 0;
};

enum class Hook { kOnRegister, kOnQuotaExhausted, kOnTick, kOnSessionDown, kOnLameDuck, kCount };
const char* HookName(Hook h);

struct HookStats {
  uint64_t calls = 0;
  uint64_t failures = 0;  // runtime error, budget, memory or a bad result
};

class PolicyHost {
 public:
  // Loads a config file.  Errors: InvalidArgument "file:line: call: message"
  // for config errors, NotFound if the file cannot be read.
  static absl::StatusOr<std::unique_ptr<PolicyHost>> LoadFile(const std::string& path);
  // Loads config text; `chunkname` is what errors show as the file.
  static absl::StatusOr<std::unique_ptr<PolicyHost>> LoadString(const std::string& code,
                                                                const std::string& chunkname);
  // The embedded default configuration (lua/default.lua).
  static absl::StatusOr<std::unique_ptr<PolicyHost>> LoadDefault();
  static const char* DefaultConfigText();

  const Config& config() const { return config_; }
  bool has_hook(Hook h) const { return has_hook_[static_cast<int>(h)]; }

  // Static kite declarations and on_register combined.  Safe default when
  // the hook fails: refuse ("policy hook failed").
  Admission OnRegister(const RegisterQuery& q);
  // Returns extra bytes granted for the current period (safe default 0).
  uint64_t OnQuotaExhausted(const std::string& kite, uint64_t used, uint64_t quota);
  void OnTick(const nlohmann::json& summary);
  void OnSessionDown(uint32_t session_id, const std::string& reason, const nlohmann::json& kites);
  // Returns the lame-duck deadline in seconds (safe default: the configured one).
  uint32_t OnLameDuck(uint32_t default_deadline_s, size_t n_sessions);

  const HookStats& stats(Hook h) const { return stats_[static_cast<int>(h)]; }
  // Carries counters over from the state this one replaces on reload.
  void InheritStats(const PolicyHost& old);

 private:
  PolicyHost() = default;
  static absl::StatusOr<std::unique_ptr<PolicyHost>> Build(const std::string& code,
                                                           const std::string& chunkname,
                                                           const std::string& source);
  absl::StatusOr<nlohmann::json> CallHook(Hook h, const nlohmann::json& arg);

  Config config_;
  std::unique_ptr<LuaSandbox> sandbox_;
  bool has_hook_[static_cast<int>(Hook::kCount)] = {};
  HookStats stats_[static_cast<int>(Hook::kCount)];
};

// Registers the declarative config calls in `sb`, writing into `*cfg`
// (config_bindings.cc).  `cfg` must outlive every chunk run in `sb`.
void RegisterConfigBindings(LuaSandbox& sb, Config* cfg);
// Cross-field checks after the chunk ran.  Errors name the call at fault.
absl::Status ValidateConfig(const Config& cfg);
// Parses "aa:bb:cc:dd:ee:ff".
std::optional<std::array<uint8_t, 6>> ParseMac(const std::string& s);

}  // namespace kp::cp
