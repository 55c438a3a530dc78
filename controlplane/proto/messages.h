// messages.h - encode/decode of every kiteplane tunnel control message (v1).
//
// The codec shared by the front-end's registration server and kite-connector.
// Layouts come from dataplane/abi/kp_wire.h and docs/protocol.md; this file
// turns them into plain C++ structs.  Decoders are strict: any truncated,
// over-long or inconsistent input yields an InvalidArgument status naming the
// problem, never undefined behaviour.  No exceptions.
//
// Usage, front-end side:
//
//   auto type = kp::proto::PeekType(frame);            // header checks only
//   if (!type.ok()) { count; drop; }
//   switch (*type) {
//   case KP_MSG_HELLO: {
//     auto hello = kp::proto::DecodeHello(frame);
//     ... Challenge c{.timestamp = now, .token = MintToken(...), ...};
//     send(kp::proto::EncodeChallenge(c));
//   }
//   case KP_MSG_REGISTER: auto reg = kp::proto::DecodeRegister(frame); ...
//   default: {                                          // in-session
//     auto hdr = kp::proto::PeekSession(frame);         // session id, seq
//     Session* s = find(hdr->session_id);               // else ERROR UNKNOWN_SESSION
//     auto msg = kp::proto::OpenMessage(frame, s->keys.c2f);   // MAC checked
//     if (!msg.ok() || !s->rx_window.Accept(msg->seq)) { count; drop; }
//     if (auto* hb = std::get_if<kp::proto::Heartbeat>(&msg->body)) ...
//   }}
//   // Sending: Bytes b = kp::proto::SealMessage(
//   //     {.session_id = id, .seq = ++s->tx_seq, .from_frontend = true,
//   //      .body = kp::proto::HeartbeatAck{.ack_seq = msg->seq, ...}}, s->keys.f2c);
//
// The connector side is symmetrical (EncodeHello, DecodeChallenge,
// EncodeRegister, OpenMessage with keys.f2c, SealMessage with keys.c2f).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

extern "C" {
#include "kp_wire.h"
}

namespace kp::proto {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;
using Nonce = std::array<uint8_t, KP_NONCE_LEN>;
using Token = std::array<uint8_t, KP_TOKEN_LEN>;
using PublicKey = std::array<uint8_t, KP_PUBKEY_LEN>;
using Proof = std::array<uint8_t, KP_PROOF_LEN>;
using Mac = std::array<uint8_t, KP_MAC_LEN>;
using Key32 = std::array<uint8_t, 32>;

// An address and UDP port in the wire's 16-byte form (IPv4 as ::ffff:a.b.c.d).
struct Endpoint {
  uint8_t family = KP_AF_NONE;  // KP_AF_INET, KP_AF_INET6 or KP_AF_NONE
  std::array<uint8_t, 16> addr{};
  uint16_t port = 0;  // host order
  bool operator==(const Endpoint&) const = default;
};
// "192.0.2.1:4443", "[2001:db8::1]:53", "-" for KP_AF_NONE.
std::string EndpointToString(const Endpoint& e);

// ---- unauthenticated messages ------------------------------------------

struct Hello {
  uint8_t version_min = KP_PROTO_VERSION;
  uint8_t version_max = KP_PROTO_VERSION;
  uint16_t mtu = KP_DEFAULT_MTU;
  Nonce client_nonce{};
  PublicKey client_pubkey{};
  size_t padded_len = KP_HELLO_MIN_LEN;  // encode: total size (>= 128); decode: size seen
  bool operator==(const Hello&) const = default;
};

struct Challenge {
  uint32_t timestamp = 0;
  Token token{};
  Nonce client_nonce{};
  uint16_t mtu = KP_DEFAULT_MTU;
  bool operator==(const Challenge&) const = default;
};

// One kite claim in REGISTER or KITE_ADD.
struct KiteClaim {
  std::string name;
  Proof proof{};
  bool operator==(const KiteClaim&) const = default;
};

struct Register {
  uint32_t timestamp = 0;
  Token token{};
  Nonce client_nonce{};
  PublicKey client_pubkey{};
  uint16_t mtu = KP_DEFAULT_MTU;
  std::vector<KiteClaim> claims;  // 0..KP_MAX_CLAIMS
  bool operator==(const Register&) const = default;
};

struct Error {
  uint8_t code = 0;  // enum kp_error_code
  uint32_t arg = 0;
  uint32_t session_id = 0;
  bool operator==(const Error&) const = default;
};

// ---- in-session message bodies -------------------------------------------

struct KiteResult {
  uint8_t code = KP_RESULT_ACCEPTED;  // enum kp_result_code
  uint32_t kite_id = 0;
  uint32_t holder_session = 0;
  Endpoint endpoint;  // ACCEPTED: public addr/port; NAME_TAKEN: holder connector
  Proof server_proof{};
  std::string name;
  std::string text;
  bool operator==(const KiteResult&) const = default;
};

struct RegisterResult {
  PublicKey server_pubkey{};
  Nonce client_nonce{};
  uint16_t mtu = KP_DEFAULT_MTU;
  uint16_t heartbeat_s = KP_DEFAULT_HEARTBEAT_S;
  uint16_t cookie_rotate_s = KP_DEFAULT_COOKIE_ROTATE_S;
  uint8_t dead_after = KP_DEFAULT_DEAD_AFTER;
  std::vector<KiteResult> results;
  bool operator==(const RegisterResult&) const = default;
};
struct KiteAdd {
  std::vector<KiteClaim> claims;  // 1..KP_MAX_CLAIMS
  bool operator==(const KiteAdd&) const = default;
};
struct KiteRemove {
  std::vector<std::string> names;  // 1..KP_MAX_CLAIMS
  bool operator==(const KiteRemove&) const = default;
};
struct KiteResultMsg {
  uint64_t ack_seq = 0;
  std::vector<KiteResult> results;
  bool operator==(const KiteResultMsg&) const = default;
};
struct Heartbeat {
  uint32_t timestamp_ms = 0;
  bool operator==(const Heartbeat&) const = default;
};
struct HeartbeatAck {
  uint64_t ack_seq = 0;
  uint32_t timestamp_ms = 0;
  bool operator==(const HeartbeatAck&) const = default;
};
struct Resume {
  uint8_t reason = KP_RESUME_SOCKET_ERROR;  // enum kp_resume_reason
  bool operator==(const Resume&) const = default;
};
struct ResumeAck {
  uint64_t ack_seq = 0;
  Endpoint observed;
  bool operator==(const ResumeAck&) const = default;
};
struct Notice {
  uint8_t kind = 0;  // enum kp_notice_kind
  uint32_t kite_id = 0;
  uint32_t arg = 0;
  std::string text;
  bool operator==(const Notice&) const = default;
};
struct NoticeAck {
  uint64_t ack_seq = 0;
  bool operator==(const NoticeAck&) const = default;
};
struct Close {
  uint8_t reason = KP_CLOSE_NORMAL;  // enum kp_close_reason
  std::string text;
  bool operator==(const Close&) const = default;
};

using SessionBody =
    std::variant<RegisterResult, KiteAdd, KiteRemove, KiteResultMsg, Heartbeat, HeartbeatAck,
                 Resume, ResumeAck, Notice, NoticeAck, Close>;

// One in-session message: header fields plus body.  The type byte follows
// from the body's alternative; from_frontend sets KP_F_FROM_FRONTEND.
struct SessionMessage {
  uint32_t session_id = 0;
  uint64_t seq = 0;
  bool from_frontend = false;
  SessionBody body;
  bool operator==(const SessionMessage&) const = default;
};

// The message type of a body alternative (KP_MSG_*).
uint8_t BodyType(const SessionBody& body);
// True for the in-session types that only a front-end sends
// (REGISTER_RESULT, KITE_RESULT, RESUME_ACK, NOTICE).
bool IsFrontendOnlyType(uint8_t type);
// Name of a message type for logs ("HELLO", "type 0x55" if unknown).
std::string TypeName(uint8_t type);
// Text of a kp_result_code, from KP_RESULT_CODES ("unknown result N" else).
std::string_view ResultCodeText(uint8_t code);

// ---- frame-level checks ----------------------------------------------------

// Checks the common header (length >= 4, magic, version == 1) and returns the
// type.  Errors: InvalidArgument (short, bad magic), FailedPrecondition for a
// version other than KP_PROTO_VERSION (the front-end answers a HELLO with
// ERROR BAD_VERSION on that status).
absl::StatusOr<uint8_t> PeekType(ByteSpan frame);

struct SessionHeader {
  uint8_t type = 0;
  bool from_frontend = false;
  uint32_t session_id = 0;
  uint64_t seq = 0;
};
// Header of an in-session frame, without MAC check (to find the session and
// its key).  Errors: InvalidArgument if not an in-session type or shorter than
// header + MAC.
absl::StatusOr<SessionHeader> PeekSession(ByteSpan frame);

// ---- encoders (sizes are validated: names 1..253, <=32 claims, text <=255,
// frame <= KP_MAX_CONTROL_LEN; InvalidArgument otherwise) --------------------

absl::StatusOr<Bytes> EncodeHello(const Hello& m);
Bytes EncodeChallenge(const Challenge& m);
absl::StatusOr<Bytes> EncodeRegister(const Register& m);
Bytes EncodeError(const Error& m);
// Encodes the message and appends its MAC under `key` (the sender's direction key).
absl::StatusOr<Bytes> SealMessage(const SessionMessage& m, const Key32& key);

// ---- decoders ----------------------------------------------------------------

absl::StatusOr<Hello> DecodeHello(ByteSpan frame);
absl::StatusOr<Challenge> DecodeChallenge(ByteSpan frame);
absl::StatusOr<Register> DecodeRegister(ByteSpan frame);
absl::StatusOr<Error> DecodeError(ByteSpan frame);
// Verifies the MAC under `key` (the peer's direction key), then decodes.
// Errors: InvalidArgument (malformed), Unauthenticated (MAC mismatch).  The
// caller still applies its ReplayWindow to the returned seq.
absl::StatusOr<SessionMessage> OpenMessage(ByteSpan frame, const Key32& key);
// Decodes without checking the MAC (for fuzzing and diagnostics only).
absl::StatusOr<SessionMessage> DecodeMessageUnverified(ByteSpan frame);

// Kite name rule: 1..253 bytes of [a-z0-9._-], no leading/trailing '.'.
absl::Status ValidateKiteName(std::string_view name);

}  // namespace kp::proto
