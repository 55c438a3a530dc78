// backend.cc - DpdkBackend: control-socket requests applied to the fast-path
// tables, with local next-hop/address overrides and RCU grace periods.
#include "dataplane/dpdk/backend.h"

#include <arpa/inet.h>
#include <rte_rcu_qsbr.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dataplane/ctl/protocol.h"

namespace kp::dpdk {
namespace {

absl::Status FromErrno(int rc, const char* what) {
  return rc == 0 ? absl::OkStatus() : ctl::ErrnoToStatus(rc, what);
}

}  // namespace

DpdkBackend::DpdkBackend(fp::Tables* tables, rte_rcu_qsbr* qsbr, uint32_t n_workers,
                         const AppOptions& opts)
    : tables_(tables),
      qsbr_(qsbr),
      n_workers_(n_workers),
      opts_(opts),
      slot_ids_(tables->sizes().max_sessions, 0) {}

absl::Status DpdkBackend::InstallInitialConfig() {
  kp_config c{};
  c.generation = 1;
  c.state = KP_FE_SERVING;
  return SetConfig(c);
}

kp_config DpdkBackend::Localise(const kp_config& in) const {
  kp_config c = in;
  c.n_workers = static_cast<uint8_t>(NumWorkers());
  if (c.n_own4 == 0 && c.n_own6 == 0) {
    for (const std::string& a : opts_.addr4) {
      if (c.n_own4 < KP_MAX_OWN_ADDRS) inet_pton(AF_INET, a.c_str(), c.own4[c.n_own4++]);
    }
    for (const std::string& a : opts_.addr6) {
      if (c.n_own6 < KP_MAX_OWN_ADDRS) inet_pton(AF_INET6, a.c_str(), c.own6[c.n_own6++]);
    }
  }
  if (c.n_tunnel_ports == 0) {
    for (uint16_t p : opts_.tunnel_ports) {
      if (c.n_tunnel_ports < KP_MAX_TUNNEL_PORTS) c.tunnel_ports[c.n_tunnel_ports++] = htons(p);
    }
  }
  switch (opts_.gateway_mode) {
    case GatewayMode::kStatic:
      c.gateway_mac_valid = 1;
      std::memcpy(c.gateway_mac, opts_.gateway_mac, 6);
      break;
    case GatewayMode::kMirror:
      c.gateway_mac_valid = 2;
      break;
    case GatewayMode::kNeigh:
      // Without a gateway address to look up, only sessions' on-link next
      // hops come from the kernel; the gateway stays the control plane's.
      if (opts_.gateway4.empty() && opts_.gateway6.empty()) break;
      c.gateway_mac_valid = gateway_resolved_ ? 1 : 0;
      std::memcpy(c.gateway_mac, gateway_mac_, 6);
      break;
    case GatewayMode::kNone:
      break;
  }
  return c;
}

const Neighbour* DpdkBackend::FindNeighbour(const uint8_t addr[16]) const {
  for (const Neighbour& n : neighbours_) {
    if (std::memcmp(n.addr, addr, 16) == 0) return &n;
  }
  return nullptr;
}

kp_session DpdkBackend::LocaliseSession(const kp_session& in) const {
  kp_session s = in;
  if (opts_.gateway_mode != GatewayMode::kNeigh || (s.flags & KP_SESSION_F_NEXTHOP)) return s;
  if (const Neighbour* n = FindNeighbour(s.connector_addr)) {
    std::memcpy(s.nexthop_mac, n->mac, 6);
    s.flags |= KP_SESSION_F_NEXTHOP;
  }
  return s;
}

uint32_t DpdkBackend::RefreshNeighbours(const std::vector<Neighbour>& neighbours) {
  neighbours_ = neighbours;
  uint32_t changed = 0;
  if (opts_.gateway_mode == GatewayMode::kNeigh) {
    const std::string& gw = !opts_.gateway4.empty() ? opts_.gateway4 : opts_.gateway6;
    uint8_t a[16];
    bool v4 = false;
    const Neighbour* n = gw.empty() || !ParseAddr16(gw, a, &v4) ? nullptr : FindNeighbour(a);
    const bool resolved = n != nullptr;
    if (resolved != gateway_resolved_ || (n && std::memcmp(n->mac, gateway_mac_, 6) != 0)) {
      gateway_resolved_ = resolved;
      if (n) std::memcpy(gateway_mac_, n->mac, 6);
      if (tables_->SetConfig(Localise(requested_)) == 0) changed++;
    }
    std::vector<kp_session> redo;
    for (const auto& [id, req] : requested_sessions_) {
      kp_session cur{};
      kp_session want = LocaliseSession(req);
      if (tables_->ReadSession(id, &cur) && std::memcmp(&cur, &want, sizeof(cur)) != 0) {
        redo.push_back(want);
      }
    }
    if (!redo.empty() && tables_->UpsertSessions(redo) == 0) changed += redo.size();
  }
  return changed;
}

absl::Status DpdkBackend::SetConfig(const kp_config& config) {
  absl::Status st = FromErrno(tables_->SetConfig(Localise(config)), "config");
  if (st.ok()) requested_ = config;
  return st;
}

absl::StatusOr<kp_config> DpdkBackend::GetConfig() const {
  kp_config c{};
  tables_->ReadConfig(&c);
  return c;
}

absl::Status DpdkBackend::UpsertKites(std::span<const kp_kite> kites) {
  absl::Status st = FromErrno(tables_->UpsertKites(kites), "kite upsert");
  // A changed public key leaves a hash tombstone behind: reclaim it.
  if (tables_->PendingReclaim() > 0) GracePeriod();
  return st;
}

absl::Status DpdkBackend::DeleteKites(std::span<const uint32_t> kite_ids) {
  absl::Status st = FromErrno(tables_->DeleteKites(kite_ids), "kite delete");
  if (st.ok()) GracePeriod();
  return st;
}

absl::Status DpdkBackend::UpsertSessions(std::span<const kp_session> sessions) {
  std::vector<kp_session> local;
  local.reserve(sessions.size());
  for (const kp_session& s : sessions) local.push_back(LocaliseSession(s));
  absl::Status st = FromErrno(tables_->UpsertSessions(local), "session upsert");
  if (!st.ok()) return st;
  for (const kp_session& s : sessions) {
    const uint32_t slot = s.session_id & KP_SESSION_INDEX_MASK;
    if (slot_ids_[slot] != 0 && slot_ids_[slot] != s.session_id) {
      requested_sessions_.erase(slot_ids_[slot]);
    }
    slot_ids_[slot] = s.session_id;
    requested_sessions_[s.session_id] = s;
  }
  return st;
}

absl::Status DpdkBackend::DeleteSessions(std::span<const uint32_t> session_ids) {
  absl::Status st = FromErrno(tables_->DeleteSessions(session_ids), "session delete");
  if (!st.ok()) return st;
  for (uint32_t id : session_ids) {
    const uint32_t slot = id & KP_SESSION_INDEX_MASK;
    if (slot_ids_[slot] == id) slot_ids_[slot] = 0;
    requested_sessions_.erase(id);
  }
  GracePeriod();
  return st;
}

absl::Status DpdkBackend::GrantCredit(std::span<const kp_ctl_credit> grants) {
  return FromErrno(tables_->GrantCredit(grants), "credit grant");
}

absl::Status DpdkBackend::SetState(kp_frontend_state state) {
  if (state > KP_FE_CLOSED) return absl::InvalidArgumentError("front-end state");
  requested_.state = static_cast<uint8_t>(state);
  requested_.generation++;
  return FromErrno(tables_->SetConfig(Localise(requested_)), "state");
}

absl::StatusOr<kp_ctl_global_counters> DpdkBackend::GlobalCounters() const {
  kp_ctl_global_counters c{};
  tables_->GlobalCounters(&c);
  return c;
}

absl::StatusOr<uint32_t> DpdkBackend::KiteStats(uint32_t first, std::span<kp_ctl_kite_stats> out,
                                                uint32_t* next) const {
  uint32_t id = std::max(first, 1u), n = 0;
  const uint32_t max = MaxKites();
  for (; id < max && n < out.size(); id++) {
    if (tables_->KiteStats(id, &out[n])) n++;
  }
  *next = id < max ? id : 0;
  return n;
}

absl::StatusOr<uint32_t> DpdkBackend::DumpKites(uint32_t first, std::span<kp_kite> out,
                                                uint32_t* next) const {
  uint32_t id = std::max(first, 1u), n = 0;
  const uint32_t max = MaxKites();
  for (; id < max && n < out.size(); id++) {
    if (tables_->ReadKite(id, &out[n])) n++;
  }
  *next = id < max ? id : 0;
  return n;
}

absl::StatusOr<uint32_t> DpdkBackend::DumpSessions(uint32_t first, std::span<kp_session> out,
                                                   uint32_t* next) const {
  uint32_t slot = first, n = 0;
  const uint32_t max = MaxSessions();
  for (; slot < max && n < out.size(); slot++) {
    if (slot_ids_[slot] != 0 && tables_->ReadSession(slot_ids_[slot], &out[n])) n++;
  }
  *next = slot < max ? slot : 0;
  return n;
}

void DpdkBackend::GracePeriod() {
  if (qsbr_ != nullptr) rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
  tables_->Reclaim();
}

}  // namespace kp::dpdk
