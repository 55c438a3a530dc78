// police.h - stage 3: quota credit and per-core token buckets.
//
// API: `QuotaAllows` is forwarding.md section 3 step 5 (a kite flagged
// KP_KITE_F_QUOTA may spend while this core's used_bytes < granted_bytes).
// `PoliceRate` is section 5 exactly: refill both buckets from `now_ns`,
// check packets then bits, consume both only when both pass; a rate of 0 is
// unlimited and its bucket is untouched.  Refill arithmetic is exact (no
// overflow after long idle: a 64-bit fast path, 128-bit when the product
// would overflow).  `AccountBytes` adds quota usage.  Police state is written
// only by its own core; used_bytes is also read by the control thread, so it
// moves through Bump().  Header-only.
// Measured (fastpath_bench, 2026-11-22, 2-core VM loaded by a parallel build, min / median CPU time of 10 runs):
// quota + rate 8.5 / 9.5 ns for a rated kite, 0.7 / 1.1 ns unrated.
#pragma once

#include <atomic>
#include <cstdint>

#include "counters.h"

extern "C" {
#include "kp_tables.h"
}

namespace kp::fp {

inline bool QuotaAllows(const kp_kite& kite, const kp_kite_police& police, const kp_kite_credit& credit) {
  if ((kite.flags & KP_KITE_F_QUOTA) == 0) return true;
  return ReadCounter(police.used_bytes) < ReadCounter(credit.granted_bytes);
}

inline void AccountBytes(kp_kite_police& police, uint32_t payload) { Bump(police.used_bytes, payload); }

namespace police_detail {

// floor(elapsed * rate * scale / div), saturating at 2^64-1.
inline uint64_t Refill(uint64_t elapsed, uint64_t rate_scaled, uint64_t div) {
  uint64_t prod;
  if (!__builtin_mul_overflow(elapsed, rate_scaled, &prod)) return prod / div;
  unsigned __int128 wide = static_cast<unsigned __int128>(elapsed) * rate_scaled / div;
  return wide > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(wide);
}

inline uint64_t AddCapped(uint64_t tokens, uint64_t add, uint64_t cap) {
  uint64_t sum = tokens + add;
  if (sum < tokens || sum > cap) return cap;
  return sum;
}

}  // namespace police_detail

inline constexpr uint64_t kPacketToken = 65536;  // one packet in bucket units

// Section 5.  Returns KP_DROP_NONE, KP_DROP_RATE_PACKETS or KP_DROP_RATE_BITS.
namespace police_detail {

// The rated case, out of line: most kites carry no rate, and the inlined
// test in PoliceRate keeps their packets from paying for a call.
[[gnu::noinline]] inline kp_drop_reason PoliceRated(const kp_kite& kite, uint32_t n_workers, kp_kite_police& p,
                                                    uint32_t payload, uint64_t now_ns) {
  uint64_t workers = n_workers ? n_workers : 1;
  uint64_t burst_ms = kite.burst_ms ? kite.burst_ms : 100;
  uint64_t elapsed = now_ns > p.last_ns ? now_ns - p.last_ns : 0;
  uint64_t bits_needed = uint64_t{8} * payload;
  if (kite.rate_pps) {
    uint64_t r = kite.rate_pps / workers;
    if (r == 0) r = 1;
    uint64_t cap = r * kPacketToken * burst_ms / 1000;
    if (cap < kPacketToken) cap = kPacketToken;
    p.pkt_tokens = AddCapped(p.pkt_tokens, Refill(elapsed, r * kPacketToken, 1000000000ull), cap);
  }
  if (kite.rate_kbps) {
    uint64_t r = kite.rate_kbps / workers;
    if (r == 0) r = 1;
    uint64_t cap = r * burst_ms;
    if (cap < 8 * 65535) cap = 8 * 65535;
    p.bit_tokens = AddCapped(p.bit_tokens, Refill(elapsed, r, 1000000ull), cap);
  }
  p.last_ns = now_ns;
  if (kite.rate_pps && p.pkt_tokens < kPacketToken) return KP_DROP_RATE_PACKETS;
  if (kite.rate_kbps && p.bit_tokens < bits_needed) return KP_DROP_RATE_BITS;
  if (kite.rate_pps) p.pkt_tokens -= kPacketToken;
  if (kite.rate_kbps) p.bit_tokens -= bits_needed;
  return KP_DROP_NONE;
}

}  // namespace police_detail

inline kp_drop_reason PoliceRate(const kp_kite& kite, uint32_t n_workers, kp_kite_police& p, uint32_t payload,
                                 uint64_t now_ns) {
  if (kite.rate_pps == 0 && kite.rate_kbps == 0) return KP_DROP_NONE;
  return police_detail::PoliceRated(kite, n_workers, p, payload, now_ns);
}

}  // namespace kp::fp
