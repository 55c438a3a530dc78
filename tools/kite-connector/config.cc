// config.cc - strict JSON configuration parser for kite-connector.
//
// Each object is walked key by key: known keys are consumed with a type check,
// any other key is an error naming it.  nlohmann-json is used in its
// non-throwing mode (parse with allow_exceptions = false, typed access only
// after an is_*() check).
#include "tools/kite-connector/config.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "tools/kite-connector/net.h"

namespace kp::connector {
namespace {

using nlohmann::json;

absl::Status Err(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("config: ", path, ": ", what));
}

absl::Status GetUint(const json& v, const std::string& path, uint64_t min, uint64_t max,
                     uint64_t* out) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    return Err(path, "must be a non-negative integer");
  }
  uint64_t x = v.get<uint64_t>();
  if (x < min || x > max) return Err(path, absl::StrCat("must be in ", min, "..", max));
  *out = x;
  return absl::OkStatus();
}

absl::Status GetString(const json& v, const std::string& path, std::string* out) {
  if (!v.is_string()) return Err(path, "must be a string");
  *out = v.get<std::string>();
  return absl::OkStatus();
}

absl::Status ParseKite(const json& v, const std::string& path, KiteConfig* k) {
  if (!v.is_object()) return Err(path, "must be an object");
  bool has_name = false, has_secret = false, has_service = false;
  for (const auto& [key, val] : v.items()) {
    std::string p = absl::StrCat(path, ".", key);
    if (key == "name") {
      if (auto st = GetString(val, p, &k->name); !st.ok()) return st;
      if (auto st = proto::ValidateKiteName(k->name); !st.ok()) {
        return Err(p, std::string(st.message()));
      }
      has_name = true;
    } else if (key == "secret") {
      if (auto st = GetString(val, p, &k->secret); !st.ok()) return st;
      if (k->secret.size() < 16) return Err(p, "must be at least 16 bytes");
      has_secret = true;
    } else if (key == "service") {
      std::string s;
      if (auto st = GetString(val, p, &s); !st.ok()) return st;
      auto ep = ParseHostPort(s);
      if (!ep.ok()) return Err(p, std::string(ep.status().message()));
      k->service = *ep;
      has_service = true;
    } else {
      return Err(p, "unknown key");
    }
  }
  if (!has_name) return Err(path, "missing \"name\"");
  if (!has_secret) return Err(path, "missing \"secret\"");
  if (!has_service) return Err(path, "missing \"service\"");
  return absl::OkStatus();
}

absl::Status ParseFrontend(const json& v, const std::string& path, FrontendConfig* f) {
  if (!v.is_object()) return Err(path, "must be an object");
  for (const auto& [key, val] : v.items()) {
    std::string p = absl::StrCat(path, ".", key);
    if (key == "address") {
      if (auto st = GetString(val, p, &f->address); !st.ok()) return st;
      if (f->address.empty()) return Err(p, "must not be empty");
    } else if (key == "ports") {
      if (!val.is_array() || val.empty()) return Err(p, "must be a non-empty array of ports");
      for (size_t i = 0; i < val.size(); ++i) {
        uint64_t port = 0;
        if (auto st = GetUint(val[i], absl::StrCat(p, "[", i, "]"), 1, 65535, &port); !st.ok()) {
          return st;
        }
        f->ports.push_back(static_cast<uint16_t>(port));
      }
    } else {
      return Err(p, "unknown key");
    }
  }
  if (f->address.empty()) return Err(path, "missing \"address\"");
  if (f->ports.empty()) return Err(path, "missing \"ports\"");
  return absl::OkStatus();
}

absl::Status ParseScalar(const std::string& key, const json& val, Config* c) {
  struct Field {
    const char* name;
    uint64_t min, max;
    uint64_t* dst64;
  };
  uint64_t mtu = c->mtu, max_flows = c->max_flows, idle = c->flow_idle_s,
           b0 = c->backoff_initial_ms, b1 = c->backoff_max_ms, si = c->stats_interval_s;
  const Field fields[] = {
      {"mtu", 576, 9000, &mtu},
      {"max_flows", 1, 1000000, &max_flows},
      {"flow_idle_s", 1, 86400, &idle},
      {"backoff_initial_ms", 10, 3600000, &b0},
      {"backoff_max_ms", 10, 3600000, &b1},
      {"stats_interval_s", 1, 3600, &si},
  };
  for (const Field& f : fields) {
    if (key != f.name) continue;
    if (auto st = GetUint(val, key, f.min, f.max, f.dst64); !st.ok()) return st;
    c->mtu = static_cast<uint16_t>(mtu);
    c->max_flows = static_cast<uint32_t>(max_flows);
    c->flow_idle_s = static_cast<uint32_t>(idle);
    c->backoff_initial_ms = static_cast<uint32_t>(b0);
    c->backoff_max_ms = static_cast<uint32_t>(b1);
    c->stats_interval_s = static_cast<uint32_t>(si);
    return absl::OkStatus();
  }
  return Err(key, "unknown key");
}

}  // namespace

absl::StatusOr<Config> ParseConfig(std::string_view text) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("config: not valid JSON");
  if (!doc.is_object()) return Err("(top)", "must be a JSON object");
  Config c;
  for (const auto& [key, val] : doc.items()) {
    if (key == "kites") {
      if (!val.is_array()) return Err("kites", "must be an array");
      for (size_t i = 0; i < val.size(); ++i) {
        KiteConfig k;
        if (auto st = ParseKite(val[i], absl::StrCat("kites[", i, "]"), &k); !st.ok()) return st;
        for (const KiteConfig& o : c.kites) {
          if (o.name == k.name) return Err(absl::StrCat("kites[", i, "]"), "duplicate kite name");
        }
        c.kites.push_back(std::move(k));
      }
    } else if (key == "frontends") {
      if (!val.is_array()) return Err("frontends", "must be an array");
      for (size_t i = 0; i < val.size(); ++i) {
        FrontendConfig f;
        if (auto st = ParseFrontend(val[i], absl::StrCat("frontends[", i, "]"), &f); !st.ok()) {
          return st;
        }
        c.frontends.push_back(std::move(f));
      }
    } else if (auto st = ParseScalar(key, val, &c); !st.ok()) {
      return st;
    }
  }
  if (c.kites.empty()) return Err("kites", "at least one kite is needed");
  if (c.frontends.empty()) return Err("frontends", "at least one front-end is needed");
  if (c.backoff_max_ms < c.backoff_initial_ms) {
    return Err("backoff_max_ms", "must not be below backoff_initial_ms");
  }
  return c;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError(absl::StrCat("config: cannot open ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseConfig(ss.str());
}

}  // namespace kp::connector
