// quota.cc - quota periods and credit leases (see quota.h for the bound).
#include "controlplane/quota.h"

#include <algorithm>

namespace kp::cp {

uint64_t QuotaLedger::Cap(const Kite& k) const {
  int64_t total = k.used_base + static_cast<int64_t>(k.quota_bytes + k.extra_bytes);
  if (total < 0) total = 0;
  return static_cast<uint64_t>(total) / n_ + lease_;
}

uint64_t QuotaLedger::Install(Kite& k, uint64_t now_s) const {
  if (k.period_start == 0) k.period_start = now_s;
  // Fresh data-plane counters start at 0: keep the period's spend.
  k.used_base = -static_cast<int64_t>(k.used_period);
  k.last_used_total = 0;
  k.granted_per_core = 0;
  if (k.quota_bytes == 0 || k.used_period >= k.quota_bytes + k.extra_bytes) return 0;
  uint64_t cap = Cap(k);
  uint64_t g = std::min(cap, lease_);
  k.granted_per_core = g;
  return g;
}

QuotaStep QuotaLedger::Tick(Kite& k, uint64_t used_total, uint64_t now_s) const {
  QuotaStep t;
  if (k.period_start == 0) k.period_start = now_s;
  if (used_total < k.last_used_total) {
    // Data plane restarted or re-created the kite: counters and credit are gone.
    k.used_base = -static_cast<int64_t>(k.used_period);
    k.granted_per_core = 0;
    k.last_used_total = 0;
  }
  uint64_t spent_since = used_total - k.last_used_total;
  k.last_used_total = used_total;
  if (k.quota_period_s > 0 && now_s >= k.period_start + k.quota_period_s) {
    uint64_t periods = (now_s - k.period_start) / k.quota_period_s;
    k.period_start += periods * k.quota_period_s;
    // Credit already granted to cores carries over; count it as spent
    // toward the new period so the bound holds across the boundary.
    k.used_base = static_cast<int64_t>(used_total);
    k.extra_bytes = 0;
    t.period_rolled = true;
  }
  int64_t period_spend = static_cast<int64_t>(used_total) - k.used_base;
  k.used_period = period_spend > 0 ? static_cast<uint64_t>(period_spend) : 0;
  if (k.quota_bytes == 0) return t;
  uint64_t limit = k.quota_bytes + k.extra_bytes;
  if (k.used_period >= limit) {
    t.exhausted_now = k.enabled || k.disabled_code != KP_RESULT_OUT_OF_QUOTA;
    return t;
  }
  uint64_t cap = Cap(k);
  // Credit outstanding from the last period may exceed the new cap: wait.
  if (k.granted_per_core >= cap) return t;
  uint64_t want = std::max(lease_, spent_since);
  t.grant_per_core = std::min(cap - k.granted_per_core, want);
  k.granted_per_core += t.grant_per_core;
  return t;
}

}  // namespace kp::cp
