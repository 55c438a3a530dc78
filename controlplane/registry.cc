// registry.cc - claims, sessions, rebinding and kicks (see registry.h).  The
// data-plane side (entries, resync, quota tick, key rotation) is in
// registry_dp.cc.
#include "controlplane/registry.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "controlplane/status_macros.h"

namespace kp::cp {

Registry::Registry(Store* store, DataplaneClient* dp, PolicyHost* policy)
    : store_(store), dp_(dp), policy_(policy) {
  (void)SetPolicy(policy);
}

absl::Status Registry::SetPolicy(PolicyHost* policy) {
  policy_ = policy;
  ASSIGN_OR_RETURN(PortAllocator pa, PortAllocator::Create(policy->config().pools));
  ports_ = std::make_unique<PortAllocator>(std::move(pa));
  for (const auto& [id, k] : kites_) ports_->Reserve(k.pub);
  ledger_ = QuotaLedger(n_workers(), policy->config().limits.lease_bytes);
  PushConfig();
  return absl::OkStatus();
}

uint32_t Registry::n_workers() const { return dp_->Connected() ? dp_->NumWorkers() : 1; }

void Registry::DpError(const absl::Status& s) {
  if (!s.ok() && !absl::IsUnavailable(s)) counters_.dataplane_errors++;
}

void Registry::StoreError(const absl::Status& s) {
  if (!s.ok()) counters_.store_errors++;
}

const Kite* Registry::FindKite(const std::string& name) const {
  auto it = kite_by_name_.find(name);
  return it == kite_by_name_.end() ? nullptr : &kites_.at(it->second);
}

Session* Registry::FindSession(uint32_t id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second;
}

Session* Registry::FindSessionByToken(const proto::Token& token, const proto::PublicKey& pub) {
  for (auto& [id, s] : sessions_) {
    if (s.token == token && s.client_pubkey == pub) return &s;
  }
  return nullptr;
}

absl::StatusOr<uint32_t> Registry::AllocateSessionId() {
  uint32_t max = std::min<uint32_t>(policy_->config().limits.max_sessions + 1, KP_MAX_SESSIONS);
  if (slot_used_.size() < KP_MAX_SESSIONS) slot_used_.resize(KP_MAX_SESSIONS, false);
  if (sessions_.size() + 1 >= max) return absl::ResourceExhaustedError("session table full");
  uint32_t start = 1;
  proto::RandomBytes(std::span<uint8_t>(reinterpret_cast<uint8_t*>(&start), sizeof start));
  start = 1 + start % (max - 1);
  for (uint32_t i = 0; i < max - 1; i++) {
    uint32_t idx = 1 + (start - 1 + i) % (max - 1);
    if (slot_used_[idx]) continue;
    uint32_t gen = 0;
    while (gen == 0) {
      proto::RandomBytes(std::span<uint8_t>(reinterpret_cast<uint8_t*>(&gen), sizeof gen));
      gen &= (1u << (32 - KP_SESSION_INDEX_BITS)) - 1;
    }
    return gen << KP_SESSION_INDEX_BITS | idx;
  }
  return absl::ResourceExhaustedError("session table full");
}

absl::StatusOr<Session*> Registry::AddSession(Session s) {
  uint32_t id = s.session_id;
  if (slot_used_.size() < KP_MAX_SESSIONS) slot_used_.resize(KP_MAX_SESSIONS, false);
  slot_used_[id & KP_SESSION_INDEX_MASK] = true;
  kp_session e = SessionEntry(s);
  absl::Status st = dp_->Connected() ? dp_->UpsertSessions({&e, 1}) : absl::UnavailableError("headless");
  if (absl::IsResourceExhausted(st)) {
    slot_used_[id & KP_SESSION_INDEX_MASK] = false;
    return st;
  }
  DpError(st);
  StoreError(store_->PutSession(s));
  counters_.sessions_created++;
  auto [it, ok] = sessions_.emplace(id, std::move(s));
  return &it->second;
}

void Registry::Touch(Session& s, uint64_t now_s, bool persist) {
  s.last_rx = now_s;
  s.rx_top = s.rx.top();
  if (persist) StoreError(store_->PutSession(s));
}

absl::Status Registry::Rebind(Session& s, const proto::Endpoint& now_at) {
  if (s.connector == now_at) return absl::OkStatus();
  s.connector = now_at;
  s.rebinds++;
  counters_.rebinds++;
  kp_session e = SessionEntry(s);
  if (dp_->Connected()) DpError(dp_->UpsertSessions({&e, 1}));
  return store_->PutSession(s);
}

void Registry::EndSession(uint32_t id, const std::string& reason) {
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  Session& s = it->second;
  nlohmann::json names = nlohmann::json::array();
  for (uint32_t kid : std::set<uint32_t>(s.kites)) {
    auto kit = kites_.find(kid);
    if (kit == kites_.end()) continue;
    names.push_back(kit->second.name);
    Detach(kit->second, s);
  }
  if (dp_->Connected()) DpError(dp_->DeleteSessions({&id, 1}));
  StoreError(store_->DeleteSession(id));
  slot_used_[id & KP_SESSION_INDEX_MASK] = false;
  sessions_.erase(it);
  counters_.sessions_ended++;
  policy_->OnSessionDown(id, reason, names);
}

void Registry::Attach(Kite& k, Session& s, uint64_t now_s) {
  bool fresh = k.sessions.empty();
  k.sessions.insert(s.session_id);
  s.kites.insert(k.kite_id);
  PushKite(k);
  if (fresh) GrantInitial(k, now_s);
  StoreError(store_->PutKite(k));
  StoreError(store_->PutSession(s));
}

void Registry::Detach(Kite& k, Session& s) {
  k.sessions.erase(s.session_id);
  s.kites.erase(k.kite_id);
  PushKite(k);
  StoreError(store_->PutKite(k));
  StoreError(store_->PutSession(s));
}

proto::KiteResult Registry::Result(uint8_t code, const std::string& name, std::string text) {
  proto::KiteResult r;
  r.code = code;
  r.name = name;
  if (text.size() > KP_MAX_TEXT) text.resize(KP_MAX_TEXT);
  r.text = std::move(text);
  if (code < KP_RESULT_MAX) counters_.results[code]++;
  return r;
}

// Finds or creates the kite record for an admitted name.
absl::StatusOr<Kite*> Registry::KiteFor(const std::string& name, const Admission& a, uint64_t now_s,
                                        uint8_t* fail_code, std::string* fail_text) {
  auto it = kite_by_name_.find(name);
  Kite* k = nullptr;
  if (it != kite_by_name_.end()) {
    k = &kites_[it->second];
  } else {
    if (kites_.size() >= policy_->config().limits.max_kites || next_kite_id_ >= KP_MAX_KITES) {
      *fail_code = KP_RESULT_TABLE_FULL;
      *fail_text = "kite table full";
      return absl::ResourceExhaustedError(*fail_text);
    }
    auto acc = policy_->config().accounts.find(a.account);
    if (acc != policy_->config().accounts.end() && acc->second.max_kites > 0) {
      uint32_t n = 0;
      for (const auto& [id, other] : kites_) n += other.account == a.account;
      if (n >= acc->second.max_kites) {
        *fail_code = KP_RESULT_REFUSED_BY_POLICY;
        *fail_text = absl::StrCat("account ", a.account, " has its ", n, " kites");
        return absl::ResourceExhaustedError(*fail_text);
      }
    }
    auto ep = ports_->Allocate(a.port);
    if (!ep.ok() && a.port != 0 && !absl::IsResourceExhausted(ep.status())) ep = ports_->Allocate(0);
    if (!ep.ok()) {
      *fail_code = KP_RESULT_NO_PORT;
      *fail_text = std::string(ep.status().message());
      return ep.status();
    }
    Kite nk;
    nk.kite_id = next_kite_id_++;
    nk.name = name;
    nk.pub = *ep;
    nk.period_start = now_s;
    kite_by_name_[name] = nk.kite_id;
    k = &(kites_[nk.kite_id] = std::move(nk));
    StoreError(store_->PutMeta("next_kite_id", {reinterpret_cast<uint8_t*>(&next_kite_id_),
                                                reinterpret_cast<uint8_t*>(&next_kite_id_) + 4}));
  }
  k->account = a.account;
  k->rate_pps = a.rate_pps;
  k->rate_kbps = a.rate_kbps;
  k->burst_ms = a.burst_ms;
  k->max_sessions = std::clamp<uint32_t>(a.max_sessions, 1, KP_MAX_KITE_SESSIONS);
  if (k->quota_bytes != a.quota_bytes || k->quota_period_s != a.quota_period_s) {
    k->quota_bytes = a.quota_bytes;
    k->quota_period_s = a.quota_period_s;
  }
  return k;
}

proto::KiteResult Registry::Claim(Session& s, const proto::KiteClaim& claim, uint64_t now_s) {
  if (!proto::ValidateKiteName(claim.name).ok()) return Result(KP_RESULT_BAD_REQUEST, claim.name, "bad kite name");
  if (draining()) return Result(KP_RESULT_LAME_DUCK, claim.name, "front-end is draining");
  Admission a = policy_->OnRegister({claim.name, proto::EndpointToString(s.connector), s.session_id});
  if (!a.known) return Result(KP_RESULT_UNKNOWN_KITE, claim.name);
  if (!proto::VerifyClientProof(a.secret, s.token, s.client_pubkey, claim)) {
    return Result(KP_RESULT_BAD_SECRET, claim.name);
  }
  if (!a.accept) return Result(KP_RESULT_REFUSED_BY_POLICY, claim.name, a.reason);
  auto existing = kite_by_name_.find(claim.name);
  if (existing != kite_by_name_.end()) {
    Kite& k = kites_[existing->second];
    if (!k.sessions.count(s.session_id) && k.sessions.size() >= std::max<uint32_t>(a.max_sessions, 1)) {
      const Session& holder = sessions_.at(*k.sessions.begin());
      proto::KiteResult r = Result(KP_RESULT_NAME_TAKEN, claim.name,
                                   absl::StrCat("held by session ", holder.session_id, " from ",
                                                proto::EndpointToString(holder.connector)));
      r.holder_session = holder.session_id;
      r.endpoint = holder.connector;
      return r;
    }
  }
  if (!s.kites.count(existing == kite_by_name_.end() ? 0 : existing->second) &&
      s.kites.size() >= policy_->config().limits.max_kites_per_session) {
    return Result(KP_RESULT_TABLE_FULL, claim.name, "too many kites in this session");
  }
  uint8_t code = 0;
  std::string text;
  auto kp = KiteFor(claim.name, a, now_s, &code, &text);
  if (!kp.ok()) return Result(code, claim.name, text);
  Kite& k = **kp;
  Attach(k, s, now_s);
  if (!k.enabled && k.disabled_code == KP_RESULT_OUT_OF_QUOTA) {
    proto::KiteResult r = Result(KP_RESULT_OUT_OF_QUOTA, claim.name, "quota spent for this period");
    r.kite_id = k.kite_id;
    return r;
  }
  proto::KiteResult r = Result(KP_RESULT_ACCEPTED, claim.name);
  r.kite_id = k.kite_id;
  r.endpoint = k.pub;
  r.server_proof = proto::ServerProof(a.secret, s.token, s.client_pubkey, s.server_pubkey, s.session_id, r);
  return r;
}

proto::KiteResult Registry::Remove(Session& s, const std::string& name) {
  auto it = kite_by_name_.find(name);
  if (it == kite_by_name_.end() || !s.kites.count(it->second)) return Result(KP_RESULT_UNKNOWN_KITE, name);
  Kite& k = kites_[it->second];
  Detach(k, s);
  proto::KiteResult r = Result(KP_RESULT_REMOVED, name);
  r.kite_id = k.kite_id;
  return r;
}

absl::Status Registry::Kick(const std::string& name) {
  auto it = kite_by_name_.find(name);
  if (it == kite_by_name_.end()) return absl::NotFoundError(absl::StrCat("no kite named ", name));
  Kite& k = kites_[it->second];
  for (uint32_t sid : std::set<uint32_t>(k.sessions)) {
    Session* s = FindSession(sid);
    if (s == nullptr) continue;
    Detach(k, *s);
    PendingNotice n;
    n.session_id = sid;
    n.notice.kind = KP_NOTICE_KITE_KICKED;
    n.notice.kite_id = k.kite_id;
    n.notice.text = "removed by the operator";
    notices_.push_back(n);
  }
  counters_.kicks++;
  return absl::OkStatus();
}

std::vector<uint32_t> Registry::ExpireDeadSessions(uint64_t now_s) {
  std::vector<uint32_t> dead;
  uint64_t limit = policy_->config().timers.dead_after_s;
  for (const auto& [id, s] : sessions_) {
    if (s.last_rx + limit < now_s) dead.push_back(id);
  }
  for (uint32_t id : dead) EndSession(id, "dead peer: no valid message for " + std::to_string(limit) + " s");
  return dead;
}

void Registry::SetEnabled(Kite& k, bool enabled, uint8_t code, const std::string& reason) {
  if (k.enabled == enabled && k.disabled_code == code) return;
  k.enabled = enabled;
  k.disabled_code = enabled ? 0 : code;
  k.disabled_reason = enabled ? "" : reason;
  PushKite(k);
  StoreError(store_->PutKite(k));
  for (uint32_t sid : k.sessions) {
    PendingNotice n;
    n.session_id = sid;
    n.notice.kind = enabled ? KP_NOTICE_KITE_ENABLED : KP_NOTICE_KITE_DISABLED;
    n.notice.kite_id = k.kite_id;
    n.notice.arg = enabled ? 0 : code;
    n.notice.text = reason;
    notices_.push_back(n);
  }
}

}  // namespace kp::cp
