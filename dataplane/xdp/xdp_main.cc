// xdp_main.cc - kp::xdp::Main: option parsing, bpffs and pinning, program
// load and attach, and the control loop (control-socket server plus signal
// handling through a signalfd) of the XDP mode.
#include "dataplane/xdp/xdp_main.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "dataplane/ctl/server.h"
#include "dataplane/xdp/xdp_backend.h"
#include "dataplane/xdp/xdp_program.h"

namespace kp::xdp {
namespace {

struct Options {
  std::string iface;
  std::string ctl_socket;
  std::string pin_dir;
  uint32_t max_kites = KP_MAX_KITES;
  uint32_t max_sessions = KP_MAX_SESSIONS;
  XdpMode mode = XdpMode::kNative;
  std::vector<uint32_t> cpus;
  bool replace = false;
};

void Usage() {
  std::fprintf(stderr,
               "usage: kiteplane-dataplane xdp --iface IF --ctl-socket PATH [--max-kites N]\n"
               "       [--max-sessions N] [--xdp-mode native|generic] [--cpumap 0,1,..]\n"
               "       [--replace] [--pin-dir DIR]\n");
}

// Says what is wrong with an option and returns false.
bool Bad(const std::string& option, const std::string& value, const char* want) {
  std::fprintf(stderr, "kiteplane-dataplane xdp: %s '%s': %s\n", option.c_str(), value.c_str(), want);
  return false;
}

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    const bool has_val = i + 1 < argc;
    auto val = [&]() -> std::string { return argv[++i]; };
    if (a == "--replace") {
      o->replace = true;
    } else if (a != "--iface" && a != "--ctl-socket" && a != "--pin-dir" && a != "--max-kites" &&
               a != "--max-sessions" && a != "--xdp-mode" && a != "--cpumap") {
      std::fprintf(stderr, "kiteplane-dataplane xdp: unknown option %s\n", a.c_str());
      return false;
    } else if (!has_val) {
      std::fprintf(stderr, "kiteplane-dataplane xdp: option %s needs a value\n", a.c_str());
      return false;
    } else if (a == "--iface") {
      o->iface = val();
    } else if (a == "--ctl-socket") {
      o->ctl_socket = val();
    } else if (a == "--pin-dir") {
      o->pin_dir = val();
    } else if (a == "--max-kites" || a == "--max-sessions") {
      const std::string v = val();
      uint32_t n = 0;
      if (!absl::SimpleAtoi(v, &n) || n == 0) return Bad(a, v, "want a positive integer");
      (a == "--max-kites" ? o->max_kites : o->max_sessions) = n;
    } else if (a == "--xdp-mode") {
      const std::string m = val();
      if (m != "native" && m != "generic") return Bad(a, m, "want native or generic");
      o->mode = m == "native" ? XdpMode::kNative : XdpMode::kGeneric;
    } else {  // --cpumap
      const std::string v = val();
      for (absl::string_view c : absl::StrSplit(v, ',', absl::SkipEmpty())) {
        uint32_t cpu = 0;
        if (!absl::SimpleAtoi(c, &cpu)) return Bad(a, v, "want a list of CPU numbers, e.g. 0,1");
        o->cpus.push_back(cpu);
      }
    }
  }
  if (o->iface.empty() || o->ctl_socket.empty()) {
    std::fprintf(stderr, "kiteplane-dataplane xdp: %s is required\n",
                 o->iface.empty() ? "--iface" : "--ctl-socket");
    return false;
  }
  return true;
}

int Fail(const absl::Status& st) {
  std::fprintf(stderr, "kiteplane-dataplane xdp: %s\n", std::string(st.message()).c_str());
  return 1;
}

// Serves the control socket until SIGINT or SIGTERM.
int Serve(ctl::Server* server) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  const int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  if (sfd < 0) return Fail(absl::InternalError("signalfd failed"));
  pollfd fds[2] = {{server->fd(), POLLIN, 0}, {sfd, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, 1000) < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo si{};
      if (read(sfd, &si, sizeof si) > 0) {
        std::fprintf(stderr, "kiteplane-dataplane xdp: signal %u, detaching\n", si.ssi_signo);
      }
      break;
    }
    if (fds[0].revents & POLLIN) server->Poll(0);
  }
  close(sfd);
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) {
    Usage();
    return 2;
  }
  if (o.pin_dir.empty()) o.pin_dir = "/sys/fs/bpf/kiteplane/" + o.iface;
  if (absl::Status st = EnsureBpffsDir(o.pin_dir); !st.ok()) return Fail(st);

  XdpProgramOptions po;
  po.max_kites = o.max_kites;
  po.max_sessions = o.max_sessions;
  po.pin_dir = o.pin_dir;
  absl::StatusOr<std::unique_ptr<XdpProgram>> prog = XdpProgram::Open(po);
  if (!prog.ok()) return Fail(prog.status());
  if (absl::Status st = (*prog)->Load(); !st.ok()) return Fail(st);

  XdpBackend backend((*prog)->maps(), o.max_kites, o.max_sessions);
  if (absl::Status st = backend.Init(); !st.ok()) return Fail(st);
  ctl::ServerOptions so;
  so.path = o.ctl_socket;
  absl::StatusOr<std::unique_ptr<ctl::Server>> server = ctl::Server::Create(so, &backend);
  if (!server.ok()) return Fail(server.status());

  if (absl::Status st = (*prog)->Attach(o.iface, o.mode, o.replace, o.cpus); !st.ok()) {
    return Fail(st);
  }
  std::fprintf(stderr,
               "kiteplane-dataplane xdp: attached to %s (%s%s), maps in %s, serving %s\n",
               o.iface.c_str(), o.mode == XdpMode::kNative ? "native" : "generic",
               o.cpus.empty() ? "" : ", cpumap", o.pin_dir.c_str(), o.ctl_socket.c_str());
  const int rc = Serve(server->get());
  (*prog)->Detach();
  return rc;
}

}  // namespace kp::xdp
