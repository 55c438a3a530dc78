// tables_test.cc - Tables: writer API validation and errors, hash behaviour
// (collisions, tombstones, reclaim, moving keys), counter sums, and
// concurrency: a writer upserting/deleting while reader threads look up must
// never let a reader see a torn kite, session or config, nor a key mapped to
// the wrong kite id.
#include "tables.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace kp::fp {
namespace {

kp_kite MakeKite(uint32_t id, uint16_t port, uint32_t version = 1) {
  kp_kite k{};
  k.kite_id = id;
  k.key.addr[10] = k.key.addr[11] = 0xff;
  k.key.addr[12] = 198;
  k.key.addr[13] = 51;
  k.key.addr[14] = 100;
  k.key.addr[15] = 10;
  k.key.port = static_cast<uint16_t>(port << 8 | port >> 8);
  k.key.family = KP_AF_INET;
  k.state = KP_KITE_LIVE;
  // Every field derived from `version`, so a torn copy is detectable.
  k.rate_pps = version;
  k.rate_kbps = version * 3;
  k.burst_ms = static_cast<uint16_t>(version);
  k.n_sessions = KP_MAX_KITE_SESSIONS;
  for (uint32_t i = 0; i < KP_MAX_KITE_SESSIONS; ++i) k.sessions[i] = version + i;
  return k;
}

bool Consistent(const kp_kite& k) {
  uint32_t v = k.rate_pps;
  if (k.rate_kbps != v * 3 || k.burst_ms != static_cast<uint16_t>(v)) return false;
  for (uint32_t i = 0; i < KP_MAX_KITE_SESSIONS; ++i)
    if (k.sessions[i] != v + i) return false;
  return true;
}

std::unique_ptr<Tables> Small(uint32_t workers = 2) {
  return Tables::Create({.max_kites = 256, .max_sessions = 256, .n_workers = workers});
}

TEST(Tables, CreateRejectsBadSizes) {
  EXPECT_EQ(Tables::Create({.max_kites = KP_MAX_KITES + 1, .max_sessions = 16, .n_workers = 1}), nullptr);
  EXPECT_EQ(Tables::Create({.max_kites = 16, .max_sessions = 16, .n_workers = 0}), nullptr);
  EXPECT_EQ(Tables::Create({.max_kites = 16, .max_sessions = KP_MAX_SESSIONS * 2, .n_workers = 1}), nullptr);
}

TEST(Tables, FullSizeFits) {
  auto t = Tables::Create({.max_kites = KP_MAX_KITES, .max_sessions = KP_MAX_SESSIONS, .n_workers = 2});
  ASSERT_NE(t, nullptr);
  EXPECT_GE(t->hash_capacity(), 2 * KP_MAX_KITES);
  kp_kite k = MakeKite(KP_MAX_KITES - 1, 9);
  EXPECT_EQ(t->UpsertKite(k), 0);
  EXPECT_EQ(t->LookupKite(k.key, Tables::HashKey(k.key)), KP_MAX_KITES - 1);
}

TEST(Tables, UpsertLookupDelete) {
  auto t = Small();
  kp_kite k = MakeKite(5, 5000);
  ASSERT_EQ(t->UpsertKite(k), 0);
  EXPECT_EQ(t->LookupKite(k.key, Tables::HashKey(k.key)), 5u);
  kp_kite got;
  ASSERT_TRUE(t->ReadKite(5, &got));
  EXPECT_EQ(std::memcmp(&got, &k, sizeof(k)), 0);
  EXPECT_EQ(t->NumKites(), 1u);
  ASSERT_EQ(t->DeleteKite(5), 0);
  EXPECT_EQ(t->LookupKite(k.key, Tables::HashKey(k.key)), 0u);
  EXPECT_FALSE(t->ReadKite(5, &got));
  EXPECT_EQ(t->DeleteKite(5), -ENOENT);
  EXPECT_EQ(t->PendingReclaim(), 2u);  // one hash slot, one kite
  t->Reclaim();
  EXPECT_EQ(t->PendingReclaim(), 0u);
}

TEST(Tables, UpsertValidation) {
  auto t = Small();
  EXPECT_EQ(t->UpsertKite(MakeKite(0, 1)), -EINVAL);
  EXPECT_EQ(t->UpsertKite(MakeKite(256, 1)), -EINVAL);
  kp_kite k = MakeKite(1, 1);
  k.state = KP_KITE_EMPTY;
  EXPECT_EQ(t->UpsertKite(k), -EINVAL);
  k = MakeKite(1, 1);
  k.n_sessions = KP_MAX_KITE_SESSIONS + 1;
  EXPECT_EQ(t->UpsertKite(k), -EINVAL);
  k = MakeKite(1, 1);
  k.key.family = 5;
  EXPECT_EQ(t->UpsertKite(k), -EINVAL);
  ASSERT_EQ(t->UpsertKite(MakeKite(1, 1)), 0);
  EXPECT_EQ(t->UpsertKite(MakeKite(2, 1)), -EINVAL);  // key owned by kite 1
  // All-or-nothing: a bad entry later in the batch changes nothing.
  kp_kite batch[2] = {MakeKite(3, 3), MakeKite(0, 4)};
  EXPECT_EQ(t->UpsertKites(batch), -EINVAL);
  kp_kite got;
  EXPECT_FALSE(t->ReadKite(3, &got));
  uint32_t del[2] = {1, 77};
  EXPECT_EQ(t->DeleteKites(del), -ENOENT);
  EXPECT_TRUE(t->ReadKite(1, &got));
}

TEST(Tables, KeyMovesBetweenKitesInOneBatch) {
  auto t = Small();
  ASSERT_EQ(t->UpsertKite(MakeKite(1, 100)), 0);
  ASSERT_EQ(t->UpsertKite(MakeKite(2, 200)), 0);
  kp_kite swap[2] = {MakeKite(1, 200), MakeKite(2, 100)};
  ASSERT_EQ(t->UpsertKites(swap), 0);
  EXPECT_EQ(t->LookupKite(swap[0].key, Tables::HashKey(swap[0].key)), 1u);
  EXPECT_EQ(t->LookupKite(swap[1].key, Tables::HashKey(swap[1].key)), 2u);
  EXPECT_EQ(t->NumKites(), 2u);
  // A kite changing its own key frees the old one.
  ASSERT_EQ(t->UpsertKite(MakeKite(1, 300)), 0);
  kp_kite old = MakeKite(9, 200);
  EXPECT_EQ(t->LookupKite(old.key, Tables::HashKey(old.key)), 0u);
  EXPECT_EQ(t->UpsertKite(old), 0);
}

TEST(Tables, ChurnWithReclaimKeepsLookupsRight) {
  auto t = Small(1);
  // Many more inserts and deletes than slots: tombstones must be reused.
  for (uint32_t round = 0; round < 50; ++round) {
    for (uint32_t i = 1; i < 200; ++i) ASSERT_EQ(t->UpsertKite(MakeKite(i, static_cast<uint16_t>(round * 200 + i))), 0);
    for (uint32_t i = 1; i < 200; ++i) {
      kp_kite k = MakeKite(i, static_cast<uint16_t>(round * 200 + i));
      ASSERT_EQ(t->LookupKite(k.key, Tables::HashKey(k.key)), i);
    }
    for (uint32_t i = 1; i < 200; ++i) ASSERT_EQ(t->DeleteKite(i), 0);
    t->Reclaim();
  }
  EXPECT_EQ(t->NumKites(), 0u);
}

TEST(Tables, HashFullWithoutReclaimIsENOSPC) {
  auto t = Tables::Create({.max_kites = 8, .max_sessions = 8, .n_workers = 1});
  ASSERT_NE(t, nullptr);
  int err = 0;
  // Without Reclaim, every delete leaves a tombstone; eventually no slot is left.
  for (uint32_t i = 0; i < 1000 && err == 0; ++i) {
    err = t->UpsertKite(MakeKite(1, static_cast<uint16_t>(i)));
    if (err == 0) {
      ASSERT_EQ(t->DeleteKite(1), 0);
    }
  }
  EXPECT_EQ(err, -ENOSPC);
  t->Reclaim();
  EXPECT_EQ(t->UpsertKite(MakeKite(1, 4242)), 0);
}

TEST(Tables, Sessions) {
  auto t = Small();
  kp_session s{};
  s.session_id = (3u << 17) | 7u;
  s.state = KP_SESSION_LIVE;
  s.family = KP_AF_INET;
  ASSERT_EQ(t->UpsertSession(s), 0);
  kp_session got;
  EXPECT_TRUE(t->ReadSession(s.session_id, &got));
  EXPECT_FALSE(t->ReadSession((2u << 17) | 7u, &got));  // stale generation
  EXPECT_FALSE(t->ReadSession(8, &got));
  EXPECT_EQ(t->DeleteSession((2u << 17) | 7u), -ENOENT);
  EXPECT_EQ(t->DeleteSession(s.session_id), 0);
  EXPECT_FALSE(t->ReadSession(s.session_id, &got));
  s.session_id = 300;  // index beyond max_sessions
  EXPECT_EQ(t->UpsertSession(s), -EINVAL);
  s.session_id = 0;
  EXPECT_EQ(t->UpsertSession(s), -EINVAL);
}

TEST(Tables, ConfigAndStateAndCredit) {
  auto t = Small();
  kp_config c{};
  c.key_epoch = 3;
  c.n_tunnel_ports = 1;
  uint32_t seq0 = t->ConfigSeq();
  ASSERT_EQ(t->SetConfig(c), 0);
  EXPECT_NE(t->ConfigSeq(), seq0);
  kp_config got;
  t->ReadConfig(&got);
  EXPECT_EQ(got.key_epoch, 3);
  ASSERT_EQ(t->SetState(KP_FE_CLOSED), 0);
  t->ReadConfig(&got);
  EXPECT_EQ(got.state, KP_FE_CLOSED);
  EXPECT_EQ(got.key_epoch, 3);
  c.n_bogons = KP_MAX_BOGONS + 1;
  EXPECT_EQ(t->SetConfig(c), -EINVAL);
  ASSERT_EQ(t->UpsertKite(MakeKite(4, 4)), 0);
  kp_ctl_credit g{4, 0, 1000};
  ASSERT_EQ(t->GrantCredit({&g, 1}), 0);
  ASSERT_EQ(t->GrantCredit({&g, 1}), 0);
  EXPECT_EQ(t->CreditOf(0)[4].granted_bytes, 2000u);
  EXPECT_EQ(t->CreditOf(1)[4].granted_bytes, 2000u);
  g.kite_id = 5;
  EXPECT_EQ(t->GrantCredit({&g, 1}), -ENOENT);
}

TEST(Tables, CountersAreSummedOverCores) {
  auto t = Small(3);
  ASSERT_EQ(t->UpsertKite(MakeKite(7, 7)), 0);
  for (uint32_t c = 0; c < 3; ++c) {
    t->CountersOf(c)->ctr[KP_CTR_RX_PKTS] = c + 1;
    t->CountersOf(c)->drops[KP_DROP_RATE_BITS] = 10;
    t->KiteCountersOf(c)[7].v[KP_KCTR_TX_BYTES] = 100;
    t->PoliceOf(c)[7].used_bytes = 5;
  }
  kp_ctl_global_counters g;
  t->GlobalCounters(&g);
  EXPECT_EQ(g.counters[KP_CTR_RX_PKTS], 6u);
  EXPECT_EQ(g.drops[KP_DROP_RATE_BITS], 30u);
  kp_ctl_kite_stats ks;
  ASSERT_TRUE(t->KiteStats(7, &ks));
  EXPECT_EQ(ks.v[KP_KCTR_TX_BYTES], 300u);
  EXPECT_EQ(ks.used_bytes, 15u);
  EXPECT_FALSE(t->KiteStats(8, &ks));
  // Deleting and reclaiming a kite clears its per-core state.
  ASSERT_EQ(t->DeleteKite(7), 0);
  t->Reclaim();
  ASSERT_EQ(t->UpsertKite(MakeKite(7, 7)), 0);
  ASSERT_TRUE(t->KiteStats(7, &ks));
  EXPECT_EQ(ks.v[KP_KCTR_TX_BYTES], 0u);
  EXPECT_EQ(ks.used_bytes, 0u);
}

// Readers report quiescence by bumping their epoch between lookups; the
// writer reclaims only after every reader's epoch moved past a delete.
TEST(TablesConcurrency, ReadersNeverSeeTornEntriesOrWrongIds) {
  auto t = Tables::Create({.max_kites = 64, .max_sessions = 64, .n_workers = 1});
  ASSERT_NE(t, nullptr);
  constexpr int kReaders = 2;
  constexpr uint32_t kKites = 40;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> epochs[kReaders];
  std::atomic<uint64_t> bad{0}, seen{0};
  for (auto& e : epochs) e = 0;
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      uint32_t x = 12345 + r;
      kp_kite k;
      kp_session s;
      kp_config c;
      while (!stop.load(std::memory_order_relaxed)) {
        x = x * 1103515245 + 12345;
        uint32_t port = 1000 + (x >> 16) % kKites;
        kp_kite probe = MakeKite(0, static_cast<uint16_t>(port));
        uint32_t id = t->LookupKite(probe.key, Tables::HashKey(probe.key));
        // Key port p always belongs to kite id p - 999.
        if (id != 0 && id != port - 999) bad++;
        if (t->ReadKite(1 + (x >> 8) % kKites, &k)) {
          seen++;
          if (!Consistent(k)) bad++;
        }
        if (t->ReadSession(1 + (x >> 4) % 8, &s) && s.mtu != static_cast<uint16_t>(s.connector_port * 2)) bad++;
        t->ReadConfig(&c);
        if (c.generation != c.own4[0][0] * 1u + (c.own4[0][1] << 8)) bad++;
        epochs[r].fetch_add(1, std::memory_order_release);  // quiescent point
      }
    });
  }
  auto grace = [&] {
    uint64_t before[kReaders];
    for (int r = 0; r < kReaders; ++r) before[r] = epochs[r].load(std::memory_order_acquire);
    for (int r = 0; r < kReaders; ++r)
      while (epochs[r].load(std::memory_order_acquire) <= before[r]) std::this_thread::yield();
  };
  for (uint32_t i = 0; i < 20000; ++i) {
    uint32_t id = 1 + i % kKites;
    uint16_t port = static_cast<uint16_t>(999 + id);
    if ((i / kKites) % 3 == 2) {
      kp_kite cur;
      if (t->ReadKite(id, &cur)) {
        ASSERT_EQ(t->DeleteKite(id), 0);
      }
    } else {
      ASSERT_EQ(t->UpsertKite(MakeKite(id, port, i)), 0);
    }
    kp_session s{};
    s.session_id = 1 + i % 8;
    s.state = KP_SESSION_LIVE;
    s.family = KP_AF_INET;
    s.connector_port = static_cast<uint16_t>(i);
    s.mtu = static_cast<uint16_t>(i * 2);
    ASSERT_EQ(t->UpsertSession(s), 0);
    kp_config c{};
    c.generation = i & 0xffff;
    c.own4[0][0] = static_cast<uint8_t>(i);
    c.own4[0][1] = static_cast<uint8_t>(i >> 8);
    ASSERT_EQ(t->SetConfig(c), 0);
    if (i % 64 == 63 && t->PendingReclaim() > 0) {
      grace();
      t->Reclaim();
    }
  }
  stop = true;
  for (auto& th : readers) th.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(seen.load(), 0u);
}

}  // namespace
}  // namespace kp::fp
