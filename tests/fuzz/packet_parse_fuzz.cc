// packet_parse_fuzz.cc - fuzz target: the parser and classifier on raw
// frames.  Checks the parser's own invariants (offsets and lengths inside the
// frame, addresses in 16-byte form, exceptions carry no reason, drops carry
// one) and runs classification and the bogon checks on what parses.
#include <cstdint>
#include <cstring>

#include "classify.h"
#include "fuzz_frames.h"
#include "parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kp::fp;
  using kp::fuzz::FuzzAssert;
  static const kp_config cfg = kp::fuzz::FuzzConfig();
  if (size > 65535) return 0;
  // A private copy: the parser must not read past `size`, and ASan sees that.
  uint8_t* frame = new uint8_t[size ? size : 1];
  if (size) std::memcpy(frame, data, size);
  Parsed p{};  // zeroed: GCC 12 cannot see that an accepted parse wrote every field
  ParseResult r = Parse(frame, static_cast<uint32_t>(size), &p);
  switch (r.status()) {
    case ParseStatus::kOk: {
      FuzzAssert(r.reason() == KP_DROP_NONE, "ok has no reason");
      FuzzAssert(p.l3_off < p.l4_off && p.l4_off + 8 == p.payload_off, "offsets ordered");
      FuzzAssert(p.payload_off + uint64_t{p.payload_len} <= size, "payload inside the frame");
      FuzzAssert(p.family == KP_AF_INET || p.family == KP_AF_INET6, "family");
      // IPv4 sources are always IPv4-mapped (an IPv6 frame may carry a mapped one too).
      FuzzAssert(p.family != KP_AF_INET || IsIp4Mapped(p.src), "v4 source mapped");
      FuzzAssert(CsumFold(p.payload_sum) == CsumFold(CsumAdd(0, frame + p.payload_off, p.payload_len)),
                 "payload sum");
      volatile bool tunnel = IsTunnelFrame(cfg, p);
      kp_kite_key key = KiteKeyOf(p);
      volatile uint64_t h = Tables::HashKey(key);
      volatile bool bogon = IsBogon(cfg, p.src);
      static const AddrMatcher m = [] {
        AddrMatcher a;
        a.Build(kp::fuzz::FuzzConfig());
        return a;
      }();
      FuzzAssert(m.IsBogon(p.src) == bogon && m.IsBogon(p.dst) == IsBogon(cfg, p.dst), "matcher agrees");
      FuzzAssert(IsTunnelFrame(cfg, m, p) == tunnel, "tunnel matcher agrees");
      (void)tunnel;
      (void)h;
      (void)bogon;
      break;
    }
    case ParseStatus::kDrop:
      FuzzAssert(r.reason() > KP_DROP_NONE && r.reason() < KP_DROP_MAX, "drop has a reason");
      break;
    case ParseStatus::kException:
      FuzzAssert(r.reason() == KP_DROP_NONE, "exception has no reason");
      break;
  }
  delete[] frame;
  return 0;
}
