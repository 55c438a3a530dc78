// rate_limit.h - SourceLimiter: per-source-address token buckets for
// registration attempts (HELLO and REGISTER), in bounded memory.
//
// At most `max_sources` addresses are tracked.  When the table is full,
// buckets that have refilled completely (idle sources) are dropped; if it is
// still full, untracked sources share one overflow bucket, so a flood from
// many spoofed addresses costs a fixed amount of memory and cannot starve
// the sources already tracked.
#pragma once

#include <array>
#include <cstdint>

#include "absl/container/flat_hash_map.h"

namespace kp::cp {

class SourceLimiter {
 public:
  SourceLimiter(uint32_t rate_per_s, uint32_t burst, uint32_t max_sources)
      : rate_(rate_per_s), burst_(burst), max_(max_sources) {}
  // True if an attempt from `addr` at `now_ms` is allowed (and counts it).
  bool Allow(const std::array<uint8_t, 16>& addr, uint64_t now_ms);
  size_t tracked() const { return buckets_.size(); }
  uint64_t overflow_uses() const { return overflow_uses_; }

 private:
  struct Bucket {
    double tokens = 0;
    uint64_t last_ms = 0;
  };
  bool Take(Bucket& b, uint64_t now_ms, double scale);
  void Purge(uint64_t now_ms);

  uint32_t rate_, burst_, max_;
  absl::flat_hash_map<std::array<uint8_t, 16>, Bucket> buckets_;
  Bucket overflow_{};
  bool overflow_init_ = false;
  uint64_t overflow_uses_ = 0;
};

}  // namespace kp::cp
