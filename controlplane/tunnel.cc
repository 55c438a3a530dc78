// tunnel.cc - the tunnel control protocol, front-end side (see tunnel.h and
// docs/protocol.md sections 5 to 11).
#include "controlplane/tunnel.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"

namespace kp::cp {
namespace {
constexpr uint64_t kTokenRotateMs = 300'000;

uint8_t DeadAfter(const Config& c) {
  uint32_t k = c.timers.dead_after_s / std::max<uint32_t>(c.timers.heartbeat_s, 1);
  return static_cast<uint8_t>(std::clamp<uint32_t>(k > 1 ? k - 1 : 1, 1, 255));
}
}  // namespace

TunnelServer::TunnelServer(Registry* registry, SendFn send)
    : reg_(registry),
      send_(std::move(send)),
      tokens_(proto::RandomKey(), proto::RandomKey()),
      limiter_(registry->policy()->config().limits.register_rate_per_s,
               registry->policy()->config().limits.register_burst,
               registry->policy()->config().limits.max_sources_tracked) {}

void TunnelServer::Reconfigure() {
  const Limits& l = reg_->policy()->config().limits;
  limiter_ = SourceLimiter(l.register_rate_per_s, l.register_burst, l.max_sources_tracked);
}

void TunnelServer::SendError(uint8_t code, uint32_t arg, uint32_t session, const proto::Endpoint& src,
                             const proto::Endpoint& local, size_t request_len) {
  proto::Bytes b = proto::EncodeError({code, arg, session});
  if (b.size() > request_len) return;  // never amplify
  counters_.tx_frames++;
  send_(local, src, b);
}

// The gate in front of HELLO and REGISTER: a draining front-end and a source
// over its registration rate both get a (never larger) ERROR and no state.
bool TunnelServer::AdmitNewcomer(const proto::Endpoint& src, const proto::Endpoint& local,
                                 size_t request_len, uint64_t now_ms) {
  if (reg_->draining()) {
    counters_.drop_lame_duck++;
    SendError(KP_ERR_LAME_DUCK, 0, 0, src, local, request_len);
    return false;
  }
  if (!limiter_.Allow(src.addr, now_ms)) {
    counters_.drop_rate_limited++;
    SendError(KP_ERR_RATE_LIMITED, 1, 0, src, local, request_len);
    return false;
  }
  return true;
}

void TunnelServer::HandleFrame(proto::ByteSpan frame, const proto::Endpoint& src, const proto::Endpoint& local,
                               uint64_t now_ms) {
  counters_.rx_frames++;
  if (frame.size() > KP_MAX_CONTROL_LEN) {
    counters_.drop_malformed++;
    return;
  }
  absl::StatusOr<uint8_t> type = proto::PeekType(frame);
  if (!type.ok()) {
    if (absl::IsFailedPrecondition(type.status())) {
      counters_.drop_bad_version++;
      if (frame.size() >= KP_HELLO_MIN_LEN && frame[2] == KP_MSG_HELLO) {
        SendError(KP_ERR_BAD_VERSION, KP_PROTO_VERSION, 0, src, local, frame.size());
      }
    } else {
      counters_.drop_malformed++;
    }
    return;
  }
  if (frame[3] & KP_F_FROM_FRONTEND) {
    counters_.drop_malformed++;
    return;
  }
  switch (*type) {
    case KP_MSG_HELLO:
      OnHello(frame, src, local, now_ms);
      return;
    case KP_MSG_REGISTER:
      OnRegister(frame, src, local, now_ms);
      return;
    case KP_MSG_KITE_ADD:
    case KP_MSG_KITE_REMOVE:
    case KP_MSG_HEARTBEAT:
    case KP_MSG_HEARTBEAT_ACK:
    case KP_MSG_RESUME:
    case KP_MSG_NOTICE_ACK:
    case KP_MSG_CLOSE:
      OnSession(frame, src, local, now_ms);
      return;
    default:
      counters_.drop_malformed++;  // DATA, front-end-only or unknown types
  }
}

void TunnelServer::OnHello(proto::ByteSpan frame, const proto::Endpoint& src, const proto::Endpoint& local,
                           uint64_t now_ms) {
  absl::StatusOr<proto::Hello> h = proto::DecodeHello(frame);
  if (!h.ok()) {
    counters_.drop_malformed++;
    return;
  }
  if (h->version_min > KP_PROTO_VERSION || h->version_max < KP_PROTO_VERSION) {
    counters_.drop_bad_version++;
    SendError(KP_ERR_BAD_VERSION, KP_PROTO_VERSION, 0, src, local, frame.size());
    return;
  }
  if (!AdmitNewcomer(src, local, frame.size(), now_ms)) return;
  proto::Challenge c;
  c.timestamp = static_cast<uint32_t>(now_ms / 1000);
  c.token = tokens_.Mint(src, c.timestamp, h->client_nonce, h->client_pubkey);
  c.client_nonce = h->client_nonce;
  c.mtu = reg_->policy()->config().mtu;
  proto::Bytes out = proto::EncodeChallenge(c);
  if (out.size() > frame.size()) return;
  counters_.challenges++;
  counters_.tx_frames++;
  send_(local, src, out);
}

std::vector<proto::KiteResult> TunnelServer::Judge(Session& s, const std::vector<proto::KiteClaim>& claims,
                                                   uint64_t now_s) {
  std::vector<proto::KiteResult> results;
  std::set<std::string> seen;
  for (const proto::KiteClaim& c : claims) {
    if (!seen.insert(c.name).second) {
      proto::KiteResult r;
      r.code = KP_RESULT_BAD_REQUEST;
      r.name = c.name;
      r.text = "duplicate name in one message";
      results.push_back(r);
      continue;
    }
    results.push_back(reg_->Claim(s, c, now_s));
  }
  return results;
}

absl::StatusOr<Session*> TunnelServer::NewSession(const proto::Register& r, uint32_t sid,
                                                   const proto::SessionKeys& keys, const proto::PublicKey& server_pub,
                                                   const proto::Endpoint& src, const proto::Endpoint& local,
                                                   uint64_t now_s) {
  Session s;
  s.session_id = sid;
  s.connector = src;
  s.local = local;
  s.mtu = std::min<uint16_t>(r.mtu, reg_->policy()->config().mtu);
  s.keys = keys;
  s.token = r.token;
  s.client_pubkey = r.client_pubkey;
  s.server_pubkey = server_pub;
  s.created = now_s;
  s.last_rx = now_s;
  return reg_->AddSession(std::move(s));
}

void TunnelServer::OnRegister(proto::ByteSpan frame, const proto::Endpoint& src, const proto::Endpoint& local,
                              uint64_t now_ms) {
  absl::StatusOr<proto::Register> r = proto::DecodeRegister(frame);
  if (!r.ok()) {
    counters_.drop_malformed++;
    return;
  }
  uint32_t now_s = static_cast<uint32_t>(now_ms / 1000);
  if (!tokens_.Verify(r->token, src, r->timestamp, r->client_nonce, r->client_pubkey, now_s).ok()) {
    counters_.drop_stale_token++;
    SendError(KP_ERR_STALE_TOKEN, 0, 0, src, local, frame.size());
    return;
  }
  if (Session* old = reg_->FindSessionByToken(r->token, r->client_pubkey)) {
    if (!old->register_result.empty()) {
      counters_.register_retransmits++;
      counters_.tx_frames++;
      send_(old->local, old->connector, old->register_result);
    }
    return;
  }
  if (!AdmitNewcomer(src, local, frame.size(), now_ms)) return;
  absl::StatusOr<uint32_t> sid = reg_->AllocateSessionId();
  absl::StatusOr<proto::KeyPair> kp = proto::GenerateKeyPair();
  if (!sid.ok() || !kp.ok()) {
    SendError(KP_ERR_RATE_LIMITED, 5, 0, src, local, frame.size());
    return;
  }
  absl::StatusOr<proto::SessionKeys> keys =
      proto::DeriveSessionKeys(kp->secret, r->client_pubkey, r->token, r->client_pubkey, kp->pub, *sid);
  if (!keys.ok()) {
    counters_.drop_malformed++;
    return;
  }
  absl::StatusOr<Session*> added = NewSession(*r, *sid, *keys, kp->pub, src, local, now_s);
  if (!added.ok()) {
    SendError(KP_ERR_RATE_LIMITED, 5, 0, src, local, frame.size());
    return;
  }
  const Config& cfg = reg_->policy()->config();
  Session& ses = **added;
  counters_.registers++;
  proto::RegisterResult rr;
  rr.server_pubkey = kp->pub;
  rr.client_nonce = r->client_nonce;
  rr.mtu = ses.mtu;
  rr.heartbeat_s = static_cast<uint16_t>(std::min<uint32_t>(cfg.timers.heartbeat_s, 65535));
  rr.cookie_rotate_s = static_cast<uint16_t>(std::min<uint32_t>(cfg.timers.cookie_rotate_s, 65535));
  rr.dead_after = DeadAfter(cfg);
  rr.results = Judge(ses, r->claims, now_s);
  proto::SessionMessage m{ses.session_id, ++ses.tx_seq, true, rr};
  absl::StatusOr<proto::Bytes> b = proto::SealMessage(m, ses.keys.f2c);
  if (!b.ok()) {  // too large with the texts: drop them and retry
    for (auto& res : std::get<proto::RegisterResult>(m.body).results) res.text.clear();
    b = proto::SealMessage(m, ses.keys.f2c);
  }
  if (!b.ok()) return;
  ses.register_result = *b;
  reg_->Touch(ses, now_s, true);
  counters_.tx_frames++;
  send_(ses.local, ses.connector, *b);
}

bool TunnelServer::SendInSession(Session& s, proto::SessionBody body) {
  proto::SessionMessage m{s.session_id, ++s.tx_seq, true, std::move(body)};
  absl::StatusOr<proto::Bytes> b = proto::SealMessage(m, s.keys.f2c);
  if (!b.ok()) return false;
  counters_.tx_frames++;
  send_(s.local, s.connector, *b);
  return true;
}

void TunnelServer::OnSession(proto::ByteSpan frame, const proto::Endpoint& src, const proto::Endpoint& local,
                             uint64_t now_ms) {
  absl::StatusOr<proto::SessionHeader> h = proto::PeekSession(frame);
  if (!h.ok()) {
    counters_.drop_malformed++;
    return;
  }
  Session* s = reg_->FindSession(h->session_id);
  if (s == nullptr) {
    counters_.drop_unknown_session++;
    if (limiter_.Allow(src.addr, now_ms)) {
      SendError(KP_ERR_UNKNOWN_SESSION, 0, h->session_id, src, local, frame.size());
    }
    return;
  }
  absl::StatusOr<proto::SessionMessage> m = proto::OpenMessage(frame, s->keys.c2f);
  if (!m.ok()) {
    (absl::IsUnauthenticated(m.status()) ? counters_.drop_bad_mac : counters_.drop_malformed)++;
    return;
  }
  if (m->from_frontend) {
    counters_.drop_malformed++;
    return;
  }
  bool newest = s->rx.IsNewest(m->seq);
  if (!s->rx.Accept(m->seq)) {
    counters_.drop_replay++;
    return;
  }
  // The rebinding rule: only a fresh top seq on the same tunnel endpoint moves the session.
  if (newest && !(src == s->connector) && local == s->local) (void)reg_->Rebind(*s, src);
  Dispatch(*s, *m, src, now_ms);
}

void TunnelServer::Dispatch(Session& s, const proto::SessionMessage& m, const proto::Endpoint& src,
                            uint64_t now_ms) {
  uint64_t now_s = now_ms / 1000;
  uint32_t sid = s.session_id;
  if (auto* add = std::get_if<proto::KiteAdd>(&m.body)) {
    proto::KiteResultMsg r{m.seq, Judge(s, add->claims, now_s)};
    SendInSession(s, r);
  } else if (auto* rem = std::get_if<proto::KiteRemove>(&m.body)) {
    proto::KiteResultMsg r{m.seq, {}};
    for (const std::string& n : rem->names) r.results.push_back(reg_->Remove(s, n));
    SendInSession(s, r);
  } else if (auto* hb = std::get_if<proto::Heartbeat>(&m.body)) {
    counters_.heartbeats++;
    SendInSession(s, proto::HeartbeatAck{m.seq, hb->timestamp_ms});
  } else if (std::get_if<proto::Resume>(&m.body)) {
    counters_.resumes++;
    SendInSession(s, proto::ResumeAck{m.seq, src});
  } else if (auto* ack = std::get_if<proto::NoticeAck>(&m.body)) {
    auto& out = outstanding_[sid];
    if (out.erase(ack->ack_seq)) counters_.notices_acked++;
  } else if (auto* cl = std::get_if<proto::Close>(&m.body)) {
    counters_.closes_received++;
    outstanding_.erase(sid);
    reg_->EndSession(sid, absl::StrCat("closed by the connector (reason ", cl->reason, ")"));
    return;
  }
  // HEARTBEAT_ACK needs nothing beyond the liveness below.
  reg_->Touch(s, now_s, true);
}

void TunnelServer::SendNotice(Session& s, const proto::Notice& n, uint64_t now_ms) {
  if (!SendInSession(s, n)) return;
  counters_.notices_sent++;
  Outstanding o{n, 1, now_ms};
  outstanding_[s.session_id][s.tx_seq] = o;
}

void TunnelServer::AnnounceLameDuck(uint32_t deadline_s, uint64_t now_ms) {
  for (const auto& [id, ses] : reg_->sessions()) {
    Session* s = reg_->FindSession(id);
    proto::Notice n;
    n.kind = KP_NOTICE_LAME_DUCK;
    n.arg = deadline_s;
    n.text = "front-end is draining";
    SendNotice(*s, n, now_ms);
  }
}

void TunnelServer::CloseSession(uint32_t id, uint8_t reason, const std::string& text) {
  Session* s = reg_->FindSession(id);
  if (s == nullptr) return;
  for (int i = 0; i < 2; i++) SendInSession(*s, proto::Close{reason, text});
  outstanding_.erase(id);
  reg_->EndSession(id, text);
}

void TunnelServer::CloseAll(uint8_t reason, const std::string& text) {
  std::vector<uint32_t> ids;
  for (const auto& [id, s] : reg_->sessions()) ids.push_back(id);
  for (uint32_t id : ids) CloseSession(id, reason, text);
}

void TunnelServer::Tick(uint64_t now_ms) {
  if (tokens_rotated_ms_ == 0) tokens_rotated_ms_ = now_ms;
  if (now_ms >= tokens_rotated_ms_ + kTokenRotateMs) {
    tokens_.Rotate(proto::RandomKey());
    tokens_rotated_ms_ = now_ms;
  }
  auto& queue = reg_->notices();
  while (!queue.empty()) {
    PendingNotice p = queue.front();
    queue.pop_front();
    if (Session* s = reg_->FindSession(p.session_id)) SendNotice(*s, p.notice, now_ms);
  }
  const Config& cfg = reg_->policy()->config();
  uint64_t every_ms = static_cast<uint64_t>(cfg.timers.heartbeat_s) * 1000;
  uint32_t max_attempts = DeadAfter(cfg);
  for (auto it = outstanding_.begin(); it != outstanding_.end();) {
    Session* s = reg_->FindSession(it->first);
    if (s == nullptr) {
      it = outstanding_.erase(it);
      continue;
    }
    std::map<uint64_t, Outstanding> next;
    for (auto& [seq, o] : it->second) {
      if (now_ms < o.sent_ms + every_ms) {
        next[seq] = o;
      } else if (o.attempts < max_attempts && SendInSession(*s, o.notice)) {
        counters_.notices_sent++;
        next[s->tx_seq] = Outstanding{o.notice, o.attempts + 1, now_ms};
      }
    }
    it->second = std::move(next);
    ++it;
  }
  for (uint32_t id : reg_->ExpireDeadSessions(now_ms / 1000)) {
    counters_.dead_sessions++;
    outstanding_.erase(id);
  }
}

}  // namespace kp::cp
