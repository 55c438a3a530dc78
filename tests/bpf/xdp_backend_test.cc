// xdp_backend_test.cc - kp::xdp::XdpBackend against real (unpinned) maps of
// the XDP program: all-or-nothing validation, key changes, deletes, session
// generations, credit on every CPU, front-end state, paged counter reads, and
// what the loaded program then does: a deleted kite, counters read through
// the mapping, entries whose seqlock word is odd, the kite index as a hint
// only, a second backend's Init().  Suite "bpf": needs
// the privilege to load BPF programs, exits 77 without it.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/mman.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "dataplane/xdp/xdp_program.h"

namespace kp::xdp {
namespace {

constexpr uint32_t kKites = 8192;
constexpr uint32_t kSessions = 1024;

kp_kite MakeKite(uint32_t id, uint32_t addr4, uint16_t port, uint32_t session) {
  kp_kite k{};
  k.kite_id = id;
  k.key.family = KP_AF_INET;
  k.key.addr[10] = k.key.addr[11] = 0xff;
  const uint32_t a = htonl(addr4);
  std::memcpy(k.key.addr + 12, &a, 4);
  k.key.port = htons(port);
  k.state = KP_KITE_LIVE;
  if (session) {
    k.n_sessions = 1;
    k.sessions[0] = session;
  }
  return k;
}

kp_session MakeSession(uint32_t id) {
  kp_session s{};
  s.session_id = id;
  s.state = KP_SESSION_LIVE;
  s.family = KP_AF_INET;
  s.connector_addr[10] = s.connector_addr[11] = 0xff;
  s.connector_addr[12] = 203;
  s.connector_port = htons(40000);
  s.local_port = htons(7000);
  return s;
}

class XdpBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    XdpProgramOptions o;
    o.max_kites = kKites;
    o.max_sessions = kSessions;
    auto p = XdpProgram::Open(o);
    ASSERT_TRUE(p.ok()) << p.status();
    prog_ = std::move(*p);
    ASSERT_TRUE(prog_->Load().ok());
    backend_ = std::make_unique<XdpBackend>(prog_->maps(), kKites, kSessions);
    ASSERT_TRUE(backend_->Init().ok());
  }

  bool InHash(const kp_kite& k) {
    uint32_t id = 0;
    return bpf_map_lookup_elem(prog_->maps().kite_hash, &k.key, &id) == 0 && id == k.kite_id;
  }

  std::unique_ptr<XdpProgram> prog_;
  std::unique_ptr<XdpBackend> backend_;
};

TEST_F(XdpBackendTest, UpsertIsAllOrNothing) {
  const kp_kite a = MakeKite(1, 0xc6336401, 5000, 0);
  kp_kite bad = MakeKite(2, 0xc6336402, 5000, 0);
  bad.state = 7;
  EXPECT_EQ(backend_->UpsertKites(std::vector{a, bad}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(InHash(a));
  ASSERT_TRUE(backend_->UpsertKites(std::vector{a}).ok());
  EXPECT_TRUE(InHash(a));
  // Another id may not take a's public address.
  const kp_kite thief = MakeKite(3, 0xc6336401, 5000, 0);
  EXPECT_EQ(backend_->UpsertKites(std::vector{thief}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backend_->UpsertKites(std::vector{MakeKite(kKites, 1, 1, 0)}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(XdpBackendTest, KeyChangeDropsOldKeyAndDeleteRemovesBoth) {
  const kp_kite a = MakeKite(5, 0xc6336405, 5000, 0);
  const kp_kite moved = MakeKite(5, 0xc6336406, 6000, 0);
  ASSERT_TRUE(backend_->UpsertKites(std::vector{a}).ok());
  ASSERT_TRUE(backend_->UpsertKites(std::vector{moved}).ok());
  EXPECT_FALSE(InHash(a));
  EXPECT_TRUE(InHash(moved));
  // The old address is free again for another kite.
  EXPECT_TRUE(backend_->UpsertKites(std::vector{MakeKite(6, 0xc6336405, 5000, 0)}).ok());
  const uint32_t missing[] = {5, 77};
  EXPECT_EQ(backend_->DeleteKites(missing).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(InHash(moved));  // nothing changed
  const uint32_t five[] = {5};
  ASSERT_TRUE(backend_->DeleteKites(five).ok());
  EXPECT_FALSE(InHash(moved));
  kp_kite out[4];
  uint32_t next = 1;
  auto n = backend_->DumpKites(0, out, &next);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, 1u);
  EXPECT_EQ(out[0].kite_id, 6u);
  EXPECT_EQ(next, 0u);
}

TEST_F(XdpBackendTest, SessionsByGeneration) {
  const uint32_t id = (3u << KP_SESSION_INDEX_BITS) | 9u;
  ASSERT_TRUE(backend_->UpsertSessions(std::vector{MakeSession(id)}).ok());
  const uint32_t stale[] = {(2u << KP_SESSION_INDEX_BITS) | 9u};
  EXPECT_EQ(backend_->DeleteSessions(stale).code(), absl::StatusCode::kNotFound);
  kp_session out[2];
  uint32_t next = 1;
  auto n = backend_->DumpSessions(0, out, &next);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, 1u);
  EXPECT_EQ(out[0].session_id, id);
  const uint32_t ids[] = {id};
  EXPECT_TRUE(backend_->DeleteSessions(ids).ok());
  n = backend_->DumpSessions(0, out, &next);
  EXPECT_EQ(*n, 0u);
  EXPECT_EQ(backend_->UpsertSessions(std::vector{MakeSession(kSessions + 1)}).code(),
            absl::StatusCode::kInvalidArgument);  // index beyond the table
}

TEST_F(XdpBackendTest, CreditAddsOnEveryCpuAndStateNeedsConfig) {
  ASSERT_TRUE(backend_->UpsertKites(std::vector{MakeKite(9, 0x0a000009, 1, 0)}).ok());
  const kp_ctl_credit g[] = {{9, 0, 1000}, {9, 0, 500}};
  ASSERT_TRUE(backend_->GrantCredit(g).ok());
  std::vector<kp_kite_credit> v(backend_->NumWorkers());
  const uint32_t key = 9;
  ASSERT_EQ(bpf_map_lookup_elem(prog_->maps().credit, &key, v.data()), 0);
  for (const kp_kite_credit& c : v) EXPECT_EQ(c.granted_bytes, 1500u);
  const kp_ctl_credit unknown[] = {{10, 0, 1}};
  EXPECT_EQ(backend_->GrantCredit(unknown).code(), absl::StatusCode::kNotFound);

  EXPECT_EQ(backend_->GetConfig().status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(backend_->SetState(KP_FE_CLOSED).ok());
  kp_config c{};
  c.generation = 4;
  ASSERT_TRUE(backend_->SetConfig(c).ok());
  ASSERT_TRUE(backend_->SetState(KP_FE_LAME_DUCK).ok());
  auto got = backend_->GetConfig();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, KP_FE_LAME_DUCK);
  EXPECT_EQ(got->generation, 5u);
  c.n_bogons = KP_MAX_BOGONS + 1;
  EXPECT_EQ(backend_->SetConfig(c).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(XdpBackendTest, KiteStatsPagesOverPresentKites) {
  std::vector<kp_kite> kites;
  for (uint32_t id = 1; id < 5001; id += 2) kites.push_back(MakeKite(id, 0x0b000000 + id, 9, 0));
  ASSERT_TRUE(backend_->UpsertKites(kites).ok());
  std::vector<kp_ctl_kite_stats> out(1000);
  uint32_t first = 0, total = 0, last = 0, next = 0;
  do {
    auto n = backend_->KiteStats(first, out, &next);
    ASSERT_TRUE(n.ok());
    for (uint32_t i = 0; i < *n; i++) {
      EXPECT_GT(out[i].kite_id, last);
      EXPECT_EQ(out[i].kite_id % 2, 1u);
      last = out[i].kite_id;
    }
    total += *n;
    first = next;
  } while (next != 0);
  EXPECT_EQ(total, kites.size());
}

// One kite (id 3) with one live session, and a client datagram to it.
class XdpForwardTest : public XdpBackendTest {
 protected:
  static constexpr uint32_t kSid = (1u << KP_SESSION_INDEX_BITS) | 1u;

  void SetUp() override {
    XdpBackendTest::SetUp();
    kp_config c{};
    c.gateway_mac_valid = 2;
    c.n_workers = 1;
    ASSERT_TRUE(backend_->SetConfig(c).ok());
    ASSERT_TRUE(backend_->UpsertSessions(std::vector{MakeSession(kSid)}).ok());
    kite_ = MakeKite(3, 0xc6336403, 5000, kSid);
    ASSERT_TRUE(backend_->UpsertKites(std::vector{kite_}).ok());
    // Ethernet + IPv4 + UDP (checksum 0: none) from 192.0.2.7:1234 to the kite.
    f_[12] = 0x08;
    f_[14] = 0x45;
    f_[17] = sizeof f_ - 14;
    f_[22] = 64;
    f_[23] = 17;
    const uint8_t src[4] = {192, 0, 2, 7};
    std::memcpy(f_ + 26, src, 4);
    std::memcpy(f_ + 30, kite_.key.addr + 12, 4);
    uint32_t sum = 0;
    for (int i = 14; i < 34; i += 2) sum += (f_[i] << 8) | f_[i + 1];
    sum = (sum & 0xffff) + (sum >> 16);
    const uint16_t csum = static_cast<uint16_t>(~((sum & 0xffff) + (sum >> 16)));
    f_[24] = csum >> 8;
    f_[25] = csum & 0xff;
    f_[34] = 0x04;
    f_[35] = 0xd2;
    std::memcpy(f_ + 36, &kite_.key.port, 2);
    f_[39] = 12;
  }

  uint32_t Run() {
    uint8_t out[256];
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    opts.data_in = f_;
    opts.data_size_in = sizeof f_;
    opts.data_out = out;
    opts.data_size_out = sizeof out;
    EXPECT_EQ(bpf_prog_test_run_opts(prog_->main_prog_fd(), &opts), 0);
    return opts.retval;
  }

  // The u64 sequence word of entry `idx` of a kp_*_seq map, mapped here.
  struct SeqWord {
    SeqWord(int fd, uint32_t entries, uint32_t idx) {
      len = static_cast<size_t>(entries) * sizeof(uint64_t);
      void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      base = p == MAP_FAILED ? nullptr : static_cast<uint64_t*>(p);
      word = base ? base + idx : nullptr;
    }
    ~SeqWord() {
      if (base) munmap(base, len);
    }
    uint64_t* base;
    uint64_t* word;
    size_t len;
  };

  kp_kite kite_{};
  uint8_t f_[14 + 20 + 8 + 4] = {};
};

TEST_F(XdpForwardTest, DeletedKiteIsNoLongerForwarded) {
  EXPECT_EQ(Run(), static_cast<uint32_t>(XDP_TX));
  const uint32_t ids[] = {3};
  ASSERT_TRUE(backend_->DeleteKites(ids).ok());
  EXPECT_EQ(Run(), static_cast<uint32_t>(XDP_PASS));
}

// The program counts into the mmapped [cpu][kite] slots that KiteStats sums.
TEST_F(XdpForwardTest, ForwardedDatagramCountedInKiteStats) {
  ASSERT_EQ(Run(), static_cast<uint32_t>(XDP_TX));
  ASSERT_EQ(Run(), static_cast<uint32_t>(XDP_TX));
  std::vector<kp_ctl_kite_stats> st(4);
  uint32_t next = 0;
  absl::StatusOr<uint32_t> n = backend_->KiteStats(1, st, &next);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(*n, 1u);
  EXPECT_EQ(st[0].kite_id, 3u);
  EXPECT_EQ(st[0].v[KP_KCTR_RX_PKTS], 2u);
  EXPECT_EQ(st[0].v[KP_KCTR_RX_BYTES], 8u);  // 4-byte payload twice
  EXPECT_EQ(st[0].used_bytes, 8u);
}

// An entry whose sequence word is odd (a writer is mid-copy) is not used:
// the kite reads as absent (exception), the session as not live (dropped);
// once the word is even again the datagram is forwarded.
TEST_F(XdpForwardTest, EntryBeingWrittenIsNotUsed) {
  SeqWord kseq(prog_->maps().kite_seq, kKites, 3);
  SeqWord sseq(prog_->maps().session_seq, kSessions, kSid & KP_SESSION_INDEX_MASK);
  ASSERT_NE(kseq.word, nullptr);
  ASSERT_NE(sseq.word, nullptr);
  ASSERT_EQ(*kseq.word % 2, 0u);
  ASSERT_EQ(Run(), static_cast<uint32_t>(XDP_TX));
  *kseq.word += 1;
  EXPECT_EQ(Run(), static_cast<uint32_t>(XDP_PASS));
  *kseq.word += 1;
  EXPECT_EQ(Run(), static_cast<uint32_t>(XDP_TX));
  *sseq.word += 1;
  EXPECT_EQ(Run(), static_cast<uint32_t>(XDP_DROP));
  *sseq.word += 1;
  EXPECT_EQ(Run(), static_cast<uint32_t>(XDP_TX));
}

// The kite index (kp_kite_idx) is only a hint: an empty slot, or one naming
// another kite, falls back to the kite hash; a delete clears the slot.
TEST_F(XdpForwardTest, KiteIndexIsOnlyAHint) {
  SeqWord idx(prog_->maps().kite_idx, KP_KITE_IDX_SIZE, 0);
  ASSERT_NE(idx.base, nullptr);
  uint64_t* slot = nullptr;
  for (uint32_t i = 0; i < KP_KITE_IDX_SIZE; i++) {
    if (static_cast<uint32_t>(idx.base[i]) == kite_.kite_id) slot = &idx.base[i];
  }
  ASSERT_NE(slot, nullptr);  // set by the upsert
  const uint64_t entry = *slot;
  ASSERT_EQ(Run(), static_cast<uint32_t>(XDP_TX));
  *slot = 0;
  EXPECT_EQ(Run(), static_cast<uint32_t>(XDP_TX));  // through the hash
  const kp_kite other = MakeKite(4, 0xc6336404, 5000, kSid);
  ASSERT_TRUE(backend_->UpsertKites(std::vector{other}).ok());
  // A wrong hint with the right fingerprint: kite 4 does not have this key.
  *slot = (entry & ~0xffffffffull) | other.kite_id;
  EXPECT_EQ(Run(), static_cast<uint32_t>(XDP_TX));
  std::vector<kp_ctl_kite_stats> st(4);
  uint32_t next = 0;
  absl::StatusOr<uint32_t> n = backend_->KiteStats(1, st, &next);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, 2u);
  EXPECT_EQ(st[0].kite_id, 3u);
  EXPECT_EQ(st[0].v[KP_KCTR_RX_PKTS], 3u);  // every datagram counted for kite 3
  EXPECT_EQ(st[1].v[KP_KCTR_RX_PKTS], 0u);
  *slot = entry;
  const uint32_t ids[] = {3};
  ASSERT_TRUE(backend_->DeleteKites(ids).ok());
  EXPECT_EQ(*slot, 0u);
  EXPECT_EQ(Run(), static_cast<uint32_t>(XDP_PASS));
}

// Config changes go through the program's two-slot double buffer: each
// change is seen by the next packet, through both slots and back.
TEST_F(XdpForwardTest, ConfigChangesReachTheProgram) {
  for (int round = 0; round < 2; round++) {
    ASSERT_TRUE(backend_->SetState(KP_FE_CLOSED).ok());
    EXPECT_EQ(Run(), static_cast<uint32_t>(XDP_DROP));  // lame_duck_closed
    ASSERT_TRUE(backend_->SetState(KP_FE_SERVING).ok());
    EXPECT_EQ(Run(), static_cast<uint32_t>(XDP_TX));
  }
  absl::StatusOr<kp_config> c = backend_->GetConfig();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, KP_FE_SERVING);
}

// Kites and sessions written through the mapping survive a new backend
// (as after a restart on pinned maps): Init() rebuilds presence from them.
TEST_F(XdpForwardTest, InitRebuildsFromMappedTables) {
  XdpBackend again(prog_->maps(), kKites, kSessions);
  ASSERT_TRUE(again.Init().ok());
  std::vector<kp_kite> ks(4);
  uint32_t next = 0;
  absl::StatusOr<uint32_t> n = again.DumpKites(1, ks, &next);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, 1u);
  EXPECT_EQ(std::memcmp(&ks[0], &kite_, sizeof kite_), 0);
  std::vector<kp_session> ss(4);
  n = again.DumpSessions(0, ss, &next);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, 1u);
  EXPECT_EQ(ss[0].session_id, kSid);
  // The key mirror is rebuilt too: another kite may not take kite 3's address.
  kp_kite other = MakeKite(4, 0xc6336403, 5000, kSid);
  EXPECT_FALSE(again.UpsertKites(std::vector{other}).ok());
}

}  // namespace
}  // namespace kp::xdp

int main(int argc, char** argv) {
  if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, nullptr) != 1) {
    std::printf("SKIP: cannot load XDP programs (need CAP_BPF + CAP_NET_ADMIN or root)\n");
    return 77;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
