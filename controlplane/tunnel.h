// tunnel.h - TunnelServer: the front-end side of the tunnel control protocol
// (docs/protocol.md) over whatever carries the datagrams.
//
// HandleFrame() takes one control frame with its outer source and the local
// tunnel endpoint it arrived on, and answers through the SendFn: HELLO gets
// a stateless CHALLENGE (or a 16-byte ERROR: rate limited, lame duck, bad
// version), REGISTER with a valid token creates a session and judges each
// claim through the Registry, in-session messages are MAC-checked, replay
// checked, rebind the session when they carry a new top seq from a new
// address, and are answered (KITE_RESULT, HEARTBEAT_ACK, RESUME_ACK).  No
// reply to an unvalidated source is larger than its request.  Tick() resends
// unacknowledged NOTICEs, rotates the token secret and expires dead
// sessions.  The UDP sockets live in udp_sockets.h; tests drive this class
// directly.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "controlplane/proto/crypto.h"
#include "controlplane/proto/messages.h"
#include "controlplane/rate_limit.h"
#include "controlplane/registry.h"

namespace kp::cp {

using SendFn = std::function<void(const proto::Endpoint& local, const proto::Endpoint& dst, const proto::Bytes&)>;

#define KP_TUNNEL_COUNTERS(X)                                                   \
  X(rx_frames, "Control frames received")                                      \
  X(tx_frames, "Control frames sent")                                          \
  X(drop_malformed, "Frames dropped: malformed or wrong direction")            \
  X(drop_bad_version, "Frames dropped: unknown protocol version")              \
  X(drop_bad_mac, "In-session frames dropped: MAC did not verify")             \
  X(drop_replay, "In-session frames dropped: replayed or too old")             \
  X(drop_unknown_session, "In-session frames for an unknown session")          \
  X(drop_rate_limited, "Registration attempts refused by the per-source limit") \
  X(drop_stale_token, "REGISTERs with an expired or wrong token")              \
  X(drop_lame_duck, "Registration attempts refused while draining")            \
  X(challenges, "CHALLENGEs sent")                                             \
  X(registers, "Sessions created by REGISTER")                                 \
  X(register_retransmits, "REGISTER_RESULTs resent for a retransmitted REGISTER") \
  X(heartbeats, "HEARTBEATs answered")                                         \
  X(resumes, "RESUMEs answered")                                               \
  X(notices_sent, "NOTICEs sent (retries included)")                           \
  X(notices_acked, "NOTICEs acknowledged")                                     \
  X(closes_received, "CLOSEs received from connectors")                        \
  X(dead_sessions, "Sessions ended as dead peers")

struct TunnelCounters {
#define KP_X_FIELD(name, help) uint64_t name = 0;
  KP_TUNNEL_COUNTERS(KP_X_FIELD)
#undef KP_X_FIELD
};

class TunnelServer {
 public:
  TunnelServer(Registry* registry, SendFn send);

  void HandleFrame(proto::ByteSpan frame, const proto::Endpoint& src, const proto::Endpoint& local,
                   uint64_t now_ms);
  // Sends queued registry notices, resends unacknowledged ones, rotates the
  // token secret, expires dead sessions.
  void Tick(uint64_t now_ms);
  // Tells every session the front-end is draining, with `deadline_s`.
  void AnnounceLameDuck(uint32_t deadline_s, uint64_t now_ms);
  // Sends CLOSE (twice) to every session and ends them.
  void CloseAll(uint8_t reason, const std::string& text);
  // Sends CLOSE to one session and ends it.
  void CloseSession(uint32_t id, uint8_t reason, const std::string& text);

  const TunnelCounters& counters() const { return counters_; }
  // Policy-dependent limits are re-read on reload.
  void Reconfigure();

 private:
  struct Outstanding {
    proto::Notice notice;
    uint32_t attempts = 0;
    uint64_t sent_ms = 0;
  };
  void OnHello(proto::ByteSpan frame, const proto::Endpoint& src, const proto::Endpoint& local, uint64_t now_ms);
  void OnRegister(proto::ByteSpan frame, const proto::Endpoint& src, const proto::Endpoint& local,
                  uint64_t now_ms);
  absl::StatusOr<Session*> NewSession(const proto::Register& r, uint32_t sid, const proto::SessionKeys& keys,
                                      const proto::PublicKey& server_pub, const proto::Endpoint& src,
                                      const proto::Endpoint& local, uint64_t now_s);
  void OnSession(proto::ByteSpan frame, const proto::Endpoint& src, const proto::Endpoint& local, uint64_t now_ms);
  void Dispatch(Session& s, const proto::SessionMessage& m, const proto::Endpoint& src, uint64_t now_ms);
  void SendError(uint8_t code, uint32_t arg, uint32_t session, const proto::Endpoint& src,
                 const proto::Endpoint& local, size_t request_len);
  bool AdmitNewcomer(const proto::Endpoint& src, const proto::Endpoint& local, size_t request_len,
                     uint64_t now_ms);
  bool SendInSession(Session& s, proto::SessionBody body);
  void SendNotice(Session& s, const proto::Notice& n, uint64_t now_ms);
  std::vector<proto::KiteResult> Judge(Session& s, const std::vector<proto::KiteClaim>& claims, uint64_t now_s);

  Registry* reg_;
  SendFn send_;
  proto::TokenSecrets tokens_;
  uint64_t tokens_rotated_ms_ = 0;
  SourceLimiter limiter_;
  std::map<uint32_t, std::map<uint64_t, Outstanding>> outstanding_;  // session -> seq -> notice
  TunnelCounters counters_;
};

}  // namespace kp::cp
