// counters.h - counter and drop-reason names, and per-core counter blocks.
//
// API: `kGlobalCounterInfo`, `kDropReasonInfo` and `kKiteCounterInfo` are
// constexpr tables {id, name, help} expanded from the X-macro lists of
// dataplane/abi/kp_counters.h, so names can never drift from ids.
// `CoreCounters` is one core's global counters and per-reason drops; it is
// written only by its own core and read by the control thread, so both sides
// go through `Bump`/`ReadCounter` (relaxed atomic accesses: plain moves on
// x86, but no data race for the compiler or TSan).  `KiteDropCounter` maps a
// drop reason to the kite counter it moves (forwarding.md section 7).
// Cost: not benchmarked alone; counter bumps are inside the ProcessBurst
// figures of pipeline.h.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

extern "C" {
#include "kp_counters.h"
#include "kp_tables.h"
}

namespace kp::fp {

struct CounterInfo {
  uint32_t id;
  std::string_view name;
  std::string_view help;
};

#define KP_FP_X_CTR(name, metric, help) CounterInfo{KP_CTR_##name, metric, help},
#define KP_FP_X_DROP(name, metric, help) CounterInfo{KP_DROP_##name, metric, help},
#define KP_FP_X_KCTR(name, metric, help) CounterInfo{KP_KCTR_##name, metric, help},
inline constexpr std::array<CounterInfo, KP_CTR_MAX> kGlobalCounterInfo{{KP_GLOBAL_COUNTERS(KP_FP_X_CTR)}};
inline constexpr std::array<CounterInfo, KP_DROP_MAX> kDropReasonInfo{{KP_DROP_REASONS(KP_FP_X_DROP)}};
inline constexpr std::array<CounterInfo, KP_KCTR_MAX> kKiteCounterInfo{{KP_KITE_COUNTERS(KP_FP_X_KCTR)}};
#undef KP_FP_X_CTR
#undef KP_FP_X_DROP
#undef KP_FP_X_KCTR

// The ids of each table are dense and in order (checked at compile time).
constexpr bool DenseIds(const auto& table) {
  for (uint32_t i = 0; i < table.size(); ++i)
    if (table[i].id != i) return false;
  return true;
}
static_assert(DenseIds(kGlobalCounterInfo));
static_assert(DenseIds(kDropReasonInfo));
static_assert(DenseIds(kKiteCounterInfo));

constexpr std::string_view DropReasonName(kp_drop_reason r) {
  return static_cast<uint32_t>(r) < kDropReasonInfo.size() ? kDropReasonInfo[r].name : std::string_view("?");
}

// Reverse lookup by metric name (tests, vectors); KP_DROP_MAX when unknown.
constexpr kp_drop_reason DropReasonFromName(std::string_view name) {
  for (const auto& info : kDropReasonInfo)
    if (info.name == name) return static_cast<kp_drop_reason>(info.id);
  return KP_DROP_MAX;
}

// One core's global counters, cache-aligned so cores never share a line.
struct alignas(64) CoreCounters {
  uint64_t ctr[KP_CTR_MAX];
  uint64_t drops[KP_DROP_MAX];
};

// Single-writer increment, readable concurrently by ReadCounter.  T is
// uint64_t or the ABI's __u64 (a different type with the same layout).
template <typename T>
inline void Bump(T& c, uint64_t v = 1) {
  static_assert(sizeof(T) == 8);
  std::atomic_ref<T> r(c);
  r.store(r.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}
template <typename T>
inline uint64_t ReadCounter(const T& c) {
  static_assert(sizeof(T) == 8);
  return std::atomic_ref<T>(const_cast<T&>(c)).load(std::memory_order_relaxed);
}

// The per-kite counter that a drop of reason `r` moves.
inline kp_kite_counter_id KiteDropCounter(kp_drop_reason r) { return kp_drop_kite_counter(r); }

}  // namespace kp::fp
