// session.cc - the connector side of the tunnel protocol (see session.h).
//
// Timings follow docs/protocol.md: HELLO and REGISTER are retransmitted after
// 1, 2 and 4 seconds; heartbeats every H seconds; after k unanswered
// heartbeats one RESUME, and if that is not answered within H the front-end is
// dead.  A kite refused for a transient reason is re-claimed with KITE_ADD
// after 30 s, doubling up to 10 minutes.
#include "tools/kite-connector/session.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/kite-connector/net.h"

namespace kp::connector {
namespace {

constexpr uint64_t kSec = 1000000000ull;
constexpr int kMaxSends = 4;  // first send + 3 retransmissions (1, 2, 4 s)
constexpr uint64_t kRetryMinNs = 30 * kSec;
constexpr uint64_t kRetryMaxNs = 600 * kSec;
constexpr uint64_t kKiteAddTimeoutNs = 4 * kSec;

bool Retryable(int code) {
  return code == KP_RESULT_NAME_TAKEN || code == KP_RESULT_REFUSED_BY_POLICY ||
         code == KP_RESULT_OUT_OF_QUOTA || code == KP_RESULT_NO_PORT ||
         code == KP_RESULT_TABLE_FULL;
}

}  // namespace

Session::Session(const Config& cfg, size_t fe_index, uint16_t port_index,
                 proto::Endpoint frontend, Counters* counters)
    : cfg_(cfg),
      fe_index_(fe_index),
      port_index_(port_index),
      frontend_(frontend),
      ctr_(counters),
      kites_(cfg.kites.size()) {}

std::string Session::Describe() const {
  return absl::StrFormat("front-end %s session 0x%08x", proto::EndpointToString(frontend_),
                         session_id_);
}

size_t Session::accepted() const {
  size_t n = 0;
  for (const KiteState& k : kites_) n += k.code == KP_RESULT_ACCEPTED;
  return n;
}

std::optional<size_t> Session::KiteIndexForId(uint32_t kite_id) const {
  auto it = by_id_.find(kite_id);
  if (it == by_id_.end()) return std::nullopt;
  const KiteState& k = kites_[it->second];
  if (k.code != KP_RESULT_ACCEPTED || !k.enabled) return std::nullopt;
  return it->second;
}

void Session::Fail(std::string why) {
  if (ended()) return;
  state_ = State::kFailed;
  failure_ = std::move(why);
}

absl::Status Session::Start(uint64_t now_ns, Outbox& out) {
  auto kp = proto::GenerateKeyPair();
  if (!kp.ok()) return kp.status();
  keys_pair_ = *kp;
  nonce_ = proto::RandomNonce();
  state_ = State::kHelloSent;
  sends_ = 0;
  SendHello(now_ns, out);
  return absl::OkStatus();
}

void Session::SendHello(uint64_t now_ns, Outbox& out) {
  proto::Hello h{.mtu = cfg_.mtu, .client_nonce = nonce_, .client_pubkey = keys_pair_.pub};
  auto b = proto::EncodeHello(h);
  if (!b.ok()) return Fail(std::string(b.status().message()));
  out.push_back(std::move(*b));
  last_send_ns_ = now_ns;
  next_retx_ns_ = now_ns + (kSec << sends_);
  ++sends_;
}

void Session::OnFrame(proto::ByteSpan frame, uint64_t now_ns, Outbox& out) {
  auto type = proto::PeekType(frame);
  if (!type.ok()) {
    ++ctr_->drop_bad_control;
    return;
  }
  switch (*type) {
    case KP_MSG_CHALLENGE:
      return OnChallenge(frame, now_ns, out);
    case KP_MSG_ERROR:
      return OnError(frame, now_ns, out);
    case KP_MSG_REGISTER_RESULT:
      if (state_ == State::kRegisterSent) return OnRegisterResult(frame, now_ns);
      break;  // a retransmitted result: replay window below drops it
    default:
      break;
  }
  if (!established()) {
    ++ctr_->drop_bad_control;
    return;
  }
  auto hdr = proto::PeekSession(frame);
  if (!hdr.ok() || hdr->session_id != session_id_ || !hdr->from_frontend) {
    ++ctr_->drop_bad_control;
    return;
  }
  auto m = proto::OpenMessage(frame, keys_.f2c);
  if (!m.ok()) {
    if (m.status().code() == absl::StatusCode::kUnauthenticated) {
      ++ctr_->drop_bad_mac;
    } else {
      ++ctr_->drop_bad_control;
    }
    return;
  }
  if (!rx_window_.Accept(m->seq)) {
    ++ctr_->drop_replay;
    return;
  }
  last_rx_ns_ = now_ns;
  OnSessionMessage(*m, now_ns, out);
}

void Session::OnChallenge(proto::ByteSpan frame, uint64_t now_ns, Outbox& out) {
  auto c = proto::DecodeChallenge(frame);
  if (!c.ok() || c->client_nonce != nonce_) {
    ++ctr_->drop_bad_control;
    return;
  }
  if (state_ != State::kHelloSent) return;  // duplicate answer to a retransmission
  token_ = c->token;
  timestamp_ = c->timestamp;
  fe_mtu_ = c->mtu;
  proto::Register r{.timestamp = timestamp_, .token = token_, .client_nonce = nonce_,
                    .client_pubkey = keys_pair_.pub,
                    .mtu = std::min<uint16_t>(cfg_.mtu, fe_mtu_)};
  claimed_.clear();
  for (size_t i = 0; i < cfg_.kites.size(); ++i) {
    const KiteConfig& k = cfg_.kites[i];
    r.claims.push_back({k.name, proto::ClientProof(k.secret, token_, keys_pair_.pub, k.name)});
    auto probe = proto::EncodeRegister(r);
    if (!probe.ok()) {  // full: the rest goes in KITE_ADD once established
      r.claims.pop_back();
      kites_[i].retry_at_ns = 1;
      continue;
    }
    claimed_.push_back(i);
  }
  auto b = proto::EncodeRegister(r);
  if (!b.ok()) return Fail(absl::StrCat("cannot encode REGISTER: ", b.status().message()));
  register_frame_ = *b;
  state_ = State::kRegisterSent;
  sends_ = 1;
  out.push_back(register_frame_);
  last_send_ns_ = now_ns;
  next_retx_ns_ = now_ns + kSec;
}

void Session::OnError(proto::ByteSpan frame, uint64_t now_ns, Outbox& out) {
  auto e = proto::DecodeError(frame);
  if (!e.ok()) {
    ++ctr_->drop_bad_control;
    return;
  }
  ++ctr_->errors_received;
  const bool registering = state_ == State::kHelloSent || state_ == State::kRegisterSent;
  switch (e->code) {
    case KP_ERR_BAD_VERSION:
      if (registering) {
        Fail(absl::StrCat("front-end does not speak version 1 (it speaks up to ", e->arg, ")"));
      }
      break;
    case KP_ERR_LAME_DUCK:
      if (registering) Fail("front-end is in lame duck (ERROR LAME_DUCK)");
      break;
    case KP_ERR_RATE_LIMITED:
      if (registering) Fail(absl::StrCat("rate limited by front-end (wait ", e->arg, " s)"));
      break;
    case KP_ERR_STALE_TOKEN:
      if (state_ == State::kRegisterSent) {
        if (++hello_restarts_ > 2) return Fail("front-end keeps rejecting our token");
        if (auto st = Start(now_ns, out); !st.ok()) Fail(std::string(st.message()));
      }
      break;
    case KP_ERR_UNKNOWN_SESSION:
      // Unauthenticated: only a hint to register again, make-before-break.
      if (established() && e->session_id == session_id_) wants_reregister_ = true;
      break;
    default:
      break;
  }
}

void Session::OnRegisterResult(proto::ByteSpan frame, uint64_t now_ns) {
  // The MAC key depends on server_pubkey inside the message: parse, derive,
  // then verify the MAC before trusting anything.
  auto raw = proto::DecodeMessageUnverified(frame);
  if (!raw.ok() || !raw->from_frontend) {
    ++ctr_->drop_bad_control;
    return;
  }
  const auto* rr = std::get_if<proto::RegisterResult>(&raw->body);
  if (rr == nullptr || rr->client_nonce != nonce_) {
    ++ctr_->drop_bad_control;
    return;
  }
  auto keys = proto::DeriveSessionKeys(keys_pair_.secret, rr->server_pubkey, token_,
                                       keys_pair_.pub, rr->server_pubkey, raw->session_id);
  if (!keys.ok() || !proto::OpenMessage(frame, keys->f2c).ok()) {
    ++ctr_->drop_bad_mac;
    return;
  }
  if (!rx_window_.Accept(raw->seq)) {
    ++ctr_->drop_replay;
    return;
  }
  session_id_ = raw->session_id;
  keys_ = *keys;
  server_pubkey_ = rr->server_pubkey;
  mtu_ = std::clamp<uint16_t>(rr->mtu, 576, 9000);
  heartbeat_s_ = std::max<uint16_t>(rr->heartbeat_s, 1);
  cookie_rotate_s_ = std::max<uint16_t>(rr->cookie_rotate_s, 1);
  dead_after_ = std::max<uint8_t>(rr->dead_after, 1);
  for (size_t i : claimed_) kites_[i].code = -1;
  if (!ApplyResults(rr->results, now_ns)) return;
  state_ = State::kEstablished;
  last_rx_ns_ = now_ns;
  next_heartbeat_ns_ = now_ns + uint64_t{heartbeat_s_} * kSec;
  ++ctr_->registrations;
  Log(absl::StrCat("registered with ", Describe(), ": ", accepted(), " of ", kites_.size(),
                   " kites accepted, mtu ", mtu_, ", heartbeat ", heartbeat_s_,
                   " s, cookie rotation ", cookie_rotate_s_, " s"));
}

// Applies kite results (by name).  False (and the session failed) if a
// server proof does not verify: the peer does not know the kite secret.
bool Session::ApplyResults(const std::vector<proto::KiteResult>& results, uint64_t now_ns) {
  for (const proto::KiteResult& r : results) {
    size_t idx = cfg_.kites.size();
    for (size_t i = 0; i < cfg_.kites.size(); ++i) {
      if (cfg_.kites[i].name == r.name) idx = i;
    }
    if (idx == cfg_.kites.size()) continue;  // not ours: ignore
    KiteState& k = kites_[idx];
    const KiteConfig& kc = cfg_.kites[idx];
    k.pending_seq = 0;
    if (r.code == KP_RESULT_ACCEPTED) {
      if (!proto::VerifyServerProof(kc.secret, token_, keys_pair_.pub, server_pubkey_,
                                    session_id_, r)) {
        ++ctr_->drop_bad_server_proof;
        Fail(absl::StrCat("server proof for kite ", kc.name,
                          " does not verify: the front-end does not know its secret"));
        return false;
      }
    }
    k.code = r.code;
    switch (r.code) {
      case KP_RESULT_ACCEPTED:
        if (k.kite_id != 0) by_id_.erase(k.kite_id);
        k.kite_id = r.kite_id;
        k.public_ep = r.endpoint;
        k.retry_at_ns = 0;
        k.retries = 0;
        k.enabled = true;
        by_id_[r.kite_id] = idx;
        ++ctr_->kites_accepted;
        Log(absl::StrCat("kite ", kc.name, ": accepted on ", proto::EndpointToString(r.endpoint),
                         " (kite id ", r.kite_id, ")"));
        break;
      case KP_RESULT_REMOVED:
        by_id_.erase(k.kite_id);
        Log(absl::StrCat("kite ", kc.name, ": removed"));
        break;
      default: {
        ++ctr_->kites_refused;
        std::string detail = r.text.empty() ? "" : absl::StrCat(" (", r.text, ")");
        if (r.code == KP_RESULT_NAME_TAKEN) {
          detail += absl::StrFormat(" by session 0x%08x at %s", r.holder_session,
                                    proto::EndpointToString(r.endpoint));
        }
        if (r.code == KP_RESULT_LAME_DUCK) lame_duck_ = true;
        k.permanent = !Retryable(r.code);
        if (!k.permanent) ScheduleRetry(k, now_ns);
        Log(absl::StrCat("kite ", kc.name, ": ", std::string(proto::ResultCodeText(r.code)), detail,
                         k.permanent ? "" : ", will retry"));
      }
    }
  }
  return true;
}

void Session::ScheduleRetry(KiteState& k, uint64_t now_ns) {
  uint64_t d = kRetryMinNs << std::min<uint32_t>(k.retries, 5);
  k.retry_at_ns = now_ns + std::min(d, kRetryMaxNs);
  ++k.retries;
}

void Session::Seal(proto::SessionBody body, Outbox& out) {
  proto::SessionMessage m{.session_id = session_id_, .seq = ++tx_seq_, .from_frontend = false,
                          .body = std::move(body)};
  auto b = proto::SealMessage(m, keys_.c2f);
  if (b.ok()) out.push_back(std::move(*b));
}

void Session::OnSessionMessage(const proto::SessionMessage& m, uint64_t now_ns, Outbox& out) {
  if (const auto* hb = std::get_if<proto::Heartbeat>(&m.body)) {
    Seal(proto::HeartbeatAck{.ack_seq = m.seq, .timestamp_ms = hb->timestamp_ms}, out);
  } else if (std::get_if<proto::HeartbeatAck>(&m.body)) {
    ++ctr_->heartbeat_acks;
    unacked_ = 0;
    resume_pending_ = false;
  } else if (const auto* ra = std::get_if<proto::ResumeAck>(&m.body)) {
    unacked_ = 0;
    resume_pending_ = false;
    Log(absl::StrCat(Describe(), ": resumed, front-end sees us at ",
                     proto::EndpointToString(ra->observed)));
  } else if (const auto* kr = std::get_if<proto::KiteResultMsg>(&m.body)) {
    ApplyResults(kr->results, now_ns);
  } else if (const auto* n = std::get_if<proto::Notice>(&m.body)) {
    ++ctr_->notices;
    Seal(proto::NoticeAck{.ack_seq = m.seq}, out);
    OnNotice(*n, now_ns);
  } else if (const auto* c = std::get_if<proto::Close>(&m.body)) {
    state_ = State::kClosed;
    close_reason_ = c->reason;
    failure_ = absl::StrCat("closed by the front-end (reason ", c->reason,
                            c->text.empty() ? "" : ": ", c->text, ")");
  } else {
    ++ctr_->drop_bad_control;  // a front-end-bound type sent to us
  }
}

void Session::OnNotice(const proto::Notice& n, uint64_t now_ns) {
  auto it = by_id_.find(n.kite_id);
  const std::string kite =
      it == by_id_.end() ? absl::StrCat("kite id ", n.kite_id) : cfg_.kites[it->second].name;
  switch (n.kind) {
    case KP_NOTICE_LAME_DUCK:
      lame_duck_ = true;
      Log(absl::StrCat(Describe(), ": lame duck, deadline in ", n.arg, " s: moving on"));
      break;
    case KP_NOTICE_KITE_DISABLED:
      if (it != by_id_.end()) kites_[it->second].enabled = false;
      Log(absl::StrCat("kite ", kite, ": disabled (", std::string(proto::ResultCodeText(n.arg & 0xff)), ")"));
      break;
    case KP_NOTICE_KITE_ENABLED:
      if (it != by_id_.end()) kites_[it->second].enabled = true;
      Log(absl::StrCat("kite ", kite, ": enabled again"));
      break;
    case KP_NOTICE_KITE_KICKED:
      if (it != by_id_.end()) {
        KiteState& k = kites_[it->second];
        k.code = KP_RESULT_REMOVED;
        k.permanent = true;
        by_id_.erase(it);
      }
      Log(absl::StrCat("kite ", kite, ": kicked by the operator"));
      break;
    case KP_NOTICE_MTU:
      mtu_ = static_cast<uint16_t>(std::clamp<uint32_t>(n.arg, 576, 9000));
      Log(absl::StrCat(Describe(), ": tunnel MTU now ", mtu_));
      break;
    default:
      break;
  }
  (void)now_ns;
}

void Session::SendResume(uint8_t reason, uint64_t now_ns, Outbox& out) {
  if (!established()) return;
  Seal(proto::Resume{.reason = reason}, out);
  ++ctr_->resumes_sent;
  resume_pending_ = true;
  resume_sent_ns_ = now_ns;
}

void Session::SendClose(uint8_t reason, const std::string& text, Outbox& out) {
  if (!established()) return;
  Seal(proto::Close{.reason = reason, .text = text.substr(0, KP_MAX_TEXT)}, out);
  Seal(proto::Close{.reason = reason, .text = text.substr(0, KP_MAX_TEXT)}, out);
  state_ = State::kClosed;
  close_reason_ = reason;
  failure_ = absl::StrCat("closed by us: ", text);
}

void Session::SendKiteAdds(uint64_t now_ns, Outbox& out) {
  proto::KiteAdd add;
  std::vector<size_t> idx;
  for (size_t i = 0; i < kites_.size() && add.claims.size() < KP_MAX_CLAIMS; ++i) {
    KiteState& k = kites_[i];
    if (k.pending_seq != 0 && now_ns - k.pending_since_ns >= kKiteAddTimeoutNs) {
      k.pending_seq = 0;  // unanswered: claim again
      k.retry_at_ns = now_ns;
    }
    if (k.permanent || k.pending_seq != 0 || k.retry_at_ns == 0 || now_ns < k.retry_at_ns) {
      continue;
    }
    const KiteConfig& kc = cfg_.kites[i];
    add.claims.push_back({kc.name, proto::ClientProof(kc.secret, token_, keys_pair_.pub, kc.name)});
    // Keep the frame under the control size limit (names may be long).
    if (proto::SealMessage({session_id_, 1, false, add}, keys_.c2f).ok()) {
      idx.push_back(i);
    } else {
      add.claims.pop_back();
      break;
    }
  }
  if (idx.empty()) return;
  Seal(std::move(add), out);
  for (size_t i : idx) {
    kites_[i].pending_seq = tx_seq_;
    kites_[i].pending_since_ns = now_ns;
    kites_[i].retry_at_ns = 0;
  }
}

void Session::EstablishedTimer(uint64_t now_ns, Outbox& out) {
  const uint64_t h = uint64_t{heartbeat_s_} * kSec;
  if (resume_pending_ && now_ns - resume_sent_ns_ >= h) {
    return Fail(absl::StrCat("front-end dead (", unacked_,
                             " heartbeats and a RESUME unanswered)"));
  }
  if (!resume_pending_ && now_ns - last_rx_ns_ > 2 * h + h / 2) {
    SendResume(KP_RESUME_SILENCE, now_ns, out);
  }
  if (now_ns >= next_heartbeat_ns_) {
    next_heartbeat_ns_ = now_ns + h;
    if (unacked_ >= dead_after_ && !resume_pending_) {
      SendResume(KP_RESUME_MISSED_ACKS, now_ns, out);
    } else {
      struct timespec ts {};
      clock_gettime(CLOCK_MONOTONIC, &ts);
      uint32_t ms = static_cast<uint32_t>(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
      Seal(proto::Heartbeat{.timestamp_ms = ms}, out);
      ++ctr_->heartbeats_sent;
      ++unacked_;
    }
  }
  if (!lame_duck_) SendKiteAdds(now_ns, out);
}

void Session::OnTimer(uint64_t now_ns, Outbox& out) {
  switch (state_) {
    case State::kHelloSent:
      if (now_ns < next_retx_ns_) return;
      if (sends_ >= kMaxSends) return Fail("no answer to HELLO");
      SendHello(now_ns, out);
      return;
    case State::kRegisterSent:
      if (now_ns < next_retx_ns_) return;
      if (sends_ >= kMaxSends) return Fail("no answer to REGISTER");
      out.push_back(register_frame_);
      next_retx_ns_ = now_ns + (kSec << sends_);
      ++sends_;
      return;
    case State::kEstablished:
      return EstablishedTimer(now_ns, out);
    default:
      return;
  }
}

}  // namespace kp::connector
