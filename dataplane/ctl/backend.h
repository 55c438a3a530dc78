// backend.h - the seam between the control-socket server and a fast path.
//
// The control socket protocol (dataplane/abi/kp_ctl.h) is served by one
// server, `kp::ctl::Server`, for both data-plane modes.  Each mode implements
// this interface over its own tables: the DPDK mode over the C++ fast-path
// tables (publishing with rte_rcu_qsbr), the XDP mode over pinned BPF maps.
// Every method is called from the control thread only; implementations must
// make each change atomic for fast-path readers.
#pragma once

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

extern "C" {
#include "kp_ctl.h"
}

namespace kp::ctl {

class TableBackend {
 public:
  virtual ~TableBackend() = default;

  virtual kp_dp_mode Mode() const = 0;
  virtual uint32_t NumWorkers() const = 0;
  virtual uint32_t MaxKites() const = 0;
  virtual uint32_t MaxSessions() const = 0;

  // Replaces the whole configuration atomically.
  // Errors: InvalidArgument for out-of-range fields.
  virtual absl::Status SetConfig(const kp_config& config) = 0;
  virtual absl::StatusOr<kp_config> GetConfig() const = 0;

  // Inserts or replaces kites (keyed by kite_id; the public key may change).
  // Errors: InvalidArgument (bad id, bad state, duplicate public key owned by
  // another kite id), ResourceExhausted (hash full).  All-or-nothing.
  virtual absl::Status UpsertKites(std::span<const kp_kite> kites) = 0;
  // Errors: NotFound for an id that is not present (nothing is changed).
  virtual absl::Status DeleteKites(std::span<const uint32_t> kite_ids) = 0;

  virtual absl::Status UpsertSessions(std::span<const kp_session> sessions) = 0;
  virtual absl::Status DeleteSessions(std::span<const uint32_t> session_ids) = 0;

  // Adds credit to every core's granted bytes for each kite.
  virtual absl::Status GrantCredit(std::span<const kp_ctl_credit> grants) = 0;

  virtual absl::Status SetState(kp_frontend_state state) = 0;

  // Sums of every core.
  virtual absl::StatusOr<kp_ctl_global_counters> GlobalCounters() const = 0;

  // Fills `out` with the stats of present kites with ids in [first, first +
  // out.size()) scanning forward; returns how many were written and sets
  // `*next` to the first id not yet scanned (0 when the table end was reached).
  virtual absl::StatusOr<uint32_t> KiteStats(uint32_t first, std::span<kp_ctl_kite_stats> out,
                                             uint32_t* next) const = 0;
  virtual absl::StatusOr<uint32_t> DumpKites(uint32_t first, std::span<kp_kite> out,
                                             uint32_t* next) const = 0;
  virtual absl::StatusOr<uint32_t> DumpSessions(uint32_t first, std::span<kp_session> out,
                                                uint32_t* next) const = 0;
};

}  // namespace kp::ctl
