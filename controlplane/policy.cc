// policy.cc - PolicyHost: loads the Lua config into a fresh sandbox and calls
// the policy hooks with safe defaults.  See policy.h.
#include "controlplane/policy.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "controlplane/default_config.h"
#include "controlplane/status_macros.h"

namespace kp::cp {
namespace {
using nlohmann::json;

constexpr const char* kHookNames[] = {"on_register", "on_quota_exhausted", "on_tick", "on_session_down",
                                      "on_lame_duck"};

uint64_t U64(const json& o, const char* k, uint64_t dflt) {
  if (!o.contains(k)) return dflt;
  const json& v = o[k];
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  return dflt;
}

// Validates the table returned by on_register; "" when fine.
std::string CheckAdmission(const json& r) {
  static const char* kKeys[] = {"accept", "reason", "secret", "account", "port", "quota_bytes",
                                "quota_period_s", "rate_pps", "rate_kbps", "burst_ms", "max_sessions"};
  for (const auto& [k, v] : r.items()) {
    bool ok = false;
    for (const char* known : kKeys) ok = ok || k == known;
    if (!ok) return absl::StrCat("on_register returned unknown key '", k, "'");
    bool str = k == "reason" || k == "secret" || k == "account";
    if (k == "accept" ? !v.is_boolean() : str ? !v.is_string() : !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
      return absl::StrCat("on_register returned a bad type for key '", k, "'");
    }
  }
  if (r.contains("port") && r["port"].get<int64_t>() > 65535) return "on_register returned port > 65535";
  if (r.contains("max_sessions") && (r["max_sessions"].get<int64_t>() < 1 || r["max_sessions"].get<int64_t>() > 6)) {
    return "on_register returned max_sessions outside [1, 6]";
  }
  return "";
}
}  // namespace

const char* HookName(Hook h) { return kHookNames[static_cast<int>(h)]; }

const char* PolicyHost::DefaultConfigText() { return kDefaultConfigLua; }

absl::StatusOr<std::unique_ptr<PolicyHost>> PolicyHost::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read the config file"));
  std::stringstream ss;
  ss << in.rdbuf();
  return Build(ss.str(), "@" + path, path);
}

absl::StatusOr<std::unique_ptr<PolicyHost>> PolicyHost::LoadString(const std::string& code,
                                                                   const std::string& chunkname) {
  return Build(code, "@" + chunkname, chunkname);
}

absl::StatusOr<std::unique_ptr<PolicyHost>> PolicyHost::LoadDefault() {
  return Build(kDefaultConfigLua, "@<default>", "<default>");
}

absl::StatusOr<std::unique_ptr<PolicyHost>> PolicyHost::Build(const std::string& code, const std::string& chunkname,
                                                              const std::string& source) {
  std::unique_ptr<PolicyHost> host(new PolicyHost());
  host->config_.source = source;
  // The config chunk runs under default limits; sandbox{} then sets the
  // limits of the hooks (they apply to the next state built from this file).
  ASSIGN_OR_RETURN(host->sandbox_, LuaSandbox::Create(SandboxLimits{}));
  RegisterConfigBindings(*host->sandbox_, &host->config_);
  absl::Status s = host->sandbox_->RunChunk(code, chunkname);
  if (!s.ok()) {
    if (absl::IsResourceExhausted(s)) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": config chunk stopped: ", s.message()));
    }
    return s;
  }
  RETURN_IF_ERROR(ValidateConfig(host->config_));
  for (int i = 0; i < static_cast<int>(Hook::kCount); i++) {
    std::string t = host->sandbox_->GlobalType(kHookNames[i]);
    if (t == "function") {
      host->has_hook_[i] = true;
    } else if (t != "nil") {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": hook '", kHookNames[i], "' must be a function, not a ", t));
    }
  }
  // Hooks run with the configured limits in a state that keeps the globals.
  if (host->config_.sandbox.instructions != SandboxLimits{}.instructions ||
      host->config_.sandbox.memory_bytes != SandboxLimits{}.memory_bytes) {
    Config keep = host->config_;
    ASSIGN_OR_RETURN(host->sandbox_, LuaSandbox::Create(keep.sandbox));
    Config scratch;
    RegisterConfigBindings(*host->sandbox_, &scratch);
    s = host->sandbox_->RunChunk(code, chunkname);
    if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(source, ": under the sandbox{} limits: ", s.message()));
    host->config_ = keep;
  }
  return host;
}

absl::StatusOr<json> PolicyHost::CallHook(Hook h, const json& arg) {
  HookStats& st = stats_[static_cast<int>(h)];
  st.calls++;
  absl::StatusOr<json> r = sandbox_->Call(kHookNames[static_cast<int>(h)], arg);
  if (!r.ok()) st.failures++;
  return r;
}

Admission PolicyHost::OnRegister(const RegisterQuery& q) {
  Admission a;
  auto it = config_.kites.find(q.kite);
  if (it != config_.kites.end()) {
    const KiteSpec& k = it->second;
    a.known = true;
    a.accept = true;
    a.secret = k.secret;
    a.account = k.account;
    a.port = k.port;
    a.rate_pps = k.rate_pps;
    a.rate_kbps = k.rate_kbps;
    a.burst_ms = k.burst_ms;
    a.max_sessions = k.max_sessions;
    a.quota_bytes = k.quota_bytes;
    if (k.quota_period_s) a.quota_period_s = k.quota_period_s;
    auto acc = config_.accounts.find(k.account);
    if (acc != config_.accounts.end()) {
      if (a.quota_bytes == 0) a.quota_bytes = acc->second.quota_bytes;
      if (k.quota_period_s == 0) a.quota_period_s = acc->second.quota_period_s;
    }
  }
  if (!has_hook(Hook::kOnRegister)) {
    if (!a.known) a.reason = "unknown kite";
    return a;
  }
  json arg = {{"kite", q.kite}, {"source", q.source}, {"session", q.session_id}, {"known", a.known},
              {"account", a.account}};
  absl::StatusOr<json> r = CallHook(Hook::kOnRegister, arg);
  if (!r.ok()) {
    a.accept = false;
    a.reason = "policy hook failed";
    return a;
  }
  if (r->is_null() || (r->is_boolean() && r->get<bool>())) return a;  // keep the static decision
  if (r->is_boolean()) {
    a.accept = false;
    a.reason = "refused by policy";
    return a;
  }
  std::string bad = r->is_object() ? CheckAdmission(*r) : "on_register must return nil, a boolean or a table";
  if (!bad.empty()) {
    stats_[static_cast<int>(Hook::kOnRegister)].failures++;
    a.accept = false;
    a.reason = "policy hook failed: " + bad;
    return a;
  }
  const json& o = *r;
  if (o.contains("secret")) {
    a.secret = o["secret"].get<std::string>();
    a.known = !a.secret.empty();
  }
  a.accept = o.value("accept", a.known);
  if (!a.accept) a.reason = o.value("reason", std::string("refused by policy"));
  if (o.contains("account")) a.account = o["account"].get<std::string>();
  a.port = static_cast<uint16_t>(U64(o, "port", a.port));
  a.quota_bytes = U64(o, "quota_bytes", a.quota_bytes);
  a.quota_period_s = static_cast<uint32_t>(U64(o, "quota_period_s", a.quota_period_s));
  a.rate_pps = static_cast<uint32_t>(U64(o, "rate_pps", a.rate_pps));
  a.rate_kbps = static_cast<uint32_t>(U64(o, "rate_kbps", a.rate_kbps));
  a.burst_ms = static_cast<uint16_t>(U64(o, "burst_ms", a.burst_ms));
  a.max_sessions = static_cast<uint32_t>(U64(o, "max_sessions", a.max_sessions));
  if (a.accept && !a.known) {
    a.accept = false;
    a.reason = "unknown kite";
  }
  return a;
}

uint64_t PolicyHost::OnQuotaExhausted(const std::string& kite, uint64_t used, uint64_t quota) {
  if (!has_hook(Hook::kOnQuotaExhausted)) return 0;
  absl::StatusOr<json> r =
      CallHook(Hook::kOnQuotaExhausted, {{"kite", kite}, {"used_bytes", used}, {"quota_bytes", quota}});
  if (!r.ok() || r->is_null()) return 0;
  if (r->is_object() && r->size() == 1 && r->contains("extra_bytes")) return U64(*r, "extra_bytes", 0);
  stats_[static_cast<int>(Hook::kOnQuotaExhausted)].failures++;
  return 0;
}

void PolicyHost::OnTick(const json& summary) {
  if (has_hook(Hook::kOnTick)) (void)CallHook(Hook::kOnTick, summary);
}

void PolicyHost::OnSessionDown(uint32_t session_id, const std::string& reason, const json& kites) {
  if (!has_hook(Hook::kOnSessionDown)) return;
  (void)CallHook(Hook::kOnSessionDown, {{"session", session_id}, {"reason", reason}, {"kites", kites}});
}

uint32_t PolicyHost::OnLameDuck(uint32_t default_deadline_s, size_t n_sessions) {
  if (!has_hook(Hook::kOnLameDuck)) return default_deadline_s;
  absl::StatusOr<json> r =
      CallHook(Hook::kOnLameDuck, {{"deadline_s", default_deadline_s}, {"sessions", n_sessions}});
  if (!r.ok() || r->is_null()) return default_deadline_s;
  if (r->is_object() && r->size() == 1 && r->contains("deadline_s")) {
    uint64_t d = U64(*r, "deadline_s", default_deadline_s);
    return d > 86400 ? 86400 : static_cast<uint32_t>(d);
  }
  stats_[static_cast<int>(Hook::kOnLameDuck)].failures++;
  return default_deadline_s;
}

void PolicyHost::InheritStats(const PolicyHost& old) {
  for (int i = 0; i < static_cast<int>(Hook::kCount); i++) {
    stats_[i].calls += old.stats_[i].calls;
    stats_[i].failures += old.stats_[i].failures;
  }
}

}  // namespace kp::cp
