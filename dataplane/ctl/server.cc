// server.cc - the control-socket server: socket handling, validation of
// every request's shape, dispatch to the TableBackend, resync bookkeeping.
//
// Validation order for each datagram: at least a header (else -EINVAL, with
// whatever type/seq could be read), not truncated (-E2BIG), header len equal
// to the datagram length (-EINVAL), version KP_CTL_VERSION (-EPROTO), HELLO
// before anything else (-EPROTO), known type (-EINVAL), then the body shape
// the type fixes (-EINVAL, or -E2BIG for a batch over the per-message limit).
#include "dataplane/ctl/server.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "dataplane/ctl/protocol.h"

namespace kp::ctl {
namespace {

uint64_t MonoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

absl::Status ErrnoError(const char* what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Reads a fixed-size struct from the start of `body`.
template <typename T>
bool ReadExact(std::span<const uint8_t> body, T* out) {
  if (body.size() != sizeof(T)) return false;
  std::memcpy(out, body.data(), sizeof(T));
  return true;
}

// Validates a batch prefix + count entries of `entry_size`; returns 0 or -errno.
int32_t CheckBatch(std::span<const uint8_t> body, size_t entry_size, uint32_t max_count,
                   kp_ctl_batch* batch) {
  if (body.size() < sizeof(kp_ctl_batch)) return -EINVAL;
  std::memcpy(batch, body.data(), sizeof(*batch));
  if (batch->count > max_count) return -E2BIG;
  if (body.size() != sizeof(kp_ctl_batch) + static_cast<size_t>(batch->count) * entry_size) {
    return -EINVAL;
  }
  return 0;
}

template <typename T>
std::vector<T> Entries(std::span<const uint8_t> body, uint32_t count) {
  std::vector<T> v(count);
  if (count != 0) std::memcpy(v.data(), body.data() + sizeof(kp_ctl_batch), count * sizeof(T));
  return v;
}

}  // namespace

Server::Server(const ServerOptions& options, TableBackend* backend)
    : options_(options), backend_(backend), start_ns_(MonoNs()) {
  rx_buf_.resize(KP_CTL_MAX_MSG + 1);
  tx_buf_.reserve(KP_CTL_MAX_MSG);
}

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const ServerOptions& options,
                                                       TableBackend* backend) {
  if (backend == nullptr) return absl::InvalidArgumentError("control server needs a backend");
  std::unique_ptr<Server> s(new Server(options, backend));
  absl::Status st = s->Listen();
  if (!st.ok()) return st;
  return s;
}

absl::Status Server::Listen() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options_.path.empty() || options_.path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("control socket path must be 1..", sizeof(addr.sun_path) - 1,
                     " bytes: '", options_.path, "'"));
  }
  std::memcpy(addr.sun_path, options_.path.data(), options_.path.size());
  // The directory (e.g. /run/kiteplane, which a fresh boot does not have)
  // is created as needed; a failure shows up at bind below.
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(options_.path).parent_path(), ec);
  listen_fd_ = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return ErrnoError("socket for", options_.path);
  struct stat sb {};
  if (lstat(options_.path.c_str(), &sb) == 0 && S_ISSOCK(sb.st_mode)) {
    // A socket file left by a previous run is replaced; one that a running
    // process still serves is not taken from it.
    int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    bool live = probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (probe >= 0) close(probe);
    if (live) {
      return absl::FailedPreconditionError(absl::StrCat(
          "control socket ", options_.path,
          " is served by a running process (another data plane?): stop it or give another --ctl-socket"));
    }
    unlink(options_.path.c_str());
  }
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::InternalError(absl::StrCat("cannot create control socket ", options_.path, ": ",
                                            std::strerror(errno),
                                            " (--ctl-socket: its directory must be creatable and writable)"));
  }
  bound_ = true;
  if (chmod(options_.path.c_str(), options_.mode) != 0) return ErrnoError("chmod", options_.path);
  if (listen(listen_fd_, 8) != 0) return ErrnoError("listen", options_.path);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return ErrnoError("epoll for", options_.path);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) {
    return ErrnoError("epoll_ctl", options_.path);
  }
  return absl::OkStatus();
}

Server::~Server() {
  for (Conn& c : conns_) close(c.fd);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (listen_fd_ >= 0) close(listen_fd_);
  if (bound_) unlink(options_.path.c_str());
}

int Server::Poll(int timeout_ms) {
  epoll_event evs[16];
  int handled = 0;
  int n = epoll_wait(epoll_fd_, evs, 16, timeout_ms);
  for (int i = 0; i < n; i++) {
    if (evs[i].data.fd == listen_fd_) {
      Accept();
      continue;
    }
    Conn* c = FindConn(evs[i].data.fd);
    if (c == nullptr) continue;
    const uint64_t before = stats_.requests;
    ServeConn(c);  // may close and erase c
    handled += static_cast<int>(stats_.requests - before);
  }
  return handled;
}

Server::Conn* Server::FindConn(int fd) {
  for (Conn& c : conns_) {
    if (c.fd == fd) return &c;
  }
  return nullptr;
}

void Server::Accept() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (conns_.size() >= options_.max_clients) {
      close(fd);
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      close(fd);
      continue;
    }
    conns_.push_back(Conn{fd, false});
    stats_.connections++;
    stats_.clients = static_cast<uint32_t>(conns_.size());
  }
}

void Server::CloseConn(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  close(fd);
  conns_.erase(std::remove_if(conns_.begin(), conns_.end(), [fd](const Conn& c) { return c.fd == fd; }),
               conns_.end());
  stats_.clients = static_cast<uint32_t>(conns_.size());
  if (conns_.empty()) {
    headless_since_s_ = static_cast<uint32_t>(time(nullptr));
    // A resync cut short by the client's death is abandoned, not applied.
    resync_active_ = false;
    resync_kites_.clear();
    resync_sessions_.clear();
  }
}

void Server::ServeConn(Conn* c) {
  const int fd = c->fd;
  // Bounded: at most 64 requests per connection per Poll, so one busy
  // client cannot starve the rest.
  for (int i = 0; i < 64; i++) {
    ssize_t n = recv(fd, rx_buf_.data(), rx_buf_.size(), MSG_TRUNC | MSG_DONTWAIT);
    if (n == 0) {
      CloseConn(fd);
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      CloseConn(fd);
      return;
    }
    const bool truncated = static_cast<size_t>(n) > rx_buf_.size();
    const size_t got = std::min(static_cast<size_t>(n), rx_buf_.size());
    HandleMessage(fd, std::span<const uint8_t>(rx_buf_.data(), got), truncated, &tx_buf_);
    if (send(fd, tx_buf_.data(), tx_buf_.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
      CloseConn(fd);  // a client that does not read its replies is dropped
      return;
    }
    c = FindConn(fd);
    if (c == nullptr) return;
  }
}

void Server::HandleMessage(int conn, std::span<const uint8_t> req, bool truncated,
                           std::vector<uint8_t>* reply) {
  stats_.requests++;
  backend_refused_ = false;
  kp_ctl_hdr h{};
  std::memcpy(&h, req.data(), std::min(req.size(), sizeof(h)));
  int32_t status = 0;
  StartMessage(reply, h.type, h.seq, 0);
  if (req.size() < sizeof(h)) {
    status = -EINVAL;
  } else if (truncated || req.size() > KP_CTL_MAX_MSG) {
    status = -E2BIG;
  } else if (h.len != req.size()) {
    status = -EINVAL;
  } else if (h.version != KP_CTL_VERSION) {
    status = -EPROTO;
  } else {
    Conn* c = FindConn(conn);
    Conn test_conn{conn, true};  // direct calls from tests act as a greeted client
    status = Dispatch(c != nullptr ? c : &test_conn, h.type, req.subspan(sizeof(h)), reply);
  }
  if (status != 0) {
    // Error replies carry the header only.  Shape errors and backend
    // refusals are counted apart.
    reply->resize(sizeof(kp_ctl_hdr));
    if (backend_refused_) {
      stats_.errors++;
    } else {
      stats_.malformed++;
    }
  }
  std::memcpy(reply->data() + offsetof(kp_ctl_hdr, status), &status, sizeof(status));
  FinishMessage(reply);
}

int32_t Server::Dispatch(Conn* c, uint16_t type, std::span<const uint8_t> body,
                         std::vector<uint8_t>* reply) {
  if (type == KP_CTL_HELLO) {
    int32_t st = OnHello(body, reply);
    if (st == 0) c->hello_done = true;
    return st;
  }
  if (!c->hello_done) return -EPROTO;
  switch (type) {
    case KP_CTL_CONFIG_SET:
      return OnConfigSet(body);
    case KP_CTL_CONFIG_GET:
      return OnConfigGet(body, reply);
    case KP_CTL_KITE_UPSERT:
      return OnKiteUpsert(body);
    case KP_CTL_SESSION_UPSERT:
      return OnSessionUpsert(body);
    case KP_CTL_KITE_DELETE:
    case KP_CTL_SESSION_DELETE:
      return OnDelete(type, body);
    case KP_CTL_CREDIT_GRANT:
      return OnCredit(body);
    case KP_CTL_SET_STATE:
      return OnSetState(body);
    case KP_CTL_GLOBAL_COUNTERS:
      return OnGlobalCounters(body, reply);
    case KP_CTL_KITE_COUNTERS:
    case KP_CTL_KITE_DUMP:
    case KP_CTL_SESSION_DUMP:
      return OnRange(type, body, reply);
    case KP_CTL_RESYNC_BEGIN:
      return OnResyncBegin(body);
    case KP_CTL_RESYNC_END:
      return OnResyncEnd(body);
    default:
      return -EINVAL;
  }
}

int32_t Server::OnHello(std::span<const uint8_t> body, std::vector<uint8_t>* reply) {
  kp_ctl_hello hello{};
  if (!ReadExact(body, &hello)) return -EINVAL;
  if (hello.ctl_version != KP_CTL_VERSION) return -EPROTO;
  kp_ctl_hello_reply r{};
  r.ctl_version = KP_CTL_VERSION;
  r.mode = backend_->Mode();
  r.n_workers = backend_->NumWorkers();
  r.max_kites = backend_->MaxKites();
  r.max_sessions = backend_->MaxSessions();
  r.n_drop_reasons = KP_DROP_MAX;
  r.n_counters = KP_CTR_MAX;
  r.n_kite_counters = KP_KCTR_MAX;
  r.uptime_ns = MonoNs() - start_ns_;
  absl::StatusOr<kp_config> cfg = backend_->GetConfig();
  r.config_generation = cfg.ok() ? cfg->generation : 0;
  r.headless_since_s = headless_since_s_;
  Append(reply, r);
  return 0;
}

int32_t Server::OnConfigSet(std::span<const uint8_t> body) {
  kp_config cfg{};
  if (!ReadExact(body, &cfg)) return -EINVAL;
  return Refused(backend_->SetConfig(cfg));
}

int32_t Server::OnConfigGet(std::span<const uint8_t> body, std::vector<uint8_t>* reply) {
  if (!body.empty()) return -EINVAL;
  absl::StatusOr<kp_config> cfg = backend_->GetConfig();
  if (!cfg.ok()) return Refused(cfg.status());
  Append(reply, *cfg);
  return 0;
}

int32_t Server::OnKiteUpsert(std::span<const uint8_t> body) {
  kp_ctl_batch b{};
  if (int32_t st = CheckBatch(body, sizeof(kp_kite), kMaxKiteBatch, &b); st != 0) return st;
  std::vector<kp_kite> kites = Entries<kp_kite>(body, b.count);
  int32_t st = Refused(backend_->UpsertKites(kites));
  if (st == 0 && resync_active_) {
    for (const kp_kite& k : kites) resync_kites_.insert(k.kite_id);
  }
  return st;
}

int32_t Server::OnSessionUpsert(std::span<const uint8_t> body) {
  kp_ctl_batch b{};
  if (int32_t st = CheckBatch(body, sizeof(kp_session), kMaxSessionBatch, &b); st != 0) {
    return st;
  }
  std::vector<kp_session> sessions = Entries<kp_session>(body, b.count);
  int32_t st = Refused(backend_->UpsertSessions(sessions));
  if (st == 0 && resync_active_) {
    for (const kp_session& s : sessions) resync_sessions_.insert(s.session_id);
  }
  return st;
}

int32_t Server::OnDelete(uint16_t type, std::span<const uint8_t> body) {
  kp_ctl_batch b{};
  if (int32_t st = CheckBatch(body, sizeof(uint32_t), kMaxIdBatch, &b); st != 0) return st;
  std::vector<uint32_t> ids = Entries<uint32_t>(body, b.count);
  absl::Status s = type == KP_CTL_KITE_DELETE ? backend_->DeleteKites(ids)
                                              : backend_->DeleteSessions(ids);
  return Refused(s);
}

int32_t Server::OnCredit(std::span<const uint8_t> body) {
  kp_ctl_batch b{};
  if (int32_t st = CheckBatch(body, sizeof(kp_ctl_credit), kMaxCreditBatch, &b); st != 0) {
    return st;
  }
  return Refused(backend_->GrantCredit(Entries<kp_ctl_credit>(body, b.count)));
}

int32_t Server::OnSetState(std::span<const uint8_t> body) {
  kp_ctl_state s{};
  if (!ReadExact(body, &s)) return -EINVAL;
  if (s.state > KP_FE_CLOSED) return -EINVAL;
  return Refused(backend_->SetState(static_cast<kp_frontend_state>(s.state)));
}

int32_t Server::OnGlobalCounters(std::span<const uint8_t> body, std::vector<uint8_t>* reply) {
  if (!body.empty()) return -EINVAL;
  absl::StatusOr<kp_ctl_global_counters> c = backend_->GlobalCounters();
  if (!c.ok()) return Refused(c.status());
  Append(reply, *c);
  return 0;
}

int32_t Server::OnRange(uint16_t type, std::span<const uint8_t> body,
                        std::vector<uint8_t>* reply) {
  kp_ctl_range r{};
  if (!ReadExact(body, &r)) return -EINVAL;
  absl::StatusOr<uint32_t> n;
  uint32_t next = 0;
  std::vector<uint8_t> entries;
  if (type == KP_CTL_KITE_COUNTERS) {
    std::vector<kp_ctl_kite_stats> v(std::min(r.count, kMaxKiteStatsRange));
    n = backend_->KiteStats(r.first, std::span(v), &next);
    if (n.ok()) AppendSpan(&entries, std::span<const kp_ctl_kite_stats>(v.data(), *n));
  } else if (type == KP_CTL_KITE_DUMP) {
    std::vector<kp_kite> v(std::min(r.count, kMaxKiteDumpRange));
    n = backend_->DumpKites(r.first, std::span(v), &next);
    if (n.ok()) AppendSpan(&entries, std::span<const kp_kite>(v.data(), *n));
  } else {
    std::vector<kp_session> v(std::min(r.count, kMaxSessionDumpRange));
    n = backend_->DumpSessions(r.first, std::span(v), &next);
    if (n.ok()) AppendSpan(&entries, std::span<const kp_session>(v.data(), *n));
  }
  if (!n.ok()) return Refused(n.status());
  kp_ctl_range out{};
  out.first = r.first;
  out.count = *n;
  out.next = next;
  Append(reply, out);
  reply->insert(reply->end(), entries.begin(), entries.end());
  return 0;
}

int32_t Server::OnResyncBegin(std::span<const uint8_t> body) {
  if (!body.empty()) return -EINVAL;
  resync_active_ = true;
  resync_kites_.clear();
  resync_sessions_.clear();
  return 0;
}

int32_t Server::OnResyncEnd(std::span<const uint8_t> body) {
  if (!body.empty()) return -EINVAL;
  if (!resync_active_) return -EPROTO;
  absl::Status st = SweepUnmarked();
  resync_active_ = false;
  resync_kites_.clear();
  resync_sessions_.clear();
  return Refused(st);
}

absl::Status Server::SweepUnmarked() {
  // Kites first, so no kite is left naming a session that is about to go.
  std::vector<kp_kite> kites(kMaxKiteDumpRange);
  std::vector<uint32_t> stale;
  uint32_t first = 0;
  do {
    uint32_t next = 0;
    absl::StatusOr<uint32_t> n = backend_->DumpKites(first, std::span(kites), &next);
    if (!n.ok()) return n.status();
    for (uint32_t i = 0; i < *n; i++) {
      if (!resync_kites_.contains(kites[i].kite_id)) stale.push_back(kites[i].kite_id);
    }
    first = next;
  } while (first != 0);
  for (size_t i = 0; i < stale.size(); i += kMaxIdBatch) {
    const size_t len = std::min<size_t>(kMaxIdBatch, stale.size() - i);
    absl::Status st = backend_->DeleteKites(std::span(stale).subspan(i, len));
    if (!st.ok()) return st;
  }
  std::vector<kp_session> sessions(kMaxSessionDumpRange);
  stale.clear();
  first = 0;
  do {
    uint32_t next = 0;
    absl::StatusOr<uint32_t> n = backend_->DumpSessions(first, std::span(sessions), &next);
    if (!n.ok()) return n.status();
    for (uint32_t i = 0; i < *n; i++) {
      if (!resync_sessions_.contains(sessions[i].session_id)) {
        stale.push_back(sessions[i].session_id);
      }
    }
    first = next;
  } while (first != 0);
  for (size_t i = 0; i < stale.size(); i += kMaxIdBatch) {
    const size_t len = std::min<size_t>(kMaxIdBatch, stale.size() - i);
    absl::Status st = backend_->DeleteSessions(std::span(stale).subspan(i, len));
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace kp::ctl
