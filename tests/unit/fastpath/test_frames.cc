// test_frames.cc - frame builders and the test world (see test_frames.h).
#include "test_frames.h"

#include <arpa/inet.h>
#include <sodium.h>

#include <cstring>

namespace kp::fp::testing {
namespace {

constexpr uint8_t kDefaultDstMac[6] = {0x02, 0, 0, 0, 0, 0x01};
constexpr uint8_t kDefaultSrcMac[6] = {0x02, 0, 0, 0, 0, 0xaa};

void Put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}

}  // namespace

uint16_t RefChecksum(const uint8_t* p, size_t n, uint32_t initial) {
  uint32_t sum = initial;
  for (size_t i = 0; i < n; ++i) sum += (i % 2 == 0) ? uint32_t{p[i]} << 8 : p[i];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void Addr16(const std::string& text, uint8_t out[16], uint8_t* family) {
  uint8_t v4[4];
  if (inet_pton(AF_INET, text.c_str(), v4) == 1) {
    std::memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    std::memcpy(out + 12, v4, 4);
    if (family) *family = KP_AF_INET;
    return;
  }
  inet_pton(AF_INET6, text.c_str(), out);
  if (family) *family = KP_AF_INET6;
}

size_t L3Offset(const std::vector<uint8_t>& f) { return (f[12] == 0x81 && f[13] == 0x00) ? 18 : 14; }

void FixChecksums(std::vector<uint8_t>& f) {
  size_t l3 = L3Offset(f);
  uint8_t* ip = f.data() + l3;
  bool v6 = (ip[0] >> 4) == 6;
  size_t l4 = l3 + (v6 ? 40 : (ip[0] & 15) * 4);
  uint8_t* udp = f.data() + l4;
  uint32_t ulen = uint32_t{udp[4]} << 8 | udp[5];
  std::vector<uint8_t> pseudo;
  if (v6) {
    pseudo.insert(pseudo.end(), ip + 8, ip + 40);
    pseudo.insert(pseudo.end(), {0, 0, static_cast<uint8_t>(ulen >> 8), static_cast<uint8_t>(ulen), 0, 0, 0, 17});
  } else {
    ip[10] = ip[11] = 0;
    uint16_t c = RefChecksum(ip, (ip[0] & 15) * 4);
    ip[10] = c >> 8;
    ip[11] = c & 0xff;
    pseudo.insert(pseudo.end(), ip + 12, ip + 20);
    pseudo.insert(pseudo.end(), {0, 17, static_cast<uint8_t>(ulen >> 8), static_cast<uint8_t>(ulen)});
  }
  udp[6] = udp[7] = 0;
  pseudo.insert(pseudo.end(), udp, udp + ulen);
  uint16_t c = RefChecksum(pseudo.data(), pseudo.size());
  if (c == 0) c = 0xffff;
  udp[6] = c >> 8;
  udp[7] = c & 0xff;
}

std::vector<uint8_t> BuildUdp(const UdpSpec& s) {
  std::vector<uint8_t> f;
  const uint8_t* dm = s.dst_mac ? s.dst_mac : kDefaultDstMac;
  const uint8_t* sm = s.src_mac ? s.src_mac : kDefaultSrcMac;
  f.insert(f.end(), dm, dm + 6);
  f.insert(f.end(), sm, sm + 6);
  uint8_t src[16], dst[16], fam;
  Addr16(s.src, src, &fam);
  Addr16(s.dst, dst);
  bool v6 = fam == KP_AF_INET6;
  if (s.vlan) {
    Put16(f, 0x8100);
    Put16(f, s.tci);
  }
  Put16(f, v6 ? 0x86dd : 0x0800);
  uint16_t ulen = static_cast<uint16_t>(8 + s.payload.size());
  if (v6) {
    f.insert(f.end(), {0x60, 0, 0, 0});
    Put16(f, ulen);
    f.insert(f.end(), {17, 64});
    f.insert(f.end(), src, src + 16);
    f.insert(f.end(), dst, dst + 16);
  } else {
    f.insert(f.end(), {0x45, 0});
    Put16(f, static_cast<uint16_t>(20 + ulen));
    f.insert(f.end(), {0x12, 0x34, 0, 0, 57, 17, 0, 0});
    f.insert(f.end(), src + 12, src + 16);
    f.insert(f.end(), dst + 12, dst + 16);
  }
  Put16(f, s.sport);
  Put16(f, s.dport);
  Put16(f, ulen);
  Put16(f, 0);
  f.insert(f.end(), s.payload.begin(), s.payload.end());
  FixChecksums(f);
  return f;
}

std::vector<uint8_t> DataHeader(uint32_t session_id, uint32_t kite_id, const std::string& client,
                                uint16_t client_port, uint8_t key_epoch, const uint64_t key[2]) {
  std::vector<uint8_t> h(40, 0);
  h[0] = 0x4b;
  h[1] = 1;
  h[2] = 1;
  h[3] = 0;
  for (int i = 0; i < 4; ++i) {
    h[4 + i] = static_cast<uint8_t>(session_id >> (24 - 8 * i));
    h[8 + i] = static_cast<uint8_t>(kite_id >> (24 - 8 * i));
  }
  h[12] = client_port >> 8;
  h[13] = client_port & 0xff;
  uint8_t fam;
  Addr16(client, h.data() + 16, &fam);
  h[14] = fam;
  h[15] = key_epoch;
  uint8_t k[16];
  std::memcpy(k, key, 16);  // k0 then k1, little-endian
  if (sodium_init() < 0) std::abort();
  if (fam == KP_AF_INET) {  // 12-byte input: bytes [8, 16) || the IPv4 address
    uint8_t in[12];
    std::memcpy(in, h.data() + 8, 8);
    std::memcpy(in + 8, h.data() + 28, 4);
    crypto_shorthash_siphash24(h.data() + 32, in, sizeof(in), k);
  } else {
    crypto_shorthash_siphash24(h.data() + 32, h.data() + 8, 24, k);
  }
  return h;
}

World::World(uint32_t n_workers, uint32_t max_kites) {
  tables = Tables::Create({.max_kites = max_kites, .max_sessions = 1024, .n_workers = n_workers});
  config = {};
  config.state = KP_FE_SERVING;
  config.key_epoch = 7;
  config.gateway_mac_valid = 1;
  const uint8_t gw[6] = {0x02, 0, 0, 0, 0, 0xfe}, own[6] = {0x02, 0, 0, 0, 0, 0x01};
  std::memcpy(config.gateway_mac, gw, 6);
  std::memcpy(config.own_mac, own, 6);
  config.n_workers = static_cast<uint8_t>(n_workers);
  config.cookie_keys[0][0] = 0x0706050403020100ull;
  config.cookie_keys[0][1] = 0x0f0e0d0c0b0a0908ull;
  config.cookie_keys[1][0] = 0x1716151413121110ull;
  config.cookie_keys[1][1] = 0x1f1e1d1c1b1a1918ull;
  config.n_tunnel_ports = 1;
  config.tunnel_ports[0] = htons(7000);
  config.n_own4 = 1;
  inet_pton(AF_INET, "198.51.100.1", config.own4[0]);
  config.n_own6 = 1;
  inet_pton(AF_INET6, "2001:db8:f::1", config.own6[0]);
  config.n_bogons = 1;
  Addr16("10.0.0.0", config.bogons[0].addr);
  config.bogons[0].len = 96 + 8;
  session = {};
  session.session_id = kSession;
  session.state = KP_SESSION_LIVE;
  Addr16("203.0.113.7", session.connector_addr, &session.family);
  session.connector_port = htons(40000);
  Addr16("198.51.100.1", session.local_addr);
  session.local_port = htons(7000);
  session.mtu = 1500;
  kite1 = {};
  kite1.kite_id = 1;
  Addr16("198.51.100.10", kite1.key.addr, &kite1.key.family);
  kite1.key.port = htons(5000);
  kite1.state = KP_KITE_LIVE;
  kite1.n_sessions = 1;
  kite1.sessions[0] = kSession;
  kite2 = kite1;
  kite2.kite_id = 2;
  Addr16("2001:db8:f::10", kite2.key.addr, &kite2.key.family);
  ApplyConfig();
  tables->UpsertSession(session);
  tables->UpsertKite(kite1);
  tables->UpsertKite(kite2);
  InitWorkerContext(ctx, *tables, 0);
}

void World::ApplyConfig() { tables->SetConfig(config); }

std::vector<uint8_t> World::ClientFrame(bool v6, size_t payload) {
  UdpSpec s;
  if (v6) {
    s.src = "2001:db8:1::1";
    s.dst = "2001:db8:f::10";
  }
  s.payload.resize(payload);
  for (size_t i = 0; i < payload; ++i) s.payload[i] = static_cast<uint8_t>(i * 7 + 1);
  return BuildUdp(s);
}

std::vector<uint8_t> World::ConnectorFrame(bool v6_client, size_t payload) {
  UdpSpec s;
  s.src = "203.0.113.7";
  s.dst = "198.51.100.1";
  s.sport = 40000;
  s.dport = 7000;
  uint8_t epoch = config.key_epoch;
  s.payload = DataHeader(kSession, v6_client ? 2 : 1, v6_client ? "2001:db8:1::1" : "192.0.2.1", 40000, epoch,
                         reinterpret_cast<const uint64_t*>(config.cookie_keys[epoch & 1]));
  for (size_t i = 0; i < payload; ++i) s.payload.push_back(static_cast<uint8_t>(i * 3 + 5));
  return BuildUdp(s);
}

Outcome World::Run(std::vector<uint8_t>& frame, uint64_t now, uint32_t headroom) {
  std::vector<uint8_t> buf(headroom + frame.size());
  std::copy(frame.begin(), frame.end(), buf.begin() + headroom);
  PacketBuf pkt{buf.data(), static_cast<uint32_t>(buf.size()), headroom, static_cast<uint32_t>(frame.size())};
  Outcome out{};
  ProcessBurst(ctx, {&pkt, 1}, {&out, 1}, now);
  if (out.verdict == Verdict::kTx) frame.assign(pkt.data(), pkt.data() + pkt.len);
  return out;
}

kp_ctl_global_counters World::Counters() const {
  kp_ctl_global_counters g;
  tables->GlobalCounters(&g);
  return g;
}

}  // namespace kp::fp::testing
