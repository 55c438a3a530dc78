// server.h - kp::ctl::Server, the data plane's control-socket server.
//
// Serves the protocol of dataplane/abi/kp_ctl.h on a Unix SOCK_SEQPACKET
// socket (file mode 0660 by default) over a TableBackend.  The server never
// blocks: it owns an epoll descriptor covering the listening socket and every
// client; the owner polls `fd()` for readability (or just calls Poll()
// periodically) and Poll() handles whatever is pending.  Every request gets
// exactly one reply; malformed requests get -EINVAL (or -EPROTO / -E2BIG) and
// are counted, never trusted.  When the last client goes away the data plane
// keeps forwarding with its last tables ("headless"); a reconnecting client
// can dump the tables back and resync with RESYNC_BEGIN/END.
//
// Everything here runs on the owner's (control) thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "dataplane/ctl/backend.h"
#include "dataplane/ctl/protocol.h"

namespace kp::ctl {

struct ServerOptions {
  std::string path;            // socket path; a stale file there is replaced
  mode_t mode = 0660;          // file mode of the socket
  uint32_t max_clients = 8;    // further connections are closed at once
};

struct ServerStats {
  uint64_t requests = 0;       // messages handled
  uint64_t malformed = 0;      // answered with -EINVAL/-EPROTO/-E2BIG for their shape
  uint64_t errors = 0;         // well-formed requests the backend refused
  uint64_t connections = 0;    // accepted so far
  uint32_t clients = 0;        // connected now
};

class Server {
 public:
  // Binds and listens.  Errors: InvalidArgument (path too long), Internal
  // (socket/bind/listen/chmod/epoll failed, with the errno text).
  static absl::StatusOr<std::unique_ptr<Server>> Create(const ServerOptions& options,
                                                        TableBackend* backend);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Readable when Poll() has work to do.
  int fd() const { return epoll_fd_; }

  // Accepts connections and answers pending requests, waiting at most
  // `timeout_ms` (0 = never block).  Returns the number of requests handled.
  int Poll(int timeout_ms = 0);

  // Handles one request datagram of `len` bytes (as received; `truncated`
  // when it did not fit) for connection `conn`, writing the reply to `reply`.
  // Exposed for tests that bypass the socket.
  void HandleMessage(int conn, std::span<const uint8_t> req, bool truncated,
                     std::vector<uint8_t>* reply);

  const ServerStats& stats() const { return stats_; }
  // Unix time the last client went away; 0 while connected or never headless.
  uint32_t headless_since_s() const { return headless_since_s_; }
  bool resync_active() const { return resync_active_; }

 private:
  struct Conn {
    int fd = -1;
    bool hello_done = false;
  };

  Server(const ServerOptions& options, TableBackend* backend);
  absl::Status Listen();
  void Accept();
  void ServeConn(Conn* c);
  void CloseConn(int fd);
  Conn* FindConn(int fd);

  // One handler per message type; each fills `reply` after the header.
  int32_t OnHello(std::span<const uint8_t> body, std::vector<uint8_t>* reply);
  int32_t OnConfigSet(std::span<const uint8_t> body);
  int32_t OnConfigGet(std::span<const uint8_t> body, std::vector<uint8_t>* reply);
  int32_t OnKiteUpsert(std::span<const uint8_t> body);
  int32_t OnSessionUpsert(std::span<const uint8_t> body);
  int32_t OnDelete(uint16_t type, std::span<const uint8_t> body);
  int32_t OnCredit(std::span<const uint8_t> body);
  int32_t OnSetState(std::span<const uint8_t> body);
  int32_t OnGlobalCounters(std::span<const uint8_t> body, std::vector<uint8_t>* reply);
  int32_t OnRange(uint16_t type, std::span<const uint8_t> body, std::vector<uint8_t>* reply);
  int32_t OnResyncBegin(std::span<const uint8_t> body);
  int32_t OnResyncEnd(std::span<const uint8_t> body);
  int32_t Dispatch(Conn* c, uint16_t type, std::span<const uint8_t> body,
                   std::vector<uint8_t>* reply);
  // Maps a backend result to a status, remembering that the backend (not
  // the request's shape) refused.
  int32_t Refused(const absl::Status& s) {
    if (!s.ok()) backend_refused_ = true;
    return StatusToErrno(s);
  }
  // Deletes every kite/session not upserted since RESYNC_BEGIN.
  absl::Status SweepUnmarked();

  ServerOptions options_;
  TableBackend* backend_;
  int listen_fd_ = -1;
  bool bound_ = false;  // the socket file is ours to remove
  int epoll_fd_ = -1;
  std::vector<Conn> conns_;
  ServerStats stats_;
  uint64_t start_ns_ = 0;
  uint32_t headless_since_s_ = 0;
  bool resync_active_ = false;
  bool backend_refused_ = false;
  absl::flat_hash_set<uint32_t> resync_kites_;
  absl::flat_hash_set<uint32_t> resync_sessions_;
  std::vector<uint8_t> rx_buf_;
  std::vector<uint8_t> tx_buf_;
};

}  // namespace kp::ctl
