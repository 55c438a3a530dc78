// payload.cc - encoding and verification of kp-loadgen datagrams (see
// payload.h for the layout).  The filler after the header is a splitmix64
// stream seeded by (run id, sequence number), so every datagram's body is
// different and a body copied from another datagram fails the checksum.
#include "tools/loadgen/payload.h"

#include <cstring>

namespace kiteplane::loadgen {
namespace {

void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void PutBe32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
void PutBe64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
uint16_t GetBe16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
uint32_t GetBe32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}
uint64_t GetBe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void FillBody(std::span<uint8_t> body, uint32_t run_id, uint64_t seq) {
  uint64_t state = (static_cast<uint64_t>(run_id) << 32) ^ seq;
  size_t i = 0;
  while (i < body.size()) {
    uint64_t r = SplitMix64(&state);
    for (int b = 0; b < 8 && i < body.size(); ++b, ++i, r >>= 8) {
      body[i] = static_cast<uint8_t>(r);
    }
  }
}

}  // namespace

uint32_t PayloadChecksum(std::span<const uint8_t> data) {
  uint32_t h = 0x811c9dc5u;
  for (size_t i = 0; i < data.size(); ++i) {
    const bool in_field = i >= kOffChecksum && i < kOffChecksum + 4;
    h ^= in_field ? 0u : data[i];
    h *= 0x01000193u;
  }
  return h;
}

bool EncodePayload(std::span<uint8_t> buf, uint32_t run_id, uint64_t seq,
                   uint64_t send_ns) {
  if (buf.size() < kHeaderSize || buf.size() > kMaxPayload) return false;
  uint8_t* p = buf.data();
  PutBe32(p + kOffMagic, kMagic);
  PutBe32(p + kOffRunId, run_id);
  PutBe64(p + kOffSeq, seq);
  PutBe16(p + kOffSize, static_cast<uint16_t>(buf.size()));
  PutBe16(p + kOffFlags, 0);
  FillBody(buf.subspan(kHeaderSize), run_id, seq);
  StampSendTime(buf, send_ns);
  return true;
}

void StampSendTime(std::span<uint8_t> buf, uint64_t send_ns) {
  PutBe64(buf.data() + kOffSendNs, send_ns);
  PutBe32(buf.data() + kOffChecksum, PayloadChecksum(buf));
}

Verdict VerifyPayload(std::span<const uint8_t> buf, uint32_t run_id,
                      PayloadInfo* info) {
  if (buf.size() < kHeaderSize) return Verdict::kForeign;
  const uint8_t* p = buf.data();
  if (GetBe32(p + kOffMagic) != kMagic || GetBe32(p + kOffRunId) != run_id) {
    return Verdict::kForeign;
  }
  if (GetBe16(p + kOffSize) != buf.size()) return Verdict::kCorrupt;
  if (GetBe32(p + kOffChecksum) != PayloadChecksum(buf)) return Verdict::kCorrupt;
  if (info != nullptr) {
    info->run_id = run_id;
    info->seq = GetBe64(p + kOffSeq);
    info->send_ns = GetBe64(p + kOffSendNs);
  }
  return Verdict::kOk;
}

}  // namespace kiteplane::loadgen
