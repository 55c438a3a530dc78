// packet.h - the fast path's view of one frame and of what happened to it.
//
// API: `PacketBuf` names a frame inside a caller-owned buffer: the frame is
// buf[off, off + len), and `off` bytes of headroom sit in front of it so the
// fast path can grow the frame at its head (encapsulation) without copying the
// payload.  After ProcessBurst, a TX frame may have a new `off` and `len`; a
// DROP or EXCEPTION frame is unchanged.  `Outcome` says which verdict the
// frame got, the drop reason (KP_DROP_NONE unless dropped) and the kite whose
// counters moved (0 when none).  Plain data, no ownership: the DPDK glue maps
// an rte_mbuf onto it, the tests and fuzzers map a byte vector.
#pragma once

#include <cstdint>

extern "C" {
#include "kp_counters.h"
}

namespace kp::fp {

struct PacketBuf {
  uint8_t* buf;      // start of the buffer (headroom begins here)
  uint32_t buf_len;  // bytes available from buf
  uint32_t off;      // frame start; also the headroom
  uint32_t len;      // frame length

  uint8_t* data() const { return buf + off; }
};

enum class Verdict : uint8_t {
  kDrop = 0,
  kTx = 1,
  kException = 2,
};

struct Outcome {
  Verdict verdict;
  kp_drop_reason reason;  // KP_DROP_NONE unless verdict == kDrop
  uint32_t kite_id;       // kite whose counters moved, 0 = none
};

}  // namespace kp::fp
