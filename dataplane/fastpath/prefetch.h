// prefetch.h - cache prefetches that the compiler cannot drop.
//
// API: `Prefetch(p)` asks for the line of `p` for reading, `PrefetchW(p)`
// for writing.  A bare __builtin_prefetch is not enough: GCC 12's
// interprocedural pure/const analysis sees no side effect in it, marks a
// small function made only of prefetches "const" or "pure", and then deletes
// every call to it (its result is void, so the call looks dead).  That is
// how the kite-line and session prefetches were missing from every build
// until 2026-11-22 (found by counting prefetch instructions in the binary).
// The empty volatile asm that takes the address is a side effect the
// optimiser must keep, and costs no instruction.
#pragma once

namespace kp::fp {

inline void Prefetch(const void* p) {
  __builtin_prefetch(p, 0, 3);
  asm volatile("" : : "r"(p));
}

inline void PrefetchW(const void* p) {
  __builtin_prefetch(p, 1, 3);
  asm volatile("" : : "r"(p));
}

}  // namespace kp::fp
