// pipeline.cc - ProcessBurst: the chain of stages over a burst (see
// pipeline.h).  Three passes per sub-burst: (1) parse and classify, hash the
// kite key and prefetch its hash slot or the tunnel frame's session; (2)
// look up kite ids and prefetch kite entries and this core's per-kite
// state; (3) run the kite or tunnel path of docs/forwarding.md in its exact
// order and account.  Nothing here allocates, locks or makes a syscall.
#include "pipeline.h"

#include <cstddef>
#include <cstring>

#include "backend_pick.h"
#include "byteorder.h"
#include "classify.h"
#include "encap.h"
#include "parse.h"
#include "police.h"

namespace kp::fp {
namespace {

enum class Kind : uint8_t { kDone, kKite, kTunnel };

struct Work {
  Parsed p;
  Kind kind;
  uint32_t kite_id;
  uint64_t hash;
  kp_kite_key key;
};

// Drops and exceptions are out of line and cold: GCC then lays the forwarding
// path out as the fall-through and keeps their counter updates out of it
// (callgrind: 1,069 -> 1,056 instructions per encapsulated packet).
[[gnu::cold, gnu::noinline]] void Drop(WorkerContext& ctx, Outcome& out, kp_drop_reason r, uint32_t kite_id) {
  Bump(ctx.ctrs->ctr[KP_CTR_DROP_PKTS]);
  Bump(ctx.ctrs->drops[r]);
  if (kite_id != 0) Bump(ctx.kite_ctrs[kite_id].v[KiteDropCounter(r)]);
  out = {Verdict::kDrop, r, kite_id};
}

[[gnu::cold, gnu::noinline]] void ToKernel(WorkerContext& ctx, Outcome& out, kp_counter_id extra) {
  Bump(ctx.ctrs->ctr[KP_CTR_EXCEPTION_PKTS]);
  if (extra != KP_CTR_MAX) Bump(ctx.ctrs->ctr[extra]);
  out = {Verdict::kException, KP_DROP_NONE, 0};
}

void Transmit(WorkerContext& ctx, Outcome& out, const PacketBuf& pkt, uint32_t kite_id) {
  ++ctx.tally.tx_pkts;
  ctx.tally.tx_bytes += pkt.len;
  out = {Verdict::kTx, KP_DROP_NONE, kite_id};
}

// Section 6.  `s` is the session toward a connector, nullptr toward a client.
// The session copy was written in 8-byte words, so its next-hop MAC (bytes
// 44..49) is put together from the two words it straddles.
bool ResolveL2(const WorkerContext& ctx, const uint8_t* frame, const Parsed& p, const kp_session* s, L2Head* l2) {
  static_assert(offsetof(kp_session, nexthop_mac) == 44);
  uint64_t dst;
  if (s != nullptr && (s->flags & KP_SESSION_F_NEXTHOP)) {
    const auto* b = reinterpret_cast<const uint8_t*>(s);
    dst = LoadRaw<uint64_t>(b + 40) >> 32 | (LoadRaw<uint64_t>(b + 48) & 0xffff) << 32;
  } else if (ctx.config.gateway_mac_valid == 1) {
    dst = ctx.gateway_mac;
  } else if (ctx.config.gateway_mac_valid == 2) {
    dst = LoadRaw<uint64_t>(frame + 6) & kMac48Mask;
  } else {
    return false;
  }
  uint64_t src = ctx.own_mac == 0 ? LoadRaw<uint64_t>(frame) & kMac48Mask : ctx.own_mac;
  *l2 = MakeL2Head(dst, src, p.has_vlan, p.has_vlan ? LoadRaw<uint16_t>(p.vlan_tci) : 0);
  return true;
}

// Section 3 steps 1 to 9.
void HandleKite(WorkerContext& ctx, PacketBuf& pkt, Work& w, Outcome& out, uint64_t now_ns) {
  const kp_config& cfg = ctx.config;
  const Tables& t = *ctx.tables;
  kp_kite kite;
  if (!t.ReadKite(w.kite_id, &kite) || !KiteKeyEqual(kite.key, w.key)) {
    ToKernel(ctx, out, KP_CTR_MAX);  // deleted or moved under us: not a kite datagram any more
    return;
  }
  const Parsed& p = w.p;
  if (ctx.addrs.IsBogon(p.src)) return Drop(ctx, out, KP_DROP_BOGON_SOURCE, 0);
  if (cfg.state == KP_FE_CLOSED) return Drop(ctx, out, KP_DROP_LAME_DUCK_CLOSED, 0);
  const uint32_t id = w.kite_id;
  if (kite.state != KP_KITE_LIVE) return Drop(ctx, out, KP_DROP_KITE_DISABLED, id);
  kp_session sess;
  auto live = [&t](uint32_t sid, kp_session* s) { return t.ReadSession(sid, s) && s->state == KP_SESSION_LIVE; };
  if (PickSession(kite, p.src, live, &sess) == 0) return Drop(ctx, out, KP_DROP_KITE_NO_SESSION, id);
  kp_kite_police& police = ctx.police[id];
  if (!QuotaAllows(kite, police, ctx.credit[id])) return Drop(ctx, out, KP_DROP_QUOTA_EXHAUSTED, id);
  kp_drop_reason r = PoliceRate(kite, cfg.n_workers, police, p.payload_len, now_ns);
  if (r == KP_DROP_NONE) r = EncapCheck(pkt, p, sess);
  if (r != KP_DROP_NONE) return Drop(ctx, out, r, id);
  L2Head l2;
  if (!ResolveL2(ctx, pkt.data(), p, &sess, &l2)) return Drop(ctx, out, KP_DROP_NO_NEXTHOP, id);
  EncapToConnector(pkt, p, sess, ctx.cookie_keys.k[cfg.key_epoch & 1], cfg.key_epoch, id, l2);
  AccountBytes(police, p.payload_len);
  Bump(ctx.kite_ctrs[id].v[KP_KCTR_RX_PKTS]);
  Bump(ctx.kite_ctrs[id].v[KP_KCTR_RX_BYTES], p.payload_len);
  ++ctx.tally.encap_pkts;
  Transmit(ctx, out, pkt, id);
}

bool KiteServedBy(const kp_kite& kite, uint32_t session_id) {
  uint32_t n = kite.n_sessions < KP_MAX_KITE_SESSIONS ? kite.n_sessions : KP_MAX_KITE_SESSIONS;
  // The first slot before the loop: the common kite has one session.
  if (kite.sessions[0] == session_id) return n != 0;
  for (uint32_t i = 1; i < n; ++i)
    if (kite.sessions[i] == session_id) return true;
  return false;
}

// Section 4 steps 2 to 7 (everything before the kite's own policing).
// Returns KP_DROP_NONE with *kite filled when the frame may proceed.
kp_drop_reason CheckTunnel(const WorkerContext& ctx, const Parsed& p, const uint8_t* hdr, const DataFields& f,
                           kp_kite* kite, uint32_t* kite_for_counters) {
  const kp_config& cfg = ctx.config;
  const Tables& t = *ctx.tables;
  kp_session s;
  if (!t.ReadSession(f.session_id, &s) || s.state != KP_SESSION_LIVE) return KP_DROP_TUN_UNKNOWN_SESSION;
  // The address compared as two 8-byte words, the width the session copy
  // and p.src were written in, instead of through memcmp.
  uint64_t addr_diff = (LoadRaw<uint64_t>(s.connector_addr) ^ LoadRaw<uint64_t>(p.src)) |
                       (LoadRaw<uint64_t>(s.connector_addr + 8) ^ LoadRaw<uint64_t>(p.src + 8));
  if (s.family != p.family || s.connector_port != p.sport_be || addr_diff != 0) return KP_DROP_TUN_WRONG_SOURCE;
  bool family_ok = f.client_family == KP_AF_INET6 || (f.client_family == KP_AF_INET && IsIp4Mapped(f.client_addr));
  if (!family_ok) return KP_DROP_TUN_BAD_FAMILY;
  if (static_cast<uint8_t>(cfg.key_epoch - f.key_epoch) > 1 || FlowCookie(ctx.cookie_keys, hdr) != f.cookie)
    return KP_DROP_TUN_BAD_COOKIE;
  // Until the kite is proven to belong to the session it is not charged.
  if (!t.ReadKite(f.kite_id, kite) || !KiteServedBy(*kite, f.session_id)) return KP_DROP_TUN_KITE_NOT_IN_SESSION;
  *kite_for_counters = f.kite_id;
  if (kite->key.family != f.client_family) return KP_DROP_TUN_BAD_FAMILY;
  if (ctx.addrs.IsBogon(f.client_addr)) return KP_DROP_TUN_BOGON_CLIENT;
  return KP_DROP_NONE;
}

// Section 4.
void HandleTunnel(WorkerContext& ctx, PacketBuf& pkt, Work& w, Outcome& out, uint64_t now_ns) {
  const Parsed& p = w.p;
  const kp_config& cfg = ctx.config;
  const uint8_t* hdr = pkt.data() + p.payload_off;
  if (p.payload_len < sizeof(kp_hdr)) return Drop(ctx, out, KP_DROP_TUN_TRUNCATED, 0);
  if (hdr[0] != KP_MAGIC) return Drop(ctx, out, KP_DROP_TUN_BAD_MAGIC, 0);
  if (hdr[2] != KP_MSG_DATA) return ToKernel(ctx, out, KP_CTR_CONTROL_PKTS);
  if (hdr[1] != KP_PROTO_VERSION) return Drop(ctx, out, KP_DROP_TUN_BAD_VERSION, 0);
  if (p.payload_len < sizeof(kp_data_hdr)) return Drop(ctx, out, KP_DROP_TUN_TRUNCATED, 0);
  DataFields f;
  ReadDataFields(hdr, &f);
  kp_kite kite;
  uint32_t id = 0;
  kp_drop_reason r = CheckTunnel(ctx, p, hdr, f, &kite, &id);
  if (r != KP_DROP_NONE) return Drop(ctx, out, r, id);
  if (cfg.state == KP_FE_CLOSED) return Drop(ctx, out, KP_DROP_LAME_DUCK_CLOSED, id);
  if (kite.state != KP_KITE_LIVE) return Drop(ctx, out, KP_DROP_KITE_DISABLED, id);
  uint32_t payload = p.payload_len - sizeof(kp_data_hdr);
  kp_kite_police& police = ctx.police[id];
  if (!QuotaAllows(kite, police, ctx.credit[id])) return Drop(ctx, out, KP_DROP_QUOTA_EXHAUSTED, id);
  r = PoliceRate(kite, cfg.n_workers, police, payload, now_ns);
  if (r != KP_DROP_NONE) return Drop(ctx, out, r, id);
  L2Head l2;
  if (!ResolveL2(ctx, pkt.data(), p, nullptr, &l2)) return Drop(ctx, out, KP_DROP_NO_NEXTHOP, id);
  DecapToClient(pkt, p, f, kite, l2);
  AccountBytes(police, payload);
  Bump(ctx.kite_ctrs[id].v[KP_KCTR_TX_PKTS]);
  Bump(ctx.kite_ctrs[id].v[KP_KCTR_TX_BYTES], payload);
  ++ctx.tally.decap_pkts;
  Transmit(ctx, out, pkt, id);
}

// Pass 1: parse and classify one frame.
void ParseAndClassify(WorkerContext& ctx, PacketBuf& pkt, Work& w, Outcome& out) {
  ctx.tally.rx_bytes += pkt.len;  // rx_packets: the whole burst, in ProcessBurst
  w.kind = Kind::kDone;
  ParseResult pr = Parse(pkt.data(), pkt.len, &w.p);
  if (pr.status() == ParseStatus::kDrop) return Drop(ctx, out, pr.reason(), 0);
  if (pr.status() == ParseStatus::kException)
    return ToKernel(ctx, out, pr.fragment() ? KP_CTR_FRAGMENT_PKTS : KP_CTR_MAX);
  if (IsTunnelFrame(ctx.config, ctx.addrs, w.p)) {
    w.kind = Kind::kTunnel;
    if (w.p.payload_len >= sizeof(kp_data_hdr)) {
      const uint8_t* hdr = pkt.data() + w.p.payload_off;
      ctx.tables->PrefetchSession(LoadBe32(hdr + 4));
      w.kite_id = LoadBe32(hdr + 8);
    } else {
      w.kite_id = 0;
    }
    return;
  }
  w.kind = Kind::kKite;
  w.key = KiteKeyOf(w.p);
  w.hash = Tables::HashKey(w.key);
  ctx.tables->PrefetchKiteSlot(w.hash);
}

// A core keeps only a couple of dozen cache misses in flight, so pass 2
// prefetches each packet's kite line (the first thing pass 3 reads) and pass
// 3 prefetches the per-core lines a few packets ahead of the one it handles.
// (Measurements before 2026-11-22 that led here were taken while GCC
// silently dropped the kite and session prefetches: see prefetch.h.  With
// them back, looking kites up a fixed distance ahead inside pass 3 instead
// of in a pass of their own was no better.)
inline constexpr uint32_t kPerCoreAhead = 4;

[[gnu::always_inline]] inline void PrefetchKiteEntry(const WorkerContext& ctx, uint32_t id) {
  if (id == 0 || id >= ctx.tables->sizes().max_kites) return;
  ctx.tables->PrefetchKite(id);
}

[[gnu::always_inline]] inline void PrefetchPerCore(const WorkerContext& ctx, uint32_t id) {
  if (id == 0 || id >= ctx.tables->sizes().max_kites) return;
  PrefetchW(&ctx.police[id]);
  PrefetchW(&ctx.kite_ctrs[id]);
  // Credit is read only for quota kites; the kite line was prefetched in pass 2.
  if (ctx.tables->PeekKiteFlags(id) & KP_KITE_F_QUOTA) Prefetch(&ctx.credit[id]);
}

void ProcessSubBurst(WorkerContext& ctx, PacketBuf* pkts, Outcome* outs, uint32_t n, uint64_t now_ns) {
  Work work[kSubBurst];
  for (uint32_t i = 0; i < n; ++i) ParseAndClassify(ctx, pkts[i], work[i], outs[i]);
  for (uint32_t i = 0; i < n; ++i) {
    Work& w = work[i];
    if (w.kind == Kind::kKite) {
      w.kite_id = ctx.tables->LookupKite(w.key, w.hash);
      if (w.kite_id == 0) {
        w.kind = Kind::kDone;
        ToKernel(ctx, outs[i], KP_CTR_MAX);
        continue;
      }
    }
    if (w.kind != Kind::kDone) PrefetchKiteEntry(ctx, w.kite_id);
  }
  for (uint32_t i = 0; i < n && i < kPerCoreAhead; ++i)
    if (work[i].kind != Kind::kDone) PrefetchPerCore(ctx, work[i].kite_id);
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t ahead = i + kPerCoreAhead;
    if (ahead < n && work[ahead].kind != Kind::kDone) PrefetchPerCore(ctx, work[ahead].kite_id);
    if (work[i].kind == Kind::kKite) HandleKite(ctx, pkts[i], work[i], outs[i], now_ns);
    else if (work[i].kind == Kind::kTunnel) HandleTunnel(ctx, pkts[i], work[i], outs[i], now_ns);
  }
}

uint64_t Mac48(const uint8_t* m) {
  uint64_t v = 0;
  std::memcpy(&v, m, 6);
  return v;
}

// Copies the config and rebuilds everything derived from it.
void RefreshConfig(WorkerContext& ctx) {
  ctx.config_seq = ctx.tables->ReadConfig(&ctx.config);
  ctx.addrs.Build(ctx.config);
  ctx.own_mac = Mac48(ctx.config.own_mac);
  ctx.gateway_mac = Mac48(ctx.config.gateway_mac);
  ctx.cookie_keys = PrepareCookieKeys(ctx.config);
  ctx.config_valid = true;
}

}  // namespace

void InitWorkerContext(WorkerContext& ctx, Tables& tables, uint32_t core) {
  ctx.core = core;
  ctx.tables = &tables;
  ctx.police = tables.PoliceOf(core);
  ctx.credit = tables.CreditOf(core);
  ctx.kite_ctrs = tables.KiteCountersOf(core);
  ctx.ctrs = tables.CountersOf(core);
  RefreshConfig(ctx);
}

uint32_t ProcessBurst(WorkerContext& ctx, std::span<PacketBuf> pkts, std::span<Outcome> outcomes, uint64_t now_ns) {
  if (!ctx.config_valid || ctx.tables->ConfigSeq() != ctx.config_seq) RefreshConfig(ctx);
  size_t n = pkts.size() < outcomes.size() ? pkts.size() : outcomes.size();
  ctx.tally = {};
  for (size_t i = 0; i < n; i += kSubBurst) {
    uint32_t m = static_cast<uint32_t>(n - i < kSubBurst ? n - i : kSubBurst);
    ProcessSubBurst(ctx, pkts.data() + i, outcomes.data() + i, m, now_ns);
  }
  const WorkerContext::Tally& t = ctx.tally;
  CoreCounters& c = *ctx.ctrs;
  Bump(c.ctr[KP_CTR_RX_PKTS], n);
  Bump(c.ctr[KP_CTR_RX_BYTES], t.rx_bytes);
  Bump(c.ctr[KP_CTR_TX_PKTS], t.tx_pkts);
  Bump(c.ctr[KP_CTR_TX_BYTES], t.tx_bytes);
  Bump(c.ctr[KP_CTR_ENCAP_PKTS], t.encap_pkts);
  Bump(c.ctr[KP_CTR_DECAP_PKTS], t.decap_pkts);
  return static_cast<uint32_t>(t.tx_pkts);  // Transmit is the only way to Verdict::kTx
}

}  // namespace kp::fp
