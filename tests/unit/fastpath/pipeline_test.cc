// pipeline_test.cc - ProcessBurst end to end on a small world: both
// directions, a full round trip, every tunnel-leg check, next hops, VLAN,
// headroom, quota and rate through the pipeline, config refresh between
// bursts, counters, and that a large mixed burst gives the same results as
// one frame at a time (the prefetch passes change nothing).
#include "pipeline.h"

#include <arpa/inet.h>

#include <cstring>
#include <vector>

#include "byteorder.h"
#include "gtest/gtest.h"
#include "parse.h"
#include "test_frames.h"

namespace kp::fp {
namespace {

using testing::World;

void ExpectDrop(const Outcome& o, kp_drop_reason r) {
  EXPECT_EQ(o.verdict, Verdict::kDrop);
  EXPECT_EQ(DropReasonName(o.reason), DropReasonName(r));
}

TEST(Pipeline, EncapV4) {
  World w;
  auto f = w.ClientFrame();
  auto in = f;
  Outcome o = w.Run(f);
  ASSERT_EQ(o.verdict, Verdict::kTx);
  EXPECT_EQ(o.kite_id, 1u);
  ASSERT_EQ(f.size(), 14u + 20 + 8 + 40 + 18);
  EXPECT_EQ(f[5], 0xfe);  // gateway MAC
  EXPECT_EQ(f[11], 0x01);  // own MAC
  Parsed p{};
  ASSERT_EQ(Parse(f.data(), static_cast<uint32_t>(f.size()), &p).status(), ParseStatus::kOk);
  EXPECT_EQ(std::memcmp(p.dst, w.session.connector_addr, 16), 0);
  EXPECT_EQ(p.dport_be, w.session.connector_port);
  const uint8_t* d = f.data() + p.payload_off;
  EXPECT_EQ(LoadBe32(d + 4), World::kSession);
  EXPECT_EQ(d[16 + 12], 192);  // client address, IPv4-mapped
  EXPECT_EQ(std::memcmp(d + 40, in.data() + 42, 18), 0);
  uint64_t key[2] = {w.config.cookie_keys[1][0], w.config.cookie_keys[1][1]};
  auto ref = testing::DataHeader(World::kSession, 1, "192.0.2.1", 40000, 7, key);
  EXPECT_EQ(std::memcmp(d + 8, ref.data() + 8, 32), 0);  // fields and cookie
  kp_ctl_global_counters g = w.Counters();
  EXPECT_EQ(g.counters[KP_CTR_ENCAP_PKTS], 1u);
  EXPECT_EQ(g.counters[KP_CTR_TX_BYTES], f.size());
  kp_ctl_kite_stats ks;
  ASSERT_TRUE(w.tables->KiteStats(1, &ks));
  EXPECT_EQ(ks.v[KP_KCTR_RX_PKTS], 1u);
  EXPECT_EQ(ks.v[KP_KCTR_RX_BYTES], 18u);
  EXPECT_EQ(ks.used_bytes, 18u);
}

TEST(Pipeline, EncapV6ClientOverV4ConnectorWithVlan) {
  World w;
  testing::UdpSpec s;
  s.src = "2001:db8:1::1";
  s.dst = "2001:db8:f::10";
  s.vlan = true;
  s.tci = 0x3005;
  auto f = testing::BuildUdp(s);
  ASSERT_EQ(w.Run(f).verdict, Verdict::kTx);
  EXPECT_EQ(f[12], 0x81);
  EXPECT_EQ(f[14], 0x30);
  EXPECT_EQ(f[15], 0x05);
  EXPECT_EQ(f[16], 0x08);  // outer IPv4 after the tag
  Parsed p{};
  ASSERT_EQ(Parse(f.data(), static_cast<uint32_t>(f.size()), &p).status(), ParseStatus::kOk);
  EXPECT_EQ(f[p.payload_off + 14], KP_AF_INET6);
}

TEST(Pipeline, RoundTrip) {
  World w;
  auto f = w.ClientFrame(false, 33);
  auto in = f;
  ASSERT_EQ(w.Run(f).verdict, Verdict::kTx);
  // The connector echoes the header from its own address to our tunnel port.
  Parsed p{};
  ASSERT_EQ(Parse(f.data(), static_cast<uint32_t>(f.size()), &p).status(), ParseStatus::kOk);
  testing::UdpSpec r;
  r.src = "203.0.113.7";
  r.dst = "198.51.100.1";
  r.sport = 40000;
  r.dport = 7000;
  r.payload.assign(f.begin() + p.payload_off, f.end());
  r.payload[3] = 0;  // flags: not from the front-end
  auto reply = testing::BuildUdp(r);
  Outcome o = w.Run(reply);
  ASSERT_EQ(o.verdict, Verdict::kTx) << DropReasonName(o.reason);
  ASSERT_EQ(reply.size(), in.size());
  // Same datagram back, addresses and ports swapped.
  EXPECT_EQ(std::memcmp(reply.data() + 14 + 12, in.data() + 14 + 16, 4), 0);
  EXPECT_EQ(std::memcmp(reply.data() + 14 + 16, in.data() + 14 + 12, 4), 0);
  EXPECT_EQ(reply[34], in[36]);
  EXPECT_EQ(reply[36], in[34]);
  EXPECT_EQ(std::memcmp(reply.data() + 42, in.data() + 42, 33), 0);
  EXPECT_EQ(testing::RefChecksum(reply.data() + 14, 20), 0);
  kp_ctl_kite_stats ks;
  ASSERT_TRUE(w.tables->KiteStats(1, &ks));
  EXPECT_EQ(ks.v[KP_KCTR_TX_PKTS], 1u);
  EXPECT_EQ(ks.v[KP_KCTR_TX_BYTES], 33u);
  EXPECT_EQ(ks.used_bytes, 66u);
  EXPECT_EQ(w.Counters().counters[KP_CTR_DECAP_PKTS], 1u);
}

TEST(Pipeline, TunnelChecks) {
  World w;
  auto base = w.ConnectorFrame();
  {
    auto f = base;
    ASSERT_EQ(w.Run(f).verdict, Verdict::kTx);
  }
  auto mutate = [&](size_t off_in_payload, uint8_t x) {
    auto f = base;
    f[42 + off_in_payload] ^= x;
    testing::FixChecksums(f);
    return w.Run(f);
  };
  ExpectDrop(mutate(0, 1), KP_DROP_TUN_BAD_MAGIC);
  ExpectDrop(mutate(1, 3), KP_DROP_TUN_BAD_VERSION);
  Outcome ctl = mutate(2, 0x11);  // type 0x10: HELLO
  EXPECT_EQ(ctl.verdict, Verdict::kException);
  EXPECT_EQ(w.Counters().counters[KP_CTR_CONTROL_PKTS], 1u);
  ExpectDrop(mutate(7, 0x40), KP_DROP_TUN_UNKNOWN_SESSION);   // other index
  ExpectDrop(mutate(4, 0x80), KP_DROP_TUN_UNKNOWN_SESSION);   // other generation
  ExpectDrop(mutate(14, 4), KP_DROP_TUN_BAD_FAMILY);          // family 0
  ExpectDrop(mutate(26, 1), KP_DROP_TUN_BAD_FAMILY);          // not IPv4-mapped
  ExpectDrop(mutate(39, 1), KP_DROP_TUN_BAD_COOKIE);
  ExpectDrop(mutate(15, 2), KP_DROP_TUN_BAD_COOKIE);          // epoch 5: two behind
  ExpectDrop(mutate(13, 1), KP_DROP_TUN_BAD_COOKIE);          // client port changed
  // Wrong source port.
  auto f = base;
  f[35] ^= 1;
  testing::FixChecksums(f);
  ExpectDrop(w.Run(f), KP_DROP_TUN_WRONG_SOURCE);
  // Short frames.
  testing::UdpSpec s;
  s.src = "203.0.113.7";
  s.dst = "198.51.100.1";
  s.sport = 40000;
  s.dport = 7000;
  s.payload = {0x4b, 1, 1};
  auto t = testing::BuildUdp(s);
  ExpectDrop(w.Run(t), KP_DROP_TUN_TRUNCATED);
  s.payload.assign(base.begin() + 42, base.begin() + 42 + 39);
  t = testing::BuildUdp(s);
  ExpectDrop(w.Run(t), KP_DROP_TUN_TRUNCATED);
  // Session down.
  kp_session down = w.session;
  down.state = KP_SESSION_DOWN;
  ASSERT_EQ(w.tables->UpsertSession(down), 0);
  f = base;
  ExpectDrop(w.Run(f), KP_DROP_TUN_UNKNOWN_SESSION);
}

TEST(Pipeline, PreviousCookieEpochIsAccepted) {
  World w;
  w.config.key_epoch = 6;
  w.ApplyConfig();
  auto old = w.ConnectorFrame();  // cookie under epoch 6
  w.config.key_epoch = 7;  // rotate: key 1 current, key 0 previous
  w.ApplyConfig();
  auto f = old;
  EXPECT_EQ(w.Run(f).verdict, Verdict::kTx);
  w.config.key_epoch = 8;  // two rotations later: refused
  w.ApplyConfig();
  f = old;
  ExpectDrop(w.Run(f), KP_DROP_TUN_BAD_COOKIE);
}

TEST(Pipeline, KiteMustBelongToTheSession) {
  World w;
  kp_kite k = w.kite1;
  k.sessions[0] = (2u << 17) | 1u;  // some other session
  ASSERT_EQ(w.tables->UpsertKite(k), 0);
  auto f = w.ConnectorFrame();
  Outcome o = w.Run(f);
  ExpectDrop(o, KP_DROP_TUN_KITE_NOT_IN_SESSION);
  EXPECT_EQ(o.kite_id, 0u);  // not charged: not proven to be its kite
}

TEST(Pipeline, NextHops) {
  World w;
  kp_session s = w.session;
  s.flags = KP_SESSION_F_NEXTHOP;
  const uint8_t nh[6] = {0x02, 0, 0, 0, 0, 0x5e};
  std::memcpy(s.nexthop_mac, nh, 6);
  ASSERT_EQ(w.tables->UpsertSession(s), 0);
  w.config.gateway_mac_valid = 0;
  std::memset(w.config.own_mac, 0, 6);
  w.ApplyConfig();
  auto f = w.ClientFrame();
  ASSERT_EQ(w.Run(f).verdict, Verdict::kTx);  // per-session next hop still works
  EXPECT_EQ(std::memcmp(f.data(), nh, 6), 0);
  EXPECT_EQ(f[11], 0x01);  // own_mac zero: the received frame's destination MAC
  auto r = w.ConnectorFrame();
  ExpectDrop(w.Run(r), KP_DROP_NO_NEXTHOP);  // toward clients: no gateway
  w.config.gateway_mac_valid = 2;  // mirror
  w.ApplyConfig();
  r = w.ConnectorFrame();
  ASSERT_EQ(w.Run(r).verdict, Verdict::kTx);
  EXPECT_EQ(r[5], 0xaa);  // source MAC of the received frame
}

TEST(Pipeline, HeadroomAndMtu) {
  World w;
  auto f = w.ClientFrame();
  ExpectDrop(w.Run(f, World::kNow, 39), KP_DROP_NO_HEADROOM);
  f = w.ClientFrame();
  EXPECT_EQ(w.Run(f, World::kNow, 40).verdict, Verdict::kTx);
  f = w.ClientFrame(false, 1500 - 68 + 1);
  ExpectDrop(w.Run(f), KP_DROP_MTU_EXCEEDED);
}

TEST(Pipeline, ClientLegChecksInOrder) {
  World w;
  testing::UdpSpec s;
  s.src = "10.1.2.3";  // configured bogon
  auto f = testing::BuildUdp(s);
  Outcome o = w.Run(f);
  ExpectDrop(o, KP_DROP_BOGON_SOURCE);
  EXPECT_EQ(o.kite_id, 0u);
  s.src = "198.51.100.1";  // ourselves
  f = testing::BuildUdp(s);
  ExpectDrop(w.Run(f), KP_DROP_BOGON_SOURCE);
  s.src = "192.0.2.1";
  s.dport = 5999;  // no such kite
  f = testing::BuildUdp(s);
  EXPECT_EQ(w.Run(f).verdict, Verdict::kException);
  kp_kite k = w.kite1;
  k.state = KP_KITE_DISABLED;
  ASSERT_EQ(w.tables->UpsertKite(k), 0);
  f = w.ClientFrame();
  o = w.Run(f);
  ExpectDrop(o, KP_DROP_KITE_DISABLED);
  EXPECT_EQ(o.kite_id, 1u);
  k.state = KP_KITE_LIVE;
  k.n_sessions = 0;
  ASSERT_EQ(w.tables->UpsertKite(k), 0);
  f = w.ClientFrame();
  ExpectDrop(w.Run(f), KP_DROP_KITE_NO_SESSION);
  kp_ctl_kite_stats ks;
  ASSERT_TRUE(w.tables->KiteStats(1, &ks));
  EXPECT_EQ(ks.v[KP_KCTR_DROP_STATE], 2u);
}

TEST(Pipeline, StateChangeIsSeenByTheNextBurst) {
  World w;
  auto f = w.ClientFrame();
  EXPECT_EQ(w.Run(f).verdict, Verdict::kTx);
  ASSERT_EQ(w.tables->SetState(KP_FE_CLOSED), 0);
  f = w.ClientFrame();
  Outcome o = w.Run(f);
  ExpectDrop(o, KP_DROP_LAME_DUCK_CLOSED);
  EXPECT_EQ(o.kite_id, 0u);
  auto r = w.ConnectorFrame();
  o = w.Run(r);
  ExpectDrop(o, KP_DROP_LAME_DUCK_CLOSED);
  EXPECT_EQ(o.kite_id, 1u);
}

TEST(Pipeline, QuotaBothDirections) {
  World w;
  kp_kite k = w.kite1;
  k.flags = KP_KITE_F_QUOTA;
  ASSERT_EQ(w.tables->UpsertKite(k), 0);
  auto f = w.ClientFrame();
  ExpectDrop(w.Run(f), KP_DROP_QUOTA_EXHAUSTED);  // no credit yet
  kp_ctl_credit g{1, 0, 40};
  ASSERT_EQ(w.tables->GrantCredit({&g, 1}), 0);
  f = w.ClientFrame(false, 30);
  EXPECT_EQ(w.Run(f).verdict, Verdict::kTx);  // used 0 < 40
  auto r = w.ConnectorFrame(false, 30);
  EXPECT_EQ(w.Run(r).verdict, Verdict::kTx);  // used 30 < 40
  r = w.ConnectorFrame(false, 30);
  ExpectDrop(w.Run(r), KP_DROP_QUOTA_EXHAUSTED);  // used 60
  kp_ctl_kite_stats ks;
  ASSERT_TRUE(w.tables->KiteStats(1, &ks));
  EXPECT_EQ(ks.used_bytes, 60u);
  EXPECT_EQ(ks.v[KP_KCTR_DROP_QUOTA], 2u);
}

TEST(Pipeline, RatePerKiteOnly) {
  World w;
  kp_kite k = w.kite1;
  k.rate_pps = 10;
  k.burst_ms = 100;  // 1 packet
  ASSERT_EQ(w.tables->UpsertKite(k), 0);
  auto f = w.ClientFrame();
  EXPECT_EQ(w.Run(f).verdict, Verdict::kTx);
  f = w.ClientFrame();
  ExpectDrop(w.Run(f), KP_DROP_RATE_PACKETS);
  f = w.ClientFrame(true);  // kite 2 is not limited: only the kite pays
  EXPECT_EQ(w.Run(f).verdict, Verdict::kTx);
  f = w.ClientFrame();
  EXPECT_EQ(w.Run(f, World::kNow + 100'000'000).verdict, Verdict::kTx);
}

TEST(Pipeline, DeletedKiteIsNoLongerForwarded) {
  World w;
  ASSERT_EQ(w.tables->DeleteKite(1), 0);
  auto f = w.ClientFrame();
  EXPECT_EQ(w.Run(f).verdict, Verdict::kException);
  auto r = w.ConnectorFrame();
  ExpectDrop(w.Run(r), KP_DROP_TUN_KITE_NOT_IN_SESSION);
}

TEST(Pipeline, BigMixedBurstEqualsOneByOne) {
  World a, b;
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 100; ++i) {
    switch (i % 5) {
      case 0: frames.push_back(a.ClientFrame(false, 10 + i)); break;
      case 1: frames.push_back(a.ClientFrame(true, 10 + i)); break;
      case 2: frames.push_back(a.ConnectorFrame(i % 2 == 0, i)); break;
      case 3: frames.push_back(std::vector<uint8_t>(10 + i % 7, 0xee)); break;
      default: {
        auto f = a.ConnectorFrame(false, 5);
        f[42 + 39] ^= 1;
        testing::FixChecksums(f);
        frames.push_back(f);
      }
    }
  }
  constexpr uint32_t kHead = 128;
  std::vector<std::vector<uint8_t>> bufs;
  std::vector<PacketBuf> pkts;
  for (auto& f : frames) {
    bufs.emplace_back(kHead + f.size());
    std::copy(f.begin(), f.end(), bufs.back().begin() + kHead);
  }
  for (size_t i = 0; i < frames.size(); ++i)
    pkts.push_back({bufs[i].data(), static_cast<uint32_t>(bufs[i].size()), kHead, static_cast<uint32_t>(frames[i].size())});
  std::vector<Outcome> outs(pkts.size());
  uint32_t tx = ProcessBurst(a.ctx, pkts, outs, World::kNow);
  uint32_t tx_one = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    auto f = frames[i];
    Outcome o = b.Run(f, World::kNow, kHead);
    tx_one += o.verdict == Verdict::kTx;
    EXPECT_EQ(o.verdict, outs[i].verdict) << i;
    EXPECT_EQ(o.reason, outs[i].reason) << i;
    if (o.verdict == Verdict::kTx) {
      EXPECT_EQ(f, std::vector<uint8_t>(pkts[i].data(), pkts[i].data() + pkts[i].len)) << i;
    }
  }
  EXPECT_EQ(tx, tx_one);
  EXPECT_EQ(tx, 60u);
  kp_ctl_global_counters ga = a.Counters(), gb = b.Counters();
  EXPECT_EQ(std::memcmp(&ga, &gb, sizeof(ga)), 0);
  EXPECT_EQ(ga.counters[KP_CTR_RX_PKTS], 100u);
}

TEST(Pipeline, TwoCoresKeepTheirOwnCounters) {
  World w(2);
  WorkerContext c1;
  InitWorkerContext(c1, *w.tables, 1);
  auto f = w.ClientFrame();
  std::vector<uint8_t> buf(128 + f.size());
  std::copy(f.begin(), f.end(), buf.begin() + 128);
  PacketBuf pkt{buf.data(), static_cast<uint32_t>(buf.size()), 128, static_cast<uint32_t>(f.size())};
  Outcome o;
  ProcessBurst(c1, {&pkt, 1}, {&o, 1}, World::kNow);
  EXPECT_EQ(o.verdict, Verdict::kTx);
  EXPECT_EQ(w.tables->CountersOf(1)->ctr[KP_CTR_ENCAP_PKTS], 1u);
  EXPECT_EQ(w.tables->CountersOf(0)->ctr[KP_CTR_ENCAP_PKTS], 0u);
  EXPECT_EQ(w.tables->PoliceOf(1)[1].used_bytes, 18u);
}

}  // namespace
}  // namespace kp::fp
