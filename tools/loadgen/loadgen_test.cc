// loadgen_test.cc - unit tests of kp-loadgen: payload encoding and checking,
// reply bookkeeping, option parsing, and end-to-end runs against an
// in-process echo server on loopback (including echoes that corrupt,
// duplicate, reorder or drop datagrams, which the client must count exactly).
#include <arpa/inet.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tools/loadgen/client.h"
#include "tools/loadgen/net.h"
#include "tools/loadgen/options.h"
#include "tools/loadgen/payload.h"
#include "tools/loadgen/tracker.h"

namespace kiteplane::loadgen {
namespace {

std::vector<uint8_t> Make(size_t n, uint32_t run, uint64_t seq, uint64_t ns = 1234) {
  std::vector<uint8_t> b(n);
  EXPECT_TRUE(EncodePayload(b, run, seq, ns));
  return b;
}

TEST(Payload, RoundTripsAllSizes) {
  for (size_t n : {size_t{32}, size_t{33}, size_t{64}, size_t{1400}, size_t{3000},
                   kMaxPayload}) {
    auto b = Make(n, 7, 42 + n, 99);
    PayloadInfo info;
    ASSERT_EQ(VerifyPayload(b, 7, &info), Verdict::kOk) << n;
    EXPECT_EQ(info.seq, 42 + n);
    EXPECT_EQ(info.send_ns, 99u);
  }
}

TEST(Payload, RejectsBadSizes) {
  std::vector<uint8_t> small(kHeaderSize - 1), big(kMaxPayload + 1);
  EXPECT_FALSE(EncodePayload(small, 1, 1, 1));
  EXPECT_FALSE(EncodePayload(big, 1, 1, 1));
}

TEST(Payload, EveryFlippedByteIsCaught) {
  const auto good = Make(200, 0xabcdef, 5);
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}}) {
      auto b = good;
      b[i] ^= mask;
      Verdict v = VerifyPayload(b, 0xabcdef, nullptr);
      if (i < kOffSeq) {
        EXPECT_EQ(v, Verdict::kForeign) << i;  // magic or run id
      } else {
        EXPECT_EQ(v, Verdict::kCorrupt) << i;
      }
    }
  }
}

TEST(Payload, TruncatedPaddedOrSplicedIsCorrupt) {
  auto b = Make(100, 3, 10);
  std::vector<uint8_t> shorter(b.begin(), b.end() - 1);
  EXPECT_EQ(VerifyPayload(shorter, 3, nullptr), Verdict::kCorrupt);
  auto longer = b;
  longer.push_back(0);
  EXPECT_EQ(VerifyPayload(longer, 3, nullptr), Verdict::kCorrupt);
  auto other = Make(100, 3, 11);
  std::memcpy(b.data() + kHeaderSize, other.data() + kHeaderSize, 100 - kHeaderSize);
  EXPECT_EQ(VerifyPayload(b, 3, nullptr), Verdict::kCorrupt);
}

TEST(Payload, OtherRunOrShortIsForeign) {
  auto b = Make(64, 3, 10);
  EXPECT_EQ(VerifyPayload(b, 4, nullptr), Verdict::kForeign);
  EXPECT_EQ(VerifyPayload(std::span<const uint8_t>(b.data(), 31), 3, nullptr),
            Verdict::kForeign);
}

TEST(Payload, StampKeepsItValid) {
  auto b = Make(80, 9, 1, 5);
  StampSendTime(b, 777);
  PayloadInfo info;
  ASSERT_EQ(VerifyPayload(b, 9, &info), Verdict::kOk);
  EXPECT_EQ(info.send_ns, 777u);
}

TEST(Tracker, CountsDuplicatesReorderingLossAndStrays) {
  Tracker t(10);
  for (uint64_t s = 0; s < 8; ++s) t.OnSent(s, 100);
  EXPECT_EQ(t.OnReply(0, 10, 100), Tracker::Rx::kNew);
  EXPECT_EQ(t.OnReply(2, 30, 100), Tracker::Rx::kNew);
  EXPECT_EQ(t.OnReply(1, 20, 100), Tracker::Rx::kReordered);
  EXPECT_EQ(t.OnReply(2, 30, 100), Tracker::Rx::kDuplicate);
  EXPECT_EQ(t.OnReply(8, 30, 100), Tracker::Rx::kUnexpected);   // never sent
  EXPECT_EQ(t.OnReply(99, 30, 100), Tracker::Rx::kUnexpected);  // beyond count
  t.OnCorrupt();
  EXPECT_EQ(t.in_flight(), 4u);  // 8 sent - 3 received - 1 corrupt
  Summary s = t.Summarize(10, 0.5, 1.0, 2.0);
  EXPECT_EQ(s.sent, 8u);
  EXPECT_EQ(s.received, 3u);
  EXPECT_EQ(s.lost, 4u);
  EXPECT_EQ(s.unsent, 2u);
  EXPECT_EQ(s.duplicates, 1u);
  EXPECT_EQ(s.reordered, 1u);
  EXPECT_EQ(s.foreign, 2u);
  EXPECT_EQ(s.corrupted, 1u);
  EXPECT_DOUBLE_EQ(s.loss_ratio, 0.6);  // (4 lost + 2 unsent) / 10
  EXPECT_FALSE(s.pass);
  EXPECT_DOUBLE_EQ(s.rtt_p50_us, 0.02);
  EXPECT_DOUBLE_EQ(s.achieved_pps, 8.0);
  EXPECT_NE(s.ToJson().find("\"duplicates\":1"), std::string::npos);
}

TEST(Tracker, ReorderingIsPerFlow) {
  Tracker t(10, 2);
  for (uint64_t s = 0; s < 6; ++s) t.OnSent(s, 1);
  EXPECT_EQ(t.OnReply(3, 1, 1, 1), Tracker::Rx::kNew);
  EXPECT_EQ(t.OnReply(0, 1, 1, 0), Tracker::Rx::kNew);  // other flow: not late
  EXPECT_EQ(t.OnReply(2, 1, 1, 1), Tracker::Rx::kReordered);
  EXPECT_EQ(t.OnReply(1, 1, 1, 0), Tracker::Rx::kNew);
}

TEST(Tracker, Percentiles) {
  std::vector<uint64_t> v;
  for (uint64_t i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_EQ(Percentile(v, 50), 50);
  EXPECT_EQ(Percentile(v, 99), 99);
  EXPECT_EQ(Percentile(v, 100), 100);
  EXPECT_EQ(Percentile({}, 50), 0);
  EXPECT_EQ(Percentile({7}, 99), 7);
}

TEST(Options, Sizes) {
  auto s = ParseSizes("64,512,1400,3000");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->SizeFor(0), 64u);
  EXPECT_EQ(s->SizeFor(3), 3000u);
  EXPECT_EQ(s->SizeFor(5), 512u);
  EXPECT_EQ(s->Max(), 3000u);
  auto r = ParseSizes("100-200");
  ASSERT_TRUE(r.ok());
  bool varied = false;
  for (uint64_t q = 0; q < 1000; ++q) {
    uint32_t n = r->SizeFor(q);
    EXPECT_GE(n, 100u);
    EXPECT_LE(n, 200u);
    varied |= n != r->SizeFor(0);
  }
  EXPECT_TRUE(varied);
  EXPECT_FALSE(ParseSizes("31").ok());
  EXPECT_FALSE(ParseSizes("200-100").ok());
  EXPECT_FALSE(ParseSizes("65508").ok());
  EXPECT_FALSE(ParseSizes("x").ok());
}

TEST(Options, Endpoints) {
  auto v4 = ParseEndpoint("192.0.2.1:5000", true);
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->family, AF_INET);
  EXPECT_EQ(v4->port, 5000);
  auto v6 = ParseEndpoint("[2001:db8::1]:53", true);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->family, AF_INET6);
  EXPECT_EQ(v6->port, 53);
  EXPECT_TRUE(ParseEndpoint("2001:db8::1", false).ok());
  auto bare6 = ParseEndpoint("2001:db8::1:5000", true);
  ASSERT_TRUE(bare6.ok());
  EXPECT_EQ(bare6->family, AF_INET6);
  EXPECT_EQ(bare6->port, 5000);
  auto bare6_no_port = ParseEndpoint("2001:db8::1:5000", false);
  ASSERT_TRUE(bare6_no_port.ok());
  EXPECT_EQ(bare6_no_port->port, 0);  // without a required port it is all address
  EXPECT_FALSE(ParseEndpoint("2001:db8::", true).ok());
  EXPECT_FALSE(ParseEndpoint("192.0.2.1", true).ok());
  EXPECT_FALSE(ParseEndpoint("192.0.2.1:70000", true).ok());
  EXPECT_FALSE(ParseEndpoint("example.org:53", true).ok());
}

absl::StatusOr<Options> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "kp-loadgen");
  return ParseArgs(static_cast<int>(args.size()), args.data());
}

TEST(Options, Flags) {
  auto o = Parse({"--target", "127.0.0.1:9", "--bind", "127.0.0.2", "--bind=127.0.0.3",
                  "--sockets", "3", "--count", "10", "--pps", "100", "--max-loss", "1%",
                  "-j"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->binds.size(), 2u);
  EXPECT_EQ(o->sockets, 3u);
  EXPECT_EQ(o->count, 10u);
  EXPECT_DOUBLE_EQ(o->max_loss, 0.01);
  EXPECT_TRUE(o->json);
  EXPECT_FALSE(Parse({}).ok());
  EXPECT_FALSE(Parse({"--target", "127.0.0.1:9", "--frobnicate", "1"}).ok());
  EXPECT_FALSE(Parse({"--target", "127.0.0.1:9", "--bind", "::1"}).ok());
  EXPECT_FALSE(Parse({"--target", "127.0.0.1:9", "--bind", "127.0.0.1:5", "--sockets", "2"})
                   .ok());
  EXPECT_FALSE(Parse({"--target", "127.0.0.1:9", "--count", "0"}).ok());
  EXPECT_FALSE(Parse({"--target", "127.0.0.1:9", "--max-loss", "2"}).ok());
  EXPECT_FALSE(Parse({"--target"}).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(Parse({"--help"}).status()));
}

// An echo server on loopback running in a thread for the life of the object.
class LoopbackEcho {
 public:
  explicit LoopbackEcho(const char* addr, EchoServer::Transform t = nullptr) {
    auto ep = ParseEndpoint(addr, false);
    EXPECT_TRUE(ep.ok());
    auto s = EchoServer::Open(*ep);
    if (!s.ok()) {
      open_error_ = s.status();
      return;
    }
    server_.emplace(std::move(*s));
    if (t) server_->set_transform(std::move(t));
    thread_ = std::thread([this] { (void)server_->Run(stop_, 30); });
  }
  ~LoopbackEcho() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool ok() const { return server_.has_value(); }
  absl::Status error() const { return open_error_; }
  uint16_t port() const { return server_->port(); }

 private:
  std::optional<EchoServer> server_;
  absl::Status open_error_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

uint64_t SeqOf(const Datagram& d) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | d.data[kOffSeq + i];
  return v;
}

Options ClientOpts(const std::string& target, uint64_t count) {
  auto o = Parse({"--target", target.c_str(), "--sizes", "64,512,1400,3000", "--window",
                  "8", "--timeout", "2", "--duration", "20"});
  EXPECT_TRUE(o.ok()) << o.status();
  o->count = count;
  return *o;
}

TEST(EndToEnd, CleanEchoLosesNothing) {
  LoopbackEcho echo("127.0.0.1:0");
  ASSERT_TRUE(echo.ok()) << echo.error();
  Options o = ClientOpts("127.0.0.1:" + std::to_string(echo.port()), 400);
  o.sockets = 3;
  auto s = RunClient(o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->sent, 400u);
  EXPECT_EQ(s->received, 400u);
  EXPECT_EQ(s->lost, 0u);
  EXPECT_EQ(s->corrupted, 0u);
  EXPECT_EQ(s->duplicates, 0u);
  EXPECT_TRUE(s->pass);
  EXPECT_GT(s->rtt_p99_us, 0);
  EXPECT_GE(s->rtt_p99_us, s->rtt_p50_us);
}

TEST(EndToEnd, Ipv6Loopback) {
  LoopbackEcho echo("::1");
  if (!echo.ok()) GTEST_SKIP() << "no IPv6 loopback: " << echo.error();
  Options o = ClientOpts("[::1]:" + std::to_string(echo.port()), 100);
  auto s = RunClient(o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->received, 100u);
  EXPECT_TRUE(s->pass);
}

TEST(EndToEnd, CorruptionDuplicatesAndReorderingAreCounted) {
  std::optional<Datagram> held;
  LoopbackEcho echo("127.0.0.1:0", [&held](std::vector<Datagram>& batch) {
    std::vector<Datagram> out;
    std::optional<Datagram> release = std::move(held);  // goes after this batch: late
    held.reset();
    for (Datagram& d : batch) {
      uint64_t seq = SeqOf(d);
      if (seq % 10 == 3) d.data.back() ^= 0x40;  // corrupt
      if (seq % 10 == 5) out.push_back(d);       // duplicate
      if (seq % 25 == 9) {  // held back; seq + 1 is never corrupted
        held = d;
        continue;
      }
      out.push_back(d);
    }
    if (release) out.push_back(*release);
    batch = std::move(out);
  });
  ASSERT_TRUE(echo.ok()) << echo.error();
  Options o = ClientOpts("127.0.0.1:" + std::to_string(echo.port()), 200);
  o.window = 4;
  auto s = RunClient(o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->sent, 200u);
  EXPECT_EQ(s->corrupted, 20u);
  EXPECT_EQ(s->received, 180u);
  EXPECT_EQ(s->duplicates, 20u);
  EXPECT_EQ(s->reordered, 8u);
  EXPECT_EQ(s->lost, 0u);
  EXPECT_FALSE(s->pass);  // corruption always fails a run
}

TEST(EndToEnd, LossIsMeasuredAgainstMaxLoss) {
  LoopbackEcho echo("127.0.0.1:0", [](std::vector<Datagram>& batch) {
    std::vector<Datagram> out;
    for (Datagram& d : batch) {
      if (SeqOf(d) % 5 != 0) out.push_back(d);
    }
    batch = std::move(out);
  });
  ASSERT_TRUE(echo.ok()) << echo.error();
  for (double max_loss : {0.0, 0.2}) {
    auto o = Parse({"--target", ("127.0.0.1:" + std::to_string(echo.port())).c_str(),
                    "--count", "100", "--timeout", "0.3"});
    ASSERT_TRUE(o.ok());
    o->max_loss = max_loss;
    auto s = RunClient(*o);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->received, 80u);
    EXPECT_EQ(s->lost, 20u);
    EXPECT_DOUBLE_EQ(s->loss_ratio, 0.2);
    EXPECT_EQ(s->pass, max_loss >= 0.2);
  }
}

TEST(EndToEnd, NobodyListeningEndsWithinTimeout) {
  // Take a free port, then close it: nothing answers there.
  uint16_t port = 0;
  {
    auto ep = ParseEndpoint("127.0.0.1:0", false);
    auto fd = OpenUdp(AF_INET, &*ep, nullptr);
    ASSERT_TRUE(fd.ok());
    port = *LocalPort(fd->get());
  }
  auto o = Parse({"--target", ("127.0.0.1:" + std::to_string(port)).c_str(), "--count", "50",
                  "--pps", "1000", "--timeout", "0.2"});
  ASSERT_TRUE(o.ok());
  auto s = RunClient(*o);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->received, 0u);
  EXPECT_FALSE(s->pass);
}

}  // namespace
}  // namespace kiteplane::loadgen
