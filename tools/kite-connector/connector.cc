// connector.cc - kite-connector's event loop (see connector.h).
//
// epoll tags: 1 the signalfd, 2 the active session's tunnel socket, 3 the
// candidate's, and kFlowBit | serial for a client flow's service socket.
// Registration progress is polled from Tick() every loop turn (at most 50 ms
// apart), which also flushes the batched output of both sessions.
#include "tools/kite-connector/connector.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kp::connector {
namespace {

constexpr uint64_t kSignalTag = 1;
constexpr uint64_t kSlotTag = 2;  // + slot index
constexpr uint64_t kFlowBit = uint64_t{1} << 63;
constexpr int kBatch = 32;
constexpr size_t kBufLen = 9216;
constexpr uint64_t kMs = 1000000ull;
constexpr uint64_t kSec = 1000 * kMs;

uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

bool EpollAdd(int ep, int fd, uint64_t tag, int op = EPOLL_CTL_ADD) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = tag;
  return epoll_ctl(ep, op, fd, &ev) == 0;
}

bool HardSendError(int err) {
  return err == ENETUNREACH || err == EHOSTUNREACH || err == EADDRNOTAVAIL || err == ENETDOWN ||
         err == EPERM;
}

}  // namespace

Connector::Connector(Config cfg, Options opts)
    : cfg_(std::move(cfg)),
      opts_(std::move(opts)),
      flows_(cfg_.max_flows, uint64_t{cfg_.flow_idle_s} * kSec),
      backoff_(cfg_.backoff_initial_ms, cfg_.backoff_max_ms) {
  for (const FrontendConfig& f : cfg_.frontends) pairs_total_ += f.ports.size();
  rx_buf_.resize(kBatch * kBufLen);
}

Connector::~Connector() = default;

absl::StatusOr<std::unique_ptr<Connector>> Connector::Create(Config cfg, Options opts) {
  if (auto st = proto::InitCrypto(); !st.ok()) return st;
  std::unique_ptr<Connector> c(new Connector(std::move(cfg), std::move(opts)));
  if (auto st = c->Init(); !st.ok()) return st;
  return c;
}

absl::Status Connector::Init() {
  epoll_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_.valid()) return absl::InternalError(absl::StrCat("epoll: ", strerror(errno)));
  if (opts_.handle_signals) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGUSR1, SIGTERM, SIGINT}) sigaddset(&set, s);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal_fd_ = UniqueFd(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!signal_fd_.valid() || !EpollAdd(epoll_.get(), signal_fd_.get(), kSignalTag)) {
      return absl::InternalError(absl::StrCat("signalfd: ", strerror(errno)));
    }
  }
  return absl::OkStatus();
}

absl::Status Connector::OpenTunnelSocket(Slot& s, int slot_index, const proto::Endpoint& fe) {
  const bool v4 = fe.family == KP_AF_INET;
  UniqueFd fd(socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  // DF on everything we send: we never let the tunnel fragment (protocol.md §10).
  int pmtu = v4 ? IP_PMTUDISC_DO : IPV6_PMTUDISC_DO;
  setsockopt(fd.get(), v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_MTU_DISCOVER : IPV6_MTU_DISCOVER,
             &pmtu, sizeof pmtu);
  if (!EpollAdd(epoll_.get(), fd.get(), kSlotTag + slot_index)) {
    return absl::InternalError(absl::StrCat("epoll_ctl: ", strerror(errno)));
  }
  s.fd = std::move(fd);
  return absl::OkStatus();
}

void Connector::StartAttempt(uint64_t now) {
  if (candidate_.session) return;
  const FrontendConfig& fe = cfg_.frontends[cur_fe_];
  const uint16_t port = fe.ports[cur_port_];
  auto addrs = Resolve(fe.address, port);
  absl::Status st = addrs.status();
  if (st.ok()) st = OpenTunnelSocket(candidate_, 1, (*addrs)[0]);
  if (st.ok()) {
    candidate_.session = std::make_unique<Session>(cfg_, cur_fe_, static_cast<uint16_t>(cur_port_),
                                                   (*addrs)[0], &ctr_);
    st = candidate_.session->Start(now, candidate_.out);
  }
  if (!st.ok()) {
    candidate_.session.reset();
    round_failures_.push_back(absl::StrCat(fe.address, ":", port, ": ", st.message()));
    Slot empty;
    AttemptFailed(empty, now);
    return;
  }
  Log(absl::StrCat("trying front-end ", proto::EndpointToString(candidate_.session->frontend())));
}

void Connector::AttemptFailed(Slot& s, uint64_t now) {
  ++ctr_.registration_failures;
  if (s.session) {
    std::string msg = absl::StrCat(proto::EndpointToString(s.session->frontend()), ": ",
                                   s.session->failure());
    Log(absl::StrCat("registration failed: ", msg));
    round_failures_.push_back(std::move(msg));
  }
  candidate_ = Slot{};
  if (++cur_port_ >= cfg_.frontends[cur_fe_].ports.size()) {
    cur_port_ = 0;
    cur_fe_ = (cur_fe_ + 1) % cfg_.frontends.size();
  }
  if (++tried_in_round_ < pairs_total_) {
    next_attempt_ns_ = now;
    return;
  }
  tried_in_round_ = 0;
  if (opts_.once && !active_.session) {
    Log(absl::StrCat("nothing could be registered with any front-end: ",
                     absl::StrJoin(round_failures_, "; ")));
    exit_code_ = 1;
    return;
  }
  round_failures_.clear();
  uint32_t delay = backoff_.NextDelayMs();
  Log(absl::StrCat("every front-end and port failed; next round in ", delay, " ms"));
  next_attempt_ns_ = now + uint64_t{delay} * kMs;
}

void Connector::Promote(uint64_t now) {
  Session& s = *candidate_.session;
  if (!cfg_.kites.empty() && s.accepted() == 0) {
    s.SendClose(KP_CLOSE_NO_KITES, "no kite accepted", candidate_.out);
    Flush(candidate_, 1, now);
    Log(absl::StrCat(s.Describe(), ": no kite accepted"));
    AttemptFailed(candidate_, now);
    return;
  }
  backoff_.Reset();
  tried_in_round_ = 0;
  round_failures_.clear();
  next_attempt_ns_ = 0;
  if (active_.session) {
    const uint32_t old_id = active_.session->session_id();
    active_.session->SendClose(KP_CLOSE_REPLACED, "replaced by a new session", active_.out);
    Flush(active_, 0, now);
    flows_.RemoveSession(old_id);
    Log(absl::StrCat(active_.session->Describe(), ": closed, replaced by ", s.Describe()));
  }
  active_ = std::move(candidate_);
  candidate_ = Slot{};
  EpollAdd(epoll_.get(), active_.fd.get(), kSlotTag + 0, EPOLL_CTL_MOD);
  cur_fe_ = s.fe_index();
  cur_port_ = s.port_index();
  if (opts_.exit_after_register) {
    s.SendClose(KP_CLOSE_NORMAL, "registration check done", active_.out);
    Flush(active_, 0, now);
    exit_code_ = 0;
  }
}

void Connector::EndActive(uint64_t now, bool next_frontend) {
  Session& s = *active_.session;
  Log(absl::StrCat(s.Describe(), ": session ended: ", s.failure()));
  ++ctr_.sessions_lost;
  flows_.RemoveSession(s.session_id());
  const size_t fe = s.fe_index();
  const size_t port = s.port_index();
  active_ = Slot{};
  if (candidate_.session) return;  // already registering elsewhere
  if (next_frontend && cfg_.frontends.size() > 1) {
    cur_fe_ = (fe + 1) % cfg_.frontends.size();
    cur_port_ = 0;
  } else {
    cur_fe_ = fe;
    cur_port_ = port;
  }
  tried_in_round_ = 0;
  next_attempt_ns_ = now;
}

void Connector::ReadTunnel(int idx, uint64_t now) {
  Slot& s = slot(idx);
  if (!s.session || !s.fd.valid()) return;
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_storage addrs[kBatch];
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {rx_buf_.data() + i * kBufLen, kBufLen};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(addrs[i]);
    }
    int n = recvmmsg(s.fd.get(), msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    for (int i = 0; i < n && s.session; ++i) {
      ++ctr_.tunnel_rx_frames;
      proto::ByteSpan frame(rx_buf_.data() + i * kBufLen, msgs[i].msg_len);
      if (ToEndpoint(reinterpret_cast<sockaddr*>(&addrs[i])) != s.session->frontend()) {
        ++ctr_.drop_wrong_source;
        continue;
      }
      if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
        ++ctr_.drop_bad_data;
        continue;
      }
      if (frame.size() >= sizeof(kp_hdr) && frame[2] == KP_MSG_DATA) {
        HandleData(s, frame, now);
      } else {
        s.session->OnFrame(frame, now, s.out);
      }
    }
    if (n < kBatch) break;
  }
}

void Connector::HandleData(Slot& s, proto::ByteSpan frame, uint64_t now) {
  Session& se = *s.session;
  if (!se.established() || frame.size() < sizeof(kp_data_hdr) || frame[0] != KP_MAGIC ||
      frame[1] != KP_PROTO_VERSION || (frame[3] & KP_F_FROM_FRONTEND) == 0) {
    ++ctr_.drop_bad_data;
    return;
  }
  FlowKey key;
  key.session_id = Be32(&frame[4]);
  if (key.session_id != se.session_id()) {
    ++ctr_.drop_wrong_session;
    return;
  }
  key.kite_id = Be32(&frame[8]);
  key.port = static_cast<uint16_t>((frame[12] << 8) | frame[13]);
  key.family = frame[14];
  std::memcpy(key.addr.data(), &frame[16], 16);
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!(key.family == KP_AF_INET6 ||
        (key.family == KP_AF_INET && std::memcmp(key.addr.data(), kMapped, 12) == 0))) {
    ++ctr_.drop_bad_data;
    return;
  }
  auto kite = se.KiteIndexForId(key.kite_id);
  if (!kite) {
    ++ctr_.drop_unknown_kite;
    return;
  }
  Flow* f = flows_.Find(key);
  if (f == nullptr) {
    SockAddr sa = ToSockAddr(cfg_.kites[*kite].service);
    UniqueFd fd(socket(sa.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid() || connect(fd.get(), reinterpret_cast<sockaddr*>(&sa.ss), sa.len) != 0) {
      ++ctr_.drop_service_send;
      return;
    }
    auto ins = flows_.Insert(key, *kite, std::move(fd), now);
    if (!ins.ok()) {
      ++ctr_.drop_flow_table_full;
      return;
    }
    f = *ins;
    if (!EpollAdd(epoll_.get(), f->fd.get(), kFlowBit | f->serial)) {
      flows_.Remove(f->serial);
      ++ctr_.drop_service_send;
      return;
    }
    ++ctr_.flows_created;
  }
  std::memcpy(f->echo.data(), &frame[KP_COOKIE_INPUT_OFFSET], f->echo.size());
  f->last_client_ns = now;
  f->last_activity_ns = now;
  proto::ByteSpan payload = frame.subspan(sizeof(kp_data_hdr));
  if (send(f->fd.get(), payload.data(), payload.size(), MSG_DONTWAIT) < 0) {
    ++ctr_.drop_service_send;
    return;
  }
  ++ctr_.data_rx_packets;
  ctr_.data_rx_bytes += payload.size();
}

void Connector::ReadFlow(uint64_t serial, uint64_t now) {
  Flow* f = flows_.FindBySerial(serial);
  if (f == nullptr) return;
  Slot* s = nullptr;
  for (Slot* c : {&active_, &candidate_}) {
    if (c->session && c->session->established() &&
        c->session->session_id() == f->key.session_id) {
      s = c;
    }
  }
  if (s == nullptr) {
    flows_.Remove(serial);
    return;
  }
  const Session& se = *s->session;
  const size_t ip_len = se.frontend().family == KP_AF_INET ? KP_IP4_HDR_LEN : KP_IP6_HDR_LEN;
  const size_t overhead = ip_len + KP_UDP_HDR_LEN + sizeof(kp_data_hdr);
  const size_t max_payload = se.mtu() > overhead ? se.mtu() - overhead : 0;
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {rx_buf_.data() + i * kBufLen, kBufLen};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(f->fd.get(), msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    f->last_activity_ns = now;
    for (int i = 0; i < n; ++i) {
      const size_t len = msgs[i].msg_len;
      if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || len > max_payload) {
        ++ctr_.reply_too_big;
        continue;
      }
      if (now - f->last_client_ns > 2 * se.cookie_rotate_ns()) {
        ++ctr_.reply_cookie_expired;
        continue;
      }
      proto::Bytes b(sizeof(kp_data_hdr) + len);
      b[0] = KP_MAGIC;
      b[1] = KP_PROTO_VERSION;
      b[2] = KP_MSG_DATA;
      b[3] = 0;
      const uint32_t sid = se.session_id();
      b[4] = static_cast<uint8_t>(sid >> 24);
      b[5] = static_cast<uint8_t>(sid >> 16);
      b[6] = static_cast<uint8_t>(sid >> 8);
      b[7] = static_cast<uint8_t>(sid);
      std::memcpy(&b[KP_COOKIE_INPUT_OFFSET], f->echo.data(), f->echo.size());
      std::memcpy(&b[sizeof(kp_data_hdr)], rx_buf_.data() + i * kBufLen, len);
      s->data.push_back(std::move(b));
      ++ctr_.data_tx_packets;
      ctr_.data_tx_bytes += len;
    }
    if (n < kBatch) break;
  }
}

void Connector::Flush(Slot& s, int idx, uint64_t now) {
  if (!s.session || !s.fd.valid()) {
    s.out.clear();
    s.data.clear();
    return;
  }
  SockAddr to = ToSockAddr(s.session->frontend());
  int hard_error = 0;
  for (const proto::Bytes& b : s.out) {
    if (sendto(s.fd.get(), b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&to.ss), to.len) <
        0) {
      ++ctr_.drop_tunnel_send;
      if (HardSendError(errno)) hard_error = errno;
    } else {
      ++ctr_.tunnel_tx_frames;
    }
  }
  s.out.clear();
  size_t done = 0;
  while (done < s.data.size()) {
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    const size_t n = std::min<size_t>(kBatch, s.data.size() - done);
    for (size_t i = 0; i < n; ++i) {
      iov[i] = {s.data[done + i].data(), s.data[done + i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &to.ss;
      msgs[i].msg_hdr.msg_namelen = to.len;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int sent = sendmmsg(s.fd.get(), msgs, static_cast<unsigned>(n), MSG_DONTWAIT);
    if (sent <= 0) {
      // Skip the datagram that failed and carry on with the rest.
      ++ctr_.drop_tunnel_send;
      if (HardSendError(errno)) hard_error = errno;
      ++done;
      continue;
    }
    ctr_.tunnel_tx_frames += static_cast<uint64_t>(sent);
    done += static_cast<size_t>(sent);
  }
  s.data.clear();
  if (hard_error != 0 && s.session->established()) {
    // A socket error: take a new socket (a new NAT mapping) and RESUME from it.
    Log(absl::StrCat(s.session->Describe(), ": socket error (", strerror(hard_error),
                     "), resuming from a new socket"));
    if (OpenTunnelSocket(s, idx, s.session->frontend()).ok()) {
      s.session->SendResume(KP_RESUME_SOCKET_ERROR, now, s.out);
    }
  }
}

void Connector::Tick(uint64_t now) {
  for (int i = 0; i < 2; ++i) {
    if (slot(i).session) slot(i).session->OnTimer(now, slot(i).out);
  }
  if (candidate_.session) {
    Flush(candidate_, 1, now);
    if (candidate_.session->ended()) {
      AttemptFailed(candidate_, now);
    } else if (candidate_.session->established()) {
      Promote(now);
    }
  }
  if (active_.session) {
    Session& a = *active_.session;
    if (a.ended()) {
      Flush(active_, 0, now);
      const uint8_t r = a.close_reason();
      EndActive(now, a.lame_duck() || r == KP_CLOSE_LAME_DUCK || r == KP_CLOSE_REPLACED);
    } else if ((a.lame_duck() || a.wants_reregister()) && !candidate_.session &&
               next_attempt_ns_ == 0) {
      if (a.lame_duck() && cfg_.frontends.size() > 1) {
        cur_fe_ = (a.fe_index() + 1) % cfg_.frontends.size();
        cur_port_ = 0;
      }
      tried_in_round_ = 0;
      next_attempt_ns_ = now;
    }
  }
  if (!active_.session && !candidate_.session && next_attempt_ns_ == 0) next_attempt_ns_ = now;
  if (exit_code_ < 0 && !candidate_.session && next_attempt_ns_ != 0 && now >= next_attempt_ns_) {
    next_attempt_ns_ = 0;
    StartAttempt(now);
  }
  Flush(active_, 0, now);
  Flush(candidate_, 1, now);
  if (now >= next_expire_ns_) {
    ctr_.flows_expired += flows_.ExpireIdle(now);
    next_expire_ns_ = now + kSec;
  }
  if (!opts_.stats_file.empty() && now >= next_stats_ns_) {
    WriteStats();
    next_stats_ns_ = now + uint64_t{cfg_.stats_interval_s} * kSec;
  }
}

void Connector::HandleSignal() {
  signalfd_siginfo si;
  while (read(signal_fd_.get(), &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGUSR1) {
      Log(absl::StrCat("counters: ", FormatCountersLine(ctr_)));
      WriteStats();
    } else {
      Log(absl::StrCat("signal ", si.ssi_signo, ": stopping"));
      stop_.store(true);
    }
  }
}

void Connector::WriteStats() const {
  if (opts_.stats_file.empty()) return;
  const std::string tmp = opts_.stats_file + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return;
    f << FormatCounters(ctr_);
  }
  std::rename(tmp.c_str(), opts_.stats_file.c_str());
}

int Connector::Run() {
  epoll_event evs[64];
  while (exit_code_ < 0) {
    if (stop_.load()) {
      if (active_.session) {
        active_.session->SendClose(KP_CLOSE_SHUTDOWN, "connector stopping", active_.out);
        Flush(active_, 0, MonotonicNs());
      }
      exit_code_ = 0;
      break;
    }
    int n = epoll_wait(epoll_.get(), evs, 64, 50);
    const uint64_t now = MonotonicNs();
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = evs[i].data.u64;
      if (tag == kSignalTag) {
        HandleSignal();
      } else if (tag == kSlotTag || tag == kSlotTag + 1) {
        ReadTunnel(static_cast<int>(tag - kSlotTag), now);
      } else if ((tag & kFlowBit) != 0) {
        ReadFlow(tag & ~kFlowBit, now);
      }
    }
    Tick(now);
  }
  WriteStats();
  return exit_code_;
}

}  // namespace kp::connector
