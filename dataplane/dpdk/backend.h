// backend.h - DpdkBackend, the DPDK mode's TableBackend over the C++
// fast-path tables (dataplane/fastpath/tables.h).
//
// Writes go straight to the single-writer Tables API (seqlocked entries, so
// an upsert is visible atomically per entry); after a delete, the backend
// waits for an RCU grace period (rte_rcu_qsbr_synchronize over every worker)
// and then calls Tables::Reclaim(), so a freed slot is never reused under a
// reader, before the control server replies.
//
// Local overrides (docs/operations.md): the data plane knows things the
// control plane does not, and fills them into what it is given:
//   - config.n_workers is the real number of workers;
//   - own addresses and tunnel ports come from --addr4/--addr6/--tunnel-ports
//     when the control plane leaves them empty;
//   - the gateway next hop follows --gateway-mac (a fixed MAC, mirror, or the
//     kernel's neighbour entry for --gateway4/--gateway6); "none" keeps the
//     control plane's gateway fields;
//   - in neigh mode a session without its own next hop whose connector is a
//     kernel neighbour on the exception interface (on-link) gets that MAC.
// Neighbour changes are applied by RefreshNeighbours(), which the owner
// calls periodically.  Everything runs on the control thread.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "dataplane/ctl/backend.h"
#include "dataplane/dpdk/netlink.h"
#include "dataplane/dpdk/options.h"
#include "tables.h"

struct rte_rcu_qsbr;

namespace kp::dpdk {

class DpdkBackend : public ctl::TableBackend {
 public:
  // `qsbr` may be null (no workers: no grace period needed).  `n_workers`
  // is the number of forwarding cores (the tables may have more per-core
  // slots, e.g. one for the control thread's counters).
  DpdkBackend(fp::Tables* tables, rte_rcu_qsbr* qsbr, uint32_t n_workers, const AppOptions& opts);

  // Installs the start-up config built from the options.
  absl::Status InstallInitialConfig();
  // Re-applies next hops from a fresh neighbour dump.  Returns how many
  // entries changed.
  uint32_t RefreshNeighbours(const std::vector<Neighbour>& neighbours);
  // Unresolved gateway in neigh mode (for logs and tests).
  bool gateway_resolved() const { return gateway_resolved_; }

  kp_dp_mode Mode() const override { return KP_DP_DPDK; }
  uint32_t NumWorkers() const override { return n_workers_; }
  uint32_t MaxKites() const override { return tables_->sizes().max_kites; }
  uint32_t MaxSessions() const override { return tables_->sizes().max_sessions; }
  absl::Status SetConfig(const kp_config& config) override;
  absl::StatusOr<kp_config> GetConfig() const override;
  absl::Status UpsertKites(std::span<const kp_kite> kites) override;
  absl::Status DeleteKites(std::span<const uint32_t> kite_ids) override;
  absl::Status UpsertSessions(std::span<const kp_session> sessions) override;
  absl::Status DeleteSessions(std::span<const uint32_t> session_ids) override;
  absl::Status GrantCredit(std::span<const kp_ctl_credit> grants) override;
  absl::Status SetState(kp_frontend_state state) override;
  absl::StatusOr<kp_ctl_global_counters> GlobalCounters() const override;
  absl::StatusOr<uint32_t> KiteStats(uint32_t first, std::span<kp_ctl_kite_stats> out,
                                     uint32_t* next) const override;
  absl::StatusOr<uint32_t> DumpKites(uint32_t first, std::span<kp_kite> out,
                                     uint32_t* next) const override;
  // Sessions are listed by slot index: `first` and `*next` are slot indexes.
  absl::StatusOr<uint32_t> DumpSessions(uint32_t first, std::span<kp_session> out,
                                        uint32_t* next) const override;

 private:
  kp_config Localise(const kp_config& in) const;
  kp_session LocaliseSession(const kp_session& in) const;
  void GracePeriod();
  const Neighbour* FindNeighbour(const uint8_t addr[16]) const;

  fp::Tables* tables_;
  rte_rcu_qsbr* qsbr_;
  uint32_t n_workers_;
  AppOptions opts_;
  kp_config requested_{};  // as the control plane (or the options) asked
  std::vector<Neighbour> neighbours_;
  bool gateway_resolved_ = false;
  uint8_t gateway_mac_[6] = {};
  // Writer-side shadows: sessions as requested, by slot index.
  std::vector<uint32_t> slot_ids_;
  absl::flat_hash_map<uint32_t, kp_session> requested_sessions_;
};

}  // namespace kp::dpdk
