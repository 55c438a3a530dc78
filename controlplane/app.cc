// app.cc - the kiteplane-controlplane process: start-up, the poll loop,
// reload and drain (see app.h).
#include "controlplane/app.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "controlplane/log.h"
#include "controlplane/status_macros.h"

namespace kp::cp {

App::App(std::string config_path, std::unique_ptr<PolicyHost> policy)
    : config_path_(std::move(config_path)), policy_(std::move(policy)) {}

App::~App() {
  if (signal_fd_ >= 0) close(signal_fd_);
  if (timer_fd_ >= 0) close(timer_fd_);
}

uint64_t App::NowMs() const {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1'000'000;
}

absl::Status App::Start() {
  const Config& cfg = policy_->config();
  started_ms_ = NowMs();
  // Block the signals before any thread (libmicrohttpd) exists, so they all
  // reach the signalfd.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  RETURN_IF_ERROR(proto::InitCrypto());
  std::error_code ec;
  std::filesystem::path mgmt_dir = std::filesystem::path(cfg.mgmt_socket).parent_path();
  if (!mgmt_dir.empty() && !std::filesystem::exists(mgmt_dir)) {
    std::filesystem::create_directories(mgmt_dir, ec);
    if (!ec) chmod(mgmt_dir.c_str(), 0750);
  }
  ASSIGN_OR_RETURN(store_, Store::Open(cfg.store_path));
  dp_ = MakeCtlDataplane(cfg.dataplane_socket);
  reg_ = std::make_unique<Registry>(store_.get(), dp_.get(), policy_.get());
  RETURN_IF_ERROR(reg_->Recover(NowMs() / 1000));
  absl::Status dps = reg_->SyncDataplane();
  dp_was_connected_ = dps.ok();
  if (!dps.ok()) {
    Log("warning", "no data plane yet; will retry every tick", {{"error", std::string(dps.message())}});
  }
  tunnel_ = std::make_unique<TunnelServer>(
      reg_.get(), [this](const proto::Endpoint& l, const proto::Endpoint& d, const proto::Bytes& b) {
        sockets_.Send(l, d, b);
      });
  ASSIGN_OR_RETURN(sockets_, TunnelSockets::Open(cfg.addresses, cfg.tunnel_ports));
  MgmtActions actions;
  actions.reload = [this] { return Reload(); };
  actions.drain = [this](uint32_t d) { return Drain(d); };
  actions.status = [this] { return StatusJson(); };
  api_ = std::make_unique<MgmtApi>(reg_.get(), tunnel_.get(), std::move(actions));
  ASSIGN_OR_RETURN(mgmt_, MgmtServer::Open(cfg.mgmt_socket, cfg.mgmt_mode, cfg.mgmt_group, api_.get()));
  if (!cfg.metrics_listen.empty()) {
    ASSIGN_OR_RETURN(metrics_, MetricsServer::Start(cfg.metrics_listen));
  }

  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (signal_fd_ < 0 || timer_fd_ < 0) return absl::InternalError(absl::StrCat("signalfd/timerfd: ", strerror(errno)));
  itimerspec its{};
  uint32_t tick = cfg.timers.tick_ms;
  its.it_interval.tv_sec = tick / 1000;
  its.it_interval.tv_nsec = static_cast<long>(tick % 1000) * 1'000'000;
  its.it_value = its.it_interval;
  timerfd_settime(timer_fd_, 0, &its, nullptr);
  Log("info", "kiteplane-controlplane started",
      {{"config", cfg.source}, {"kites", reg_->kites().size()}, {"sessions", reg_->sessions().size()},
       {"dataplane", dp_->Describe()}, {"mgmt", cfg.mgmt_socket}, {"metrics", cfg.metrics_listen}});
  Tick();
  return absl::OkStatus();
}

nlohmann::json App::StatusJson() {
  return {{"version", KP_VERSION},
          {"uptime_s", (NowMs() - started_ms_) / 1000},
          {"dataplane", dp_->Describe()},
          {"dataplane_connected", dp_->Connected()},
          {"reloads", reloads_},
          {"reload_failures", reload_failures_},
          {"draining", draining_},
          {"drain_deadline_in_s", draining_ && drain_deadline_ms_ > NowMs() ? (drain_deadline_ms_ - NowMs()) / 1000 : 0},
          {"store", store_->path()}};
}

absl::Status App::Reload() {
  absl::StatusOr<std::unique_ptr<PolicyHost>> next =
      config_path_.empty() ? PolicyHost::LoadDefault() : PolicyHost::LoadFile(config_path_);
  if (!next.ok()) {
    reload_failures_++;
    Log("error", "reload refused; the running configuration stays", {{"error", std::string(next.status().message())}});
    return next.status();
  }
  const Config& now = policy_->config();
  const Config& nc = (*next)->config();
  if (nc.store_path != now.store_path || nc.addresses != now.addresses || nc.tunnel_ports != now.tunnel_ports ||
      nc.mgmt_socket != now.mgmt_socket || nc.metrics_listen != now.metrics_listen ||
      nc.dataplane_socket != now.dataplane_socket) {
    Log("warning", "reload: store, addresses, tunnel ports, sockets and metrics address apply at the next restart");
  }
  (*next)->InheritStats(*policy_);
  RETURN_IF_ERROR(reg_->SetPolicy(next->get()));
  tunnel_->Reconfigure();
  policy_ = std::move(*next);
  reloads_++;
  Log("info", "configuration reloaded", {{"config", policy_->config().source}});
  return absl::OkStatus();
}

absl::Status App::Drain(uint32_t deadline_s) {
  if (draining_) return absl::OkStatus();
  uint32_t d = deadline_s ? deadline_s
                          : policy_->OnLameDuck(policy_->config().timers.drain_deadline_s, reg_->sessions().size());
  draining_ = true;
  drain_deadline_ms_ = NowMs() + static_cast<uint64_t>(d) * 1000;
  reg_->SetFrontendState(KP_FE_LAME_DUCK);
  tunnel_->AnnounceLameDuck(d, NowMs());
  Log("info", "draining (lame duck)", {{"deadline_s", d}, {"sessions", reg_->sessions().size()}});
  return absl::OkStatus();
}

void App::HandleSignal() {
  signalfd_siginfo si;
  while (read(signal_fd_, &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGHUP) {
      (void)Reload();
    } else if (draining_) {
      Log("warning", "second termination signal: exiting now");
      stop_ = true;
    } else {
      (void)Drain(0);
    }
  }
}

void App::Tick() {
  uint64_t now_ms = NowMs();
  absl::Status dps = reg_->SyncDataplane();
  if (dps.ok() != dp_was_connected_) {
    Log(dps.ok() ? "info" : "warning", dps.ok() ? "data plane connected and resynced" : "data plane lost",
        {{"dataplane", dp_->Describe()}, {"error", std::string(dps.message())}});
    dp_was_connected_ = dps.ok();
  }
  reg_->QuotaTick(now_ms / 1000);
  reg_->MaybeRotateKeys(now_ms / 1000);
  tunnel_->Tick(now_ms);
  policy_->OnTick({{"now", now_ms / 1000}, {"kites", reg_->kites().size()}, {"sessions", reg_->sessions().size()},
                   {"draining", draining_}});
  if (metrics_) {
    metrics_->Publish(RenderMetrics(*reg_, tunnel_->counters(), dp_->Connected(),
                                    policy_->config().metrics_max_kite_series));
  }
  if (draining_ && (reg_->sessions().empty() || now_ms >= drain_deadline_ms_)) {
    tunnel_->CloseAll(KP_CLOSE_LAME_DUCK, "front-end drained");
    reg_->SetFrontendState(KP_FE_CLOSED);
    Log("info", "drained; exiting");
    stop_ = true;
  }
}

int App::Run() {
  while (!stop_) {
    std::vector<pollfd> pfds;
    pfds.push_back({signal_fd_, POLLIN, 0});
    pfds.push_back({timer_fd_, POLLIN, 0});
    std::vector<int> tunnel_fds = sockets_.fds();
    for (int fd : tunnel_fds) pfds.push_back({fd, POLLIN, 0});
    size_t mgmt_from = pfds.size();
    for (int fd : mgmt_->fds()) pfds.push_back({fd, POLLIN, 0});
    int n = poll(pfds.data(), pfds.size(), 1000);
    if (n < 0 && errno != EINTR) {
      Log("error", "poll failed", {{"error", strerror(errno)}});
      return 1;
    }
    if (n <= 0) continue;
    if (pfds[0].revents) HandleSignal();
    if (pfds[1].revents) {
      uint64_t expirations;
      (void)!read(timer_fd_, &expirations, sizeof expirations);
      Tick();
    }
    for (size_t i = 2; i < mgmt_from; i++) {
      if (!pfds[i].revents) continue;
      sockets_.Drain(pfds[i].fd, [this](proto::ByteSpan f, const proto::Endpoint& src, const proto::Endpoint& local) {
        tunnel_->HandleFrame(f, src, local, NowMs());
      });
    }
    for (size_t i = mgmt_from; i < pfds.size(); i++) {
      if (pfds[i].revents) mgmt_->OnReadable(pfds[i].fd);
    }
  }
  return 0;
}

}  // namespace kp::cp
