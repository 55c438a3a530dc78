// rate_limit.cc - bounded per-source token buckets (see rate_limit.h).
#include "controlplane/rate_limit.h"

#include <algorithm>

namespace kp::cp {

bool SourceLimiter::Take(Bucket& b, uint64_t now_ms, double scale) {
  double elapsed = now_ms > b.last_ms ? static_cast<double>(now_ms - b.last_ms) / 1000.0 : 0.0;
  b.tokens = std::min<double>(burst_ * scale, b.tokens + elapsed * rate_ * scale);
  b.last_ms = now_ms;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

void SourceLimiter::Purge(uint64_t now_ms) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const Bucket& b = it->second;
    double elapsed = now_ms > b.last_ms ? static_cast<double>(now_ms - b.last_ms) / 1000.0 : 0.0;
    if (b.tokens + elapsed * rate_ >= burst_) {
      buckets_.erase(it++);
    } else {
      ++it;
    }
  }
}

bool SourceLimiter::Allow(const std::array<uint8_t, 16>& addr, uint64_t now_ms) {
  auto it = buckets_.find(addr);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_) Purge(now_ms);
    if (buckets_.size() >= max_) {
      overflow_uses_++;
      if (!overflow_init_) {
        overflow_ = Bucket{static_cast<double>(burst_), now_ms};
        overflow_init_ = true;
      }
      return Take(overflow_, now_ms, 1.0);
    }
    it = buckets_.emplace(addr, Bucket{static_cast<double>(burst_), now_ms}).first;
  }
  return Take(it->second, now_ms, 1.0);
}

}  // namespace kp::cp
