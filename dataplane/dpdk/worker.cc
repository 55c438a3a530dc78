// worker.cc - forwarding worker and soft-RSS I/O core loops (see worker.h).
#include "dataplane/dpdk/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>
#include <rte_thash.h>
#include <time.h>

#include <cstring>

#include "counters.h"

namespace kp::dpdk {
namespace {

// The 40-byte Toeplitz key NICs commonly default to (the one in the RSS
// specification's verification suite).
constexpr uint8_t kRssKey[40] = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

uint64_t MonoNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Undoes the pipeline's TX accounting for frames the ring refused and counts
// them as dropped with `reason`.
void CountUnsent(fp::WorkerContext* ctx, rte_mbuf** m, uint16_t n, kp_drop_reason reason) {
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; i++) {
    bytes += m[i]->data_len;
    rte_pktmbuf_free(m[i]);
  }
  fp::Bump(ctx->ctrs->ctr[KP_CTR_TX_PKTS], -static_cast<uint64_t>(n));
  fp::Bump(ctx->ctrs->ctr[KP_CTR_TX_BYTES], -bytes);
  fp::Bump(ctx->ctrs->ctr[KP_CTR_DROP_PKTS], n);
  fp::Bump(ctx->ctrs->drops[reason], n);
}

// Receives up to kBurst frames from the worker's source.
uint16_t Receive(const WorkerConfig& w, rte_mbuf** m, uint64_t* bench_left, uint32_t* cursor) {
  if (w.bench.packets != 0) {
    if (*bench_left == 0) return 0;
    uint16_t n = static_cast<uint16_t>(std::min<uint64_t>(kBurst, *bench_left));
    if (w.bench.n_frames == 0) {  // fed by the port
      n = rte_eth_rx_burst(w.port, w.rxq, m, n);
    } else {
      if (rte_pktmbuf_alloc_bulk(w.bench.pool, m, n) != 0) return 0;
      for (uint16_t i = 0; i < n; i++) {
        const uint32_t t = *cursor;
        *cursor = t + 1 == w.bench.n_frames ? 0 : t + 1;
        m[i]->data_len = m[i]->pkt_len = w.bench.lens[t];
        std::memcpy(rte_pktmbuf_mtod(m[i], uint8_t*), w.bench.frames[t], w.bench.lens[t]);
      }
    }
    *bench_left -= n;
    return n;
  }
  if (w.rx_ring != nullptr) {
    return static_cast<uint16_t>(
        rte_ring_sc_dequeue_burst(w.rx_ring, reinterpret_cast<void**>(m), kBurst, nullptr));
  }
  return rte_eth_rx_burst(w.port, w.rxq, m, kBurst);
}

// True when the frame's IP packet is longer than `mtu` (its L2 header is 14
// bytes, 18 with a VLAN tag).
bool OverMtu(const rte_mbuf* m, uint32_t mtu) {
  if (m->pkt_len <= mtu + 14) return false;
  const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
  const bool tagged = m->data_len >= 14 && f[12] == 0x81 && f[13] == 0x00;
  return !tagged || m->pkt_len > mtu + 18;
}

// Sends TX frames through the worker's queue or the I/O core's ring.  A port
// stops a burst at the first frame it refuses.  When that frame is longer
// than the port's MTU (the session's MTU may allow more than this port sends:
// net_tap refuses such frames, while net_af_packet sends up to its kernel
// interface's MTU whatever it reports) it is dropped as mtu_exceeded, also on
// its kite, and the rest of the burst is offered again; any other refusal
// drops the rest as tx_queue_full.  Only refused bursts pay for this.
void Transmit(const WorkerConfig& w, rte_mbuf** tx, uint16_t n_tx) {
  while (n_tx != 0) {
    uint16_t sent;
    if (w.tx_ring != nullptr) {
      sent = static_cast<uint16_t>(
          rte_ring_mp_enqueue_burst(w.tx_ring, reinterpret_cast<void**>(tx), n_tx, nullptr));
    } else {
      sent = rte_eth_tx_burst(w.port, w.txq, tx, n_tx);
    }
    if (sent == n_tx) return;
    if (w.tx_ring != nullptr || !OverMtu(tx[sent], w.port_mtu)) {
      CountUnsent(w.ctx, tx + sent, n_tx - sent, KP_DROP_TX_QUEUE_FULL);
      return;
    }
    // The kite id rode in the mbuf's hash field (ForwardBurst).
    const uint32_t kite_id = tx[sent]->hash.usr;
    CountUnsent(w.ctx, tx + sent, 1, KP_DROP_MTU_EXCEEDED);
    if (kite_id != 0) fp::Bump(w.ctx->kite_ctrs[kite_id].v[fp::KiteDropCounter(KP_DROP_MTU_EXCEEDED)]);
    tx += sent + 1;
    n_tx = static_cast<uint16_t>(n_tx - sent - 1);
  }
}

// Queues exception frames toward the kernel; frees them when there is none.
void ToKernel(const WorkerConfig& w, rte_mbuf** exc, uint16_t n_exc) {
  if (n_exc == 0) return;
  uint16_t queued = 0;
  if (w.to_kernel != nullptr) {
    queued = static_cast<uint16_t>(
        rte_ring_mp_enqueue_burst(w.to_kernel, reinterpret_cast<void**>(exc), n_exc, nullptr));
  }
  if (queued < n_exc) {
    rte_pktmbuf_free_bulk(exc + queued, n_exc - queued);
    if (w.to_kernel != nullptr) {
      fp::Bump(w.ctx->ctrs->ctr[KP_CTR_DROP_PKTS], n_exc - queued);
      fp::Bump(w.ctx->ctrs->drops[KP_DROP_EXCEPTION_QUEUE_FULL], n_exc - queued);
    }
  }
}

// Sends one burst queued on `ring` (single consumer) out of the port; what
// the port does not take is freed and counted in *dropped.  Returns the
// frames taken off the ring, *sent those the port accepted.
unsigned SendRingBurst(rte_ring* ring, uint16_t port, uint16_t txq, std::atomic<uint64_t>* dropped,
                       uint16_t* sent) {
  rte_mbuf* m[kBurst];
  unsigned n = rte_ring_sc_dequeue_burst(ring, reinterpret_cast<void**>(m), kBurst, nullptr);
  *sent = 0;
  if (n == 0) return 0;
  *sent = rte_eth_tx_burst(port, txq, m, static_cast<uint16_t>(n));
  if (*sent < n) {
    rte_pktmbuf_free_bulk(m + *sent, n - *sent);
    dropped->fetch_add(n - *sent, std::memory_order_relaxed);
  }
  return n;
}

// Sends what the kernel queued for the wire (worker 0 / I/O core).
void DrainFromKernel(rte_ring* from_kernel, uint16_t port, uint16_t txq, GlueStats* stats) {
  if (from_kernel == nullptr) return;
  uint16_t sent;
  SendRingBurst(from_kernel, port, txq, &stats->kernel_tx_dropped, &sent);
  stats->kernel_tx.fetch_add(sent, std::memory_order_relaxed);
}

// Drops a multi-segment mbuf: the fast path works on one contiguous
// buffer, and the mempool is sized so that no PMD should chain (no scatter
// offload).  Counted as received, then dropped as a length mismatch of its
// IP version: the first segment cannot hold what the IP header announces.
void DropChained(fp::WorkerContext* ctx, rte_mbuf* m) {
  const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
  const bool v6 = m->data_len >= 14 && p[12] == 0x86 && p[13] == 0xdd;
  fp::Bump(ctx->ctrs->ctr[KP_CTR_RX_PKTS]);
  fp::Bump(ctx->ctrs->ctr[KP_CTR_RX_BYTES], m->pkt_len);
  fp::Bump(ctx->ctrs->ctr[KP_CTR_DROP_PKTS]);
  fp::Bump(ctx->ctrs->drops[v6 ? KP_DROP_IP6_BAD_LENGTH : KP_DROP_IP4_BAD_LENGTH]);
  rte_pktmbuf_free(m);
}

// One burst through the fast path.
void ForwardBurst(const WorkerConfig& w, rte_mbuf** in, uint16_t n_in) {
  fp::PacketBuf pkts[kBurst];
  fp::Outcome outs[kBurst];
  rte_mbuf* m[kBurst];
  // One pass: chained mbufs leave, the others are mapped onto PacketBufs.
  uint16_t n = 0;
  for (uint16_t i = 0; i < n_in; i++) {
    rte_mbuf* const mb = in[i];
    if (i + 4 < n_in) rte_prefetch0(rte_pktmbuf_mtod(in[i + 4], void*));
    if (unlikely(mb->nb_segs != 1)) {
      DropChained(w.ctx, mb);
      continue;
    }
    m[n] = mb;
    pkts[n] = fp::PacketBuf{static_cast<uint8_t*>(mb->buf_addr), mb->buf_len, mb->data_off, mb->data_len};
    n++;
  }
  fp::ProcessBurst(*w.ctx, std::span(pkts, n), std::span(outs, n),
                   w.fixed_now_ns != 0 ? w.fixed_now_ns : MonoNs());
  rte_mbuf* tx[kBurst];
  rte_mbuf* exc[kBurst];
  uint16_t n_tx = 0, n_exc = 0;
  for (uint16_t i = 0; i < n; i++) {
    switch (outs[i].verdict) {
      case fp::Verdict::kTx:
        m[i]->data_off = static_cast<uint16_t>(pkts[i].off);
        m[i]->data_len = static_cast<uint16_t>(pkts[i].len);
        m[i]->pkt_len = pkts[i].len;
        m[i]->hash.usr = outs[i].kite_id;  // for Transmit's accounting only
        tx[n_tx++] = m[i];
        break;
      case fp::Verdict::kException:
        exc[n_exc++] = m[i];
        break;
      default:
        rte_pktmbuf_free(m[i]);
        break;
    }
  }
  Transmit(w, tx, n_tx);
  ToKernel(w, exc, n_exc);
}

}  // namespace

uint32_t SoftRssHash(const rte_mbuf* m) {
  const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
  uint32_t len = m->data_len, off = 14;
  if (len < 14) return 0;
  uint16_t et = static_cast<uint16_t>((p[12] << 8) | p[13]);
  if (et == 0x8100 && len >= 18) {
    et = static_cast<uint16_t>((p[16] << 8) | p[17]);
    off = 18;
  }
  uint32_t tuple[10];
  uint32_t words = 0;
  uint32_t l4 = 0;
  if (et == 0x0800 && len >= off + 20) {
    tuple[0] = Be32(p + off + 12);
    tuple[1] = Be32(p + off + 16);
    words = 2;
    if (p[off + 9] == 17) l4 = off + (p[off] & 0x0f) * 4u;
  } else if (et == 0x86dd && len >= off + 40) {
    for (int i = 0; i < 8; i++) tuple[i] = Be32(p + off + 8 + 4 * i);
    words = 8;
    if (p[off + 6] == 17) l4 = off + 40;
  } else {
    return 0;  // ARP and the like: all to worker 0
  }
  if (l4 != 0 && len >= l4 + 4) tuple[words++] = Be32(p + l4);
  return rte_softrss(tuple, words, kRssKey);
}

int WorkerMain(void* arg) {
  const WorkerConfig& w = *static_cast<WorkerConfig*>(arg);
  rte_rcu_qsbr_thread_register(w.qsbr, w.index);
  rte_rcu_qsbr_thread_online(w.qsbr, w.index);
  rte_mbuf* m[kBurst];
  uint64_t bench_left = w.bench.packets;
  uint32_t cursor = 0;
  const uint64_t t0 = rte_rdtsc();
  const uint64_t cpu0 = ThreadCpuNs();
  while (!w.stop->load(std::memory_order_relaxed)) {
    const uint16_t n = Receive(w, m, &bench_left, &cursor);
    if (n != 0) ForwardBurst(w, m, n);
    if (w.index == 0 && w.tx_ring == nullptr) DrainFromKernel(w.from_kernel, w.port, w.txq, w.stats);
    rte_rcu_qsbr_quiescent(w.qsbr, w.index);
    if (w.bench.packets != 0 && bench_left == 0) break;
  }
  if (w.bench.packets != 0) {
    w.stats->bench_cycles.fetch_add(rte_rdtsc() - t0, std::memory_order_relaxed);
    w.stats->bench_cpu_ns.fetch_add(ThreadCpuNs() - cpu0, std::memory_order_relaxed);
    w.stats->bench_packets.fetch_add(w.bench.packets - bench_left, std::memory_order_relaxed);
  }
  rte_rcu_qsbr_thread_offline(w.qsbr, w.index);
  rte_rcu_qsbr_thread_unregister(w.qsbr, w.index);
  return 0;
}

int IoCoreMain(void* arg) {
  const IoCoreConfig& io = *static_cast<IoCoreConfig*>(arg);
  rte_mbuf* m[kBurst];
  rte_mbuf* per[KP_MAX_WORKERS][kBurst];
  uint16_t cnt[KP_MAX_WORKERS];
  while (!io.stop->load(std::memory_order_relaxed)) {
    const uint16_t n = rte_eth_rx_burst(io.port, 0, m, kBurst);
    if (n != 0) {
      std::memset(cnt, 0, sizeof(cnt[0]) * io.n_workers);
      for (uint16_t i = 0; i < n; i++) {
        const uint32_t wk = SoftRssHash(m[i]) % io.n_workers;
        per[wk][cnt[wk]++] = m[i];
      }
      for (uint32_t wk = 0; wk < io.n_workers; wk++) {
        if (cnt[wk] == 0) continue;
        unsigned q = rte_ring_sp_enqueue_burst(io.worker_rings[wk],
                                               reinterpret_cast<void**>(per[wk]), cnt[wk], nullptr);
        if (q < cnt[wk]) {
          rte_pktmbuf_free_bulk(per[wk] + q, cnt[wk] - q);
          io.stats->soft_rss_ring_full.fetch_add(cnt[wk] - q, std::memory_order_relaxed);
        }
      }
    }
    uint16_t sent;
    SendRingBurst(io.tx_ring, io.port, 0, &io.stats->io_tx_dropped, &sent);
    DrainFromKernel(io.from_kernel, io.port, 0, io.stats);
  }
  // The workers have stopped (see StopLcores): send what they left queued.
  uint16_t sent;
  while (SendRingBurst(io.tx_ring, io.port, 0, &io.stats->io_tx_dropped, &sent) != 0) {
  }
  return 0;
}

}  // namespace kp::dpdk
