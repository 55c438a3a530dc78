// payload.h - the self-checking datagram payload of kp-loadgen.
//
// Every datagram kp-loadgen sends carries a 32-byte header (magic, run id,
// sequence number, send timestamp, size, checksum) followed by filler bytes
// derived from the sequence number, so an echo that truncates, pads, swaps or
// flips any byte is detected.  Fields are big-endian.  The checksum is 32-bit
// FNV-1a over every byte of the datagram except the checksum field itself.
#ifndef KITEPLANE_TOOLS_LOADGEN_PAYLOAD_H_
#define KITEPLANE_TOOLS_LOADGEN_PAYLOAD_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace kiteplane::loadgen {

inline constexpr size_t kHeaderSize = 32;
inline constexpr size_t kMaxPayload = 65507;  // largest UDP payload over IPv4
inline constexpr uint32_t kMagic = 0x4b504c47;  // "KPLG"

// Byte offsets of the header fields.
inline constexpr size_t kOffMagic = 0;
inline constexpr size_t kOffRunId = 4;
inline constexpr size_t kOffSeq = 8;
inline constexpr size_t kOffSendNs = 16;
inline constexpr size_t kOffSize = 24;
inline constexpr size_t kOffFlags = 26;
inline constexpr size_t kOffChecksum = 28;

struct PayloadInfo {
  uint32_t run_id = 0;
  uint64_t seq = 0;
  uint64_t send_ns = 0;
};

enum class Verdict {
  kOk,       // ours, intact
  kForeign,  // too short, other magic or other run: not from this run
  kCorrupt,  // ours by magic and run id, but size or checksum is wrong
};

// 32-bit FNV-1a of `data` with the checksum field (if inside) read as zero.
uint32_t PayloadChecksum(std::span<const uint8_t> data);

// Fills all of `buf` (kHeaderSize <= size <= kMaxPayload) with the datagram
// for (run_id, seq, send_ns).  Returns false (and writes nothing) if the size
// is out of range.
bool EncodePayload(std::span<uint8_t> buf, uint32_t run_id, uint64_t seq,
                   uint64_t send_ns);

// Re-stamps the send time of an encoded datagram and fixes its checksum.
void StampSendTime(std::span<uint8_t> buf, uint64_t send_ns);

// Checks a received datagram against `run_id`; fills `info` when kOk.
Verdict VerifyPayload(std::span<const uint8_t> buf, uint32_t run_id,
                      PayloadInfo* info);

}  // namespace kiteplane::loadgen

#endif  // KITEPLANE_TOOLS_LOADGEN_PAYLOAD_H_
