// tables_writer.cc - the single-writer half of Tables (see tables.h):
// validated, all-or-nothing upserts and deletes, config swaps, credit
// grants, grace-period reclaim, and counter sums for the control thread.
#include <cerrno>
#include <cstring>

#include "tables.h"

namespace kp::fp {
namespace {

bool ValidFamily(uint8_t f) { return f == KP_AF_INET || f == KP_AF_INET6; }

kp_kite_key CanonicalKey(const kp_kite_key& k) {
  kp_kite_key c = k;
  c.pad = 0;
  return c;
}

// A set of 64-bit values (kite ids, key hashes) with false positives and
// no false negatives, on the stack: the batch validation asks it first and
// scans the batch only on a hit.  Sized to 64 bits per entry (at most 64
// Kibit, 8 KiB), so a control-socket batch (about a thousand kites) sees a
// handful of false hits and validates in linear time; much larger batches
// saturate it and fall back towards the pairwise scan, never below it.
class BatchFilter {
 public:
  explicit BatchFilter(size_t entries) {
    while (n_bits_ < kMaxBits && n_bits_ < entries * 64) {
      n_bits_ *= 2;
      --shift_;
    }
    std::memset(words_, 0, n_bits_ / 8);
  }
  // True when `v` may have been set before; sets it.
  bool TestAndSet(uint64_t v) {
    const uint64_t b = Bit(v), m = uint64_t{1} << (b & 63);
    const bool was = (words_[b >> 6] & m) != 0;
    words_[b >> 6] |= m;
    return was;
  }
  bool MayContain(uint64_t v) const {
    const uint64_t b = Bit(v);
    return (words_[b >> 6] >> (b & 63)) & 1;
  }

 private:
  static constexpr size_t kMaxBits = size_t{1} << 16;
  uint64_t Bit(uint64_t v) const {
    // Kite ids are often consecutive: spread them (Fibonacci hashing, top
    // bits); key hashes are already mixed, and the multiply keeps them so.
    return (v * 0x9e3779b97f4a7c15ull) >> shift_;
  }
  size_t n_bits_ = 64;
  unsigned shift_ = 64 - 6;
  uint64_t words_[kMaxBits / 64];
};

}  // namespace

int64_t Tables::FindSlot(const kp_kite_key& key, uint64_t hash, int64_t* insert_at) const {
  uint32_t sig = static_cast<uint32_t>(hash >> 32);
  *insert_at = -1;
  for (uint32_t i = 0, idx = hash & hash_mask_; i <= hash_mask_; ++i, idx = (idx + 1) & hash_mask_) {
    uint8_t st = slot_state_[idx];
    uint32_t tag = hash_[idx].tag.load(std::memory_order_relaxed);
    if (tag == 0) {  // never used: the probe sequence ends here
      if (*insert_at < 0) *insert_at = idx;
      return -1;
    }
    if (st == kSlotFree) {  // a reclaimed tombstone: reusable, keep probing
      if (*insert_at < 0) *insert_at = idx;
      continue;
    }
    if (st == kSlotUsed && hash_[idx].sig == sig && KiteKeyEqual(hash_[idx].key, key)) return idx;
  }
  return -1;
}

int Tables::UpsertKites(std::span<const kp_kite> kites) {
  // Validate everything first, so the batch is all-or-nothing.  Pass 1: the
  // fields, and no id or key twice in the batch; pass 2: every key is free
  // or already this kite's (or moves away from a kite in the batch), and the
  // hash has room.  Linear in the batch for control-socket batches (see
  // BatchFilter); nothing is written before both passes agree.
  BatchFilter ids(kites.size()), keys(kites.size());
  for (size_t i = 0; i < kites.size(); ++i) {
    const kp_kite& k = kites[i];
    if (k.kite_id == 0 || k.kite_id >= sizes_.max_kites) return -EINVAL;
    if (k.state != KP_KITE_LIVE && k.state != KP_KITE_DISABLED) return -EINVAL;
    if (k.n_sessions > KP_MAX_KITE_SESSIONS || !ValidFamily(k.key.family)) return -EINVAL;
    const kp_kite_key key = CanonicalKey(k.key);
    // One entry per id and per key in a batch.
    if (ids.TestAndSet(k.kite_id)) {
      for (size_t j = 0; j < i; ++j)
        if (kites[j].kite_id == k.kite_id) return -EINVAL;
    }
    if (keys.TestAndSet(HashKey(key))) {
      for (size_t j = 0; j < i; ++j)
        if (KiteKeyEqual(CanonicalKey(kites[j].key), key)) return -EINVAL;
    }
  }
  size_t new_slots = 0;
  for (const kp_kite& k : kites) {
    const kp_kite_key key = CanonicalKey(k.key);
    int64_t at;
    int64_t slot = FindSlot(key, HashKey(key), &at);
    if (slot < 0) {
      ++new_slots;
      continue;
    }
    const uint32_t other = hash_[slot].tag.load(std::memory_order_relaxed);
    if (other == k.kite_id) continue;
    // Owned by another kite, unless that kite is in this batch: keys are
    // unique in the batch (pass 1), so there it has another key and moves.
    bool moved = false;
    if (ids.MayContain(other)) {
      for (const kp_kite& o : kites)
        if (o.kite_id == other) moved = true;
    }
    if (!moved) return -EINVAL;
  }
  // Keep at least one never-used slot so every probe for an absent key ends.
  if (n_free_ < new_slots + 1) return -ENOSPC;
  for (const kp_kite& k : kites) ApplyKite(k);
  return 0;
}

void Tables::ApplyKite(const kp_kite& in) {
  kp_kite k = in;
  k.key = CanonicalKey(in.key);
  uint64_t hash = HashKey(k.key);
  int64_t at;
  int64_t slot = FindSlot(k.key, hash, &at);
  int64_t old = kite_slot_[k.kite_id];
  if (slot < 0) {
    // New key: publish the slot (key before tag), then the kite entry.
    HashSlot& s = hash_[at];
    s.sig = static_cast<uint32_t>(hash >> 32);
    s.key = k.key;
    s.tag.store(k.kite_id, std::memory_order_release);
    slot_state_[at] = kSlotUsed;
    --n_free_;
    slot = at;
  } else if (hash_[slot].tag.load(std::memory_order_relaxed) != k.kite_id) {
    // The key moves from another kite in this batch: repoint the slot.
    uint32_t other = hash_[slot].tag.load(std::memory_order_relaxed);
    kite_slot_[other] = -1;  // `other` is re-applied later in this batch
    --n_kites_;
    hash_[slot].tag.store(k.kite_id, std::memory_order_release);
  }
  WriteKite(k.kite_id, k);
  if (old < 0) {
    ++n_kites_;
  } else if (old != slot) {
    if (hash_[old].tag.load(std::memory_order_relaxed) == k.kite_id) {
      hash_[old].tag.store(kTombstone, std::memory_order_release);
      slot_state_[old] = kSlotPending;
      pending_slots_[n_pending_slots_++] = static_cast<uint32_t>(old);
    }
  }
  kite_slot_[k.kite_id] = slot;
}

int Tables::DeleteKites(std::span<const uint32_t> kite_ids) {
  for (uint32_t id : kite_ids)
    if (id == 0 || id >= sizes_.max_kites || kite_slot_[id] < 0) return -ENOENT;
  static const kp_kite kEmpty = {};
  for (uint32_t id : kite_ids) {
    int64_t slot = kite_slot_[id];
    if (slot < 0) continue;  // listed twice
    hash_[slot].tag.store(kTombstone, std::memory_order_release);
    slot_state_[slot] = kSlotPending;
    pending_slots_[n_pending_slots_++] = static_cast<uint32_t>(slot);
    WriteKite(id, kEmpty);
    kite_slot_[id] = -1;
    if (!kite_pending_[id]) {
      kite_pending_[id] = 1;
      pending_kites_[n_pending_kites_++] = id;
    }
    --n_kites_;
  }
  return 0;
}

int Tables::UpsertSessions(std::span<const kp_session> sessions) {
  for (const kp_session& s : sessions) {
    uint32_t idx = s.session_id & KP_SESSION_INDEX_MASK;
    if (s.session_id == 0 || idx >= sizes_.max_sessions) return -EINVAL;
    if (s.state != KP_SESSION_LIVE && s.state != KP_SESSION_DOWN) return -EINVAL;
    if (!ValidFamily(s.family)) return -EINVAL;
  }
  for (const kp_session& s : sessions) {
    uint32_t idx = s.session_id & KP_SESSION_INDEX_MASK;
    WriteEntry(session_seq_[idx], sessions_[idx], &s);
  }
  return 0;
}

int Tables::DeleteSessions(std::span<const uint32_t> session_ids) {
  kp_session cur;
  for (uint32_t id : session_ids)
    if (!ReadSession(id, &cur)) return -ENOENT;
  static const kp_session kEmpty = {};
  for (uint32_t id : session_ids) {
    uint32_t idx = id & KP_SESSION_INDEX_MASK;
    WriteEntry(session_seq_[idx], sessions_[idx], &kEmpty);
  }
  return 0;
}

int Tables::SetConfig(const kp_config& c) {
  if (c.n_tunnel_ports > KP_MAX_TUNNEL_PORTS || c.n_own4 > KP_MAX_OWN_ADDRS || c.n_own6 > KP_MAX_OWN_ADDRS ||
      c.n_bogons > KP_MAX_BOGONS || c.state > KP_FE_CLOSED || c.gateway_mac_valid > 2)
    return -EINVAL;
  for (uint32_t i = 0; i < c.n_bogons; ++i)
    if (c.bogons[i].len > 128) return -EINVAL;
  constexpr size_t kWords = sizeof(kp_config) / 8;
  uint64_t w[kWords];
  std::memcpy(w, &c, sizeof(c));
  uint32_t s = config_seq_.load(std::memory_order_relaxed);
  config_seq_.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (size_t i = 0; i < kWords; ++i) std::atomic_ref<uint64_t>(config_words_[i]).store(w[i], std::memory_order_relaxed);
  config_seq_.store(s + 2, std::memory_order_release);
  config_shadow_ = c;
  return 0;
}

int Tables::SetState(kp_frontend_state state) {
  kp_config c = config_shadow_;
  c.state = static_cast<uint8_t>(state);
  c.generation++;
  return SetConfig(c);
}

int Tables::GrantCredit(std::span<const kp_ctl_credit> grants) {
  for (const kp_ctl_credit& g : grants)
    if (g.kite_id == 0 || g.kite_id >= sizes_.max_kites || kite_slot_[g.kite_id] < 0) return -ENOENT;
  for (const kp_ctl_credit& g : grants) {
    for (uint32_t c = 0; c < sizes_.n_workers; ++c) {
      std::atomic_ref<__u64> r(credit_[size_t{c} * sizes_.max_kites + g.kite_id].granted_bytes);
      r.store(r.load(std::memory_order_relaxed) + g.bytes_per_core, std::memory_order_relaxed);
    }
  }
  return 0;
}

void Tables::Reclaim() {
  for (size_t i = 0; i < n_pending_slots_; ++i)
    slot_state_[pending_slots_[i]] = kSlotFree;  // reusable tombstone
  n_free_ += n_pending_slots_;
  n_pending_slots_ = 0;
  for (size_t i = 0; i < n_pending_kites_; ++i) {
    uint32_t id = pending_kites_[i];
    kite_pending_[id] = 0;
    if (kite_slot_[id] >= 0) continue;  // re-added meanwhile: keep its state
    for (uint32_t c = 0; c < sizes_.n_workers; ++c) {
      size_t at = size_t{c} * sizes_.max_kites + id;
      std::memset(&police_[at], 0, sizeof(police_[at]));
      std::atomic_ref<__u64>(credit_[at].granted_bytes).store(0, std::memory_order_relaxed);
      std::memset(&kite_ctrs_[at], 0, sizeof(kite_ctrs_[at]));
    }
  }
  n_pending_kites_ = 0;
}

void Tables::GlobalCounters(kp_ctl_global_counters* out) const {
  std::memset(out, 0, sizeof(*out));
  for (uint32_t c = 0; c < sizes_.n_workers; ++c) {
    const CoreCounters& cc = core_ctrs_[c];
    for (uint32_t i = 0; i < KP_CTR_MAX; ++i) out->counters[i] += ReadCounter(cc.ctr[i]);
    for (uint32_t i = 0; i < KP_DROP_MAX; ++i) out->drops[i] += ReadCounter(cc.drops[i]);
  }
}

bool Tables::KiteStats(uint32_t kite_id, kp_ctl_kite_stats* out) const {
  if (kite_id == 0 || kite_id >= sizes_.max_kites || kite_slot_[kite_id] < 0) return false;
  std::memset(out, 0, sizeof(*out));
  out->kite_id = kite_id;
  for (uint32_t c = 0; c < sizes_.n_workers; ++c) {
    size_t at = size_t{c} * sizes_.max_kites + kite_id;
    for (uint32_t i = 0; i < KP_KCTR_MAX; ++i) out->v[i] += ReadCounter(kite_ctrs_[at].v[i]);
    out->used_bytes += ReadCounter(police_[at].used_bytes);
  }
  return true;
}

void Tables::ResetPerCoreState() {
  size_t n = size_t{sizes_.max_kites} * sizes_.n_workers;
  std::memset(police_, 0, n * sizeof(kp_kite_police));
  std::memset(static_cast<void*>(credit_), 0, n * sizeof(kp_kite_credit));
  std::memset(kite_ctrs_, 0, n * sizeof(kp_kite_counters));
  std::memset(static_cast<void*>(core_ctrs_), 0, sizes_.n_workers * sizeof(CoreCounters));
}

void Tables::SetCredit(uint32_t core, uint32_t kite_id, uint64_t granted_bytes) {
  credit_[size_t{core} * sizes_.max_kites + kite_id].granted_bytes = granted_bytes;
}

}  // namespace kp::fp
