// dpdk_jumbo_test.cc - frames larger than a 2 KiB mbuf through the real DPDK
// process (net_pcap port, one worker).
//
// net_pcap chains mbufs when a frame does not fit one, so it shows both
// sides of --max-frame: with the default (9216) a 3,000-byte IPv4 frame
// reaches the fast path whole (it is never counted ipv4_bad_length), and
// with --max-frame 1518 the same frame arrives chained and the worker drops
// it as ipv4_bad_length instead of handing the core a cut buffer.  A small
// frame fed alongside must have the same fate in both runs.
#include <arpa/inet.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/dpdk/dp_harness.h"
#include "kp_counters.h"

namespace kp::dptest {
namespace {

uint16_t Checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// Ethernet + IPv4 (valid header checksum) + UDP (checksum 0: none, legal
// over IPv4) 198.51.100.2:12345 -> 198.51.100.99:5000, `payload` bytes.
Frame Udp4Frame(size_t payload) {
  Frame f(14 + 20 + 8 + payload);
  const uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 0x01}, src_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
  std::memcpy(f.data(), dst_mac, 6);
  std::memcpy(f.data() + 6, src_mac, 6);
  f[12] = 0x08;
  uint8_t* ip = f.data() + 14;
  const size_t ip_len = 20 + 8 + payload;
  ip[0] = 0x45;
  ip[2] = static_cast<uint8_t>(ip_len >> 8);
  ip[3] = static_cast<uint8_t>(ip_len);
  ip[8] = 64;
  ip[9] = 17;
  inet_pton(AF_INET, "198.51.100.2", ip + 12);
  inet_pton(AF_INET, "198.51.100.99", ip + 16);
  const uint16_t sum = Checksum(ip, 20);
  ip[10] = static_cast<uint8_t>(sum >> 8);
  ip[11] = static_cast<uint8_t>(sum);
  uint8_t* udp = ip + 20;
  const uint16_t sport = htons(12345), dport = htons(5000), ulen = htons(static_cast<uint16_t>(8 + payload));
  std::memcpy(udp, &sport, 2);
  std::memcpy(udp + 2, &dport, 2);
  std::memcpy(udp + 4, &ulen, 2);
  for (size_t i = 0; i < payload; i++) udp[8 + i] = static_cast<uint8_t>(i * 7 + 3);
  return f;
}

struct Result {
  uint64_t rx = 0, bad_length = 0, drops = 0;
};

// Runs the small frame and then the jumbo frame through a data plane started
// with `args`.
Result RunFrames(const std::vector<std::string>& args) {
  Result r;
  std::string why;
  auto dp = Dataplane::Start(args, &why);
  EXPECT_NE(dp, nullptr) << why;
  if (!dp) return r;
  EXPECT_TRUE(dp->Feed(std::vector<Frame>{Udp4Frame(100), Udp4Frame(3000)}));
  dp->CloseInput();
  EXPECT_TRUE(dp->WaitRx(2, 30000)) << "not every frame was received";
  auto c = dp->ctl()->GlobalCounters();
  EXPECT_TRUE(c.ok());
  if (c.ok()) {
    r.rx = c->counters[KP_CTR_RX_PKTS];
    r.drops = c->counters[KP_CTR_DROP_PKTS];
    r.bad_length = c->drops[KP_DROP_IP4_BAD_LENGTH];
  }
  std::vector<Frame> tx;
  EXPECT_EQ(dp->Stop(&tx), 0) << "data plane did not exit cleanly";
  return r;
}

TEST(DpdkJumbo, DefaultMaxFrameKeepsA3000ByteFrameWhole) {
  const Result r = RunFrames({});
  EXPECT_EQ(r.rx, 2u);
  EXPECT_EQ(r.bad_length, 0u) << "the 3,000-byte frame was cut or chained";
}

TEST(DpdkJumbo, ChainedMbufIsDroppedAsBadLength) {
  const Result base = RunFrames({});
  const Result r = RunFrames({"--max-frame", "1518"});
  EXPECT_EQ(r.rx, 2u);
  EXPECT_EQ(r.bad_length, 1u) << "a chained mbuf must be dropped, not forwarded cut";
  EXPECT_EQ(r.drops, base.drops + 1) << "only the jumbo frame's fate may change";
}

}  // namespace
}  // namespace kp::dptest
