// store.cc - SQLite implementation of the durable registry (see store.h).
//
// Endpoints and keys are stored as blobs in their wire form; kite sets of
// sessions live in their own table.  Every statement is prepared per call
// (the store is written once per tick and per registration, not per packet).
#include "controlplane/store.h"

#include <sqlite3.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "controlplane/status_macros.h"

namespace kp::cp {
namespace {

// RAII prepared statement.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &st_, nullptr); }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return st_; }
  void Int(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); }
  void Text(int i, const std::string& v) { sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
  void Blob(int i, const void* p, size_t n) { sqlite3_bind_blob(st_, i, p, static_cast<int>(n), SQLITE_TRANSIENT); }
  int Step() { return sqlite3_step(st_); }
  int64_t ColInt(int i) { return sqlite3_column_int64(st_, i); }
  std::string ColText(int i) {
    const unsigned char* t = sqlite3_column_text(st_, i);
    return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(st_, i)) : std::string();
  }
  template <size_t N>
  void ColArray(int i, std::array<uint8_t, N>* out) {
    const void* p = sqlite3_column_blob(st_, i);
    if (p != nullptr && sqlite3_column_bytes(st_, i) == static_cast<int>(N)) std::memcpy(out->data(), p, N);
  }

 private:
  sqlite3_stmt* st_ = nullptr;
  int rc_;
};

std::array<uint8_t, 19> PackEndpoint(const proto::Endpoint& e) {
  std::array<uint8_t, 19> b{};
  b[0] = e.family;
  std::memcpy(&b[1], e.addr.data(), 16);
  b[17] = static_cast<uint8_t>(e.port >> 8);
  b[18] = static_cast<uint8_t>(e.port);
  return b;
}

proto::Endpoint UnpackEndpoint(const std::array<uint8_t, 19>& b) {
  proto::Endpoint e;
  e.family = b[0];
  std::memcpy(e.addr.data(), &b[1], 16);
  e.port = static_cast<uint16_t>(b[17] << 8 | b[18]);
  return e;
}

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS kites(
  kite_id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, account TEXT NOT NULL,
  pub BLOB NOT NULL, enabled INTEGER NOT NULL, reason TEXT NOT NULL, reason_code INTEGER NOT NULL,
  rate_pps INTEGER NOT NULL, rate_kbps INTEGER NOT NULL, burst_ms INTEGER NOT NULL,
  max_sessions INTEGER NOT NULL, quota_bytes INTEGER NOT NULL, quota_period_s INTEGER NOT NULL,
  period_start INTEGER NOT NULL, used_base INTEGER NOT NULL, used_period INTEGER NOT NULL,
  last_used_total INTEGER NOT NULL, granted INTEGER NOT NULL, extra_bytes INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions(
  session_id INTEGER PRIMARY KEY, connector BLOB NOT NULL, local BLOB NOT NULL, mtu INTEGER NOT NULL,
  key_c2f BLOB NOT NULL, key_f2c BLOB NOT NULL, token BLOB NOT NULL, client_pubkey BLOB NOT NULL,
  server_pubkey BLOB NOT NULL, tx_seq INTEGER NOT NULL, rx_top INTEGER NOT NULL,
  created INTEGER NOT NULL, last_rx INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS session_kites(
  session_id INTEGER NOT NULL, kite_id INTEGER NOT NULL, PRIMARY KEY(session_id, kite_id));
)";

}  // namespace

absl::Status Store::Error(const char* what) {
  return absl::UnavailableError(absl::StrCat("store ", path_, ": ", what, ": ", sqlite3_errmsg(db_)));
}

absl::Status Store::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "?";
    sqlite3_free(err);
    return absl::UnavailableError(absl::StrCat("store ", path_, ": ", m));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  std::unique_ptr<Store> s(new Store());
  s->path_ = path;
  if (sqlite3_open_v2(path.c_str(), &s->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return s->Error("cannot open");
  }
  sqlite3_busy_timeout(s->db_, 2000);
  RETURN_IF_ERROR(s->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;"));
  RETURN_IF_ERROR(s->Exec(kSchema));
  return s;
}

Store::~Store() {
  if (db_ != nullptr) sqlite3_close(db_);
}

namespace {
constexpr const char* kPutKite =
    "INSERT OR REPLACE INTO kites VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19)";

bool BindAndStepKite(sqlite3* db, const Kite& k) {
  Stmt st(db, kPutKite);
  if (!st.ok()) return false;
  auto pub = PackEndpoint(k.pub);
  st.Int(1, k.kite_id);
  st.Text(2, k.name);
  st.Text(3, k.account);
  st.Blob(4, pub.data(), pub.size());
  st.Int(5, k.enabled);
  st.Text(6, k.disabled_reason);
  st.Int(7, k.disabled_code);
  st.Int(8, k.rate_pps);
  st.Int(9, k.rate_kbps);
  st.Int(10, k.burst_ms);
  st.Int(11, k.max_sessions);
  st.Int(12, static_cast<int64_t>(k.quota_bytes));
  st.Int(13, k.quota_period_s);
  st.Int(14, static_cast<int64_t>(k.period_start));
  st.Int(15, k.used_base);
  st.Int(16, static_cast<int64_t>(k.used_period));
  st.Int(17, static_cast<int64_t>(k.last_used_total));
  st.Int(18, static_cast<int64_t>(k.granted_per_core));
  st.Int(19, static_cast<int64_t>(k.extra_bytes));
  return st.Step() == SQLITE_DONE;
}
}  // namespace

absl::Status Store::PutKite(const Kite& k) {
  if (!BindAndStepKite(db_, k)) return Error("put kite");
  return absl::OkStatus();
}

absl::Status Store::PutKites(const std::vector<const Kite*>& kites) {
  RETURN_IF_ERROR(Exec("BEGIN"));
  for (const Kite* k : kites) {
    if (!BindAndStepKite(db_, *k)) {
      absl::Status e = Error("put kites");
      (void)Exec("ROLLBACK");
      return e;
    }
  }
  return Exec("COMMIT");
}

absl::Status Store::DeleteKite(uint32_t kite_id) {
  RETURN_IF_ERROR(Exec("BEGIN"));
  for (const char* sql : {"DELETE FROM kites WHERE kite_id=?1", "DELETE FROM session_kites WHERE kite_id=?1"}) {
    Stmt st(db_, sql);
    st.Int(1, kite_id);
    if (st.Step() != SQLITE_DONE) {
      absl::Status e = Error("delete kite");
      (void)Exec("ROLLBACK");
      return e;
    }
  }
  return Exec("COMMIT");
}

absl::Status Store::PutSession(const Session& s) {
  RETURN_IF_ERROR(Exec("BEGIN"));
  bool ok = true;
  {
    Stmt st(db_, "INSERT OR REPLACE INTO sessions VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)");
    auto c = PackEndpoint(s.connector), l = PackEndpoint(s.local);
    st.Int(1, s.session_id);
    st.Blob(2, c.data(), c.size());
    st.Blob(3, l.data(), l.size());
    st.Int(4, s.mtu);
    st.Blob(5, s.keys.c2f.data(), 32);
    st.Blob(6, s.keys.f2c.data(), 32);
    st.Blob(7, s.token.data(), s.token.size());
    st.Blob(8, s.client_pubkey.data(), 32);
    st.Blob(9, s.server_pubkey.data(), 32);
    st.Int(10, static_cast<int64_t>(s.tx_seq));
    st.Int(11, static_cast<int64_t>(s.rx_top));
    st.Int(12, static_cast<int64_t>(s.created));
    st.Int(13, static_cast<int64_t>(s.last_rx));
    ok = st.Step() == SQLITE_DONE;
  }
  if (ok) {
    Stmt del(db_, "DELETE FROM session_kites WHERE session_id=?1");
    del.Int(1, s.session_id);
    ok = del.Step() == SQLITE_DONE;
  }
  for (uint32_t kid : s.kites) {
    if (!ok) break;
    Stmt ins(db_, "INSERT INTO session_kites VALUES(?1,?2)");
    ins.Int(1, s.session_id);
    ins.Int(2, kid);
    ok = ins.Step() == SQLITE_DONE;
  }
  if (!ok) {
    absl::Status e = Error("put session");
    (void)Exec("ROLLBACK");
    return e;
  }
  return Exec("COMMIT");
}

absl::Status Store::DeleteSession(uint32_t session_id) {
  RETURN_IF_ERROR(Exec("BEGIN"));
  for (const char* sql : {"DELETE FROM sessions WHERE session_id=?1", "DELETE FROM session_kites WHERE session_id=?1"}) {
    Stmt st(db_, sql);
    st.Int(1, session_id);
    if (st.Step() != SQLITE_DONE) {
      absl::Status e = Error("delete session");
      (void)Exec("ROLLBACK");
      return e;
    }
  }
  return Exec("COMMIT");
}

absl::StatusOr<std::map<uint32_t, Kite>> Store::LoadKites() {
  std::map<uint32_t, Kite> out;
  Stmt st(db_, "SELECT * FROM kites ORDER BY kite_id");
  if (!st.ok()) return Error("load kites");
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    Kite k;
    k.kite_id = static_cast<uint32_t>(st.ColInt(0));
    k.name = st.ColText(1);
    k.account = st.ColText(2);
    std::array<uint8_t, 19> pub{};
    st.ColArray(3, &pub);
    k.pub = UnpackEndpoint(pub);
    k.enabled = st.ColInt(4) != 0;
    k.disabled_reason = st.ColText(5);
    k.disabled_code = static_cast<uint8_t>(st.ColInt(6));
    k.rate_pps = static_cast<uint32_t>(st.ColInt(7));
    k.rate_kbps = static_cast<uint32_t>(st.ColInt(8));
    k.burst_ms = static_cast<uint16_t>(st.ColInt(9));
    k.max_sessions = static_cast<uint32_t>(st.ColInt(10));
    k.quota_bytes = static_cast<uint64_t>(st.ColInt(11));
    k.quota_period_s = static_cast<uint32_t>(st.ColInt(12));
    k.period_start = static_cast<uint64_t>(st.ColInt(13));
    k.used_base = st.ColInt(14);
    k.used_period = static_cast<uint64_t>(st.ColInt(15));
    k.last_used_total = static_cast<uint64_t>(st.ColInt(16));
    k.granted_per_core = static_cast<uint64_t>(st.ColInt(17));
    k.extra_bytes = static_cast<uint64_t>(st.ColInt(18));
    out[k.kite_id] = std::move(k);
  }
  if (rc != SQLITE_DONE) return Error("load kites");
  return out;
}

absl::StatusOr<std::map<uint32_t, Session>> Store::LoadSessions() {
  std::map<uint32_t, Session> out;
  {
    Stmt st(db_, "SELECT * FROM sessions ORDER BY session_id");
    if (!st.ok()) return Error("load sessions");
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      Session s;
      s.session_id = static_cast<uint32_t>(st.ColInt(0));
      std::array<uint8_t, 19> c{}, l{};
      st.ColArray(1, &c);
      st.ColArray(2, &l);
      s.connector = UnpackEndpoint(c);
      s.local = UnpackEndpoint(l);
      s.mtu = static_cast<uint16_t>(st.ColInt(3));
      st.ColArray(4, &s.keys.c2f);
      st.ColArray(5, &s.keys.f2c);
      st.ColArray(6, &s.token);
      st.ColArray(7, &s.client_pubkey);
      st.ColArray(8, &s.server_pubkey);
      s.tx_seq = static_cast<uint64_t>(st.ColInt(9));
      s.rx_top = static_cast<uint64_t>(st.ColInt(10));
      s.created = static_cast<uint64_t>(st.ColInt(11));
      s.last_rx = static_cast<uint64_t>(st.ColInt(12));
      // Nothing at or below the stored top is accepted again after a restart.
      if (s.rx_top > 0) s.rx.Accept(s.rx_top);
      out[s.session_id] = std::move(s);
    }
    if (rc != SQLITE_DONE) return Error("load sessions");
  }
  Stmt st(db_, "SELECT session_id, kite_id FROM session_kites");
  while (st.Step() == SQLITE_ROW) {
    auto it = out.find(static_cast<uint32_t>(st.ColInt(0)));
    if (it != out.end()) it->second.kites.insert(static_cast<uint32_t>(st.ColInt(1)));
  }
  return out;
}

absl::Status Store::PutMeta(const std::string& key, const std::vector<uint8_t>& value) {
  Stmt st(db_, "INSERT OR REPLACE INTO meta VALUES(?1, ?2)");
  st.Text(1, key);
  st.Blob(2, value.data(), value.size());
  if (st.Step() != SQLITE_DONE) return Error("put meta");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> Store::GetMeta(const std::string& key) {
  Stmt st(db_, "SELECT v FROM meta WHERE k=?1");
  st.Text(1, key);
  if (st.Step() != SQLITE_ROW) return absl::NotFoundError(key);
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(st.get(), 0));
  int n = sqlite3_column_bytes(st.get(), 0);
  return std::vector<uint8_t>(p, p + n);
}

}  // namespace kp::cp
