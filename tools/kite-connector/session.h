// session.h - one tunnel session of kite-connector with one front-end port.
//
// The protocol state machine of docs/protocol.md seen from the connector:
// HELLO -> CHALLENGE -> REGISTER -> REGISTER_RESULT, then heartbeats, KITE_ADD
// retries, NOTICE handling, RESUME after missed acks or silence, CLOSE.  It
// does no I/O: every call takes the current monotonic time and appends the
// frames to send to an Outbox; the caller owns the socket.  Control frames
// failing to parse, authenticate or pass the replay window are counted and
// ignored.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "controlplane/proto/crypto.h"
#include "controlplane/proto/messages.h"
#include "tools/kite-connector/config.h"
#include "tools/kite-connector/counters.h"

namespace kp::connector {

using Outbox = std::vector<proto::Bytes>;

class Session {
 public:
  enum class State { kHelloSent, kRegisterSent, kEstablished, kFailed, kClosed };

  // Per configured kite, in config order.
  struct KiteState {
    int code = -1;            // last kp_result_code, -1 = no answer yet
    uint32_t kite_id = 0;     // when ACCEPTED
    proto::Endpoint public_ep;
    bool enabled = true;      // NOTICE KITE_DISABLED / ENABLED
    bool permanent = false;   // no retry in this session
    uint64_t retry_at_ns = 0; // 0 = nothing scheduled
    uint32_t retries = 0;
    uint64_t pending_seq = 0; // KITE_ADD in flight
    uint64_t pending_since_ns = 0;
  };

  Session(const Config& cfg, size_t fe_index, uint16_t port_index, proto::Endpoint frontend,
          Counters* counters);

  // Sends HELLO.  Errors only if the crypto library fails.
  absl::Status Start(uint64_t now_ns, Outbox& out);
  // A non-DATA frame that came from frontend().
  void OnFrame(proto::ByteSpan frame, uint64_t now_ns, Outbox& out);
  // Retransmissions, heartbeats, dead-peer detection, kite retries.
  void OnTimer(uint64_t now_ns, Outbox& out);
  // Established only: RESUME with a fresh seq (after a new socket, etc.).
  void SendResume(uint8_t reason, uint64_t now_ns, Outbox& out);
  // Established only: CLOSE; the session is then kClosed.
  void SendClose(uint8_t reason, const std::string& text, Outbox& out);

  State state() const { return state_; }
  bool established() const { return state_ == State::kEstablished; }
  bool ended() const { return state_ == State::kFailed || state_ == State::kClosed; }
  const std::string& failure() const { return failure_; }
  uint8_t close_reason() const { return close_reason_; }
  uint32_t session_id() const { return session_id_; }
  const proto::Endpoint& frontend() const { return frontend_; }
  size_t fe_index() const { return fe_index_; }
  uint16_t port_index() const { return port_index_; }
  uint16_t mtu() const { return mtu_; }
  uint64_t cookie_rotate_ns() const { return uint64_t{cookie_rotate_s_} * 1000000000ull; }
  size_t accepted() const;
  bool lame_duck() const { return lame_duck_; }
  bool wants_reregister() const { return wants_reregister_; }
  const std::vector<KiteState>& kites() const { return kites_; }
  // Index of the configured kite accepted under this id (and enabled).
  std::optional<size_t> KiteIndexForId(uint32_t kite_id) const;
  std::string Describe() const;  // "front-end 192.0.2.1:4443 session 0x..."

 private:
  void Fail(std::string why);
  void SendHello(uint64_t now_ns, Outbox& out);
  void OnChallenge(proto::ByteSpan frame, uint64_t now_ns, Outbox& out);
  void OnError(proto::ByteSpan frame, uint64_t now_ns, Outbox& out);
  void OnRegisterResult(proto::ByteSpan frame, uint64_t now_ns);
  void OnSessionMessage(const proto::SessionMessage& m, uint64_t now_ns, Outbox& out);
  void OnNotice(const proto::Notice& n, uint64_t now_ns);
  bool ApplyResults(const std::vector<proto::KiteResult>& results, uint64_t now_ns);
  void Seal(proto::SessionBody body, Outbox& out);
  void SendKiteAdds(uint64_t now_ns, Outbox& out);
  void ScheduleRetry(KiteState& k, uint64_t now_ns);
  void EstablishedTimer(uint64_t now_ns, Outbox& out);

  const Config& cfg_;
  size_t fe_index_;
  uint16_t port_index_;
  proto::Endpoint frontend_;
  Counters* ctr_;
  State state_ = State::kHelloSent;
  std::string failure_;
  uint8_t close_reason_ = 0;

  // Registration.
  proto::KeyPair keys_pair_;
  proto::Nonce nonce_{};
  proto::Token token_{};
  uint32_t timestamp_ = 0;
  uint16_t fe_mtu_ = KP_DEFAULT_MTU;
  proto::Bytes register_frame_;
  std::vector<size_t> claimed_;  // kite indexes sent in REGISTER
  int sends_ = 0;
  int hello_restarts_ = 0;
  uint64_t next_retx_ns_ = 0;
  uint64_t last_send_ns_ = 0;

  // Session.
  uint32_t session_id_ = 0;
  proto::PublicKey server_pubkey_{};
  proto::SessionKeys keys_;
  uint64_t tx_seq_ = 0;
  proto::ReplayWindow rx_window_;
  uint16_t mtu_ = KP_DEFAULT_MTU;
  uint16_t heartbeat_s_ = KP_DEFAULT_HEARTBEAT_S;
  uint16_t cookie_rotate_s_ = KP_DEFAULT_COOKIE_ROTATE_S;
  uint8_t dead_after_ = KP_DEFAULT_DEAD_AFTER;
  uint64_t next_heartbeat_ns_ = 0;
  uint32_t unacked_ = 0;
  uint64_t last_rx_ns_ = 0;
  bool resume_pending_ = false;
  uint64_t resume_sent_ns_ = 0;
  bool lame_duck_ = false;
  bool wants_reregister_ = false;
  std::vector<KiteState> kites_;
  absl::flat_hash_map<uint32_t, size_t> by_id_;
};

}  // namespace kp::connector
