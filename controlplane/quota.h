// quota.h - QuotaLedger: per-kite quota periods and per-core credit leases.
//
// The data plane lets core c spend bytes for a kite while its used_c is
// below granted_c, and the control plane can only add the same amount to
// every core (kp_ctl_credit.bytes_per_core) and read the sum of used bytes.
// Each tick the ledger turns the data plane's cumulative used_bytes into the
// period's spend and decides the next per-core grant:
//
//   cap  = floor((used_base + quota) / n_cores) + lease      (per core, cumulative)
//   next = min(cap - granted, max(lease, bytes spent since the last tick))
//
// Since no core ever holds more than `cap`, the whole front-end spends at
// most n_cores * cap - used_base <= quota + n_cores * lease in a period (plus
// at most one datagram per core, which a core admits while used < granted).
// That is the documented overshoot bound (docs/operator.md), checked by
// quota_test.  The price is that a kite whose traffic sits on one core is
// cut at quota/n_cores + lease; RSS spreads flows of many clients.
#pragma once

#include <cstdint>

#include "controlplane/model.h"

namespace kp::cp {

struct QuotaStep {
  uint64_t grant_per_core = 0;  // to send in KP_CTL_CREDIT_GRANT (0 = none)
  bool exhausted_now = false;   // crossed the quota in this tick
  bool period_rolled = false;   // a new period started in this tick
};

class QuotaLedger {
 public:
  QuotaLedger(uint32_t n_cores, uint64_t lease) : n_(n_cores ? n_cores : 1), lease_(lease) {}

  // Per-core cap on cumulative granted credit for this kite's current period.
  uint64_t Cap(const Kite& k) const;
  // Advances `k` by one tick given the data plane's cumulative used bytes
  // (all cores) and the time.  Updates used_period, last_used_total,
  // granted_per_core, period_start and used_base.  A decrease of used_total
  // means the data plane lost the kite's counters: accounting continues from
  // the spend already recorded and credit restarts from zero.
  QuotaStep Tick(Kite& k, uint64_t used_total, uint64_t now_s) const;
  // The initial grant for a kite just (re)installed in the data plane with
  // fresh counters: resets granted and used_total and returns the grant.
  uint64_t Install(Kite& k, uint64_t now_s) const;
  // Worst-case bytes a kite can spend in a period beyond its quota.
  uint64_t OvershootBound() const { return n_ * lease_; }

  uint32_t n_cores() const { return n_; }
  uint64_t lease() const { return lease_; }

 private:
  uint32_t n_;
  uint64_t lease_;
};

}  // namespace kp::cp
