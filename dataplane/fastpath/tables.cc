// tables.cc - the fast path's tables (see tables.h): mapping, seqlocked
// entries, the kite hash with tombstones and grace-period reuse, and the
// single-writer update and counter-summing API.
#include "tables.h"

#include <algorithm>

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "backend_pick.h"
#include "byteorder.h"

namespace kp::fp {
namespace {

constexpr size_t Align(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }

uint32_t NextPow2(uint64_t v) {
  uint64_t p = 16;
  while (p < v) p <<= 1;
  return static_cast<uint32_t>(p);
}

}  // namespace

Mapping::~Mapping() {
  if (base_ != nullptr) munmap(base_, len_);
}

bool Mapping::Map(size_t bytes) {
  // Ask for transparent huge pages (2 MiB): a million kites spread over 4 KiB
  // pages would cost a TLB miss on top of each cache miss.  Over-allocate so
  // the start can be 2 MiB aligned; the slack stays mapped and unused.
  constexpr size_t kHuge = size_t{2} << 20;
  size_t len = bytes + kHuge;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  base_ = p;
  len_ = len;
  uintptr_t aligned = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  addr_ = reinterpret_cast<void*>(aligned);
  madvise(addr_, bytes, MADV_HUGEPAGE);  // advisory: failure is harmless
  return true;
}

std::unique_ptr<Tables> Tables::Create(const TableSizes& sizes) {
  if (sizes.max_kites < 2 || sizes.max_kites > KP_MAX_KITES) return nullptr;
  if (sizes.max_sessions < 1 || sizes.max_sessions > KP_MAX_SESSIONS) return nullptr;
  if (sizes.n_workers < 1 || sizes.n_workers > KP_MAX_WORKERS) return nullptr;
  std::unique_ptr<Tables> t(new (std::nothrow) Tables(sizes));
  if (!t || !t->Init()) return nullptr;
  return t;
}

Tables::~Tables() = default;

bool Tables::Init() {
  const size_t kites = sizes_.max_kites, sessions = sizes_.max_sessions, cores = sizes_.n_workers;
  uint32_t cap = NextPow2(uint64_t{kites} * 2);
  hash_mask_ = cap - 1;
  size_t off = 0;
  auto take = [&off](size_t bytes) {
    size_t at = off;
    off = Align(off + bytes, 4096);
    return at;
  };
  size_t o_hash = take(sizeof(HashSlot) * cap);
  size_t o_kites = take(sizeof(Entry64) * kites);
  size_t o_sess = take(sizeof(Entry64) * sessions);
  size_t o_sseq = take(sizeof(std::atomic<uint32_t>) * sessions);
  size_t o_police = take(sizeof(kp_kite_police) * kites * cores);
  size_t o_credit = take(sizeof(kp_kite_credit) * kites * cores);
  size_t o_kctr = take(sizeof(kp_kite_counters) * kites * cores);
  size_t o_core = take(sizeof(CoreCounters) * cores);
  size_t o_sstate = take(sizeof(uint8_t) * cap);
  size_t o_kslot = take(sizeof(int64_t) * kites);
  size_t o_kpend = take(sizeof(uint8_t) * kites);
  size_t o_pslots = take(sizeof(uint32_t) * cap);
  size_t o_pkites = take(sizeof(uint32_t) * kites);
  if (!map_.Map(off)) return false;
  auto* base = static_cast<uint8_t*>(map_.get());
  // Zero-filled anonymous memory is a valid state for every table: the
  // atomics below are lock-free 32-bit words whose zero value is 0.
  static_assert(std::atomic<uint32_t>::is_always_lock_free);
  hash_ = reinterpret_cast<HashSlot*>(base + o_hash);
  kites_ = reinterpret_cast<Entry64*>(base + o_kites);
  sessions_ = reinterpret_cast<Entry64*>(base + o_sess);
  session_seq_ = reinterpret_cast<std::atomic<uint32_t>*>(base + o_sseq);
  police_ = reinterpret_cast<kp_kite_police*>(base + o_police);
  credit_ = reinterpret_cast<kp_kite_credit*>(base + o_credit);
  kite_ctrs_ = reinterpret_cast<kp_kite_counters*>(base + o_kctr);
  core_ctrs_ = reinterpret_cast<CoreCounters*>(base + o_core);
  slot_state_ = base + o_sstate;  // zero: kSlotFree
  n_free_ = cap;
  kite_slot_ = reinterpret_cast<int64_t*>(base + o_kslot);
  std::fill(kite_slot_, kite_slot_ + kites, int64_t{-1});
  kite_pending_ = base + o_kpend;
  pending_slots_ = reinterpret_cast<uint32_t*>(base + o_pslots);
  pending_kites_ = reinterpret_cast<uint32_t*>(base + o_pkites);
  config_shadow_.n_workers = static_cast<uint8_t>(sizes_.n_workers);
  SetConfig(config_shadow_);
  return true;
}

void Tables::WriteEntry(std::atomic<uint32_t>& seq, Entry64& e, const void* src) {
  uint64_t w[8];
  std::memcpy(w, src, sizeof(w));
  uint32_t s = seq.load(std::memory_order_relaxed);
  seq.store(s + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  for (int i = 0; i < 8; ++i) std::atomic_ref<uint64_t>(e.w[i]).store(w[i], std::memory_order_relaxed);
  seq.store(s + 2, std::memory_order_release);
}

// The kite's sequence word lives in its own line, in the 32 bits where the
// entry would repeat its kite id (the index already says it), so a reader
// touches one line per kite, not two.  The word also carries the key's last
// four bytes, which every store below keeps as they are until the last one.
void Tables::WriteKite(uint32_t kite_id, const kp_kite& k) {
  static_assert(offsetof(kp_kite, kite_id) == 20);
  uint64_t w[8];
  std::memcpy(w, &k, sizeof(w));
  Entry64& e = kites_[kite_id];
  std::atomic_ref<uint64_t> seq_word(e.w[kKiteSeqWord]);
  uint64_t cur = seq_word.load(std::memory_order_relaxed);
  uint64_t s = cur >> 32;
  uint64_t low_new = w[kKiteSeqWord] & 0xffffffffu;
  seq_word.store((cur & 0xffffffffu) | ((s + 1) & 0xffffffffu) << 32, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  w[kKiteSeqWord] = low_new | ((s + 1) & 0xffffffffu) << 32;
  for (int i = 0; i < 8; ++i) std::atomic_ref<uint64_t>(e.w[i]).store(w[i], std::memory_order_relaxed);
  seq_word.store(low_new | ((s + 2) & 0xffffffffu) << 32, std::memory_order_release);
}

uint32_t Tables::ReadConfig(kp_config* out) const {
  constexpr size_t kWords = sizeof(kp_config) / 8;
  uint64_t w[kWords];
  uint32_t s1;
  for (;;) {
    s1 = config_seq_.load(std::memory_order_acquire);
    if (s1 & 1) {
      __builtin_ia32_pause();
      continue;
    }
    for (size_t i = 0; i < kWords; ++i)
      w[i] = std::atomic_ref<uint64_t>(const_cast<uint64_t&>(config_words_[i])).load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (config_seq_.load(std::memory_order_relaxed) == s1) break;
  }
  std::memcpy(out, w, sizeof(w));
  return s1;
}

}  // namespace kp::fp
