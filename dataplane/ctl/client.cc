// client.cc - synchronous control-socket client: one request, one reply,
// replies matched by sequence number (stale replies of timed-out requests
// are skipped), batches split at the per-message limit.
#include "dataplane/ctl/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "dataplane/ctl/protocol.h"

namespace kp::ctl {

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const std::string& path,
                                                        const std::string& name,
                                                        int timeout_ms) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("bad control socket path '", path, "'"));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    absl::Status st = absl::UnavailableError(
        absl::StrCat("connect to data plane at ", path, ": ", std::strerror(errno)));
    close(fd);
    return st;
  }
  std::unique_ptr<Client> c(new Client(fd, timeout_ms));
  absl::Status st = c->Hello(name);
  if (!st.ok()) return st;
  return c;
}

Client::~Client() {
  if (fd_ >= 0) close(fd_);
}

absl::Status Client::Hello(const std::string& name) {
  kp_ctl_hello h{};
  h.ctl_version = KP_CTL_VERSION;
  std::memcpy(h.client, name.data(), std::min(name.size(), sizeof(h.client) - 1));
  absl::StatusOr<std::vector<uint8_t>> r =
      Call(KP_CTL_HELLO, std::span(reinterpret_cast<const uint8_t*>(&h), sizeof(h)));
  if (!r.ok()) return r.status();
  if (r->size() != sizeof(hello_)) return absl::InternalError("HELLO reply of the wrong size");
  std::memcpy(&hello_, r->data(), sizeof(hello_));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> Client::RawCall(std::span<const uint8_t> datagram) {
  if (send(fd_, datagram.data(), datagram.size(), MSG_NOSIGNAL) < 0) {
    return absl::UnavailableError(absl::StrCat("send to data plane: ", std::strerror(errno)));
  }
  pollfd p{fd_, POLLIN, 0};
  int n = poll(&p, 1, timeout_ms_);
  if (n <= 0) return absl::UnavailableError("data plane did not reply in time");
  std::vector<uint8_t> buf(KP_CTL_MAX_MSG);
  ssize_t got = recv(fd_, buf.data(), buf.size(), 0);
  if (got <= 0) return absl::UnavailableError("data plane closed the control socket");
  buf.resize(static_cast<size_t>(got));
  return buf;
}

absl::StatusOr<std::vector<uint8_t>> Client::Call(uint16_t type, std::span<const uint8_t> body) {
  std::vector<uint8_t> msg;
  const uint32_t seq = ++seq_;
  StartMessage(&msg, type, seq, 0);
  msg.insert(msg.end(), body.begin(), body.end());
  FinishMessage(&msg);
  absl::StatusOr<std::vector<uint8_t>> r = RawCall(msg);
  // Skip replies to earlier requests that timed out.
  for (int i = 0; r.ok() && i < 8; i++) {
    kp_ctl_hdr h{};
    if (r->size() < sizeof(h)) return absl::InternalError("short reply from data plane");
    std::memcpy(&h, r->data(), sizeof(h));
    if (h.seq == seq) {
      if (h.type != type) return absl::InternalError("reply of another type");
      if (h.status != 0) return ErrnoToStatus(h.status, "control request");
      r->erase(r->begin(), r->begin() + sizeof(h));
      return r;
    }
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms_) <= 0) break;
    std::vector<uint8_t> buf(KP_CTL_MAX_MSG);
    ssize_t got = recv(fd_, buf.data(), buf.size(), 0);
    if (got <= 0) break;
    buf.resize(static_cast<size_t>(got));
    r = std::move(buf);
  }
  if (!r.ok()) return r.status();
  return absl::UnavailableError("no reply with the request's sequence number");
}

template <typename T>
absl::Status Client::Batched(uint16_t type, std::span<const T> entries, uint32_t max_batch) {
  size_t i = 0;
  do {
    const size_t n = std::min<size_t>(max_batch, entries.size() - i);
    std::vector<uint8_t> body;
    kp_ctl_batch b{};
    b.count = static_cast<uint32_t>(n);
    Append(&body, b);
    AppendSpan(&body, entries.subspan(i, n));
    absl::StatusOr<std::vector<uint8_t>> r = Call(type, body);
    if (!r.ok()) return r.status();
    i += n;
  } while (i < entries.size());
  return absl::OkStatus();
}

absl::Status Client::SetConfig(const kp_config& config) {
  return Call(KP_CTL_CONFIG_SET,
              std::span(reinterpret_cast<const uint8_t*>(&config), sizeof(config)))
      .status();
}

absl::StatusOr<kp_config> Client::GetConfig() {
  absl::StatusOr<std::vector<uint8_t>> r = Call(KP_CTL_CONFIG_GET, {});
  if (!r.ok()) return r.status();
  kp_config c{};
  if (r->size() != sizeof(c)) return absl::InternalError("CONFIG_GET reply of the wrong size");
  std::memcpy(&c, r->data(), sizeof(c));
  return c;
}

absl::Status Client::UpsertKites(std::span<const kp_kite> kites) {
  return Batched(KP_CTL_KITE_UPSERT, kites, kMaxKiteBatch);
}
absl::Status Client::DeleteKites(std::span<const uint32_t> ids) {
  return Batched(KP_CTL_KITE_DELETE, ids, kMaxIdBatch);
}
absl::Status Client::UpsertSessions(std::span<const kp_session> sessions) {
  return Batched(KP_CTL_SESSION_UPSERT, sessions, kMaxSessionBatch);
}
absl::Status Client::DeleteSessions(std::span<const uint32_t> ids) {
  return Batched(KP_CTL_SESSION_DELETE, ids, kMaxIdBatch);
}
absl::Status Client::GrantCredit(std::span<const kp_ctl_credit> grants) {
  return Batched(KP_CTL_CREDIT_GRANT, grants, kMaxCreditBatch);
}

absl::Status Client::SetState(kp_frontend_state state) {
  kp_ctl_state s{};
  s.state = state;
  return Call(KP_CTL_SET_STATE, std::span(reinterpret_cast<const uint8_t*>(&s), sizeof(s)))
      .status();
}

absl::StatusOr<kp_ctl_global_counters> Client::GlobalCounters() {
  absl::StatusOr<std::vector<uint8_t>> r = Call(KP_CTL_GLOBAL_COUNTERS, {});
  if (!r.ok()) return r.status();
  kp_ctl_global_counters c{};
  if (r->size() != sizeof(c)) return absl::InternalError("counters reply of the wrong size");
  std::memcpy(&c, r->data(), sizeof(c));
  return c;
}

absl::Status Client::ResyncBegin() { return Call(KP_CTL_RESYNC_BEGIN, {}).status(); }
absl::Status Client::ResyncEnd() { return Call(KP_CTL_RESYNC_END, {}).status(); }

absl::Status Client::Range(uint16_t type, uint32_t first, size_t entry_size, uint32_t max_count,
                           const std::function<void(const uint8_t*)>& fn) {
  for (;;) {
    kp_ctl_range req{};
    req.first = first;
    req.count = max_count;
    absl::StatusOr<std::vector<uint8_t>> r =
        Call(type, std::span(reinterpret_cast<const uint8_t*>(&req), sizeof(req)));
    if (!r.ok()) return r.status();
    kp_ctl_range rep{};
    if (r->size() < sizeof(rep)) return absl::InternalError("short range reply");
    std::memcpy(&rep, r->data(), sizeof(rep));
    if (r->size() != sizeof(rep) + rep.count * entry_size) {
      return absl::InternalError("range reply length disagrees with its count");
    }
    for (uint32_t i = 0; i < rep.count; i++) fn(r->data() + sizeof(rep) + i * entry_size);
    if (rep.next == 0) return absl::OkStatus();
    if (rep.next <= first) return absl::InternalError("range reply does not advance");
    first = rep.next;
  }
}

template <typename T>
static std::function<void(const uint8_t*)> Unpack(const std::function<void(const T&)>& fn) {
  return [&fn](const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    fn(v);
  };
}

absl::Status Client::ForEachKiteStats(uint32_t first,
                                      const std::function<void(const kp_ctl_kite_stats&)>& fn) {
  return Range(KP_CTL_KITE_COUNTERS, first, sizeof(kp_ctl_kite_stats), kMaxKiteStatsRange,
               Unpack(fn));
}
absl::Status Client::ForEachKite(uint32_t first, const std::function<void(const kp_kite&)>& fn) {
  return Range(KP_CTL_KITE_DUMP, first, sizeof(kp_kite), kMaxKiteDumpRange, Unpack(fn));
}
absl::Status Client::ForEachSession(uint32_t first,
                                    const std::function<void(const kp_session&)>& fn) {
  return Range(KP_CTL_SESSION_DUMP, first, sizeof(kp_session), kMaxSessionDumpRange, Unpack(fn));
}

}  // namespace kp::ctl
