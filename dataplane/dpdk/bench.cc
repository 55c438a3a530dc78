// bench.cc - tables and frame templates of the benchmark mode (see bench.h).
#include "dataplane/dpdk/bench.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>

#include <pcap/pcap.h>

#include "absl/strings/str_cat.h"
#include "byteorder.h"

extern "C" {
#include "kp_wire.h"
}
#include "checksum.h"
#include "encap.h"

namespace kp::dpdk {
namespace {

constexpr uint8_t kOwn4[4] = {198, 51, 100, 1};
constexpr uint8_t kConnector4[4] = {203, 0, 113, 7};
constexpr uint8_t kClient4[4] = {203, 0, 113, 99};
constexpr uint16_t kTunnelPort = 7000, kConnectorPort = 40000, kClientPort = 12345;
constexpr uint32_t kSessionId = (1u << KP_SESSION_INDEX_BITS) | 1u;
constexpr uint64_t kKeys[2][2] = {{0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull},
                                  {0x1716151413121110ull, 0x1f1e1d1c1b1a1918ull}};
constexpr uint8_t kEpoch = 1;
constexpr uint32_t kPayload = 18;

// Kite i's public address (100.64.0.0 + i / 50000) and port (10000 + i % 50000).
void KiteAddr(uint32_t i, uint8_t a4[4], uint16_t* port) {
  const uint32_t a = (100u << 24 | 64u << 16) + i / 50000;
  fp::StoreBe32(a4, a);
  *port = static_cast<uint16_t>(10000 + i % 50000);
}

void Mapped(const uint8_t a4[4], uint8_t out[16]) {
  std::memset(out, 0, 16);
  out[10] = out[11] = 0xff;
  std::memcpy(out + 12, a4, 4);
}

// Ethernet + IPv4 + UDP (checksum 0) around `payload`.
std::vector<uint8_t> Udp4Frame(const uint8_t dmac[6], const uint8_t src[4], const uint8_t dst[4],
                               uint16_t sport, uint16_t dport, const uint8_t* payload,
                               uint32_t plen) {
  std::vector<uint8_t> f(14 + 20 + 8 + plen);
  uint8_t* p = f.data();
  std::memcpy(p, dmac, 6);
  const uint8_t smac[6] = {0x02, 0, 0, 0, 0, 0xaa};
  std::memcpy(p + 6, smac, 6);
  fp::StoreBe16(p + 12, 0x0800);
  uint8_t* ip = p + 14;
  ip[0] = 0x45;
  fp::StoreBe16(ip + 2, static_cast<uint16_t>(20 + 8 + plen));
  fp::StoreBe16(ip + 6, 0x4000);
  ip[8] = 64;
  ip[9] = 17;
  std::memcpy(ip + 12, src, 4);
  std::memcpy(ip + 16, dst, 4);
  fp::StoreRaw<uint16_t>(ip + 10, fp::CsumFinish(fp::CsumAdd(0, ip, 20)));
  uint8_t* udp = ip + 20;
  fp::StoreBe16(udp, sport);
  fp::StoreBe16(udp + 2, dport);
  fp::StoreBe16(udp + 4, static_cast<uint16_t>(8 + plen));
  if (plen != 0) std::memcpy(udp + 8, payload, plen);
  return f;
}

std::vector<uint8_t> DecapTemplate(const uint8_t dmac[6], uint32_t kite_id) {
  uint8_t d[40 + kPayload] = {};
  d[0] = KP_MAGIC;
  d[1] = KP_PROTO_VERSION;
  d[2] = KP_MSG_DATA;
  fp::StoreBe32(d + 4, kSessionId);
  fp::StoreBe32(d + 8, kite_id);
  fp::StoreBe16(d + 12, kClientPort);
  d[14] = KP_AF_INET;
  d[15] = kEpoch;
  Mapped(kClient4, d + 16);
  fp::StoreLe64(d + 32, fp::CookieOfWords(kKeys[kEpoch & 1][0], kKeys[kEpoch & 1][1], fp::LoadLe64(d + 8), fp::LoadLe64(d + 16),
                                          fp::LoadLe64(d + 24)));
  return Udp4Frame(dmac, kConnector4, kOwn4, kConnectorPort, kTunnelPort, d, sizeof(d));
}

}  // namespace

absl::Status SetUpBench(DpdkBackend* backend, const AppOptions& opts, const uint8_t port_mac[6],
                        BenchFrames* out) {
  kp_config c{};
  c.generation = 2;
  c.key_epoch = kEpoch;
  c.gateway_mac_valid = 1;
  const uint8_t gw[6] = {0x02, 0, 0, 0, 0, 0xfe};
  std::memcpy(c.gateway_mac, gw, 6);
  std::memcpy(c.own_mac, port_mac, 6);
  std::memcpy(c.cookie_keys, kKeys, sizeof(kKeys));
  c.tunnel_ports[0] = fp::Bswap16(kTunnelPort);
  c.n_tunnel_ports = 1;
  std::memcpy(c.own4[0], kOwn4, 4);
  c.n_own4 = 1;
  absl::Status st = backend->SetConfig(c);
  if (!st.ok()) return st;
  kp_session s{};
  s.session_id = kSessionId;
  s.state = KP_SESSION_LIVE;
  s.family = KP_AF_INET;
  s.connector_port = fp::Bswap16(kConnectorPort);
  Mapped(kConnector4, s.connector_addr);
  Mapped(kOwn4, s.local_addr);
  s.local_port = fp::Bswap16(kTunnelPort);
  s.mtu = 1500;
  st = backend->UpsertSessions({&s, 1});
  if (!st.ok()) return st;
  const uint32_t n = std::min(opts.bench_kites, backend->MaxKites() - 1);
  std::vector<kp_kite> batch;
  for (uint32_t id = 1; id <= n; id++) {
    kp_kite k{};
    uint8_t a4[4];
    uint16_t port;
    KiteAddr(id, a4, &port);
    Mapped(a4, k.key.addr);
    k.key.port = fp::Bswap16(port);
    k.key.family = KP_AF_INET;
    k.kite_id = id;
    k.state = KP_KITE_LIVE;
    k.n_sessions = 1;
    k.sessions[0] = kSessionId;
    batch.push_back(k);
    if (batch.size() == 1000 || id == n) {
      st = backend->UpsertKites(batch);
      if (!st.ok()) return st;
      batch.clear();
    }
  }
  // Templates: up to 65,536 distinct kites drawn at random from 1..n, in
  // random order (fixed seed).  The worker reads the templates in sequence,
  // as a NIC fills a ring, but the kites they name follow no pattern, so no
  // hardware prefetcher can guess the next kite's lines (evenly spaced ids,
  // as before 2026-11-22, gave the stride prefetcher a constant step through
  // the kite, police and counter arrays).
  const uint32_t t = std::min<uint32_t>(n, 65536);
  std::vector<uint32_t> ids(n);
  std::iota(ids.begin(), ids.end(), 1u);
  std::mt19937 rng(20261122);
  for (uint32_t i = 0; i < t; i++) {  // the first t of a Fisher-Yates shuffle
    std::uniform_int_distribution<uint32_t> pick(i, n - 1);
    std::swap(ids[i], ids[pick(rng)]);
  }
  const uint8_t payload[kPayload] = {'k', 'i', 't', 'e', 'p', 'l', 'a', 'n', 'e'};
  for (uint32_t i = 0; i < t; i++) {
    const uint32_t id = ids[i];
    uint8_t a4[4];
    uint16_t port;
    KiteAddr(id, a4, &port);
    out->frames.push_back(opts.bench_setup == "decap"
                              ? DecapTemplate(port_mac, id)
                              : Udp4Frame(port_mac, kClient4, a4, kClientPort, port, payload,
                                          kPayload));
  }
  for (const auto& f : out->frames) {
    out->ptrs.push_back(f.data());
    out->lens.push_back(static_cast<uint16_t>(f.size()));
  }
  return absl::OkStatus();
}

absl::Status WriteBenchPcap(const BenchFrames& frames, const std::string& path) {
  std::unique_ptr<pcap_t, decltype(&pcap_close)> dead(pcap_open_dead(DLT_EN10MB, 65535), &pcap_close);
  if (!dead) return absl::ResourceExhaustedError("pcap_open_dead failed");
  pcap_dumper_t* d = pcap_dump_open(dead.get(), path.c_str());
  if (d == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bench-write-pcap ", path, ": ", pcap_geterr(dead.get())));
  }
  for (const auto& f : frames.frames) {
    pcap_pkthdr h{};
    h.caplen = h.len = static_cast<bpf_u_int32>(f.size());
    pcap_dump(reinterpret_cast<u_char*>(d), &h, f.data());
  }
  const bool ok = pcap_dump_flush(d) == 0;
  pcap_dump_close(d);
  if (!ok) return absl::DataLossError(absl::StrCat("--bench-write-pcap ", path, ": write failed"));
  return absl::OkStatus();
}

}  // namespace kp::dpdk
