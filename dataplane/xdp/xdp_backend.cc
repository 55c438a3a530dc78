// xdp_backend.cc - kp::xdp::XdpBackend: the TableBackend over the XDP maps.
// See xdp_backend.h for the publication rules (seqlock writes of kites and
// sessions through the mapping, map-in-map config swap, a reader grace
// period after every change) and bpf/layout.h for the counter slots.
#include "dataplane/xdp/xdp_backend.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace kp::xdp {
namespace {

absl::Status Errno(const std::string& what, int err) {
  if (err < 0) err = -err;
  if (err == E2BIG || err == ENOMEM || err == ENOSPC) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": ", std::strerror(err)));
  }
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

// Closes a file descriptor on scope exit.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// The inner map currently in the config slot, or -1 (none) / <-1 (error).
int InnerConfigFd(int outer) {
  uint32_t zero = 0, id = 0;
  if (bpf_map_lookup_elem(outer, &zero, &id) != 0) return -1;
  int fd = bpf_map_get_fd_by_id(id);
  return fd >= 0 ? fd : -2;
}

}  // namespace

uint32_t XdpNumCpus() {
  const int n = libbpf_num_possible_cpus();
  return n > 0 ? static_cast<uint32_t>(n) : 1;
}

XdpBackend::XdpBackend(const XdpMapFds& fds, uint32_t max_kites, uint32_t max_sessions)
    : fds_(fds), max_kites_(max_kites), max_sessions_(max_sessions), ncpus_(XdpNumCpus()) {
  kite_present_.assign(max_kites_, false);
  session_present_.assign(max_sessions_, false);
  kite_keys_.assign(max_kites_, kp_kite_key{});
  // Sizes as set by the loader (SizeMaps); a mapping may not exceed its map.
  // Array elements are 8-byte aligned, so the u64 sequence words are dense.
  const size_t nk = max_kites_, ns = max_sessions_;
  slots_ = static_cast<kp_kite_slot*>(MapArray(fds_.kite_state, ncpus_ * nk * sizeof(kp_kite_slot)));
  kites_ = static_cast<kp_kite*>(MapArray(fds_.kites, nk * sizeof(kp_kite)));
  kite_seq_ = static_cast<uint64_t*>(MapArray(fds_.kite_seq, nk * sizeof(uint64_t)));
  kite_idx_ = static_cast<uint64_t*>(MapArray(fds_.kite_idx, KP_KITE_IDX_SIZE * sizeof(uint64_t)));
  sessions_ = static_cast<kp_session*>(MapArray(fds_.sessions, ns * sizeof(kp_session)));
  session_seq_ = static_cast<uint64_t*>(MapArray(fds_.session_seq, ns * sizeof(uint64_t)));
}

XdpBackend::~XdpBackend() {
  for (const Mapping& m : mappings_) munmap(m.addr, m.len);
}

void* XdpBackend::MapArray(int fd, size_t bytes) {
  if (fd < 0) return nullptr;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return nullptr;
  mappings_.push_back({p, bytes});
  return p;
}

absl::Status XdpBackend::CheckMapped() const {
  if (slots_ && kites_ && kite_seq_ && sessions_ && session_seq_) return absl::OkStatus();
  return absl::InternalError(
      "kite/session/state maps are not mapped (missing, not BPF_F_MMAPABLE, or not sized "
      "as SizeMaps sets them)");
}

void XdpBackend::SeqWrite(uint64_t* seq, void* dst, const void* src, size_t size) {
  std::atomic_ref<uint64_t> word(*seq);
  const uint64_t odd = word.load(std::memory_order_relaxed) | 1;
  word.store(odd, std::memory_order_relaxed);
  // The odd word must be visible before any byte of the entry changes, and
  // every byte before the even word (x86 keeps stores in order; the fences
  // keep the compiler from moving the copy across the word).
  std::atomic_thread_fence(std::memory_order_release);
  std::memcpy(dst, src, size);
  word.store(odd + 1, std::memory_order_release);
}

uint64_t* XdpBackend::IdxPair(const kp_kite_key& k, uint32_t id, uint64_t* entry) const {
  if (!kite_idx_) return nullptr;
  uint64_t a0, a1;
  uint32_t pf;
  std::memcpy(&a0, k.addr, 8);
  std::memcpy(&a1, k.addr + 8, 8);
  std::memcpy(&pf, &k.port, 4);  // port, family, pad: the program's last key word
  static_assert(offsetof(kp_kite_key, port) == 16 && sizeof(kp_kite_key) == 20);
  const uint64_t h = kp_kite_idx_hash(a0, a1, pf);
  *entry = kp_kite_idx_entry(h, id);
  return &kite_idx_[kp_kite_idx_pair(h)];
}

void XdpBackend::IdxSet(const kp_kite_key& k, uint32_t id) const {
  uint64_t e = 0;
  uint64_t* p = IdxPair(k, id, &e);
  if (!p) return;
  std::atomic_ref<uint64_t> s0(p[0]), s1(p[1]);
  if (s0.load(std::memory_order_relaxed) == e || s1.load(std::memory_order_relaxed) == e) return;
  // An empty slot of the pair, else the first: the kite there loses it and
  // is found through the hash.
  if (s0.load(std::memory_order_relaxed) != 0 && s1.load(std::memory_order_relaxed) == 0) {
    s1.store(e, std::memory_order_release);
  } else {
    s0.store(e, std::memory_order_release);
  }
}

void XdpBackend::IdxClear(const kp_kite_key& k, uint32_t id) const {
  uint64_t e = 0;
  uint64_t* p = IdxPair(k, id, &e);
  if (!p) return;
  for (int i = 0; i < 2; i++) {
    std::atomic_ref<uint64_t> s(p[i]);
    if (s.load(std::memory_order_relaxed) == e) s.store(0, std::memory_order_release);
  }
}

XdpBackend::KeyBytes XdpBackend::Bytes(const kp_kite_key& k) {
  KeyBytes b;
  std::memcpy(b.data(), &k, sizeof k);
  return b;
}

absl::Status XdpBackend::Init() {
  if (absl::Status st = CheckMapped(); !st.ok()) return st;
  // The index may be a reused pin, or new: rebuild it from the kites (a slot
  // read meanwhile is only a hint, checked against the kite).
  if (kite_idx_) {
    for (uint32_t s = 0; s < KP_KITE_IDX_SIZE; s++) {
      std::atomic_ref<uint64_t>(kite_idx_[s]).store(0, std::memory_order_relaxed);
    }
  }
  for (uint32_t id = 1; id < max_kites_; id++) {
    const kp_kite& k = kites_[id];
    if (k.state == KP_KITE_EMPTY) continue;
    kite_present_[id] = true;
    kite_keys_[id] = k.key;
    key_owner_[Bytes(k.key)] = id;
    IdxSet(k.key, id);
  }
  for (uint32_t idx = 0; idx < max_sessions_; idx++) {
    session_present_[idx] = sessions_[idx].state != KP_SESSION_EMPTY;
  }
  return absl::OkStatus();
}

absl::Status XdpBackend::WaitForReaders() const {
  // Updating an array-of-maps slot makes the kernel wait for an RCU grace
  // period before returning, so storing the current inner map again is a
  // cheap "synchronize" for every program run in flight.
  int inner = InnerConfigFd(fds_.config);
  if (inner == -1) return absl::OkStatus();  // unconfigured: the program reads nothing
  if (inner < 0) return Errno("config inner map", errno);
  FdGuard g(inner);
  uint32_t zero = 0;
  int fd = g.get();
  if (bpf_map_update_elem(fds_.config, &zero, &fd, BPF_ANY) != 0) {
    return Errno("config slot update", errno);
  }
  return absl::OkStatus();
}

absl::Status XdpBackend::SetConfig(const kp_config& c) {
  if (c.state > KP_FE_CLOSED || c.gateway_mac_valid > 2 ||
      c.n_tunnel_ports > KP_MAX_TUNNEL_PORTS || c.n_own4 > KP_MAX_OWN_ADDRS ||
      c.n_own6 > KP_MAX_OWN_ADDRS || c.n_bogons > KP_MAX_BOGONS) {
    return absl::InvalidArgumentError("config: field out of range");
  }
  for (uint32_t i = 0; i < c.n_bogons; i++) {
    if (c.bogons[i].len > 128) return absl::InvalidArgumentError("config: bogon prefix > 128");
  }
  FdGuard inner(bpf_map_create(BPF_MAP_TYPE_ARRAY, "kp_config_v", sizeof(uint32_t),
                               sizeof(kp_config), 1, nullptr));
  if (inner.get() < 0) return Errno("config map create", errno);
  uint32_t zero = 0;
  if (bpf_map_update_elem(inner.get(), &zero, &c, BPF_ANY) != 0) {
    return Errno("config write", errno);
  }
  // The program's double buffer: write the slot no reader uses (the last
  // call's grace period ended every use of it), then flip the selector.
  uint32_t sel = 0;
  if (bpf_map_lookup_elem(fds_.cfg_sel, &zero, &sel) != 0) return Errno("config selector", errno);
  const uint32_t idle = sel == 1 ? 1 : 0;
  if (bpf_map_update_elem(fds_.cfg, &idle, &c, BPF_ANY) != 0) return Errno("config slot", errno);
  const uint32_t next_sel = idle + 1;
  if (bpf_map_update_elem(fds_.cfg_sel, &zero, &next_sel, BPF_ANY) != 0) {
    return Errno("config flip", errno);
  }
  int fd = inner.get();
  // The swap itself waits for a grace period (see WaitForReaders): after it
  // no program still reads the slot just left.
  if (bpf_map_update_elem(fds_.config, &zero, &fd, BPF_ANY) != 0) {
    return Errno("config swap", errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<kp_config> XdpBackend::GetConfig() const {
  int inner = InnerConfigFd(fds_.config);
  if (inner == -1) return absl::NotFoundError("no config set yet");
  if (inner < 0) return Errno("config inner map", errno);
  FdGuard g(inner);
  kp_config c{};
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(g.get(), &zero, &c) != 0) return Errno("config read", errno);
  return c;
}

absl::Status XdpBackend::ValidateKite(const kp_kite& k) const {
  if (k.kite_id < 1 || k.kite_id >= max_kites_) {
    return absl::InvalidArgumentError(absl::StrCat("kite id ", k.kite_id, " out of range"));
  }
  if (k.state != KP_KITE_LIVE && k.state != KP_KITE_DISABLED) {
    return absl::InvalidArgumentError(absl::StrCat("kite ", k.kite_id, ": bad state"));
  }
  if (k.n_sessions > KP_MAX_KITE_SESSIONS) {
    return absl::InvalidArgumentError(absl::StrCat("kite ", k.kite_id, ": too many sessions"));
  }
  if ((k.key.family != KP_AF_INET && k.key.family != KP_AF_INET6) || k.key.pad != 0) {
    return absl::InvalidArgumentError(absl::StrCat("kite ", k.kite_id, ": bad key family"));
  }
  return absl::OkStatus();
}

absl::Status XdpBackend::UpsertKites(std::span<const kp_kite> kites) {
  if (absl::Status st = CheckMapped(); !st.ok()) return st;
  // Validate everything first (from the in-memory mirror): all-or-nothing
  // for every refusal we can foresee.
  absl::flat_hash_map<KeyBytes, uint32_t> batch_keys;
  absl::flat_hash_set<uint32_t> ids;
  for (const kp_kite& k : kites) {
    if (absl::Status st = ValidateKite(k); !st.ok()) return st;
    if (!ids.insert(k.kite_id).second) return absl::InvalidArgumentError("duplicate kite id");
    const KeyBytes kb = Bytes(k.key);
    auto it = key_owner_.find(kb);
    if (it != key_owner_.end() && it->second != k.kite_id) {
      return absl::InvalidArgumentError(
          absl::StrCat("kite ", k.kite_id, ": public address owned by kite ", it->second));
    }
    if (!batch_keys.emplace(kb, k.kite_id).second) {
      return absl::InvalidArgumentError("two kites with one public address");
    }
  }
  std::vector<uint32_t> new_ids, all_ids;
  std::vector<kp_kite_key> stale_keys, keys;
  for (const kp_kite& k : kites) {
    all_ids.push_back(k.kite_id);
    keys.push_back(k.key);
    if (!kite_present_[k.kite_id]) {
      new_ids.push_back(k.kite_id);
    } else if (Bytes(kite_keys_[k.kite_id]) != Bytes(k.key)) {
      stale_keys.push_back(kite_keys_[k.kite_id]);
    }
  }
  if (absl::Status st = ResetKites(new_ids); !st.ok()) return st;
  // Values first, then the hash entries pointing at them, then old keys go.
  for (const kp_kite& k : kites) WriteKite(k.kite_id, k);
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  uint32_t n = static_cast<uint32_t>(kites.size());
  if (n && bpf_map_update_batch(fds_.kite_hash, keys.data(), all_ids.data(), &n, &opts) != 0) {
    const int err = errno;
    // The hash is full: take back the kites that were not there (their keys
    // were unowned, so any of them that made it into the hash is theirs).
    for (const kp_kite& k : kites) {
      if (!kite_present_[k.kite_id]) {
        bpf_map_delete_elem(fds_.kite_hash, &k.key);
        WriteKite(k.kite_id, kp_kite{});
      }
    }
    return Errno("kite hash batch", err);
  }
  for (const kp_kite_key& old : stale_keys) {
    IdxClear(old, key_owner_[Bytes(old)]);
    bpf_map_delete_elem(fds_.kite_hash, &old);
    key_owner_.erase(Bytes(old));
  }
  for (const kp_kite& k : kites) {
    kite_present_[k.kite_id] = true;
    kite_keys_[k.kite_id] = k.key;
    key_owner_[Bytes(k.key)] = k.kite_id;
    IdxSet(k.key, k.kite_id);  // after its hash entry
  }
  return WaitForReaders();
}

absl::Status XdpBackend::ResetKites(std::span<const uint32_t> ids) {
  if (ids.empty()) return absl::OkStatus();
  if (absl::Status st = CheckMapped(); !st.ok()) return st;
  // No packet reaches a kite that is not yet in the tables, so its slots can
  // be cleared through the mapping.
  for (uint32_t c = 0; c < ncpus_; c++) {
    for (uint32_t id : ids) std::memset(Slot(c, id), 0, sizeof(kp_kite_slot));
  }
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  std::vector<kp_kite_credit> zeros(ids.size() * ncpus_, kp_kite_credit{});
  uint32_t n = static_cast<uint32_t>(ids.size());
  if (bpf_map_update_batch(fds_.credit, ids.data(), zeros.data(), &n, &opts) != 0) {
    return Errno("reset kite credit", errno);
  }
  return absl::OkStatus();
}

absl::Status XdpBackend::DeleteKites(std::span<const uint32_t> kite_ids) {
  if (absl::Status st = CheckMapped(); !st.ok()) return st;
  for (uint32_t id : kite_ids) {
    if (id >= max_kites_ || !kite_present_[id]) {
      return absl::NotFoundError(absl::StrCat("kite ", id, " not present"));
    }
  }
  for (uint32_t id : kite_ids) {
    IdxClear(kite_keys_[id], id);  // before its hash entry
    bpf_map_delete_elem(fds_.kite_hash, &kite_keys_[id]);
    key_owner_.erase(Bytes(kite_keys_[id]));
  }
  // No new packet finds these kites now; let running ones finish first.
  if (absl::Status st = WaitForReaders(); !st.ok()) return st;
  for (uint32_t id : kite_ids) {
    WriteKite(id, kp_kite{});
    kite_present_[id] = false;
  }
  return WaitForReaders();
}

absl::Status XdpBackend::UpsertSessions(std::span<const kp_session> sessions) {
  for (const kp_session& s : sessions) {
    const uint32_t idx = s.session_id & KP_SESSION_INDEX_MASK;
    if (s.session_id == 0 || idx >= max_sessions_) {
      return absl::InvalidArgumentError(absl::StrCat("session id ", s.session_id, " out of range"));
    }
    if (s.state != KP_SESSION_LIVE && s.state != KP_SESSION_DOWN) {
      return absl::InvalidArgumentError(absl::StrCat("session ", s.session_id, ": bad state"));
    }
    if (s.family != KP_AF_INET && s.family != KP_AF_INET6) {
      return absl::InvalidArgumentError(absl::StrCat("session ", s.session_id, ": bad family"));
    }
  }
  if (absl::Status st = CheckMapped(); !st.ok()) return st;
  for (const kp_session& s : sessions) {
    const uint32_t idx = s.session_id & KP_SESSION_INDEX_MASK;
    WriteSession(idx, s);
    session_present_[idx] = true;
  }
  return WaitForReaders();
}

absl::Status XdpBackend::DeleteSessions(std::span<const uint32_t> session_ids) {
  if (absl::Status st = CheckMapped(); !st.ok()) return st;
  for (uint32_t id : session_ids) {
    const uint32_t idx = id & KP_SESSION_INDEX_MASK;
    if (idx >= max_sessions_ || !session_present_[idx] || sessions_[idx].session_id != id) {
      return absl::NotFoundError(absl::StrCat("session ", id, " not present"));
    }
  }
  for (uint32_t id : session_ids) {
    const uint32_t idx = id & KP_SESSION_INDEX_MASK;
    WriteSession(idx, kp_session{});
    session_present_[idx] = false;
  }
  return WaitForReaders();
}

absl::Status XdpBackend::WritePerCpu(int fd, uint32_t key, const void* value, size_t size) {
  std::vector<uint8_t> buf(size * ncpus_);
  for (uint32_t c = 0; c < ncpus_; c++) std::memcpy(buf.data() + c * size, value, size);
  if (bpf_map_update_elem(fd, &key, buf.data(), BPF_ANY) != 0) {
    return Errno("per-CPU write", errno);
  }
  return absl::OkStatus();
}

absl::Status XdpBackend::GrantCredit(std::span<const kp_ctl_credit> grants) {
  for (const kp_ctl_credit& g : grants) {
    if (g.kite_id >= max_kites_ || !kite_present_[g.kite_id]) {
      return absl::NotFoundError(absl::StrCat("kite ", g.kite_id, " not present"));
    }
  }
  std::vector<kp_kite_credit> v(ncpus_);
  for (const kp_ctl_credit& g : grants) {
    if (bpf_map_lookup_elem(fds_.credit, &g.kite_id, v.data()) != 0) {
      return Errno("credit read", errno);
    }
    for (kp_kite_credit& c : v) c.granted_bytes += g.bytes_per_core;
    if (bpf_map_update_elem(fds_.credit, &g.kite_id, v.data(), BPF_ANY) != 0) {
      return Errno("credit write", errno);
    }
  }
  return absl::OkStatus();
}

absl::Status XdpBackend::SetState(kp_frontend_state state) {
  if (state > KP_FE_CLOSED) return absl::InvalidArgumentError("bad front-end state");
  absl::StatusOr<kp_config> c = GetConfig();
  if (!c.ok()) return absl::FailedPreconditionError("set state before any config");
  c->state = static_cast<uint8_t>(state);
  c->generation++;
  return SetConfig(*c);
}

absl::StatusOr<kp_ctl_global_counters> XdpBackend::GlobalCounters() const {
  kp_ctl_global_counters out{};
  std::vector<kp_globals> v(ncpus_);
  const uint32_t zero = 0;
  if (bpf_map_lookup_elem(fds_.globals, &zero, v.data()) != 0) return Errno("counters", errno);
  for (const kp_globals& g : v) {
    for (uint32_t id = 0; id < KP_CTR_MAX; id++) out.counters[id] += g.ctr[id];
    for (uint32_t id = 0; id < KP_DROP_MAX; id++) out.drops[id] += g.drop[id];
  }
  return out;
}

absl::StatusOr<uint32_t> XdpBackend::KiteStats(uint32_t first, std::span<kp_ctl_kite_stats> out,
                                               uint32_t* next) const {
  if (absl::Status st = CheckMapped(); !st.ok()) return st;
  // Plain (relaxed atomic) loads of slots each CPU's program run writes.
  auto load = [](const uint64_t& v) { return __atomic_load_n(&v, __ATOMIC_RELAXED); };
  uint32_t n = 0, id = std::max<uint32_t>(first, 1);
  for (; id < max_kites_ && n < out.size(); id++) {
    if (!kite_present_[id]) continue;
    kp_ctl_kite_stats& s = out[n++];
    s = kp_ctl_kite_stats{};
    s.kite_id = id;
    for (uint32_t c = 0; c < ncpus_; c++) {
      const kp_kite_slot& slot = *Slot(c, id);
      for (uint32_t k = 0; k < KP_KCTR_MAX; k++) s.v[k] += load(slot.ctrs.v[k]);
      s.used_bytes += load(slot.pol.used_bytes);
    }
  }
  while (id < max_kites_ && !kite_present_[id]) id++;
  *next = id < max_kites_ ? id : 0;
  return n;
}

absl::StatusOr<uint32_t> XdpBackend::DumpKites(uint32_t first, std::span<kp_kite> out,
                                               uint32_t* next) const {
  if (absl::Status st = CheckMapped(); !st.ok()) return st;
  uint32_t n = 0, id = std::max<uint32_t>(first, 1);
  for (; id < max_kites_ && n < out.size(); id++) {
    if (kite_present_[id]) out[n++] = kites_[id];  // we are the only writer
  }
  while (id < max_kites_ && !kite_present_[id]) id++;
  *next = id < max_kites_ ? id : 0;
  return n;
}

absl::StatusOr<uint32_t> XdpBackend::DumpSessions(uint32_t first, std::span<kp_session> out,
                                                  uint32_t* next) const {
  if (absl::Status st = CheckMapped(); !st.ok()) return st;
  uint32_t n = 0, idx = first;
  for (; idx < max_sessions_ && n < out.size(); idx++) {
    if (session_present_[idx]) out[n++] = sessions_[idx];  // we are the only writer
  }
  while (idx < max_sessions_ && !session_present_[idx]) idx++;
  *next = idx < max_sessions_ && idx != 0 ? idx : 0;
  return n;
}

absl::Status XdpBackend::SetPolice(uint32_t kite_id, const kp_kite_police& police) {
  if (absl::Status st = CheckMapped(); !st.ok()) return st;
  if (kite_id >= max_kites_) return absl::InvalidArgumentError("kite id out of range");
  for (uint32_t c = 0; c < ncpus_; c++) Slot(c, kite_id)->pol = police;
  return absl::OkStatus();
}

absl::Status XdpBackend::SetCreditAll(uint32_t kite_id, uint64_t granted_bytes) {
  kp_kite_credit c{granted_bytes};
  return WritePerCpu(fds_.credit, kite_id, &c, sizeof c);
}

absl::Status XdpBackend::ResetKiteState(uint32_t kite_id) {
  if (absl::Status st = CheckMapped(); !st.ok()) return st;
  if (kite_id >= max_kites_) return absl::InvalidArgumentError("kite id out of range");
  for (uint32_t c = 0; c < ncpus_; c++) std::memset(Slot(c, kite_id), 0, sizeof(kp_kite_slot));
  return SetCreditAll(kite_id, 0);
}

absl::Status XdpBackend::ResetGlobalCounters() {
  const kp_globals zero{};
  return WritePerCpu(fds_.globals, 0, &zero, sizeof zero);
}

}  // namespace kp::xdp
