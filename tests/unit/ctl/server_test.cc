// server_test.cc - unit tests of kp::ctl::Server and kp::ctl::Client over a
// real SOCK_SEQPACKET socket in a temporary directory, with a gmock backend.
//
// A helper thread polls the server while the test thread drives the
// synchronous client.  Covers: HELLO and version checks, every message type
// reaching the backend with the right entries, -errno mapping of backend
// errors, batching of large upserts, range reads, resync, headless tracking,
// socket file mode, and malformed requests (short, wrong version, wrong
// length, unknown type, oversized batch, truncated datagram) answered and
// counted without a crash.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "dataplane/ctl/client.h"
#include "dataplane/ctl/protocol.h"
#include "dataplane/ctl/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kp::ctl {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Return;
using ::testing::SizeIs;

class MockBackend : public TableBackend {
 public:
  MOCK_METHOD(kp_dp_mode, Mode, (), (const, override));
  MOCK_METHOD(uint32_t, NumWorkers, (), (const, override));
  MOCK_METHOD(uint32_t, MaxKites, (), (const, override));
  MOCK_METHOD(uint32_t, MaxSessions, (), (const, override));
  MOCK_METHOD(absl::Status, SetConfig, (const kp_config&), (override));
  MOCK_METHOD(absl::StatusOr<kp_config>, GetConfig, (), (const, override));
  MOCK_METHOD(absl::Status, UpsertKites, (std::span<const kp_kite>), (override));
  MOCK_METHOD(absl::Status, DeleteKites, (std::span<const uint32_t>), (override));
  MOCK_METHOD(absl::Status, UpsertSessions, (std::span<const kp_session>), (override));
  MOCK_METHOD(absl::Status, DeleteSessions, (std::span<const uint32_t>), (override));
  MOCK_METHOD(absl::Status, GrantCredit, (std::span<const kp_ctl_credit>), (override));
  MOCK_METHOD(absl::Status, SetState, (kp_frontend_state), (override));
  MOCK_METHOD(absl::StatusOr<kp_ctl_global_counters>, GlobalCounters, (), (const, override));
  MOCK_METHOD(absl::StatusOr<uint32_t>, KiteStats,
              (uint32_t, std::span<kp_ctl_kite_stats>, uint32_t*), (const, override));
  MOCK_METHOD(absl::StatusOr<uint32_t>, DumpKites, (uint32_t, std::span<kp_kite>, uint32_t*),
              (const, override));
  MOCK_METHOD(absl::StatusOr<uint32_t>, DumpSessions,
              (uint32_t, std::span<kp_session>, uint32_t*), (const, override));
};

// A dense fake table of `n` kites with ids 1..n, served in range reads.
absl::StatusOr<uint32_t> FakeDump(uint32_t n, uint32_t first, std::span<kp_kite> out,
                                  uint32_t* next) {
  uint32_t id = std::max(first, 1u), w = 0;
  for (; id <= n && w < out.size(); id++) {
    out[w] = kp_kite{};
    out[w++].kite_id = id;
  }
  *next = id <= n ? id : 0;
  return w;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kp_ctl_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/ctl.sock";
    ON_CALL(backend_, Mode()).WillByDefault(Return(KP_DP_DPDK));
    ON_CALL(backend_, NumWorkers()).WillByDefault(Return(2));
    ON_CALL(backend_, MaxKites()).WillByDefault(Return(1000));
    ON_CALL(backend_, MaxSessions()).WillByDefault(Return(100));
    kp_config cfg{};
    cfg.generation = 42;
    ON_CALL(backend_, GetConfig()).WillByDefault(Return(cfg));
    auto s = Server::Create(ServerOptions{path_}, &backend_);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    poller_ = std::thread([this] {
      while (!stop_.load()) server_->Poll(20);
    });
  }
  void TearDown() override {
    stop_ = true;
    if (poller_.joinable()) poller_.join();
    server_.reset();
    rmdir(dir_.c_str());
  }
  std::unique_ptr<Client> Connect() {
    auto c = Client::Connect(path_, "test");
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  // Sends a raw datagram and returns the reply header.
  kp_ctl_hdr Raw(Client* c, const std::vector<uint8_t>& msg) {
    auto r = c->RawCall(msg);
    EXPECT_TRUE(r.ok()) << r.status();
    kp_ctl_hdr h{};
    if (r.ok() && r->size() >= sizeof(h)) std::memcpy(&h, r->data(), sizeof(h));
    return h;
  }

  NiceMock<MockBackend> backend_;
  std::string dir_, path_;
  std::unique_ptr<Server> server_;
  std::thread poller_;
  std::atomic<bool> stop_{false};
};

TEST_F(ServerTest, HelloReportsBackendAndAbi) {
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->hello().ctl_version, KP_CTL_VERSION);
  EXPECT_EQ(c->hello().mode, KP_DP_DPDK);
  EXPECT_EQ(c->hello().n_workers, 2u);
  EXPECT_EQ(c->hello().max_kites, 1000u);
  EXPECT_EQ(c->hello().n_drop_reasons, static_cast<uint32_t>(KP_DROP_MAX));
  EXPECT_EQ(c->hello().n_counters, static_cast<uint32_t>(KP_CTR_MAX));
  EXPECT_EQ(c->hello().config_generation, 42u);
  EXPECT_EQ(c->hello().headless_since_s, 0u);
}

TEST_F(ServerTest, SocketModeIs0660) {
  struct stat sb {};
  ASSERT_EQ(stat(path_.c_str(), &sb), 0);
  EXPECT_TRUE(S_ISSOCK(sb.st_mode));
  EXPECT_EQ(sb.st_mode & 0777, 0660u);
}

TEST_F(ServerTest, UpsertAndDeleteReachBackend) {
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  kp_kite k[2] = {};
  k[0].kite_id = 7;
  k[1].kite_id = 9;
  EXPECT_CALL(backend_, UpsertKites(SizeIs(2))).WillOnce(Invoke([](std::span<const kp_kite> v) {
    EXPECT_EQ(v[0].kite_id, 7u);
    EXPECT_EQ(v[1].kite_id, 9u);
    return absl::OkStatus();
  }));
  EXPECT_TRUE(c->UpsertKites(k).ok());
  EXPECT_CALL(backend_, DeleteKites(ElementsAre(7u)))
      .WillOnce(Return(absl::NotFoundError("x")));
  uint32_t id = 7;
  EXPECT_EQ(c->DeleteKites({&id, 1}).code(), absl::StatusCode::kNotFound);
  EXPECT_CALL(backend_, UpsertSessions(SizeIs(1)))
      .WillOnce(Return(absl::ResourceExhaustedError("full")));
  kp_session s{};
  EXPECT_EQ(c->UpsertSessions({&s, 1}).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_CALL(backend_, DeleteSessions(ElementsAre(3u, 4u))).WillOnce(Return(absl::OkStatus()));
  uint32_t ids[2] = {3, 4};
  EXPECT_TRUE(c->DeleteSessions(ids).ok());
  EXPECT_CALL(backend_, GrantCredit(SizeIs(1))).WillOnce(Return(absl::OkStatus()));
  kp_ctl_credit g{5, 0, 1000};
  EXPECT_TRUE(c->GrantCredit({&g, 1}).ok());
  EXPECT_CALL(backend_, SetState(KP_FE_LAME_DUCK)).WillOnce(Return(absl::OkStatus()));
  EXPECT_TRUE(c->SetState(KP_FE_LAME_DUCK).ok());
  EXPECT_EQ(server_->stats().errors, 2u);
  EXPECT_EQ(server_->stats().malformed, 0u);
}

TEST_F(ServerTest, ConfigAndCountersRoundTrip) {
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  kp_config cfg{};
  cfg.n_tunnel_ports = 1;
  EXPECT_CALL(backend_, SetConfig(_)).WillOnce(Invoke([](const kp_config& x) {
    return x.n_tunnel_ports == 1 ? absl::OkStatus() : absl::InvalidArgumentError("ports");
  }));
  EXPECT_TRUE(c->SetConfig(cfg).ok());
  auto got = c->GetConfig();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->generation, 42u);
  kp_ctl_global_counters gc{};
  gc.drops[KP_DROP_NO_NEXTHOP] = 17;
  EXPECT_CALL(backend_, GlobalCounters()).WillOnce(Return(gc));
  auto rc = c->GlobalCounters();
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(rc->drops[KP_DROP_NO_NEXTHOP], 17u);
}

TEST_F(ServerTest, LargeUpsertIsSplitIntoBatches) {
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  std::vector<kp_kite> kites(kMaxKiteBatch * 2 + 5);
  size_t seen = 0;
  EXPECT_CALL(backend_, UpsertKites(_)).Times(3).WillRepeatedly(
      Invoke([&seen](std::span<const kp_kite> v) {
        EXPECT_LE(v.size(), kMaxKiteBatch);
        seen += v.size();
        return absl::OkStatus();
      }));
  EXPECT_TRUE(c->UpsertKites(kites).ok());
  EXPECT_EQ(seen, kites.size());
}

TEST_F(ServerTest, RangeReadsWalkTheWholeTable) {
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  static constexpr uint32_t n = 3000;
  ON_CALL(backend_, DumpKites(_, _, _))
      .WillByDefault(Invoke([](uint32_t f, std::span<kp_kite> o, uint32_t* nx) {
        return FakeDump(n, f, o, nx);
      }));
  uint32_t count = 0, last = 0;
  bool ordered = true;
  ASSERT_TRUE(c->ForEachKite(0, [&](const kp_kite& k) {
                 ordered &= k.kite_id == last + 1;
                 last = k.kite_id;
                 count++;
               }).ok());
  EXPECT_EQ(count, n);
  EXPECT_TRUE(ordered);
}

TEST_F(ServerTest, ResyncDeletesOnlyWhatWasNotUpserted) {
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  ON_CALL(backend_, DumpKites(_, _, _))
      .WillByDefault(Invoke([](uint32_t f, std::span<kp_kite> o, uint32_t* nx) {
        return FakeDump(4, f, o, nx);
      }));
  ON_CALL(backend_, DumpSessions(_, _, _)).WillByDefault(Invoke(
      [](uint32_t, std::span<kp_session> o, uint32_t* nx) -> absl::StatusOr<uint32_t> {
        o[0] = kp_session{};
        o[0].session_id = 65537;
        *nx = 0;
        return 1u;
      }));
  ON_CALL(backend_, UpsertKites(_)).WillByDefault(Return(absl::OkStatus()));
  ASSERT_TRUE(c->ResyncBegin().ok());
  EXPECT_TRUE(server_->resync_active());
  kp_kite k[2] = {};
  k[0].kite_id = 2;
  k[1].kite_id = 4;
  ASSERT_TRUE(c->UpsertKites(k).ok());
  EXPECT_CALL(backend_, DeleteKites(ElementsAre(1u, 3u))).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(backend_, DeleteSessions(ElementsAre(65537u))).WillOnce(Return(absl::OkStatus()));
  ASSERT_TRUE(c->ResyncEnd().ok());
  EXPECT_FALSE(server_->resync_active());
  // END without BEGIN is a protocol error.
  EXPECT_EQ(c->ResyncEnd().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ServerTest, HeadlessSinceIsReportedAfterDisconnect) {
  {
    auto c = Connect();
    ASSERT_NE(c, nullptr);
  }
  // Wait (bounded) for the server to notice the hang-up.
  for (int i = 0; i < 500 && server_->headless_since_s() == 0; i++) usleep(10000);
  ASSERT_NE(server_->headless_since_s(), 0u);
  auto c2 = Connect();
  ASSERT_NE(c2, nullptr);
  EXPECT_EQ(c2->hello().headless_since_s, server_->headless_since_s());
}

std::vector<uint8_t> Msg(uint16_t type, uint16_t version, const std::vector<uint8_t>& body,
                         int32_t len_delta = 0) {
  std::vector<uint8_t> m;
  StartMessage(&m, type, 99, 0);
  m.resize(sizeof(kp_ctl_hdr) + body.size());
  if (!body.empty()) std::memcpy(m.data() + sizeof(kp_ctl_hdr), body.data(), body.size());
  FinishMessage(&m);
  kp_ctl_hdr h{};
  std::memcpy(&h, m.data(), sizeof(h));
  h.version = version;
  h.len = static_cast<uint32_t>(static_cast<int32_t>(h.len) + len_delta);
  std::memcpy(m.data(), &h, sizeof(h));
  return m;
}

TEST_F(ServerTest, MalformedMessagesAreAnsweredAndCounted) {
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  EXPECT_CALL(backend_, UpsertKites(_)).Times(0);
  // Short: fewer bytes than a header.
  EXPECT_EQ(Raw(c.get(), {1, 0, 1, 0, 0}).status, -EINVAL);
  // Wrong version.
  EXPECT_EQ(Raw(c.get(), Msg(KP_CTL_CONFIG_GET, 7, {})).status, -EPROTO);
  // Header length disagrees with the datagram.
  kp_ctl_hdr h = Raw(c.get(), Msg(KP_CTL_CONFIG_GET, KP_CTL_VERSION, {}, 4));
  EXPECT_EQ(h.status, -EINVAL);
  EXPECT_EQ(h.seq, 99u);
  EXPECT_EQ(h.type, KP_CTL_CONFIG_GET);
  // Unknown type.
  EXPECT_EQ(Raw(c.get(), Msg(200, KP_CTL_VERSION, {})).status, -EINVAL);
  // Batch count disagrees with the body.
  std::vector<uint8_t> body(sizeof(kp_ctl_batch) + sizeof(kp_kite));
  kp_ctl_batch b{2, 0};
  std::memcpy(body.data(), &b, sizeof(b));
  EXPECT_EQ(Raw(c.get(), Msg(KP_CTL_KITE_UPSERT, KP_CTL_VERSION, body)).status, -EINVAL);
  // Oversized batch: a count over the per-message limit.
  b.count = kMaxKiteBatch + 1;
  std::memcpy(body.data(), &b, sizeof(b));
  EXPECT_EQ(Raw(c.get(), Msg(KP_CTL_KITE_UPSERT, KP_CTL_VERSION, body)).status, -E2BIG);
  // A datagram larger than KP_CTL_MAX_MSG.
  std::vector<uint8_t> huge(KP_CTL_MAX_MSG + 100);
  EXPECT_EQ(Raw(c.get(), Msg(KP_CTL_KITE_UPSERT, KP_CTL_VERSION, huge)).status, -E2BIG);
  // Fixed-size bodies of the wrong size.
  EXPECT_EQ(Raw(c.get(), Msg(KP_CTL_SET_STATE, KP_CTL_VERSION, {1, 2, 3})).status, -EINVAL);
  EXPECT_EQ(Raw(c.get(), Msg(KP_CTL_CONFIG_SET, KP_CTL_VERSION, {0})).status, -EINVAL);
  EXPECT_EQ(Raw(c.get(), Msg(KP_CTL_KITE_DUMP, KP_CTL_VERSION, {0, 0})).status, -EINVAL);
  std::vector<uint8_t> bad_state(sizeof(kp_ctl_state));
  bad_state[0] = 9;
  EXPECT_EQ(Raw(c.get(), Msg(KP_CTL_SET_STATE, KP_CTL_VERSION, bad_state)).status, -EINVAL);
  EXPECT_EQ(server_->stats().malformed, 11u);
  // The connection still works afterwards.
  EXPECT_TRUE(c->GetConfig().ok());
}

TEST_F(ServerTest, RequestsBeforeHelloAreRefused) {
  int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path_.c_str(), sizeof(a.sun_path) - 1);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  std::vector<uint8_t> m = Msg(KP_CTL_CONFIG_GET, KP_CTL_VERSION, {});
  ASSERT_EQ(send(fd, m.data(), m.size(), 0), static_cast<ssize_t>(m.size()));
  kp_ctl_hdr h{};
  ASSERT_EQ(recv(fd, &h, sizeof(h), 0), static_cast<ssize_t>(sizeof(h)));
  EXPECT_EQ(h.status, -EPROTO);
  // HELLO with the wrong protocol version is refused too.
  kp_ctl_hello hello{};
  hello.ctl_version = 99;
  std::vector<uint8_t> hb(sizeof(hello));
  std::memcpy(hb.data(), &hello, sizeof(hello));
  m = Msg(KP_CTL_HELLO, KP_CTL_VERSION, hb);
  ASSERT_EQ(send(fd, m.data(), m.size(), 0), static_cast<ssize_t>(m.size()));
  ASSERT_GT(recv(fd, &h, sizeof(h), 0), 0);
  EXPECT_EQ(h.status, -EPROTO);
  close(fd);
}

TEST(ServerCreateTest, RejectsOverlongPath) {
  NiceMock<MockBackend> b;
  auto s = Server::Create(ServerOptions{std::string(200, 'x')}, &b);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kp::ctl
