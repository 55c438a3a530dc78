// store.h - Store: the durable kite registry and sessions in SQLite (WAL).
//
// Holds every kite (name, id, public endpoint, limits, quota accounting),
// every live session (connector and local endpoints, session keys, seqs) and
// which kites each session serves, plus small key/value metadata (cookie
// keys, key epoch, id counters).  Writes are single transactions, so a crash
// loses at most the last accounting tick; on restart the control plane loads
// everything and resyncs the data plane.  synchronous=NORMAL with WAL: a
// power cut may lose the last transaction, a process crash loses nothing.
// The interface is narrow on purpose so that a shared store (PostgreSQL,
// etcd) can replace it for a fleet.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controlplane/model.h"

struct sqlite3;

namespace kp::cp {

class Store {
 public:
  // Opens (creating if needed) the database at `path` (":memory:" for tests).
  // Errors: Unavailable if the file cannot be opened or its schema created.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  absl::Status PutKite(const Kite& k);
  absl::Status DeleteKite(uint32_t kite_id);
  absl::Status PutSession(const Session& s);  // with its kite list
  absl::Status DeleteSession(uint32_t session_id);
  // Quota fields of many kites in one transaction (the accounting tick).
  absl::Status PutKites(const std::vector<const Kite*>& kites);

  absl::StatusOr<std::map<uint32_t, Kite>> LoadKites();
  // Sessions with their kite sets; rx windows start at rx_top.
  absl::StatusOr<std::map<uint32_t, Session>> LoadSessions();

  absl::Status PutMeta(const std::string& key, const std::vector<uint8_t>& value);
  absl::StatusOr<std::vector<uint8_t>> GetMeta(const std::string& key);  // NotFound if absent

  const std::string& path() const { return path_; }

 private:
  Store() = default;
  absl::Status Exec(const char* sql);
  absl::Status Error(const char* what);

  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace kp::cp
