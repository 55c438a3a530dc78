// worker.h - the DPDK lcore loops: forwarding workers and the software
// distribution ("soft RSS") I/O core.
//
// A worker owns one RX/TX queue pair (hardware RSS, or a single worker) or
// reads its frames from an rte_ring fed by the I/O core (software RSS; the
// I/O core then also transmits what workers put in its TX ring).  Each loop:
// read the monotonic clock, receive a burst, map the mbufs onto PacketBufs,
// run fp::ProcessBurst, transmit TX frames, queue EXCEPTION frames to the
// kernel ring (full ring: dropped, counted exception_queue_full), free
// drops, and report RCU quiescence.  Worker 0 (or the I/O core) also sends
// out of the port what the kernel sent through the exception interface.
// Workers never block and never allocate.
#pragma once

#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>

#include "pipeline.h"

namespace kp::dpdk {

inline constexpr uint16_t kBurst = 32;

// Non-pipeline statistics of the DPDK glue (summed by telemetry).
struct alignas(64) GlueStats {
  std::atomic<uint64_t> soft_rss_ring_full{0};  // dropped before the fast path saw them
  std::atomic<uint64_t> kernel_tx{0};           // kernel frames sent out of the port
  std::atomic<uint64_t> kernel_tx_dropped{0};   // kernel frames the port refused
  // Soft RSS: forwarded frames the port refused at the I/O core, after their
  // worker had counted them transmitted.
  std::atomic<uint64_t> io_tx_dropped{0};
  std::atomic<uint64_t> bench_cycles{0};        // bench mode: TSC cycles in the loop
  std::atomic<uint64_t> bench_packets{0};
  std::atomic<uint64_t> bench_cpu_ns{0};        // bench mode: worker thread CPU time
};

// Benchmark source (bench mode when packets != 0): frames synthesised from
// templates (n_frames != 0), or received from the port as usual (n_frames ==
// 0), until `packets` have been forwarded.
struct BenchSource {
  const uint8_t* const* frames = nullptr;  // n_frames templates
  const uint16_t* lens = nullptr;
  uint32_t n_frames = 0;
  uint64_t packets = 0;  // per worker
  rte_mempool* pool = nullptr;
};

struct WorkerConfig {
  uint32_t index = 0;               // worker number = RCU thread id = fast-path core
  uint16_t port = 0;
  uint16_t rxq = 0, txq = 0;        // used when rx_ring is null
  rte_ring* rx_ring = nullptr;      // soft RSS: frames from the I/O core
  rte_ring* tx_ring = nullptr;      // soft RSS: frames for the I/O core to send
  rte_ring* to_kernel = nullptr;    // exception frames (MP/SC), may be null
  rte_ring* from_kernel = nullptr;  // worker 0 only: kernel frames to send
  rte_rcu_qsbr* qsbr = nullptr;
  const std::atomic<bool>* stop = nullptr;
  GlueStats* stats = nullptr;
  BenchSource bench;
  fp::WorkerContext* ctx = nullptr;
  uint64_t fixed_now_ns = 0;        // test only (--test-clock-ns): the fast path's clock
  // The port's MTU as the PMD reports it: a frame the port refuses whose IP
  // packet is longer counts as mtu_exceeded, not as a full queue (see
  // Transmit in worker.cc).
  uint32_t port_mtu = UINT16_MAX;
};

struct IoCoreConfig {
  uint16_t port = 0;
  rte_ring** worker_rings = nullptr;  // one per worker
  uint32_t n_workers = 0;
  rte_ring* tx_ring = nullptr;        // from workers (MP/SC)
  rte_ring* from_kernel = nullptr;
  const std::atomic<bool>* stop = nullptr;
  GlueStats* stats = nullptr;
};

// lcore entry points (argument: WorkerConfig* / IoCoreConfig*).
int WorkerMain(void* arg);
int IoCoreMain(void* arg);

// Flow hash used by soft RSS: Toeplitz with the default key over the
// IPv4/IPv6 addresses and UDP ports, as a NIC's RSS would compute it.
uint32_t SoftRssHash(const rte_mbuf* m);

}  // namespace kp::dpdk
