// vector_loader.cc - JSON -> ABI structs for the golden vectors (see
// vector_loader.h), with nlohmann-json.  Exceptions from the JSON library are
// caught here and turned into absl::Status, so callers never see one.
#include "vector_loader.h"

#include <arpa/inet.h>

#include <cstring>
#include <fstream>
#include <string_view>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace kp::vectors {
namespace {

using nlohmann::json;

kp_drop_reason ReasonFromName(std::string_view name) {
#define KP_VL_X(n, metric, help) \
  if (name == metric) return KP_DROP_##n;
  KP_DROP_REASONS(KP_VL_X)
#undef KP_VL_X
  return KP_DROP_MAX;
}

bool ParseMac(const std::string& s, uint8_t out[6]) {
  unsigned v[6];
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return false;
  for (int i = 0; i < 6; ++i) out[i] = static_cast<uint8_t>(v[i]);
  return true;
}

uint64_t ParseU64(const json& j) {
  if (j.is_string()) return std::stoull(j.get<std::string>(), nullptr, 0);
  return j.get<uint64_t>();
}

absl::Status Bad(const std::string& what) { return absl::InvalidArgumentError("vectors: bad " + what); }

absl::Status ParseConfig(const json& c, kp_config* cfg) {
  std::string state = c.at("state").get<std::string>();
  if (state == "serving") cfg->state = KP_FE_SERVING;
  else if (state == "lame_duck") cfg->state = KP_FE_LAME_DUCK;
  else if (state == "closed") cfg->state = KP_FE_CLOSED;
  else return Bad("config.state");
  cfg->key_epoch = c.at("key_epoch").get<uint8_t>();
  cfg->gateway_mac_valid = c.at("gateway_mac_valid").get<uint8_t>();
  if (!ParseMac(c.at("gateway_mac").get<std::string>(), cfg->gateway_mac)) return Bad("config.gateway_mac");
  if (!ParseMac(c.at("own_mac").get<std::string>(), cfg->own_mac)) return Bad("config.own_mac");
  cfg->n_workers = c.at("n_workers").get<uint8_t>();
  const json& keys = c.at("cookie_keys");
  for (int e = 0; e < 2; ++e)
    for (int k = 0; k < 2; ++k) cfg->cookie_keys[e][k] = ParseU64(keys.at(e).at(k));
  const json& ports = c.at("tunnel_ports");
  if (ports.size() > KP_MAX_TUNNEL_PORTS) return Bad("config.tunnel_ports");
  cfg->n_tunnel_ports = static_cast<uint8_t>(ports.size());
  for (size_t i = 0; i < ports.size(); ++i) cfg->tunnel_ports[i] = htons(ports[i].get<uint16_t>());
  uint8_t a16[16], fam;
  for (const json& a : c.at("own4")) {
    if (!ParseAddress(a.get<std::string>(), a16, &fam) || fam != KP_AF_INET || cfg->n_own4 >= KP_MAX_OWN_ADDRS)
      return Bad("config.own4");
    std::memcpy(cfg->own4[cfg->n_own4++], a16 + 12, 4);
  }
  for (const json& a : c.at("own6")) {
    if (!ParseAddress(a.get<std::string>(), a16, &fam) || fam != KP_AF_INET6 || cfg->n_own6 >= KP_MAX_OWN_ADDRS)
      return Bad("config.own6");
    std::memcpy(cfg->own6[cfg->n_own6++], a16, 16);
  }
  for (const json& b : c.at("bogons")) {
    std::string text = b.get<std::string>();
    size_t slash = text.find('/');
    if (slash == std::string::npos || cfg->n_bogons >= KP_MAX_BOGONS) return Bad("config.bogons");
    kp_prefix& p = cfg->bogons[cfg->n_bogons++];
    if (!ParseAddress(text.substr(0, slash), p.addr, &fam)) return Bad("config.bogons");
    int len = std::stoi(text.substr(slash + 1));
    p.len = static_cast<uint8_t>(fam == KP_AF_INET ? 96 + len : len);
  }
  return absl::OkStatus();
}

absl::Status ParseKite(const json& k, kp_kite* kite) {
  *kite = {};
  kite->kite_id = k.at("kite_id").get<uint32_t>();
  if (!ParseAddress(k.at("addr").get<std::string>(), kite->key.addr, &kite->key.family)) return Bad("kite.addr");
  kite->key.port = htons(k.at("port").get<uint16_t>());
  std::string state = k.at("state").get<std::string>();
  kite->state = state == "live" ? KP_KITE_LIVE : state == "disabled" ? KP_KITE_DISABLED : 0;
  if (kite->state == 0) return Bad("kite.state");
  for (const json& f : k.at("flags")) {
    if (f.get<std::string>() != "quota") return Bad("kite.flags");
    kite->flags |= KP_KITE_F_QUOTA;
  }
  kite->rate_pps = k.at("rate_pps").get<uint32_t>();
  kite->rate_kbps = k.at("rate_kbps").get<uint32_t>();
  kite->burst_ms = k.at("burst_ms").get<uint16_t>();
  const json& s = k.at("sessions");
  if (s.size() > KP_MAX_KITE_SESSIONS) return Bad("kite.sessions");
  kite->n_sessions = static_cast<uint8_t>(s.size());
  for (size_t i = 0; i < s.size(); ++i) kite->sessions[i] = s[i].get<uint32_t>();
  return absl::OkStatus();
}

absl::Status ParseSession(const json& j, kp_session* s) {
  *s = {};
  s->session_id = j.at("session_id").get<uint32_t>();
  std::string state = j.at("state").get<std::string>();
  s->state = state == "live" ? KP_SESSION_LIVE : state == "down" ? KP_SESSION_DOWN : 0;
  if (s->state == 0) return Bad("session.state");
  uint8_t fam2;
  if (!ParseAddress(j.at("connector_addr").get<std::string>(), s->connector_addr, &s->family))
    return Bad("session.connector_addr");
  if (!ParseAddress(j.at("local_addr").get<std::string>(), s->local_addr, &fam2) || fam2 != s->family)
    return Bad("session.local_addr");
  s->connector_port = htons(j.at("connector_port").get<uint16_t>());
  s->local_port = htons(j.at("local_port").get<uint16_t>());
  s->mtu = j.at("mtu").get<uint16_t>();
  if (j.contains("nexthop_mac") && !j["nexthop_mac"].is_null()) {
    if (!ParseMac(j["nexthop_mac"].get<std::string>(), s->nexthop_mac)) return Bad("session.nexthop_mac");
    s->flags |= KP_SESSION_F_NEXTHOP;
  }
  return absl::OkStatus();
}

absl::StatusOr<VectorCase> ParseCase(const json& j) {
  VectorCase c;
  c.name = j.at("name").get<std::string>();
  c.description = j.value("description", "");
  auto in = HexDecode(j.at("input").get<std::string>());
  if (!in.ok()) return in.status();
  c.input = *std::move(in);
  std::string v = j.at("verdict").get<std::string>();
  if (v == "tx") c.verdict = ExpectedVerdict::kTx;
  else if (v == "drop") c.verdict = ExpectedVerdict::kDrop;
  else if (v == "exception") c.verdict = ExpectedVerdict::kException;
  else return Bad("verdict of case " + c.name);
  c.reason = ReasonFromName(j.at("reason").get<std::string>());
  if (c.reason == KP_DROP_MAX) return Bad("reason of case " + c.name);
  c.kite_id = j.value("kite_id", 0u);
  if (c.verdict == ExpectedVerdict::kTx) {
    auto out = HexDecode(j.at("output").get<std::string>());
    if (!out.ok()) return out.status();
    c.output = *std::move(out);
  }
  return c;
}

absl::StatusOr<VectorSet> ParseSet(const json& d) {
  VectorSet set;
  set.now_ns = d.at("now_ns").get<uint64_t>();
  set.n_workers = d.value("n_workers", 1u);
  if (absl::Status s = ParseConfig(d.at("config"), &set.config); !s.ok()) return s;
  for (const json& k : d.at("kites")) {
    kp_kite kite;
    if (absl::Status s = ParseKite(k, &kite); !s.ok()) return s;
    set.kites.push_back(kite);
  }
  for (const json& j : d.at("sessions")) {
    kp_session s;
    if (absl::Status st = ParseSession(j, &s); !st.ok()) return st;
    set.sessions.push_back(s);
  }
  for (const json& j : d.value("credit", json::array()))
    set.credit.push_back({j.at("kite_id").get<uint32_t>(), j.at("granted_bytes").get<uint64_t>()});
  for (const json& j : d.value("police", json::array())) {
    PoliceInit p{j.at("kite_id").get<uint32_t>(), {}};
    p.police.last_ns = j.at("last_ns").get<uint64_t>();
    p.police.pkt_tokens = j.at("pkt_tokens").get<uint64_t>();
    p.police.bit_tokens = j.at("bit_tokens").get<uint64_t>();
    p.police.used_bytes = j.at("used_bytes").get<uint64_t>();
    set.police.push_back(p);
  }
  for (const json& j : d.at("cases")) {
    auto c = ParseCase(j);
    if (!c.ok()) return c.status();
    set.cases.push_back(*std::move(c));
  }
  return set;
}

}  // namespace

bool ParseAddress(const std::string& text, uint8_t out16[16], uint8_t* family) {
  uint8_t v4[4];
  if (inet_pton(AF_INET, text.c_str(), v4) == 1) {
    std::memset(out16, 0, 10);
    out16[10] = out16[11] = 0xff;
    std::memcpy(out16 + 12, v4, 4);
    *family = KP_AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), out16) == 1) {
    *family = KP_AF_INET6;
    return true;
  }
  return false;
}

absl::StatusOr<std::vector<uint8_t>> HexDecode(const std::string& hex) {
  if (hex.size() % 2 != 0) return Bad("hex string (odd length)");
  std::vector<uint8_t> out(hex.size() / 2);
  auto nibble = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return Bad("hex string");
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string HexEncode(const std::vector<uint8_t>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

absl::StatusOr<VectorSet> LoadVectorSet(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError("vectors: cannot open " + path);
  try {
    json d = json::parse(in);
    if (d.value("version", 0) != 1) return Bad("version");
    return ParseSet(d);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError("vectors: " + path + ": " + e.what());
  }
}

}  // namespace kp::vectors
