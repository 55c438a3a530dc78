// xdp_backend.h - kp::xdp::XdpBackend, the control-socket backend of the XDP
// mode: kp::ctl::TableBackend implemented over the XDP program's BPF maps.
//
// Every method runs on the control thread (the only writer).  Kites and
// sessions are BPF_F_MMAPABLE arrays written through this process's mapping
// with a seqlock per entry (sequence word odd while the 64 bytes are copied;
// the program copies an entry between two reads of the word and treats a
// busy entry as absent: bpf/seqread.h), so no write needs a system call and
// the program never uses a torn entry.  Only the kite hash (public address ->
// kite id) is a BPF hash written with bpf(2).  Every mutating call ends with
// a reader grace period (re-storing the config map-in-map slot, which makes
// the kernel wait for running programs), so after it returns no packet still
// uses the old state.  The program reads the config from a double buffer
// (kp_cfg, kp_cfg_sel: the idle slot is written, the selector flipped, then a
// grace period passes before that slot can be written again).  The config is swapped in as a fresh one-element inner
// map, so the program never reads a torn kp_config.  Per-kite counters and
// police state live in one BPF_F_MMAPABLE array laid out [cpu][kite]
// (bpf/layout.h), mapped into this process: counter reads are plain loads
// summed over the CPUs, with no system call.  Presence
// of kites and sessions, and each kite's public key, are mirrored in memory
// (rebuilt from the maps by Init(), so a reloaded data plane picks up pinned
// state): validation needs no syscalls and writes go out with
// bpf_map_update_batch, a handful of bpf(2) calls per batch of kites.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bpf/layout.h"
#include "dataplane/ctl/backend.h"

namespace kp::xdp {

// File descriptors of the program's maps (owned elsewhere: the skeleton).
struct XdpMapFds {
  int kite_hash = -1;
  int kite_idx = -1;    // mmapable array of KP_KITE_IDX_SIZE u64 slots (optional hint)
  int kites = -1;       // mmapable array of kp_kite by kite id
  int kite_seq = -1;    // mmapable array of u64 sequence words, one per kite
  int sessions = -1;    // mmapable array of kp_session by session index
  int session_seq = -1; // mmapable array of u64 sequence words, one per session
  int config = -1;  // array of maps, one slot (control copy; grace periods)
  int cfg = -1;      // array of two kp_config the program reads (double buffer)
  int cfg_sel = -1;  // one u32: 0 = unconfigured, else 1 + the live kp_cfg slot
  int credit = -1;
  int kite_state = -1;  // mmapable [cpu][kite] array of kp_kite_slot (bpf/layout.h)
  int globals = -1;  // per-CPU array, one struct kp_globals (bpf/layout.h)
};

// CPUs the program's per-CPU state is laid out for (possible CPUs); the
// loader sets the program's kp_n_cpus to this.
uint32_t XdpNumCpus();

class XdpBackend : public ctl::TableBackend {
 public:
  // max_kites: kite ids are in [1, max_kites); max_sessions: session
  // indexes are in [0, max_sessions).  Call Init() before use.
  XdpBackend(const XdpMapFds& fds, uint32_t max_kites, uint32_t max_sessions);
  ~XdpBackend() override;
  XdpBackend(const XdpBackend&) = delete;
  XdpBackend& operator=(const XdpBackend&) = delete;

  // Rebuilds the presence bitmaps from the maps (they may be reused pins).
  // Errors: Internal when the kite state map could not be mapped.
  absl::Status Init();

  kp_dp_mode Mode() const override { return KP_DP_XDP; }
  uint32_t NumWorkers() const override { return ncpus_; }
  uint32_t MaxKites() const override { return max_kites_; }
  uint32_t MaxSessions() const override { return max_sessions_; }

  absl::Status SetConfig(const kp_config& config) override;
  absl::StatusOr<kp_config> GetConfig() const override;
  absl::Status UpsertKites(std::span<const kp_kite> kites) override;
  absl::Status DeleteKites(std::span<const uint32_t> kite_ids) override;
  absl::Status UpsertSessions(std::span<const kp_session> sessions) override;
  absl::Status DeleteSessions(std::span<const uint32_t> session_ids) override;
  absl::Status GrantCredit(std::span<const kp_ctl_credit> grants) override;
  absl::Status SetState(kp_frontend_state state) override;
  absl::StatusOr<kp_ctl_global_counters> GlobalCounters() const override;
  absl::StatusOr<uint32_t> KiteStats(uint32_t first, std::span<kp_ctl_kite_stats> out,
                                     uint32_t* next) const override;
  absl::StatusOr<uint32_t> DumpKites(uint32_t first, std::span<kp_kite> out,
                                     uint32_t* next) const override;
  absl::StatusOr<uint32_t> DumpSessions(uint32_t first, std::span<kp_session> out,
                                        uint32_t* next) const override;

  // Test hooks: per-CPU police state of one kite (same value on every CPU),
  // and zeroing of every counter and police entry of the listed kites.
  absl::Status SetPolice(uint32_t kite_id, const kp_kite_police& police);
  absl::Status SetCreditAll(uint32_t kite_id, uint64_t granted_bytes);
  absl::Status ResetKiteState(uint32_t kite_id);
  absl::Status ResetGlobalCounters();

  // Waits until every program run that started before the call has ended.
  absl::Status WaitForReaders() const;

 private:
  using KeyBytes = std::array<uint8_t, sizeof(kp_kite_key)>;
  static KeyBytes Bytes(const kp_kite_key& k);

  absl::Status ValidateKite(const kp_kite& k) const;
  absl::Status WritePerCpu(int fd, uint32_t key, const void* value, size_t size);
  // This CPU's slot of a kite in the mapped kp_kite_state.
  kp_kite_slot* Slot(uint32_t cpu, uint32_t kite_id) const {
    return slots_ + static_cast<size_t>(cpu) * max_kites_ + kite_id;
  }
  absl::Status CheckMapped() const;
  // Seqlock write of one 64-byte entry through the mapping.
  static void SeqWrite(uint64_t* seq, void* dst, const void* src, size_t size);
  void WriteKite(uint32_t id, const kp_kite& k) { SeqWrite(&kite_seq_[id], &kites_[id], &k, sizeof k); }
  void WriteSession(uint32_t idx, const kp_session& s) {
    SeqWrite(&session_seq_[idx], &sessions_[idx], &s, sizeof s);
  }
  // Kite index (bpf/maps.h kp_kite_idx): a hint the program checks against
  // the kite entry; set after the hash entry, cleared before it goes.
  // No-ops when the map is absent (the program then always asks the hash).
  // The key's pair of slots, and in *entry what a slot holds for (k, id).
  uint64_t* IdxPair(const kp_kite_key& k, uint32_t id, uint64_t* entry) const;
  void IdxSet(const kp_kite_key& k, uint32_t id) const;
  void IdxClear(const kp_kite_key& k, uint32_t id) const;
  // Maps `fd` (an mmapable array of `bytes`) or returns nullptr.
  void* MapArray(int fd, size_t bytes);
  // Zeroes police, credit and counters of `ids` on every CPU, batched.
  absl::Status ResetKites(std::span<const uint32_t> ids);

  XdpMapFds fds_;
  uint32_t max_kites_;
  uint32_t max_sessions_;
  uint32_t ncpus_;
  struct Mapping {
    void* addr;
    size_t len;
  };
  std::vector<Mapping> mappings_;  // unmapped by the destructor
  kp_kite_slot* slots_ = nullptr;  // kp_kite_state, ncpus_ * max_kites_ slots
  kp_kite* kites_ = nullptr;       // kp_kites, max_kites_
  uint64_t* kite_seq_ = nullptr;   // kp_kite_seq, max_kites_
  uint64_t* kite_idx_ = nullptr;   // kp_kite_idx, KP_KITE_IDX_SIZE (nullptr: no index)
  kp_session* sessions_ = nullptr; // kp_sessions, max_sessions_
  uint64_t* session_seq_ = nullptr;// kp_session_seq, max_sessions_
  std::vector<bool> kite_present_;
  std::vector<bool> session_present_;
  std::vector<kp_kite_key> kite_keys_;                  // by kite id, valid if present
  absl::flat_hash_map<KeyBytes, uint32_t> key_owner_;  // public key -> kite id
};

}  // namespace kp::xdp
