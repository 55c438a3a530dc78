// mgmt.cc - management API handler and its Unix-socket server (see mgmt.h).
#include "controlplane/mgmt.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "controlplane/counter_names.h"
#include "controlplane/port_pool.h"

namespace kp::cp {
namespace {
using nlohmann::json;

constexpr size_t kMaxClients = 16;
constexpr size_t kMaxLine = 64 * 1024;

const char* KiteState(const Kite& k) {
  if (!k.enabled) return "disabled";
  return k.sessions.empty() ? "idle" : "live";
}

json KiteCounters(const kp_ctl_kite_stats* s) {
  json c = json::object();
  for (size_t i = 0; i < kKiteCounterNames.size(); i++) {
    c[std::string(kKiteCounterNames[i].name)] = s ? s->v[i] : 0;
  }
  return c;
}

uint64_t Traffic(const kp_ctl_kite_stats& s) { return s.v[KP_KCTR_RX_BYTES] + s.v[KP_KCTR_TX_BYTES]; }

json Error(const std::string& m) { return {{"ok", false}, {"error", m}}; }

}  // namespace

json MgmtApi::Kites() const {
  json arr = json::array();
  const auto& stats = reg_->last_kite_stats();
  for (const auto& [id, k] : reg_->kites()) {
    auto st = stats.find(id);
    json sessions = json::array();
    for (uint32_t s : k.sessions) sessions.push_back(s);
    arr.push_back({{"name", k.name},
                   {"kite_id", id},
                   {"account", k.account},
                   {"address", AddressText(k.pub)},
                   {"port", k.pub.port},
                   {"state", KiteState(k)},
                   {"reason", k.disabled_reason},
                   {"sessions", sessions},
                   {"rate_pps", k.rate_pps},
                   {"rate_kbps", k.rate_kbps},
                   {"quota_bytes", k.quota_bytes},
                   {"quota_used_bytes", k.used_period},
                   {"quota_period_s", k.quota_period_s},
                   {"counters", KiteCounters(st == stats.end() ? nullptr : &st->second)}});
  }
  return arr;
}

json MgmtApi::Sessions() const {
  json arr = json::array();
  uint64_t now = static_cast<uint64_t>(time(nullptr));
  for (const auto& [id, s] : reg_->sessions()) {
    json kites = json::array();
    for (uint32_t kid : s.kites) {
      auto it = reg_->kites().find(kid);
      if (it != reg_->kites().end()) kites.push_back(it->second.name);
    }
    arr.push_back({{"session_id", id},
                   {"connector", proto::EndpointToString(s.connector)},
                   {"local", proto::EndpointToString(s.local)},
                   {"mtu", s.mtu},
                   {"kites", kites},
                   {"age_s", now > s.created ? now - s.created : 0},
                   {"idle_s", now > s.last_rx ? now - s.last_rx : 0},
                   {"rebinds", s.rebinds},
                   {"tx_seq", s.tx_seq},
                   {"rx_top", s.rx.top()}});
  }
  return arr;
}

json MgmtApi::Stats(const std::string& kite) const {
  json out = {{"ok", true}};
  if (!kite.empty()) {
    const Kite* k = reg_->FindKite(kite);
    if (k == nullptr) return Error("no kite named " + kite);
    auto st = reg_->last_kite_stats().find(k->kite_id);
    out["kite"] = kite;
    out["counters"] = KiteCounters(st == reg_->last_kite_stats().end() ? nullptr : &st->second);
    out["quota_used_bytes"] = k->used_period;
    out["quota_bytes"] = k->quota_bytes;
    return out;
  }
  const kp_ctl_global_counters& g = reg_->last_global();
  json global = json::object(), drops = json::object();
  for (size_t i = 0; i < kGlobalCounterNames.size(); i++) global[std::string(kGlobalCounterNames[i].name)] = g.counters[i];
  for (size_t i = 1; i < kDropReasonNames.size(); i++) drops[std::string(kDropReasonNames[i].name)] = g.drops[i];
  out["global"] = global;
  out["drops"] = drops;
  json control = json::object();
#define KP_X_JSON(name, help) control["tunnel_" #name] = tunnel_->counters().name;
  KP_TUNNEL_COUNTERS(KP_X_JSON)
#undef KP_X_JSON
  const RegistryCounters& rc = reg_->counters();
  control["sessions_created"] = rc.sessions_created;
  control["sessions_ended"] = rc.sessions_ended;
  control["rebinds"] = rc.rebinds;
  control["kicks"] = rc.kicks;
  control["quota_exhausted"] = rc.quota_exhausted;
  control["key_rotations"] = rc.key_rotations;
  control["dataplane_errors"] = rc.dataplane_errors;
  control["resyncs"] = rc.resyncs;
  control["store_errors"] = rc.store_errors;
  json results = json::object();
  for (size_t i = 0; i < kResultNames.size(); i++) results[std::string(kResultNames[i])] = rc.results[i];
  control["register_results"] = results;
  json hooks = json::object();
  for (int h = 0; h < static_cast<int>(Hook::kCount); h++) {
    const HookStats& hs = reg_->policy()->stats(static_cast<Hook>(h));
    hooks[HookName(static_cast<Hook>(h))] = {{"calls", hs.calls}, {"failures", hs.failures}};
  }
  control["policy_hooks"] = hooks;
  out["control"] = control;
  json kites = json::array();
  for (const auto& [id, s] : reg_->last_kite_stats()) {
    auto k = reg_->kites().find(id);
    json e = KiteCounters(&s);
    e["name"] = k == reg_->kites().end() ? absl::StrCat("#", id) : k->second.name;
    kites.push_back(e);
  }
  out["kites"] = kites;
  return out;
}

json MgmtApi::Top(size_t n) const {
  std::vector<const kp_ctl_kite_stats*> v;
  for (const auto& [id, s] : reg_->last_kite_stats()) v.push_back(&s);
  std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return Traffic(*a) > Traffic(*b); });
  if (v.size() > n) v.resize(n);
  json arr = json::array();
  for (const kp_ctl_kite_stats* s : v) {
    auto k = reg_->kites().find(s->kite_id);
    json e = KiteCounters(s);
    e["name"] = k == reg_->kites().end() ? absl::StrCat("#", s->kite_id) : k->second.name;
    e["state"] = k == reg_->kites().end() ? "gone" : KiteState(k->second);
    arr.push_back(e);
  }
  return {{"ok", true}, {"top", arr}, {"time_ms", static_cast<uint64_t>(time(nullptr)) * 1000}};
}

json MgmtApi::Handle(const json& req) {
  if (!req.is_object() || !req.contains("cmd") || !req["cmd"].is_string()) {
    return Error("request must be an object with a string \"cmd\"");
  }
  const std::string cmd = req["cmd"];
  auto str = [&](const char* k) { return req.contains(k) && req[k].is_string() ? req[k].get<std::string>() : ""; };
  if (cmd == "status") {
    json s = actions_.status ? actions_.status() : json::object();
    s["ok"] = true;
    s["kites"] = reg_->kites().size();
    s["sessions"] = reg_->sessions().size();
    s["state"] = reg_->frontend_state() == KP_FE_SERVING ? "serving"
                 : reg_->frontend_state() == KP_FE_LAME_DUCK ? "lame_duck" : "closed";
    s["key_epoch"] = reg_->key_epoch();
    s["config"] = reg_->policy()->config().source;
    return s;
  }
  if (cmd == "kites") return {{"ok", true}, {"kites", Kites()}};
  if (cmd == "sessions") return {{"ok", true}, {"sessions", Sessions()}};
  if (cmd == "stats") return Stats(str("kite"));
  if (cmd == "top") {
    size_t n = req.contains("n") && req["n"].is_number_integer() && req["n"].get<int64_t>() > 0
                   ? req["n"].get<size_t>() : 10;
    return Top(std::min<size_t>(n, 1000));
  }
  if (cmd == "kick") {
    absl::Status s = reg_->Kick(str("kite"));
    if (!s.ok()) return Error(std::string(s.message()));
    return {{"ok", true}, {"kicked", str("kite")}};
  }
  if (cmd == "reload") {
    if (!actions_.reload) return Error("reload not available");
    absl::Status s = actions_.reload();
    if (!s.ok()) return Error(absl::StrCat("reload refused, the running config stays: ", s.message()));
    return {{"ok", true}, {"config", reg_->policy()->config().source}};
  }
  if (cmd == "drain") {
    if (!actions_.drain) return Error("drain not available");
    uint32_t d = req.contains("deadline_s") && req["deadline_s"].is_number_integer() &&
                         req["deadline_s"].get<int64_t>() > 0 && req["deadline_s"].get<int64_t>() <= 86400
                     ? req["deadline_s"].get<uint32_t>() : 0;
    absl::Status s = actions_.drain(d);
    if (!s.ok()) return Error(std::string(s.message()));
    return {{"ok", true}, {"state", "lame_duck"}, {"sessions", reg_->sessions().size()}};
  }
  return Error("unknown cmd '" + cmd + "'");
}

std::string MgmtApi::HandleLine(const std::string& line) {
  json req = json::parse(line, nullptr, false);
  json rep = req.is_discarded() ? Error("request is not JSON") : Handle(req);
  return rep.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

absl::StatusOr<std::unique_ptr<MgmtServer>> MgmtServer::Open(const std::string& path, uint32_t mode,
                                                             const std::string& group, MgmtApi* api) {
  sockaddr_un sa{};
  if (path.size() >= sizeof sa.sun_path) return absl::InvalidArgumentError("management socket path too long");
  gid_t gid = static_cast<gid_t>(-1);
  if (!group.empty()) {
    struct group* g = getgrnam(group.c_str());
    if (g == nullptr) return absl::NotFoundError(absl::StrCat("management group '", group, "' does not exist"));
    gid = g->gr_gid;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size());
  unlink(path.c_str());
  mode_t old = umask(0177);  // never world-accessible, not even briefly
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  umask(old);
  if (rc != 0 || listen(fd, 16) != 0) {
    std::string e = strerror(errno);
    close(fd);
    return absl::UnavailableError(absl::StrCat("management socket ", path, ": ", e));
  }
  if (gid != static_cast<gid_t>(-1) && chown(path.c_str(), static_cast<uid_t>(-1), gid) != 0) {
    std::string e = strerror(errno);
    close(fd);
    return absl::UnavailableError(absl::StrCat("chgrp ", group, " ", path, ": ", e));
  }
  chmod(path.c_str(), mode & 0770);
  return std::unique_ptr<MgmtServer>(new MgmtServer(fd, path, api));
}

MgmtServer::~MgmtServer() {
  for (Client& c : clients_) close(c.fd);
  close(listen_fd_);
  unlink(path_.c_str());
}

std::vector<int> MgmtServer::fds() const {
  std::vector<int> v{listen_fd_};
  for (const Client& c : clients_) v.push_back(c.fd);
  return v;
}

void MgmtServer::Accept() {
  while (true) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (clients_.size() >= kMaxClients) {
      static const char kBusy[] = "{\"ok\":false,\"error\":\"too many management clients\"}\n";
      (void)!write(fd, kBusy, sizeof kBusy - 1);
      close(fd);
      continue;
    }
    clients_.push_back({fd, {}});
  }
}

void MgmtServer::CloseClient(size_t i) {
  close(clients_[i].fd);
  clients_.erase(clients_.begin() + static_cast<long>(i));
}

namespace {
bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  int spins = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && spins++ < 1000) {
      usleep(1000);  // a slow reader: at most ~1 s, then it is dropped
      continue;
    }
    return false;
  }
  return true;
}
}  // namespace

void MgmtServer::OnReadable(int fd) {
  if (fd == listen_fd_) {
    Accept();
    return;
  }
  for (size_t i = 0; i < clients_.size(); i++) {
    if (clients_[i].fd != fd) continue;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      CloseClient(i);
      return;
    }
    clients_[i].buf.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = clients_[i].buf.find('\n')) != std::string::npos) {
      std::string line = clients_[i].buf.substr(0, nl);
      clients_[i].buf.erase(0, nl + 1);
      if (!WriteAll(fd, api_->HandleLine(line))) {
        CloseClient(i);
        return;
      }
    }
    if (clients_[i].buf.size() > kMaxLine) CloseClient(i);
    return;
  }
}

}  // namespace kp::cp
