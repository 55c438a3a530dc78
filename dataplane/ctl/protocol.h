// protocol.h - helpers shared by the control-socket server and client.
//
// The wire layout itself lives in dataplane/abi/kp_ctl.h; this header only
// adds what both ends compute from it: the largest batch each message type
// can carry inside KP_CTL_MAX_MSG, the mapping between absl::Status codes and
// the -errno statuses the protocol carries, and a tiny builder that appends a
// header and body into a byte buffer.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "absl/status/status.h"

extern "C" {
#include "kp_ctl.h"
}

namespace kp::ctl {

inline constexpr size_t kHdrLen = sizeof(kp_ctl_hdr);

// Largest number of `entry_size`-byte entries that fit in one message after
// the header and a `prefix_size`-byte prefix (batch or range).
constexpr uint32_t MaxEntries(size_t prefix_size, size_t entry_size) {
  return static_cast<uint32_t>((KP_CTL_MAX_MSG - kHdrLen - prefix_size) / entry_size);
}

inline constexpr uint32_t kMaxKiteBatch = MaxEntries(sizeof(kp_ctl_batch), sizeof(kp_kite));
inline constexpr uint32_t kMaxSessionBatch = MaxEntries(sizeof(kp_ctl_batch), sizeof(kp_session));
inline constexpr uint32_t kMaxIdBatch = MaxEntries(sizeof(kp_ctl_batch), sizeof(uint32_t));
inline constexpr uint32_t kMaxCreditBatch =
    MaxEntries(sizeof(kp_ctl_batch), sizeof(kp_ctl_credit));
inline constexpr uint32_t kMaxKiteStatsRange =
    MaxEntries(sizeof(kp_ctl_range), sizeof(kp_ctl_kite_stats));
inline constexpr uint32_t kMaxKiteDumpRange = MaxEntries(sizeof(kp_ctl_range), sizeof(kp_kite));
inline constexpr uint32_t kMaxSessionDumpRange =
    MaxEntries(sizeof(kp_ctl_range), sizeof(kp_session));

// absl::Status -> protocol status (0 or -errno).
inline int32_t StatusToErrno(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
      return -EINVAL;
    case absl::StatusCode::kResourceExhausted:
      return -ENOSPC;
    case absl::StatusCode::kNotFound:
      return -ENOENT;
    case absl::StatusCode::kFailedPrecondition:
      return -EPROTO;
    case absl::StatusCode::kOutOfRange:
      return -E2BIG;
    case absl::StatusCode::kUnimplemented:
      return -EOPNOTSUPP;
    default:
      return -EIO;
  }
}

// Protocol status -> absl::Status, with `what` naming the request.
inline absl::Status ErrnoToStatus(int32_t status, const char* what) {
  if (status == 0) return absl::OkStatus();
  std::string msg = std::string(what) + ": " + std::strerror(-status);
  switch (-status) {
    case EINVAL:
      return absl::InvalidArgumentError(msg);
    case ENOSPC:
      return absl::ResourceExhaustedError(msg);
    case ENOENT:
      return absl::NotFoundError(msg);
    case EPROTO:
      return absl::FailedPreconditionError(msg);
    case E2BIG:
      return absl::OutOfRangeError(msg);
    case EOPNOTSUPP:
      return absl::UnimplementedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// Appends raw bytes of `v` to `buf`.
template <typename T>
inline void Append(std::vector<uint8_t>* buf, const T& v) {
  const size_t at = buf->size();
  buf->resize(at + sizeof(T));
  std::memcpy(buf->data() + at, &v, sizeof(T));
}

template <typename T>
inline void AppendSpan(std::vector<uint8_t>* buf, std::span<const T> v) {
  if (v.empty()) return;
  const size_t at = buf->size();
  buf->resize(at + v.size_bytes());
  std::memcpy(buf->data() + at, v.data(), v.size_bytes());
}

// Starts a message: header with len fixed up by FinishMessage().
inline void StartMessage(std::vector<uint8_t>* buf, uint16_t type, uint32_t seq, int32_t status) {
  buf->clear();
  kp_ctl_hdr h{};
  h.type = type;
  h.version = KP_CTL_VERSION;
  h.seq = seq;
  h.status = status;
  Append(buf, h);
}

inline void FinishMessage(std::vector<uint8_t>* buf) {
  const uint32_t len = static_cast<uint32_t>(buf->size());
  std::memcpy(buf->data() + offsetof(kp_ctl_hdr, len), &len, sizeof(len));
}

}  // namespace kp::ctl
