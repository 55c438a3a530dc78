// registry.h - Registry: kites, sessions and what the data plane holds.
//
// The registry is the control plane's state machine.  It judges kite claims
// (name rules, policy admission, HMAC proof, name taken, ports, table
// limits) one by one so one bad kite never sinks the others, attaches kites
// to sessions, ends sessions, rebinds a session to a connector's new NAT
// address, kicks kites, runs the quota tick, rotates flow-cookie keys and
// keeps three copies in step: memory, the durable Store and the data plane
// (through DataplaneClient).  When the data plane is absent every change is
// kept and a full resync (RESYNC_BEGIN, config, sessions, kites, credit,
// RESYNC_END) runs when it comes back, so unchanged entries are rewritten
// identically and traffic is not disturbed.
//
// Events a connector must hear about (quota disabled/enabled, kicked) are
// queued as Notices for the tunnel server to send.  Single-threaded.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "controlplane/dataplane_client.h"
#include "controlplane/model.h"
#include "controlplane/policy.h"
#include "controlplane/port_pool.h"
#include "controlplane/quota.h"
#include "controlplane/store.h"

namespace kp::cp {

struct PendingNotice {
  uint32_t session_id = 0;
  proto::Notice notice;
};

struct RegistryCounters {
  uint64_t results[KP_RESULT_MAX] = {};  // per-kite results sent, by code
  uint64_t sessions_created = 0;
  uint64_t sessions_ended = 0;
  uint64_t rebinds = 0;
  uint64_t kicks = 0;
  uint64_t quota_exhausted = 0;
  uint64_t key_rotations = 0;
  uint64_t dataplane_errors = 0;
  uint64_t resyncs = 0;
  uint64_t store_errors = 0;
};

class Registry {
 public:
  Registry(Store* store, DataplaneClient* dp, PolicyHost* policy);

  // Loads kites, sessions and cookie keys from the store (creating keys on
  // first start).  Errors: Unavailable (store), Internal (inconsistent store).
  absl::Status Recover(uint64_t now_s);
  // Swaps the policy after a successful reload: new pools apply to new
  // kites; existing kites keep their endpoints.
  absl::Status SetPolicy(PolicyHost* policy);
  PolicyHost* policy() const { return policy_; }

  // Connects to the data plane if needed and, on (re)connection, resyncs.
  absl::Status SyncDataplane();
  // Full resync: config, every session and kite, credit.
  absl::Status Resync();

  // A fresh session id (random generation bits | free slot index), or
  // ResourceExhausted when the session table is full.
  absl::StatusOr<uint32_t> AllocateSessionId();
  // Adds a new session (keys already derived) and programs the data plane.
  absl::StatusOr<Session*> AddSession(Session s);
  Session* FindSession(uint32_t id);
  Session* FindSessionByToken(const proto::Token& token, const proto::PublicKey& pub);
  // Ends a session: detaches its kites, deletes it from the data plane and
  // the store, calls on_session_down.
  void EndSession(uint32_t id, const std::string& reason);
  // Moves a session to a new connector address (rebinding rule).
  absl::Status Rebind(Session& s, const proto::Endpoint& now_at);
  // Persists seqs and last_rx of a session (after in-session traffic).
  void Touch(Session& s, uint64_t now_s, bool persist);

  // Judges one claim in session `s` and, if accepted, attaches the kite.
  proto::KiteResult Claim(Session& s, const proto::KiteClaim& claim, uint64_t now_s);
  // Detaches `name` from `s`: REMOVED or UNKNOWN_KITE.
  proto::KiteResult Remove(Session& s, const std::string& name);
  // Operator kick: detaches the kite from every session and queues NOTICE
  // KITE_KICKED.  NotFound for an unknown name.
  absl::Status Kick(const std::string& name);

  // The accounting tick: reads per-kite used bytes, grants credit, disables
  // exhausted kites (queues NOTICEs), rolls periods, persists accounting.
  void QuotaTick(uint64_t now_s);
  // Rotates the flow-cookie keys when due (or `force`).
  void MaybeRotateKeys(uint64_t now_s, bool force = false);
  // Ends sessions silent for longer than dead_after_s.
  std::vector<uint32_t> ExpireDeadSessions(uint64_t now_s);

  // Front-end state (serving / lame duck / closed) for the data plane.
  void SetFrontendState(kp_frontend_state st);
  kp_frontend_state frontend_state() const { return fe_state_; }
  bool draining() const { return fe_state_ != KP_FE_SERVING; }

  std::deque<PendingNotice>& notices() { return notices_; }
  const std::map<uint32_t, Kite>& kites() const { return kites_; }
  const std::map<uint32_t, Session>& sessions() const { return sessions_; }
  const Kite* FindKite(const std::string& name) const;
  const RegistryCounters& counters() const { return counters_; }
  const kp_ctl_global_counters& last_global() const { return last_global_; }
  const std::map<uint32_t, kp_ctl_kite_stats>& last_kite_stats() const { return last_kite_stats_; }
  uint8_t key_epoch() const { return key_epoch_; }
  uint32_t n_workers() const;
  const QuotaLedger& ledger() const { return ledger_; }

  // Entries as the data plane should hold them.
  kp_kite KiteEntry(const Kite& k) const;
  kp_session SessionEntry(const Session& s) const;
  kp_config ConfigEntry() const;

 private:
  absl::StatusOr<Kite*> KiteFor(const std::string& name, const Admission& a, uint64_t now_s,
                                uint8_t* fail_code, std::string* fail_text);
  void Attach(Kite& k, Session& s, uint64_t now_s);
  void Detach(Kite& k, Session& s);
  void PushKite(const Kite& k);
  void PushConfig();
  void GrantInitial(Kite& k, uint64_t now_s);
  void DpError(const absl::Status& s);
  void StoreError(const absl::Status& s);
  void PersistKeys();
  void SetEnabled(Kite& k, bool enabled, uint8_t code, const std::string& reason);
  proto::KiteResult Result(uint8_t code, const std::string& name, std::string text = "");

  Store* store_;
  DataplaneClient* dp_;
  PolicyHost* policy_;
  std::unique_ptr<PortAllocator> ports_;
  QuotaLedger ledger_{1, 1u << 20};
  std::map<uint32_t, Kite> kites_;
  absl::flat_hash_map<std::string, uint32_t> kite_by_name_;
  std::map<uint32_t, Session> sessions_;
  std::vector<bool> slot_used_;
  uint32_t next_kite_id_ = 1;
  uint64_t cookie_keys_[2][2] = {};
  uint8_t key_epoch_ = 0;
  uint64_t keys_rotated_at_ = 0;
  uint32_t config_generation_ = 0;
  kp_frontend_state fe_state_ = KP_FE_SERVING;
  std::deque<PendingNotice> notices_;
  RegistryCounters counters_;
  kp_ctl_global_counters last_global_{};
  std::map<uint32_t, kp_ctl_kite_stats> last_kite_stats_;
};

}  // namespace kp::cp
