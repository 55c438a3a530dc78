// pipeline.h - the per-packet chain of stages over a burst of frames.
//
// API: one `WorkerContext` per worker core (cache-aligned, owned by the
// runtime, passed explicitly), bound to the shared `Tables` and to its own
// core's police state, counters and credit by `InitWorkerContext`.
// `ProcessBurst(ctx, pkts, outcomes, now_ns)` runs every frame through
// parse -> classify -> (kite: bogon, state, backend pick, quota, rate, size,
// next hop, encap) or (tunnel: session, source, family, cookie, kite, client
// bogon, state, quota, rate, next hop, decap) exactly as docs/forwarding.md
// says, rewrites TX frames in place, fills outcomes[i] for pkts[i] and moves
// the core's counters; it returns how many frames got Verdict::kTx.
// outcomes.size() must be >= pkts.size().  It takes `now_ns` from the caller
// (a monotonic clock read at the start of the burst), refreshes its private
// copy of the config when the config sequence changed, and works in
// sub-bursts of kSubBurst frames with prefetches of the hash slots, kite
// entries and per-core state between passes.  No allocation, locks,
// syscalls, exceptions or logging.  The caller must report quiescence (RCU)
// between bursts, never inside one.
// Measured (fastpath_bench, 2026-11-22 02:58 UTC, load 0.7, CPU time per
// packet, bursts of 32, min / median of 8 runs): 18-byte payloads with 1
// kite, encap 119 / 131 ns and decap 130 / 135 ns (about 1,040 instructions
// per encapsulated packet under callgrind); 1380-byte payloads, encap 198 /
// 203 ns and decap 191 / 200 ns; with 1,000,000 kites (8,192 distinct ones,
// a random kite per packet) encap 166-208 ns and decap 125-136 ns (3 runs).
// Re-measured 2026-11-22 07:26 UTC (load 1.1-1.5, medians of 5 runs) after
// the per-burst counter tally, prepared cookie keys, word-built L2 header,
// straight-line IPv4 parse and inlined frame writers: encap 107 ns, decap
// 115 ns (18-byte payloads, 1 kite), 171 / 186 ns (1380 bytes); about 900
// instructions per encapsulated packet under callgrind (was 1,020); the same
// hour, the build before them gave 110-132 / 126-136 ns beside it.
// Absolute figures move with the machine's load from hour to hour; the
// before/after comparisons in docs/performance.md alternate two builds.
#pragma once

#include <cstdint>
#include <span>

#include "classify.h"
#include "counters.h"
#include "encap.h"
#include "packet.h"
#include "tables.h"

extern "C" {
#include "kp_tables.h"
}

namespace kp::fp {

inline constexpr uint32_t kSubBurst = 32;

struct alignas(64) WorkerContext {
  uint32_t core = 0;
  uint32_t config_seq = 0;  // sequence of `config`; refreshed per burst
  bool config_valid = false;
  Tables* tables = nullptr;
  kp_kite_police* police = nullptr;        // indexed by kite id
  const kp_kite_credit* credit = nullptr;  // indexed by kite id
  kp_kite_counters* kite_ctrs = nullptr;   // indexed by kite id
  CoreCounters* ctrs = nullptr;
  kp_config config = {};  // private copy, read without synchronisation
  AddrMatcher addrs;      // `config`'s own addresses and bogons, compiled
  // Per-packet forms of `config`, rebuilt with it: the prepared cookie keys
  // and the gateway and own MACs as the low 48 bits of a word (own MAC 0:
  // unset, reply from the frame's destination MAC).
  CookieKeys cookie_keys = {};
  uint64_t gateway_mac = 0;
  uint64_t own_mac = 0;
  // This burst's additions to the busiest global counters, kept in plain
  // fields and added to `ctrs` once at the end of ProcessBurst (so the
  // control thread sees whole bursts, as it did when each frame moved them).
  struct Tally {
    uint64_t rx_bytes, tx_pkts, tx_bytes, encap_pkts, decap_pkts;
  } tally = {};
};

// Binds `ctx` to core `core` (< tables.sizes().n_workers).
void InitWorkerContext(WorkerContext& ctx, Tables& tables, uint32_t core);

uint32_t ProcessBurst(WorkerContext& ctx, std::span<PacketBuf> pkts, std::span<Outcome> outcomes,
                      uint64_t now_ns);

}  // namespace kp::fp
