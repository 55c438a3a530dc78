// fastpath_bench.cc - Google Benchmark of the fast-path core: each stage on
// its own, then the whole ProcessBurst in both directions (client ->
// connector encap including the cookie; connector -> client decap including
// the cookie check), with 1 kite and with 1,000,000 kites (a random kite per
// packet, so hash slot, kite entry and per-core state miss the cache).
// Counters: "ns_pkt" (time per packet) and "Mpps".  Whole-burst figures
// include restoring each input frame (a ~60-100 byte memcpy, measured alone
// by BM_RestoreOnly) because the pipeline rewrites frames in place.
// Run: build/tests/bench/fastpath_bench --benchmark_repetitions=5
//        --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "backend_pick.h"
#include "checksum.h"
#include "classify.h"
#include "encap.h"
#include "parse.h"
#include "pipeline.h"
#include "police.h"
#include "siphash.h"
#include "tables.h"

namespace kp::fp {
namespace {

constexpr uint32_t kBurst = 32;
constexpr uint32_t kHeadroom = 128;
constexpr uint32_t kSession = (1u << 17) | 1u;
constexpr uint64_t kNow = 5'000'000'000ull;

void SetRates(benchmark::State& state, uint64_t pkts) {
  state.counters["ns_pkt"] =
      benchmark::Counter(static_cast<double>(pkts) / 1e9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["Mpps"] = benchmark::Counter(static_cast<double>(pkts) / 1e6, benchmark::Counter::kIsRate);
}

void V4(uint8_t out[16], uint32_t a) {
  std::memset(out, 0, 16);
  out[10] = out[11] = 0xff;
  StoreBe32(out + 12, a);
}

kp_config Config() {
  kp_config c{};
  c.state = KP_FE_SERVING;
  c.key_epoch = 7;
  c.gateway_mac_valid = 1;
  c.gateway_mac[5] = 0xfe;
  c.own_mac[5] = 1;
  c.n_workers = 1;
  c.cookie_keys[1][0] = 0x1716151413121110ull;
  c.cookie_keys[1][1] = 0x1f1e1d1c1b1a1918ull;
  c.n_tunnel_ports = 1;
  c.tunnel_ports[0] = Bswap16(7000);
  c.n_own4 = 1;
  StoreBe32(c.own4[0], 0xc6336401);  // 198.51.100.1
  c.n_bogons = 2;
  V4(c.bogons[0].addr, 0x0a000000);
  c.bogons[0].len = 104;
  V4(c.bogons[1].addr, 0xc0000280);
  c.bogons[1].len = 121;
  return c;
}

uint32_t KiteAddr(uint32_t id) { return 0x64400000u + id; }  // 100.64.0.0 + id

// Ethernet + IPv4 + UDP with valid checksums.
std::vector<uint8_t> Udp4(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, const uint8_t* pl, size_t n) {
  std::vector<uint8_t> f(42 + n);
  uint8_t* p = f.data();
  p[5] = 1;
  p[11] = 0xaa;
  StoreBe16(p + 12, 0x0800);
  uint8_t* ip = p + 14;
  ip[0] = 0x45;
  StoreBe16(ip + 2, static_cast<uint16_t>(28 + n));
  ip[8] = 64;
  ip[9] = 17;
  StoreBe32(ip + 12, src);
  StoreBe32(ip + 16, dst);
  StoreRaw<uint16_t>(ip + 10, CsumFinish(CsumAdd(0, ip, 20)));
  uint8_t* udp = ip + 20;
  StoreBe16(udp, sport);
  StoreBe16(udp + 2, dport);
  StoreBe16(udp + 4, static_cast<uint16_t>(8 + n));
  std::memcpy(udp + 8, pl, n);
  StoreRaw<uint16_t>(udp + 6, UdpFinish(UdpPseudo4(ip + 12, ip + 16, static_cast<uint32_t>(8 + n)) + CsumAdd(0, udp, 8 + n)));
  return f;
}

struct Bench {
  std::unique_ptr<Tables> tables;
  WorkerContext ctx;
  uint32_t n_kites;

  explicit Bench(uint32_t kites) : n_kites(kites) {
    tables = Tables::Create({.max_kites = KP_MAX_KITES, .max_sessions = 1024, .n_workers = 1});
    tables->SetConfig(Config());
    for (uint32_t s = 1; s <= 4; ++s) {
      kp_session ss{};
      ss.session_id = (1u << 17) | s;
      ss.state = KP_SESSION_LIVE;
      ss.family = KP_AF_INET;
      V4(ss.connector_addr, 0xcb007100 + s);  // 203.0.113.s
      V4(ss.local_addr, 0xc6336401);
      ss.connector_port = Bswap16(40000);
      ss.local_port = Bswap16(7000);
      ss.mtu = 1500;
      tables->UpsertSession(ss);
    }
    std::vector<kp_kite> batch;
    for (uint32_t id = 1; id <= kites; ++id) {
      kp_kite k{};
      k.kite_id = id;
      V4(k.key.addr, KiteAddr(id));
      k.key.port = Bswap16(5000);
      k.key.family = KP_AF_INET;
      k.state = KP_KITE_LIVE;
      k.n_sessions = 1;
      k.sessions[0] = kSession;
      batch.push_back(k);
      if (batch.size() == 4096 || id == kites) {
        tables->UpsertKites(batch);
        batch.clear();
      }
    }
    InitWorkerContext(ctx, *tables, 0);
  }

  std::vector<uint8_t> ClientFrame(uint32_t kite, uint32_t client, size_t payload = 18) {
    std::vector<uint8_t> pl(payload, 0x5a);
    return Udp4(0xc6120000 + client, KiteAddr(kite), 40000, 5000, pl.data(), pl.size());  // 198.18.x.x clients
  }

  std::vector<uint8_t> ConnectorFrame(uint32_t kite, uint32_t client, size_t payload = 18) {
    std::vector<uint8_t> pl(40 + payload, 0x5a);
    uint8_t* h = pl.data();
    h[0] = KP_MAGIC;
    h[1] = KP_PROTO_VERSION;
    h[2] = KP_MSG_DATA;
    h[3] = 0;
    StoreBe32(h + 4, kSession);
    StoreBe32(h + 8, kite);
    StoreBe16(h + 12, 40000);
    h[14] = KP_AF_INET;
    h[15] = 7;
    V4(h + 16, 0xc6120000 + client);
    StoreLe64(h + 32, FlowCookie(ctx.config, h));
    return Udp4(0xcb007101, 0xc6336401, 40000, 7000, pl.data(), pl.size());
  }
};

// A ring of input frames restored into fixed buffers before each burst.
struct Frames {
  std::vector<std::vector<uint8_t>> templates;
  std::vector<std::vector<uint8_t>> bufs;
  std::vector<PacketBuf> pkts;
  size_t next = 0;

  void Init() {
    bufs.assign(kBurst, std::vector<uint8_t>(kHeadroom + 2048));
    pkts.resize(kBurst);
  }
  void Restore() {
    for (uint32_t i = 0; i < kBurst; ++i) {
      const auto& t = templates[next];
      next = next + 1 == templates.size() ? 0 : next + 1;
      std::memcpy(bufs[i].data() + kHeadroom, t.data(), t.size());
      pkts[i] = {bufs[i].data(), static_cast<uint32_t>(bufs[i].size()), kHeadroom, static_cast<uint32_t>(t.size())};
    }
  }
};

Bench& Get(uint32_t kites) {
  static std::unique_ptr<Bench> one, big;
  auto& b = kites == 1 ? one : big;
  if (!b) b = std::make_unique<Bench>(kites);
  return *b;
}

Frames MakeFrames(Bench& b, bool decap, size_t count, size_t payload = 18) {
  Frames f;
  std::mt19937 rng(42);
  for (size_t i = 0; i < count; ++i) {
    uint32_t kite = b.n_kites == 1 ? 1 : 1 + rng() % b.n_kites;
    uint32_t client = 1 + rng() % 60000;
    f.templates.push_back(decap ? b.ConnectorFrame(kite, client, payload)
                                : b.ClientFrame(kite, client, payload));
  }
  f.Init();
  return f;
}

void BM_ProcessBurst(benchmark::State& state, bool decap) {
  Bench& b = Get(static_cast<uint32_t>(state.range(0)));
  size_t payload = state.range(1);
  Frames f = MakeFrames(b, decap, b.n_kites == 1 ? 64 : 8192, payload);
  Outcome outs[kBurst];
  uint64_t pkts = 0;
  for (auto _ : state) {
    f.Restore();
    uint32_t tx = ProcessBurst(b.ctx, f.pkts, outs, kNow);
    benchmark::DoNotOptimize(tx);
    if (tx != kBurst) state.SkipWithError("not every frame was forwarded");
    pkts += kBurst;
  }
  SetRates(state, pkts);
}
void BM_Encap(benchmark::State& s) { BM_ProcessBurst(s, false); }
void BM_Decap(benchmark::State& s) { BM_ProcessBurst(s, true); }
// Args: kites, client payload bytes (18: a 60-byte client frame; 1380: the
// largest that still fits a 1500-byte MTU once encapsulated).
BENCHMARK(BM_Encap)
    ->Name("ProcessBurst/encap/kites_payload")
    ->Args({1, 18})
    ->Args({1000000, 18})
    ->Args({1, 1380});
BENCHMARK(BM_Decap)
    ->Name("ProcessBurst/decap/kites_payload")
    ->Args({1, 18})
    ->Args({1000000, 18})
    ->Args({1, 1380});

void BM_RestoreOnly(benchmark::State& state) {
  Bench& b = Get(1);
  Frames f = MakeFrames(b, state.range(0) != 0, 64, state.range(1));
  for (auto _ : state) {
    f.Restore();
    benchmark::DoNotOptimize(f.pkts.data());
  }
  SetRates(state, state.iterations() * kBurst);
}
BENCHMARK(BM_RestoreOnly)
    ->Name("RestoreOnly/decap_payload")
    ->Args({0, 18})
    ->Args({1, 18})
    ->Args({0, 1380})
    ->Args({1, 1380});

// ---- stages -------------------------------------------------------------

void BM_Parse(benchmark::State& state) {
  Bench& b = Get(1);
  auto frame = state.range(0) ? b.ConnectorFrame(1, 1) : b.ClientFrame(1, 1);
  Parsed p;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Parse(frame.data(), static_cast<uint32_t>(frame.size()), &p));
    benchmark::ClobberMemory();
  }
  SetRates(state, state.iterations());
}
BENCHMARK(BM_Parse)->Name("Stage/parse/tunnel")->Arg(0)->Arg(1);

void BM_Classify(benchmark::State& state) {
  Bench& b = Get(1);
  auto frame = b.ClientFrame(1, 1);
  Parsed p{};
  Parse(frame.data(), static_cast<uint32_t>(frame.size()), &p);
  for (auto _ : state) {
    benchmark::DoNotOptimize(IsTunnelFrame(b.ctx.config, b.ctx.addrs, p));
    kp_kite_key k = KiteKeyOf(p);
    benchmark::DoNotOptimize(Tables::HashKey(k));
    benchmark::DoNotOptimize(b.ctx.addrs.IsBogon(p.src));
  }
  SetRates(state, state.iterations());
}
BENCHMARK(BM_Classify)->Name("Stage/classify+bogon");

void BM_Lookup(benchmark::State& state) {
  Bench& b = Get(static_cast<uint32_t>(state.range(0)));
  std::vector<kp_kite_key> keys(8192);
  std::mt19937 rng(7);
  for (auto& k : keys) {
    k = {};
    V4(k.addr, KiteAddr(b.n_kites == 1 ? 1 : 1 + rng() % b.n_kites));
    k.port = Bswap16(5000);
    k.family = KP_AF_INET;
  }
  size_t i = 0;
  kp_kite kite;
  for (auto _ : state) {
    const kp_kite_key& k = keys[i++ & 8191];
    uint32_t id = b.tables->LookupKite(k, Tables::HashKey(k));
    benchmark::DoNotOptimize(b.tables->ReadKite(id, &kite));
  }
  SetRates(state, state.iterations());
}
BENCHMARK(BM_Lookup)->Name("Stage/kite_lookup+read/kites")->Arg(1)->Arg(1000000);

// The cookie stages hash under a key prepared once, as a worker does when
// it refreshes its config (PrepareCookieKeys).
void BM_Cookie(benchmark::State& state) {
  uint8_t in[24] = {1, 2, 3};
  SipHashKey key = PrepareSipHashKey(1, 2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(in);
    benchmark::DoNotOptimize(key);
    benchmark::DoNotOptimize(SipHash24Words3(key, LoadLe64(in), LoadLe64(in + 8), LoadLe64(in + 16)));
  }
  SetRates(state, state.iterations());
}
BENCHMARK(BM_Cookie)->Name("Stage/siphash_cookie_24B");

void BM_Cookie4(benchmark::State& state) {  // an IPv4 client's cookie: 12 bytes
  uint64_t w = 0x0004000100000001ull;
  uint32_t addr = 0x010200c0u;
  SipHashKey key = PrepareSipHashKey(1, 2);
  for (auto _ : state) {
    benchmark::DoNotOptimize(w);
    benchmark::DoNotOptimize(addr);
    benchmark::DoNotOptimize(key);
    benchmark::DoNotOptimize(SipHash24Words12(key, w, addr));
  }
  SetRates(state, state.iterations());
}
BENCHMARK(BM_Cookie4)->Name("Stage/siphash_cookie_12B");

void BM_Checksum(benchmark::State& state) {
  std::vector<uint8_t> buf(static_cast<size_t>(state.range(0)), 0x33);
  for (auto _ : state) {
    benchmark::DoNotOptimize(buf.data());
    benchmark::DoNotOptimize(CsumFold(CsumAdd(0, buf.data(), buf.size())));
  }
  SetRates(state, state.iterations());
}
BENCHMARK(BM_Checksum)->Name("Stage/checksum/bytes")->Arg(20)->Arg(64)->Arg(1400);

void BM_Police(benchmark::State& state) {
  kp_kite k{};
  k.rate_pps = state.range(0) ? 100'000'000 : 0;
  k.rate_kbps = state.range(0) ? 100'000'000 : 0;
  kp_kite_police p{};
  kp_kite_credit c{~0ull};
  uint64_t now = kNow;
  for (auto _ : state) {
    now += 100;
    benchmark::DoNotOptimize(QuotaAllows(k, p, c));
    benchmark::DoNotOptimize(PoliceRate(k, 1, p, 18, now));
  }
  SetRates(state, state.iterations());
}
BENCHMARK(BM_Police)->Name("Stage/quota+rate/rated")->Arg(0)->Arg(1);

void BM_BackendPick(benchmark::State& state) {
  Bench& b = Get(1);
  kp_kite k{};
  k.n_sessions = static_cast<uint8_t>(state.range(0));
  for (uint32_t i = 0; i < k.n_sessions; ++i) k.sessions[i] = (1u << 17) | (i + 1);
  uint8_t client[16];
  V4(client, 0xc6120001);
  kp_session s;
  auto live = [&b](uint32_t id, kp_session* out) {
    return b.tables->ReadSession(id, out) && out->state == KP_SESSION_LIVE;
  };
  for (auto _ : state) {
    client[15]++;
    benchmark::DoNotOptimize(PickSession(k, client, live, &s));
  }
  SetRates(state, state.iterations());
}
BENCHMARK(BM_BackendPick)->Name("Stage/backend_pick/sessions")->Arg(1)->Arg(4);

void BM_EncapWrite(benchmark::State& state) {
  Bench& b = Get(1);
  bool decap = state.range(0) != 0;
  auto frame = decap ? b.ConnectorFrame(1, 1) : b.ClientFrame(1, 1);
  std::vector<uint8_t> buf(kHeadroom + frame.size());
  Parsed p{};
  Parse(frame.data(), static_cast<uint32_t>(frame.size()), &p);
  kp_session s{};
  b.tables->ReadSession(kSession, &s);
  kp_kite kite{};
  b.tables->ReadKite(1, &kite);
  L2Head l2 = MakeL2Head(0xfe0000000002ull, 0x010000000002ull, false, 0);  // 02:00:00:00:00:fe, ..:01
  DataFields f;
  ReadDataFields(frame.data() + p.payload_off, &f);
  for (auto _ : state) {
    // Only the head is rewritten; restoring it keeps the input valid.
    std::memcpy(buf.data() + kHeadroom, frame.data(), p.payload_off + (decap ? 40 : 0));
    PacketBuf pkt{buf.data(), static_cast<uint32_t>(buf.size()), kHeadroom, static_cast<uint32_t>(frame.size())};
    if (decap) DecapToClient(pkt, p, f, kite, l2);
    else EncapToConnector(pkt, p, s, b.ctx.cookie_keys.k[b.ctx.config.key_epoch & 1], b.ctx.config.key_epoch, 1, l2);
    benchmark::DoNotOptimize(pkt);
  }
  SetRates(state, state.iterations());
}
BENCHMARK(BM_EncapWrite)->Name("Stage/write_headers/decap")->Arg(0)->Arg(1);

}  // namespace
}  // namespace kp::fp

BENCHMARK_MAIN();
