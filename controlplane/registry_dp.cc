// registry_dp.cc - the registry's data-plane side: table entries, config,
// full resync, recovery from the store, the quota tick and flow-cookie key
// rotation (see registry.h).
#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controlplane/registry.h"
#include "controlplane/status_macros.h"

namespace kp::cp {
namespace {

constexpr uint64_t kTxSeqSkipOnRecover = 1000;

std::vector<uint8_t> U64Bytes(uint64_t v) {
  std::vector<uint8_t> b(8);
  std::memcpy(b.data(), &v, 8);
  return b;
}

uint64_t BytesU64(const std::vector<uint8_t>& b) {
  uint64_t v = 0;
  if (b.size() >= 8) std::memcpy(&v, b.data(), 8);
  return v;
}

}  // namespace

kp_kite Registry::KiteEntry(const Kite& k) const {
  kp_kite e{};
  std::memcpy(e.key.addr, k.pub.addr.data(), 16);
  e.key.port = htons(k.pub.port);
  e.key.family = k.pub.family;
  e.kite_id = k.kite_id;
  e.state = k.enabled ? KP_KITE_LIVE : KP_KITE_DISABLED;
  e.flags = k.quota_bytes > 0 ? KP_KITE_F_QUOTA : 0;
  e.rate_pps = k.rate_pps;
  e.rate_kbps = k.rate_kbps;
  e.burst_ms = k.burst_ms;
  for (uint32_t sid : k.sessions) {
    if (e.n_sessions >= KP_MAX_KITE_SESSIONS) break;
    e.sessions[e.n_sessions++] = sid;
  }
  return e;
}

kp_session Registry::SessionEntry(const Session& s) const {
  kp_session e{};
  e.session_id = s.session_id;
  e.state = KP_SESSION_LIVE;
  e.family = s.connector.family;
  e.connector_port = htons(s.connector.port);
  std::memcpy(e.connector_addr, s.connector.addr.data(), 16);
  std::memcpy(e.local_addr, s.local.addr.data(), 16);
  e.local_port = htons(s.local.port);
  e.mtu = s.mtu;
  return e;
}

kp_config Registry::ConfigEntry() const {
  const Config& c = policy_->config();
  kp_config e{};
  e.generation = config_generation_;
  e.state = static_cast<uint8_t>(fe_state_);
  e.key_epoch = key_epoch_;
  if (c.gateway_mac) {
    e.gateway_mac_valid = 1;
    std::memcpy(e.gateway_mac, c.gateway_mac->data(), 6);
  }
  if (c.own_mac) std::memcpy(e.own_mac, c.own_mac->data(), 6);
  e.n_workers = static_cast<uint8_t>(std::min<uint32_t>(n_workers(), 255));
  std::memcpy(e.cookie_keys, cookie_keys_, sizeof e.cookie_keys);
  for (uint16_t p : c.tunnel_ports) {
    if (e.n_tunnel_ports < KP_MAX_TUNNEL_PORTS) e.tunnel_ports[e.n_tunnel_ports++] = htons(p);
  }
  for (const std::string& a : c.addresses) {
    auto ep = ParseAddress(a, 0);
    if (!ep.ok()) continue;
    if (ep->family == KP_AF_INET && e.n_own4 < KP_MAX_OWN_ADDRS) {
      std::memcpy(e.own4[e.n_own4++], &ep->addr[12], 4);
    } else if (ep->family == KP_AF_INET6 && e.n_own6 < KP_MAX_OWN_ADDRS) {
      std::memcpy(e.own6[e.n_own6++], ep->addr.data(), 16);
    }
  }
  for (const std::string& b : c.bogons) {
    std::vector<std::string> parts = absl::StrSplit(b, '/');
    if (parts.size() != 2 || e.n_bogons >= KP_MAX_BOGONS) continue;
    auto ep = ParseAddress(parts[0], 0);
    int len = std::atoi(parts[1].c_str());
    if (!ep.ok()) continue;
    if (ep->family == KP_AF_INET) len += 96;
    kp_prefix& p = e.bogons[e.n_bogons++];
    std::memcpy(p.addr, ep->addr.data(), 16);
    p.len = static_cast<uint8_t>(std::clamp(len, 0, 128));
  }
  return e;
}

void Registry::PushKite(const Kite& k) {
  if (!dp_->Connected()) return;
  kp_kite e = KiteEntry(k);
  DpError(dp_->UpsertKites({&e, 1}));
}

void Registry::PushConfig() {
  config_generation_++;
  if (!dp_->Connected()) return;
  DpError(dp_->SetConfig(ConfigEntry()));
}

void Registry::GrantInitial(Kite& k, uint64_t now_s) {
  if (k.quota_bytes == 0 || !dp_->Connected()) return;
  if (k.granted_per_core > 0) return;
  uint64_t g = ledger_.Install(k, now_s);
  if (g == 0) return;
  kp_ctl_credit c{k.kite_id, 0, g};
  DpError(dp_->GrantCredit({&c, 1}));
}

void Registry::SetFrontendState(kp_frontend_state st) {
  fe_state_ = st;
  PushConfig();
  if (dp_->Connected()) DpError(dp_->SetState(st));
}

absl::Status Registry::SyncDataplane() {
  ASSIGN_OR_RETURN(bool fresh, dp_->EnsureConnected());
  if (fresh) {
    ledger_ = QuotaLedger(n_workers(), policy_->config().limits.lease_bytes);
    return Resync();
  }
  return absl::OkStatus();
}

absl::Status Registry::Resync() {
  counters_.resyncs++;
  // Which kites does the data plane still hold (with their counters)?
  std::map<uint32_t, uint64_t> present;
  absl::Status st = dp_->ForEachKiteStats([&](const kp_ctl_kite_stats& s) { present[s.kite_id] = s.used_bytes; });
  if (!st.ok()) return st;
  config_generation_++;
  RETURN_IF_ERROR(dp_->ResyncBegin());
  RETURN_IF_ERROR(dp_->SetConfig(ConfigEntry()));
  std::vector<kp_session> ss;
  for (const auto& [id, s] : sessions_) ss.push_back(SessionEntry(s));
  if (!ss.empty()) RETURN_IF_ERROR(dp_->UpsertSessions(ss));
  std::vector<kp_kite> ks;
  for (const auto& [id, k] : kites_) ks.push_back(KiteEntry(k));
  if (!ks.empty()) RETURN_IF_ERROR(dp_->UpsertKites(ks));
  RETURN_IF_ERROR(dp_->SetState(fe_state_));
  RETURN_IF_ERROR(dp_->ResyncEnd());
  // Credit: a kite the data plane lost starts again from zero.
  uint64_t now = static_cast<uint64_t>(time(nullptr));
  std::vector<kp_ctl_credit> grants;
  for (auto& [id, k] : kites_) {
    if (k.quota_bytes == 0) continue;
    auto it = present.find(id);
    if (it != present.end() && it->second >= k.last_used_total && k.granted_per_core > 0) continue;
    uint64_t g = ledger_.Install(k, now);
    if (g > 0) grants.push_back({id, 0, g});
  }
  if (!grants.empty()) RETURN_IF_ERROR(dp_->GrantCredit(grants));
  return absl::OkStatus();
}

void Registry::PersistKeys() {
  std::vector<uint8_t> keys(sizeof cookie_keys_);
  std::memcpy(keys.data(), cookie_keys_, keys.size());
  StoreError(store_->PutMeta("cookie_keys", keys));
  StoreError(store_->PutMeta("key_epoch", {key_epoch_}));
  StoreError(store_->PutMeta("keys_rotated_at", U64Bytes(keys_rotated_at_)));
}

void Registry::MaybeRotateKeys(uint64_t now_s, bool force) {
  if (!force && now_s < keys_rotated_at_ + policy_->config().timers.cookie_rotate_s) return;
  key_epoch_++;
  proto::RandomBytes(std::span<uint8_t>(reinterpret_cast<uint8_t*>(cookie_keys_[key_epoch_ & 1]), 16));
  keys_rotated_at_ = now_s;
  counters_.key_rotations++;
  PersistKeys();
  PushConfig();
}

absl::Status Registry::Recover(uint64_t now_s) {
  ASSIGN_OR_RETURN(kites_, store_->LoadKites());
  ASSIGN_OR_RETURN(sessions_, store_->LoadSessions());
  kite_by_name_.clear();
  slot_used_.assign(KP_MAX_SESSIONS, false);
  next_kite_id_ = 1;
  for (auto& [id, k] : kites_) {
    k.sessions.clear();
    kite_by_name_[k.name] = id;
    ports_->Reserve(k.pub);
    next_kite_id_ = std::max(next_kite_id_, id + 1);
  }
  auto nk = store_->GetMeta("next_kite_id");
  if (nk.ok() && nk->size() == 4) {
    uint32_t v;
    std::memcpy(&v, nk->data(), 4);
    next_kite_id_ = std::max(next_kite_id_, v);
  }
  for (auto& [id, s] : sessions_) {
    slot_used_[id & KP_SESSION_INDEX_MASK] = true;
    // The connector could not reach us while we were down: give it a full
    // dead-peer interval from now before declaring it dead.
    s.last_rx = std::max(s.last_rx, now_s);
    // Notices sent after the last persisted message may have used higher
    // seqs: skip ahead so the connector's replay window never drops ours.
    s.tx_seq += kTxSeqSkipOnRecover;
    for (uint32_t kid : std::set<uint32_t>(s.kites)) {
      auto it = kites_.find(kid);
      if (it == kites_.end()) {
        s.kites.erase(kid);
        continue;
      }
      it->second.sessions.insert(id);
    }
  }
  auto keys = store_->GetMeta("cookie_keys");
  auto epoch = store_->GetMeta("key_epoch");
  auto at = store_->GetMeta("keys_rotated_at");
  if (keys.ok() && keys->size() == sizeof cookie_keys_ && epoch.ok() && epoch->size() == 1) {
    std::memcpy(cookie_keys_, keys->data(), sizeof cookie_keys_);
    key_epoch_ = (*epoch)[0];
    keys_rotated_at_ = at.ok() ? BytesU64(*at) : now_s;
  } else {
    proto::RandomBytes(std::span<uint8_t>(reinterpret_cast<uint8_t*>(cookie_keys_), sizeof cookie_keys_));
    key_epoch_ = 0;
    keys_rotated_at_ = now_s;
    PersistKeys();
  }
  return absl::OkStatus();
}

void Registry::QuotaTick(uint64_t now_s) {
  if (!dp_->Connected()) return;
  std::map<uint32_t, kp_ctl_kite_stats> stats;
  absl::Status st = dp_->ForEachKiteStats([&](const kp_ctl_kite_stats& s) { stats[s.kite_id] = s; });
  if (!st.ok()) {
    DpError(st);
    return;
  }
  auto g = dp_->GlobalCounters();
  if (g.ok()) last_global_ = *g;
  last_kite_stats_ = stats;
  std::vector<kp_ctl_credit> grants;
  std::vector<const Kite*> dirty;
  for (auto& [id, k] : kites_) {
    if (k.quota_bytes == 0) continue;
    auto it = stats.find(id);
    uint64_t used = it == stats.end() ? 0 : it->second.used_bytes;
    QuotaStep t = ledger_.Tick(k, used, now_s);
    if (t.period_rolled && !k.enabled && k.disabled_code == KP_RESULT_OUT_OF_QUOTA) {
      SetEnabled(k, true, 0, "new quota period");
    }
    if (t.exhausted_now) {
      counters_.quota_exhausted++;
      uint64_t extra = policy_->OnQuotaExhausted(k.name, k.used_period, k.quota_bytes + k.extra_bytes);
      if (extra > 0) {
        k.extra_bytes += extra;
        t = ledger_.Tick(k, used, now_s);
      } else {
        SetEnabled(k, false, KP_RESULT_OUT_OF_QUOTA, "quota spent for this period");
      }
    }
    if (t.grant_per_core > 0) grants.push_back({id, 0, t.grant_per_core});
    dirty.push_back(&k);
  }
  if (!grants.empty()) DpError(dp_->GrantCredit(grants));
  if (!dirty.empty()) StoreError(store_->PutKites(dirty));
}

}  // namespace kp::cp
