// mgmt.h - the management API: JSON lines over a Unix stream socket.
//
// MgmtApi turns one request object into one reply object, so it is unit
// tested without sockets.  Requests: {"cmd": "status" | "kites" | "sessions"
// | "stats" [, "kite": NAME] | "top" [, "n": N] | "kick", "kite": NAME |
// "reload" | "drain" [, "deadline_s": S]}.  Replies carry "ok": true plus the
// data, or "ok": false and "error".  MgmtServer owns the listening socket
// (file mode and group from the config; never a network address), accepts a
// bounded number of clients and reads bounded lines; the control plane's
// poll loop drives it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

#include "controlplane/registry.h"
#include "controlplane/tunnel.h"

namespace kp::cp {

struct MgmtActions {
  std::function<absl::Status()> reload;
  std::function<absl::Status(uint32_t deadline_s)> drain;  // 0 = the configured deadline
  std::function<nlohmann::json()> status;                  // process-level facts
};

class MgmtApi {
 public:
  MgmtApi(Registry* reg, const TunnelServer* tunnel, MgmtActions actions)
      : reg_(reg), tunnel_(tunnel), actions_(std::move(actions)) {}
  nlohmann::json Handle(const nlohmann::json& req);
  // One line in, one line out (parse errors become {"ok": false}).
  std::string HandleLine(const std::string& line);

  nlohmann::json Kites() const;
  nlohmann::json Sessions() const;
  nlohmann::json Stats(const std::string& kite) const;
  nlohmann::json Top(size_t n) const;

 private:
  Registry* reg_;
  const TunnelServer* tunnel_;
  MgmtActions actions_;
};

class MgmtServer {
 public:
  // Creates the socket at `path` (replacing a stale one), chmod `mode`,
  // chgrp `group` when set.  Errors: Unavailable, NotFound (no such group).
  static absl::StatusOr<std::unique_ptr<MgmtServer>> Open(const std::string& path, uint32_t mode,
                                                          const std::string& group, MgmtApi* api);
  ~MgmtServer();
  MgmtServer(const MgmtServer&) = delete;
  MgmtServer& operator=(const MgmtServer&) = delete;

  // File descriptors to poll for input (listener first).
  std::vector<int> fds() const;
  // Handles readiness on `fd`.
  void OnReadable(int fd);

 private:
  struct Client {
    int fd;
    std::string buf;
  };
  MgmtServer(int fd, std::string path, MgmtApi* api) : listen_fd_(fd), path_(std::move(path)), api_(api) {}
  void Accept();
  void CloseClient(size_t i);

  int listen_fd_;
  std::string path_;
  MgmtApi* api_;
  std::vector<Client> clients_;
};

}  // namespace kp::cp
