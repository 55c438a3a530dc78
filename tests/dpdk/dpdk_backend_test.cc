// dpdk_backend_test.cc - DpdkBackend (over real fast-path tables, no EAL)
// and the DPDK mode's option parsing.
//
// Backend: local overrides (own addresses, tunnel ports, real worker count,
// gateway modes), next hops learnt from a neighbour dump (gateway and
// on-link connectors, and unresolved -> gateway_mac_valid 0), session dumps
// by slot, delete then re-add, batch validation at the control socket's
// batch size.  Options: strict parsing, config files, the test-only clock
// and police presets,
// errors that name the option.
#include <arpa/inet.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>

#include "dataplane/dpdk/backend.h"
#include "dataplane/dpdk/options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kp::dpdk {
namespace {

Neighbour Nb(const char* ip4, uint8_t last) {
  Neighbour n{};
  bool v4 = false;
  EXPECT_TRUE(ParseAddr16(ip4, n.addr, &v4));
  const uint8_t mac[6] = {0x02, 0, 0, 0, 0x11, last};
  std::memcpy(n.mac, mac, 6);
  return n;
}

kp_session Session(uint32_t id, const char* connector) {
  kp_session s{};
  s.session_id = id;
  s.state = KP_SESSION_LIVE;
  s.family = KP_AF_INET;
  bool v4;
  ParseAddr16(connector, s.connector_addr, &v4);
  ParseAddr16("198.51.100.1", s.local_addr, &v4);
  s.connector_port = htons(40000);
  s.local_port = htons(7000);
  return s;
}

class BackendTest : public ::testing::Test {
 protected:
  void Make(const std::vector<std::string>& args) {
    auto o = ParseAppOptions(args);
    ASSERT_TRUE(o.ok()) << o.status();
    fp::TableSizes sizes;
    sizes.max_kites = 1024;
    sizes.max_sessions = 1024;
    sizes.n_workers = 3;  // 2 workers + the control thread's slot
    tables_ = fp::Tables::Create(sizes);
    ASSERT_NE(tables_, nullptr);
    backend_ = std::make_unique<DpdkBackend>(tables_.get(), nullptr, 2, *o);
    ASSERT_TRUE(backend_->InstallInitialConfig().ok());
  }
  std::unique_ptr<fp::Tables> tables_;
  std::unique_ptr<DpdkBackend> backend_;
};

TEST_F(BackendTest, FillsOwnAddressesPortsAndWorkers) {
  Make({"--addr4", "198.51.100.1/24,198.51.100.2", "--addr6", "2001:db8::1",
        "--tunnel-ports", "7000,7001", "--gateway-mac", "02:00:00:00:00:fe"});
  auto c = backend_->GetConfig();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->n_workers, 2);
  EXPECT_EQ(backend_->NumWorkers(), 2u);
  EXPECT_EQ(c->n_own4, 2);
  EXPECT_EQ(c->own4[0][3], 1);
  EXPECT_EQ(c->n_own6, 1);
  EXPECT_EQ(c->n_tunnel_ports, 2);
  EXPECT_EQ(ntohs(c->tunnel_ports[1]), 7001);
  EXPECT_EQ(c->gateway_mac_valid, 1);
  EXPECT_EQ(c->gateway_mac[5], 0xfe);
  // What the control plane sets wins, except the locally known gateway.
  kp_config mine{};
  mine.n_tunnel_ports = 1;
  mine.tunnel_ports[0] = htons(9000);
  mine.gateway_mac_valid = 2;
  ASSERT_TRUE(backend_->SetConfig(mine).ok());
  c = backend_->GetConfig();
  EXPECT_EQ(ntohs(c->tunnel_ports[0]), 9000);
  EXPECT_EQ(c->n_tunnel_ports, 1);
  EXPECT_EQ(c->gateway_mac_valid, 1);
}

TEST_F(BackendTest, NoneKeepsTheControlPlanesGateway) {
  Make({"--gateway-mac", "none"});
  kp_config mine{};
  mine.gateway_mac_valid = 2;
  ASSERT_TRUE(backend_->SetConfig(mine).ok());
  EXPECT_EQ(backend_->GetConfig()->gateway_mac_valid, 2);
}

TEST_F(BackendTest, NeighWithoutGatewayAddressKeepsTheControlPlanesGateway) {
  Make({"--gateway-mac", "neigh"});
  kp_config mine{};
  mine.gateway_mac_valid = 1;
  mine.gateway_mac[5] = 0x42;
  ASSERT_TRUE(backend_->SetConfig(mine).ok());
  backend_->RefreshNeighbours({Nb("198.51.100.254", 0xfe)});
  EXPECT_EQ(backend_->GetConfig()->gateway_mac_valid, 1);
  EXPECT_EQ(backend_->GetConfig()->gateway_mac[5], 0x42);
}

TEST_F(BackendTest, NeighModeFollowsTheNeighbourTable) {
  Make({"--gateway-mac", "neigh", "--gateway4", "198.51.100.254"});
  EXPECT_EQ(backend_->GetConfig()->gateway_mac_valid, 0) << "unresolved: no_nexthop drops";
  kp_session on_link = Session((1u << 17) | 5, "198.51.100.7");
  kp_session far = Session((1u << 17) | 6, "203.0.113.7");
  ASSERT_TRUE(backend_->UpsertSessions(std::vector<kp_session>{on_link, far}).ok());
  EXPECT_GT(backend_->RefreshNeighbours({Nb("198.51.100.254", 0xfe), Nb("198.51.100.7", 7)}), 0u);
  EXPECT_TRUE(backend_->gateway_resolved());
  auto c = backend_->GetConfig();
  EXPECT_EQ(c->gateway_mac_valid, 1);
  EXPECT_EQ(c->gateway_mac[5], 0xfe);
  kp_session got{};
  ASSERT_TRUE(tables_->ReadSession(on_link.session_id, &got));
  EXPECT_TRUE(got.flags & KP_SESSION_F_NEXTHOP);
  EXPECT_EQ(got.nexthop_mac[5], 7);
  ASSERT_TRUE(tables_->ReadSession(far.session_id, &got));
  EXPECT_FALSE(got.flags & KP_SESSION_F_NEXTHOP) << "off-link connector goes via the gateway";
  // The gateway's entry goes away: unresolved again.
  backend_->RefreshNeighbours({Nb("198.51.100.7", 7)});
  EXPECT_EQ(backend_->GetConfig()->gateway_mac_valid, 0);
  EXPECT_EQ(backend_->RefreshNeighbours({Nb("198.51.100.7", 7)}), 0u) << "nothing changed";
}

TEST_F(BackendTest, SessionsDumpBySlotAndDeleteReclaims) {
  Make({});
  std::vector<kp_session> s = {Session((1u << 17) | 3, "203.0.113.1"),
                               Session((2u << 17) | 9, "203.0.113.2")};
  ASSERT_TRUE(backend_->UpsertSessions(s).ok());
  std::vector<kp_session> out(8);
  uint32_t next = 0;
  auto n = backend_->DumpSessions(0, std::span(out), &next);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, 2u);
  EXPECT_EQ(out[0].session_id, s[0].session_id);
  EXPECT_EQ(out[1].session_id, s[1].session_id);
  EXPECT_EQ(next, 0u);
  uint32_t id = s[0].session_id;
  ASSERT_TRUE(backend_->DeleteSessions({&id, 1}).ok());
  EXPECT_EQ(backend_->DeleteSessions({&id, 1}).code(), absl::StatusCode::kNotFound);
  n = backend_->DumpSessions(0, std::span(out), &next);
  EXPECT_EQ(*n, 1u);
  kp_kite k{};
  k.kite_id = 5;
  k.state = KP_KITE_LIVE;
  k.key.family = KP_AF_INET;
  k.key.addr[10] = k.key.addr[11] = 0xff;
  k.key.port = htons(5000);
  ASSERT_TRUE(backend_->UpsertKites({&k, 1}).ok());
  uint32_t kid = 5;
  ASSERT_TRUE(backend_->DeleteKites({&kid, 1}).ok());
  EXPECT_EQ(tables_->PendingReclaim(), 0u) << "delete must reclaim after the grace period";
  ASSERT_TRUE(backend_->UpsertKites({&k, 1}).ok()) << "same key, same id, after reclaim";
}

// A control-socket-sized batch (the validation is linear in it, with a
// filter and a scan on its hits): duplicates anywhere in the batch are still
// refused with nothing applied, and keys may rotate among the batch's kites.
TEST_F(BackendTest, FullBatchValidation) {
  Make({});
  constexpr uint32_t kN = 1000;
  auto key_of = [](uint32_t i) {
    kp_kite_key key{};
    key.family = KP_AF_INET;
    key.addr[10] = key.addr[11] = 0xff;
    key.addr[12] = 100;
    key.addr[15] = static_cast<uint8_t>(i);
    key.port = htons(static_cast<uint16_t>(10000 + i));
    return key;
  };
  std::vector<kp_kite> kites(kN);
  for (uint32_t i = 0; i < kN; i++) {
    kites[i].kite_id = i + 1;
    kites[i].state = KP_KITE_LIVE;
    kites[i].key = key_of(i);
  }
  ASSERT_TRUE(backend_->UpsertKites(kites).ok());
  EXPECT_EQ(tables_->NumKites(), kN);

  std::vector<kp_kite> bad = kites;
  for (kp_kite& k : bad) k.state = KP_KITE_DISABLED;
  bad[kN - 1].kite_id = bad[0].kite_id;
  EXPECT_EQ(backend_->UpsertKites(bad).code(), absl::StatusCode::kInvalidArgument) << "id twice";
  bad = kites;
  for (kp_kite& k : bad) k.state = KP_KITE_DISABLED;
  bad[kN - 1].key = bad[1].key;
  EXPECT_EQ(backend_->UpsertKites(bad).code(), absl::StatusCode::kInvalidArgument) << "key twice";
  bad = kites;
  bad[kN - 1].key = kites[0].key;  // kite 1 keeps its key: a thief
  bad.erase(bad.begin());
  EXPECT_EQ(backend_->UpsertKites(bad).code(), absl::StatusCode::kInvalidArgument) << "taken key";
  kp_kite out{};
  ASSERT_TRUE(tables_->ReadKite(kN, &out));
  EXPECT_EQ(out.state, KP_KITE_LIVE) << "a refused batch changes nothing";

  // Every kite takes its neighbour's key, all in one batch.
  std::vector<kp_kite> rotated = kites;
  for (uint32_t i = 0; i < kN; i++) rotated[i].key = key_of((i + 1) % kN);
  ASSERT_TRUE(backend_->UpsertKites(rotated).ok());
  EXPECT_EQ(tables_->NumKites(), kN);
  EXPECT_EQ(tables_->PendingReclaim(), 0u);
  for (uint32_t i = 0; i < kN; i++) {
    const kp_kite_key key = key_of((i + 1) % kN);
    ASSERT_EQ(tables_->LookupKite(key, fp::Tables::HashKey(key)), i + 1);
  }
}

TEST(OptionsTest, StrictParsing) {
  EXPECT_FALSE(ParseAppOptions({"--bogus", "1"}).ok());
  auto unknown = ParseAppOptions({"--frobnicate"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown option --frobnicate"), absl::string_view::npos);
  EXPECT_FALSE(ParseAppOptions({"--addr4", "2001:db8::1"}).ok());
  EXPECT_FALSE(ParseAppOptions({"--addr4", "198.51.100.1/33"}).ok());
  EXPECT_FALSE(ParseAppOptions({"--tunnel-ports", "0"}).ok());
  EXPECT_FALSE(ParseAppOptions({"--gateway-mac", "02:00"}).ok());
  EXPECT_FALSE(ParseAppOptions({"--exception", "kni"}).ok());
  EXPECT_FALSE(ParseAppOptions({"--max-kites"}).ok()) << "missing value";
  auto bad = ParseAppOptions({"--max-sessions", "999999999"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("max-sessions"), absl::string_view::npos);
  auto o = ParseAppOptions({"--soft-rss", "--max-kites=4096", "--exception", "none"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->force_soft_rss);
  EXPECT_EQ(o->max_kites, 4096u);
  EXPECT_EQ(o->exception, ExceptionMode::kNone);
}

TEST(OptionsTest, TestOnlyClockAndPolice) {
  auto o = ParseAppOptions({"--test-clock-ns", "5000000000", "--test-police",
                            "10:4999000000:64880:0:0,8:0:0:0:1000"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->test_clock_ns, 5000000000ull);
  ASSERT_EQ(o->test_police.size(), 2u);
  EXPECT_EQ(o->test_police[0].kite_id, 10u);
  EXPECT_EQ(o->test_police[0].last_ns, 4999000000ull);
  EXPECT_EQ(o->test_police[0].pkt_tokens, 64880u);
  EXPECT_EQ(o->test_police[1].used_bytes, 1000u);
  EXPECT_FALSE(ParseAppOptions({"--test-police", "10:1:2:3"}).ok());
  EXPECT_FALSE(ParseAppOptions({"--test-police", "0:1:2:3:4"}).ok());
  EXPECT_FALSE(ParseAppOptions({"--test-clock-ns", "0"}).ok());
  EXPECT_EQ(ParseAppOptions({})->test_clock_ns, 0u);
}

TEST(OptionsTest, MaxFrame) {
  auto d = ParseAppOptions({});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->max_frame, 9216u) << "jumbo frames out of the box";
  auto o = ParseAppOptions({"--max-frame", "3518"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->max_frame, 3518u);
  EXPECT_FALSE(ParseAppOptions({"--max-frame", "1517"}).ok()) << "below a 1500-MTU frame";
  EXPECT_FALSE(ParseAppOptions({"--max-frame", "65001"}).ok()) << "beyond a 16-bit data room";
  EXPECT_FALSE(ParseAppOptions({"--max-frame"}).ok()) << "missing value";
}

TEST(OptionsTest, BenchSourceAndPcap) {
  auto o = ParseAppOptions({"--bench-packets", "1000", "--bench-setup", "decap", "--bench-source", "port"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->bench_from_port);
  EXPECT_FALSE(ParseAppOptions({"--bench-packets", "1000", "--bench-setup", "encap"})->bench_from_port)
      << "synth is the default";
  auto w = ParseAppOptions({"--bench-setup", "encap", "--bench-write-pcap", "/tmp/x.pcap"});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->bench_write_pcap, "/tmp/x.pcap");
  auto src = ParseAppOptions({"--bench-packets", "10", "--bench-setup", "encap", "--bench-source", "nic"});
  ASSERT_FALSE(src.ok());
  EXPECT_THAT(std::string(src.status().message()), testing::HasSubstr("want synth or port"));
  auto no_packets = ParseAppOptions({"--bench-setup", "encap", "--bench-source", "port"});
  ASSERT_FALSE(no_packets.ok());
  EXPECT_THAT(std::string(no_packets.status().message()), testing::HasSubstr("needs --bench-packets"));
  auto no_setup = ParseAppOptions({"--bench-write-pcap", "/tmp/x.pcap"});
  ASSERT_FALSE(no_setup.ok());
  EXPECT_THAT(std::string(no_setup.status().message()), testing::HasSubstr("needs --bench-setup"));
  EXPECT_FALSE(ParseAppOptions({"--bench-packets", "10"}).ok()) << "no --bench-setup";
}

TEST(OptionsTest, ConfigFileThenCommandLine) {
  char path[] = "/tmp/kp_opts_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream f(path);
    f << "# data plane\nctl-socket /run/x.sock\naddr4 = 198.51.100.1/24\n"
      << "gateway-mac mirror   # comment\nmax-kites 2048\n";
  }
  auto o = ParseAppOptions({"--config", path, "--max-kites", "4096"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->ctl_socket, "/run/x.sock");
  ASSERT_EQ(o->addr4.size(), 1u);
  EXPECT_EQ(o->addr4_len[0], 24);
  EXPECT_EQ(o->gateway_mode, GatewayMode::kMirror);
  EXPECT_EQ(o->max_kites, 4096u);
  {
    std::ofstream f(path);
    f << "max-kites 10\nnonsense 1\n";
  }
  auto bad = ParseAppOptions({"--config", path});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":2:"), absl::string_view::npos) << bad.status();
  unlink(path);
}

}  // namespace
}  // namespace kp::dpdk
