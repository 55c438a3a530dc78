// xdp_world.cc - parser of golden-vector files into ABI tables (see
// xdp_world.h).  Uses nlohmann-json without exceptions escaping: every field
// is checked before it is read.
#include "tests/bpf/xdp_world.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace kp::xdp::test {
namespace {

using nlohmann::json;

const char* const kDropNames[] = {
#define KP_X_NAME(name, metric, help) metric,
    KP_DROP_REASONS(KP_X_NAME)
#undef KP_X_NAME
};

bool ParseAddr(const std::string& s, uint8_t out[16], uint8_t* family) {
  in_addr a4{};
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    std::memset(out, 0, 16);
    out[10] = out[11] = 0xff;
    std::memcpy(out + 12, &a4, 4);
    *family = KP_AF_INET;
    return true;
  }
  *family = KP_AF_INET6;
  return inet_pton(AF_INET6, s.c_str(), out) == 1;
}

bool ParseMac(const std::string& s, uint8_t out[6]) {
  unsigned v[6];
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
    return false;
  }
  for (int i = 0; i < 6; i++) out[i] = static_cast<uint8_t>(v[i]);
  return true;
}

absl::Status ParseConfig(const json& c, kp_config* cfg) {
  const std::string st = c.value("state", "serving");
  cfg->state = st == "closed" ? KP_FE_CLOSED : st == "lame_duck" ? KP_FE_LAME_DUCK : KP_FE_SERVING;
  cfg->generation = 1;
  cfg->key_epoch = c.value("key_epoch", 0);
  cfg->gateway_mac_valid = c.value("gateway_mac_valid", 0);
  cfg->n_workers = c.value("n_workers", 1);
  if (c.contains("gateway_mac") && !ParseMac(c["gateway_mac"], cfg->gateway_mac)) {
    return absl::InvalidArgumentError("gateway_mac");
  }
  if (c.contains("own_mac") && !ParseMac(c["own_mac"], cfg->own_mac)) {
    return absl::InvalidArgumentError("own_mac");
  }
  for (int e = 0; e < 2; e++) {
    for (int k = 0; k < 2; k++) {
      cfg->cookie_keys[e][k] = std::stoull(c["cookie_keys"][e][k].get<std::string>(), nullptr, 16);
    }
  }
  for (const json& p : c["tunnel_ports"]) {
    cfg->tunnel_ports[cfg->n_tunnel_ports++] = htons(p.get<uint16_t>());
  }
  uint8_t a[16], fam;
  for (const json& o : c["own4"]) {
    if (!ParseAddr(o, a, &fam)) return absl::InvalidArgumentError("own4");
    std::memcpy(cfg->own4[cfg->n_own4++], a + 12, 4);
  }
  for (const json& o : c["own6"]) {
    if (!ParseAddr(o, a, &fam)) return absl::InvalidArgumentError("own6");
    std::memcpy(cfg->own6[cfg->n_own6++], a, 16);
  }
  for (const json& b : c["bogons"]) {
    const std::string s = b;
    const size_t slash = s.find('/');
    kp_prefix& p = cfg->bogons[cfg->n_bogons++];
    if (slash == std::string::npos || !ParseAddr(s.substr(0, slash), p.addr, &fam)) {
      return absl::InvalidArgumentError(absl::StrCat("bogon ", s));
    }
    p.len = static_cast<uint8_t>(std::stoi(s.substr(slash + 1)) + (fam == KP_AF_INET ? 96 : 0));
  }
  return absl::OkStatus();
}

absl::Status ParseKite(const json& k, kp_kite* kite) {
  kite->kite_id = k["kite_id"];
  if (!ParseAddr(k["addr"], kite->key.addr, &kite->key.family)) {
    return absl::InvalidArgumentError("kite addr");
  }
  kite->key.port = htons(k["port"].get<uint16_t>());
  kite->state = k.value("state", "live") == "live" ? KP_KITE_LIVE : KP_KITE_DISABLED;
  for (const json& f : k["flags"]) {
    if (f == "quota") kite->flags |= KP_KITE_F_QUOTA;
  }
  kite->rate_pps = k.value("rate_pps", 0u);
  kite->rate_kbps = k.value("rate_kbps", 0u);
  kite->burst_ms = k.value("burst_ms", 0);
  for (const json& s : k["sessions"]) kite->sessions[kite->n_sessions++] = s;
  return absl::OkStatus();
}

absl::Status ParseSession(const json& j, kp_session* s) {
  s->session_id = j["session_id"];
  s->state = j.value("state", "live") == "live" ? KP_SESSION_LIVE : KP_SESSION_DOWN;
  uint8_t fam2;
  if (!ParseAddr(j["connector_addr"], s->connector_addr, &s->family) ||
      !ParseAddr(j["local_addr"], s->local_addr, &fam2)) {
    return absl::InvalidArgumentError("session address");
  }
  s->connector_port = htons(j["connector_port"].get<uint16_t>());
  s->local_port = htons(j["local_port"].get<uint16_t>());
  s->mtu = j.value("mtu", 0);
  if (j.contains("nexthop_mac") && !j["nexthop_mac"].is_null()) {
    if (!ParseMac(j["nexthop_mac"], s->nexthop_mac)) return absl::InvalidArgumentError("nexthop");
    s->flags |= KP_SESSION_F_NEXTHOP;
  }
  return absl::OkStatus();
}

}  // namespace

int DropReasonByName(const std::string& name) {
  for (int i = 0; i < KP_DROP_MAX; i++) {
    if (name == kDropNames[i]) return i;
  }
  return -1;
}

std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

absl::StatusOr<World> World::Parse(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  const json d = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (d.is_discarded() || !d.is_object()) return absl::InvalidArgumentError("not JSON: " + path);
  World w;
  w.now_ns = d.value("now_ns", 0ull);
  if (absl::Status st = ParseConfig(d["config"], &w.config); !st.ok()) return st;
  for (const json& k : d["kites"]) {
    kp_kite kite{};
    if (absl::Status st = ParseKite(k, &kite); !st.ok()) return st;
    w.kites.push_back(kite);
  }
  for (const json& j : d["sessions"]) {
    kp_session s{};
    if (absl::Status st = ParseSession(j, &s); !st.ok()) return st;
    w.sessions.push_back(s);
  }
  if (d.contains("credit")) {
    for (const json& c : d["credit"]) w.credit.emplace_back(c["kite_id"], c["granted_bytes"]);
  }
  if (d.contains("police")) {
    for (const json& p : d["police"]) {
      kp_kite_police kp{p.value("last_ns", 0ull), p.value("pkt_tokens", 0ull),
                        p.value("bit_tokens", 0ull), p.value("used_bytes", 0ull)};
      w.police.emplace_back(p["kite_id"], kp);
    }
  }
  for (const json& c : d["cases"]) {
    VectorCase vc;
    vc.name = c["name"];
    vc.input = FromHex(c["input"]);
    vc.verdict = c["verdict"];
    vc.reason = c.value("reason", "none");
    vc.kite_id = c.value("kite_id", 0u);
    if (c.contains("output") && c["output"].is_string()) vc.output = FromHex(c["output"]);
    w.cases.push_back(std::move(vc));
  }
  return w;
}

absl::Status World::LoadTables(XdpBackend* backend) const {
  if (absl::Status st = backend->SetConfig(config); !st.ok()) return st;
  if (absl::Status st = backend->UpsertSessions(sessions); !st.ok()) return st;
  if (absl::Status st = backend->UpsertKites(kites); !st.ok()) return st;
  return ResetPerCase(backend);
}

absl::Status World::ResetPerCase(XdpBackend* backend) const {
  for (const kp_kite& k : kites) {
    if (absl::Status st = backend->ResetKiteState(k.kite_id); !st.ok()) return st;
  }
  for (const auto& [id, bytes] : credit) {
    if (absl::Status st = backend->SetCreditAll(id, bytes); !st.ok()) return st;
  }
  for (const auto& [id, p] : police) {
    if (absl::Status st = backend->SetPolice(id, p); !st.ok()) return st;
  }
  return backend->ResetGlobalCounters();
}

}  // namespace kp::xdp::test
