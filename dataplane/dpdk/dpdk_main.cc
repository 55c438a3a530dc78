// dpdk_main.cc - the DPDK mode's runtime: EAL, mempool, tables, RCU, port,
// exception interface, rings, workers, control server, and the control
// thread's loop (control socket, exception I/O, neighbour refresh).
//
// Lcores: the main lcore is the control thread.  With hardware RSS (or one
// worker) every other lcore is a worker with its own queue pair; without it
// and with three or more lcores, the first other lcore is the soft-RSS I/O
// core and the rest are workers.
#include "dataplane/dpdk/dpdk_main.h"

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dataplane/ctl/server.h"
#include "dataplane/dpdk/backend.h"
#include "dataplane/dpdk/bench.h"
#include "dataplane/dpdk/netlink.h"
#include "dataplane/dpdk/options.h"
#include "dataplane/dpdk/port.h"
#include "dataplane/dpdk/telemetry.h"
#include "dataplane/dpdk/worker.h"
#include "counters.h"
#include "kp_wire.h"
#include "pipeline.h"

namespace kp::dpdk {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

uint64_t MonoMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

int Fail(const std::string& msg) {
  std::fprintf(stderr, "kiteplane-dataplane: %s\n", msg.c_str());
  return 1;
}

// Frees whatever is left in a ring.
void DrainRing(rte_ring* r) {
  if (r == nullptr) return;
  void* m;
  while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  rte_ring_free(r);
}

struct RingDeleter {
  void operator()(rte_ring* r) const { DrainRing(r); }
};
using RingPtr = std::unique_ptr<rte_ring, RingDeleter>;

struct MempoolDeleter {
  void operator()(rte_mempool* p) const { rte_mempool_free(p); }
};
struct ZfreeDeleter {
  void operator()(void* p) const { rte_free(p); }
};

RingPtr MakeRing(const std::string& name, uint32_t size, unsigned flags) {
  return RingPtr(rte_ring_create(name.c_str(), rte_align32pow2(size), rte_socket_id(), flags));
}

// Everything the process owns, destroyed in reverse order.
struct Runtime {
  AppOptions opts;
  std::unique_ptr<rte_mempool, MempoolDeleter> pool;
  std::unique_ptr<fp::Tables> tables;
  std::unique_ptr<rte_rcu_qsbr, ZfreeDeleter> qsbr;
  std::optional<Port> port;
  std::optional<ExceptionPort> exc;
  RingPtr to_kernel, from_kernel, io_tx;
  std::vector<RingPtr> worker_rings;
  std::vector<rte_ring*> worker_ring_ptrs;
  std::unique_ptr<DpdkBackend> backend;
  std::unique_ptr<ctl::Server> server;
  std::vector<fp::WorkerContext> ctxs;
  std::vector<WorkerConfig> workers;
  IoCoreConfig io;
  GlueStats glue;
  BenchFrames bench;
  std::atomic<bool> stop_workers{false};
  std::atomic<bool> stop_io{false};      // soft-RSS I/O core: set only once the workers are gone
  unsigned io_lcore = RTE_MAX_LCORE;     // the I/O core's lcore, when there is one
  uint32_t n_workers = 0;
  bool soft_rss = false;
};

// Decides the worker layout from the lcores and the port's RSS ability.
absl::Status PlanLcores(Runtime* rt) {
  const unsigned lcores = rte_lcore_count();
  if (lcores < 2) {
    return absl::InvalidArgumentError(
        "need at least 2 lcores (one control, one worker): give EAL -l 0,1 (or more)");
  }
  rte_eth_dev_info info{};
  if (!rte_eth_dev_is_valid_port(rt->opts.port) ||
      rte_eth_dev_info_get(rt->opts.port, &info) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no ethdev port ", rt->opts.port,
        ": give a device, e.g. --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap (see "
        "docs/operations.md)"));
  }
  const uint32_t others = lcores - 1;
  const uint64_t udp_rss = RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV6_UDP;
  const bool hw = !rt->opts.force_soft_rss && (info.flow_type_rss_offloads & udp_rss) &&
                  info.max_rx_queues >= others && info.max_tx_queues >= others;
  rt->soft_rss = others >= 3 && !hw && rt->opts.bench_packets == 0;
  if (others == 2 && !hw && rt->opts.bench_packets == 0) {
    rt->soft_rss = true;  // one I/O core + one worker
  }
  rt->n_workers = rt->soft_rss ? others - 1 : (hw || rt->opts.bench_packets ? others : 1);
  if (rt->n_workers > KP_MAX_WORKERS) rt->n_workers = KP_MAX_WORKERS;
  return absl::OkStatus();
}

// The fast path prepends the tunnel headers in the mbuf's headroom, and
// the data room must stay a 16-bit quantity.
static_assert(RTE_PKTMBUF_HEADROOM >= KP_ENCAP_OVERHEAD_V6, "headroom must hold the tunnel headers");
static_assert(RTE_PKTMBUF_HEADROOM + kMaxMaxFrame <= UINT16_MAX, "data room is 16 bits");

absl::Status CreateCore(Runtime* rt) {
  // One segment per frame: headroom for the encapsulation, then --max-frame.
  const uint32_t room = RTE_PKTMBUF_HEADROOM + rt->opts.max_frame;
  rt->pool.reset(rte_pktmbuf_pool_create("kp_mbufs", rt->opts.mbufs, 256, 0,
                                         static_cast<uint16_t>(room), rte_socket_id()));
  if (!rt->pool) {
    const uint64_t mib = (uint64_t{rt->opts.mbufs} * (room + sizeof(rte_mbuf) + 64)) >> 20;
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot create a mempool of ", rt->opts.mbufs, " mbufs of ", room, " bytes (about ", mib,
        " MiB): ", rte_strerror(rte_errno),
        " (raise EAL -m, or lower --mbufs or --max-frame; see docs/operations.md)"));
  }
  fp::TableSizes sizes;
  sizes.max_kites = rt->opts.max_kites;
  sizes.max_sessions = rt->opts.max_sessions;
  // One extra per-core slot for the control thread's own counters.
  sizes.n_workers = rt->n_workers + 1;
  rt->tables = fp::Tables::Create(sizes);
  if (!rt->tables) {
    return absl::ResourceExhaustedError("cannot map the tables: lower --max-kites/--max-sessions");
  }
  const size_t sz = rte_rcu_qsbr_get_memsize(rt->n_workers);
  rt->qsbr.reset(static_cast<rte_rcu_qsbr*>(rte_zmalloc("kp_qsbr", sz, RTE_CACHE_LINE_SIZE)));
  if (!rt->qsbr || rte_rcu_qsbr_init(rt->qsbr.get(), rt->n_workers) != 0) {
    return absl::ResourceExhaustedError("cannot allocate the RCU state (raise EAL -m)");
  }
  return absl::OkStatus();
}

absl::Status CreateIo(Runtime* rt) {
  absl::StatusOr<Port> p = Port::Open(rt->opts.port, static_cast<uint16_t>(rt->n_workers),
                                      rt->pool.get(), rt->opts);
  if (!p.ok()) return p.status();
  rt->port.emplace(std::move(*p));
  if (rt->soft_rss || rt->port->hw_rss() || rt->n_workers == 1) {
    // fine
  } else if (rt->opts.bench_packets == 0) {
    return absl::InternalError("worker layout does not match the port");
  }
  if (rt->opts.exception != ExceptionMode::kNone && rt->opts.bench_packets == 0) {
    absl::StatusOr<ExceptionPort> e = ExceptionPort::Create(rt->opts, rt->port->mac(), rt->pool.get());
    if (!e.ok()) return e.status();
    rt->exc.emplace(std::move(*e));
    rt->to_kernel = MakeRing("kp_to_kernel", rt->opts.exception_ring, RING_F_SC_DEQ);
    rt->from_kernel =
        MakeRing("kp_from_kernel", rt->opts.exception_ring, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!rt->to_kernel || !rt->from_kernel) return absl::ResourceExhaustedError("exception rings");
  }
  if (rt->soft_rss) {
    rt->io_tx = MakeRing("kp_io_tx", 4096, RING_F_SC_DEQ);
    for (uint32_t i = 0; i < rt->n_workers; i++) {
      rt->worker_rings.push_back(
          MakeRing(absl::StrCat("kp_w", i), 2048, RING_F_SP_ENQ | RING_F_SC_DEQ));
      if (!rt->worker_rings.back()) return absl::ResourceExhaustedError("worker rings");
      rt->worker_ring_ptrs.push_back(rt->worker_rings.back().get());
    }
    if (!rt->io_tx) return absl::ResourceExhaustedError("I/O ring");
  }
  return absl::OkStatus();
}

absl::Status CreateControl(Runtime* rt) {
  rt->backend = std::make_unique<DpdkBackend>(rt->tables.get(), rt->qsbr.get(), rt->n_workers, rt->opts);
  absl::Status st = rt->backend->InstallInitialConfig();
  if (!st.ok()) return st;
  if (rt->opts.bench()) {
    st = SetUpBench(rt->backend.get(), rt->opts, rt->port->mac().addr_bytes, &rt->bench);
    if (!st.ok()) return st;
  }
  if (!rt->opts.bench_write_pcap.empty()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<ctl::Server>> s =
      ctl::Server::Create(ctl::ServerOptions{rt->opts.ctl_socket}, rt->backend.get());
  if (!s.ok()) return s.status();
  rt->server = std::move(*s);
  RegisterTelemetry(rt->tables.get(), rt->n_workers, &rt->glue);
  return absl::OkStatus();
}

// Test only (--test-police): presets police state on every worker core,
// before any worker runs.
absl::Status PresetPolice(Runtime* rt) {
  for (const TestPolice& p : rt->opts.test_police) {
    if (p.kite_id >= rt->tables->sizes().max_kites) {
      return absl::InvalidArgumentError(
          absl::StrCat("--test-police: kite ", p.kite_id, " is not below --max-kites"));
    }
    for (uint32_t core = 0; core < rt->n_workers; core++) {
      kp_kite_police& e = rt->tables->PoliceOf(core)[p.kite_id];
      e.last_ns = p.last_ns;
      e.pkt_tokens = p.pkt_tokens;
      e.bit_tokens = p.bit_tokens;
      e.used_bytes = p.used_bytes;
    }
  }
  return absl::OkStatus();
}

void LaunchWorkers(Runtime* rt) {
  rt->ctxs.resize(rt->n_workers);
  rt->workers.resize(rt->n_workers);
  unsigned lcore = rte_get_next_lcore(-1, 1, 0);
  if (rt->soft_rss) {
    rt->io = IoCoreConfig{rt->port->id(), rt->worker_ring_ptrs.data(), rt->n_workers,
                          rt->io_tx.get(), rt->from_kernel.get(), &rt->stop_io, &rt->glue};
    rte_eal_remote_launch(IoCoreMain, &rt->io, lcore);
    rt->io_lcore = lcore;
    lcore = rte_get_next_lcore(lcore, 1, 0);
  }
  for (uint32_t i = 0; i < rt->n_workers; i++) {
    fp::InitWorkerContext(rt->ctxs[i], *rt->tables, i);
    WorkerConfig& w = rt->workers[i];
    w.index = i;
    w.port = rt->port->id();
    w.rxq = w.txq = static_cast<uint16_t>(rt->port->hw_rss() ? i : 0);
    w.rx_ring = rt->soft_rss ? rt->worker_ring_ptrs[i] : nullptr;
    w.tx_ring = rt->soft_rss ? rt->io_tx.get() : nullptr;
    w.to_kernel = rt->to_kernel.get();
    w.from_kernel = i == 0 ? rt->from_kernel.get() : nullptr;
    w.qsbr = rt->qsbr.get();
    w.stop = &rt->stop_workers;
    w.stats = &rt->glue;
    w.ctx = &rt->ctxs[i];
    w.fixed_now_ns = rt->opts.test_clock_ns;
    w.port_mtu = rt->port->mtu();
    if (rt->opts.bench_packets != 0) {
      w.bench = BenchSource{rt->bench.ptrs.data(), rt->bench.lens.data(),
                            rt->opts.bench_from_port ? 0u : static_cast<uint32_t>(rt->bench.ptrs.size()),
                            rt->opts.bench_packets, rt->pool.get()};
    }
    rte_eal_remote_launch(WorkerMain, &w, lcore);
    lcore = rte_get_next_lcore(lcore, 1, 0);
  }
}

// Moves frames between the workers' rings and the exception interface.
// Returns how many frames moved.
uint32_t ExceptionIo(Runtime* rt) {
  if (!rt->exc) return 0;
  rte_mbuf* m[kBurst];
  fp::CoreCounters* ctrs = rt->tables->CountersOf(rt->n_workers);
  unsigned n = rte_ring_sc_dequeue_burst(rt->to_kernel.get(), reinterpret_cast<void**>(m), kBurst,
                                         nullptr);
  uint32_t moved = n;
  if (n != 0) {
    uint16_t sent = rte_eth_tx_burst(rt->exc->port_id(), 0, m, static_cast<uint16_t>(n));
    if (sent < n) {
      rte_pktmbuf_free_bulk(m + sent, n - sent);
      fp::Bump(ctrs->ctr[KP_CTR_DROP_PKTS], n - sent);
      fp::Bump(ctrs->drops[KP_DROP_EXCEPTION_QUEUE_FULL], n - sent);
    }
  }
  uint16_t r = rte_eth_rx_burst(rt->exc->port_id(), 0, m, kBurst);
  moved += r;
  if (r != 0) {
    unsigned q = rte_ring_sp_enqueue_burst(rt->from_kernel.get(), reinterpret_cast<void**>(m), r,
                                           nullptr);
    if (q < r) {
      rte_pktmbuf_free_bulk(m + q, r - q);
      rt->glue.kernel_tx_dropped.fetch_add(r - q, std::memory_order_relaxed);
    }
  }
  return moved;
}

void RefreshNeighbours(Runtime* rt) {
  if (!rt->exc || rt->opts.gateway_mode != GatewayMode::kNeigh) return;
  absl::StatusOr<std::vector<Neighbour>> n = DumpNeighbours(rt->exc->ifindex());
  if (n.ok()) rt->backend->RefreshNeighbours(*n);
}

void ControlLoop(Runtime* rt) {
  uint64_t next_neigh = 0;
  while (!g_stop.load()) {
    const uint32_t moved = ExceptionIo(rt);
    rt->server->Poll(moved != 0 ? 0 : 1);
    const uint64_t now = MonoMs();
    if (now >= next_neigh) {
      RefreshNeighbours(rt);
      next_neigh = now + rt->opts.neigh_refresh_ms;
    }
  }
}

// Waits for every worker lcore without spinning (a spinning main lcore
// would steal the CPU of a worker on a small machine).
// The soft-RSS I/O core is left running: StopLcores ends it.
// SIGINT/SIGTERM stops them early (a port-fed bench whose port ran dry would
// otherwise wait for ever).
void WaitWorkersSleeping(Runtime* rt) {
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (lcore == rt->io_lcore) continue;
    while (rte_eal_get_lcore_state(lcore) == RUNNING) {
      if (g_stop.load()) rt->stop_workers.store(true);
      usleep(1000);
    }
    rte_eal_wait_lcore(lcore);
  }
}

// Stops the workers first and only then the soft-RSS I/O core, which sends
// what the workers queued for it before it returns: every frame a worker
// counted as transmitted reaches the port.
void StopLcores(Runtime* rt) {
  rt->stop_workers.store(true);
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) {
    if (lcore != rt->io_lcore) rte_eal_wait_lcore(lcore);
  }
  rt->stop_io.store(true);
  rte_eal_mp_wait_lcore();
}

int RunBench(Runtime* rt) {
  WaitWorkersSleeping(rt);
  const uint64_t cycles = rt->glue.bench_cycles.load();
  const uint64_t pkts = rt->glue.bench_packets.load();
  kp_ctl_global_counters c{};
  rt->tables->GlobalCounters(&c);
  // Wall-clock TSC cycles include time the worker was preempted; thread CPU
  // time does not, so on a shared machine the CPU figure is the stable one.
  const double hz = static_cast<double>(rte_get_tsc_hz());
  const double per = pkts ? 1.0 / static_cast<double>(pkts) : 0;
  const double cpp = static_cast<double>(cycles) * per;
  const double cpp_cpu = static_cast<double>(rt->glue.bench_cpu_ns.load()) * hz / 1e9 * per;
  std::printf("bench setup=%s kites=%u workers=%u packets=%lu tx=%llu drops=%llu "
              "cycles_per_packet=%.1f cpu_cycles_per_packet=%.1f mpps_per_core=%.3f\n",
              rt->opts.bench_setup.c_str(), rt->opts.bench_kites, rt->n_workers,
              static_cast<unsigned long>(pkts),
              static_cast<unsigned long long>(c.counters[KP_CTR_TX_PKTS]),
              static_cast<unsigned long long>(c.counters[KP_CTR_DROP_PKTS]), cpp, cpp_cpu,
              cpp_cpu > 0 ? hz / cpp_cpu / 1e6 : 0.0);
  for (const fp::CounterInfo& i : fp::kDropReasonInfo) {
    if (c.drops[i.id] != 0) {
      std::printf("  drop %s: %llu\n", std::string(i.name).c_str(),
                  static_cast<unsigned long long>(c.drops[i.id]));
    }
  }
  if (g_stop.load()) {
    std::fprintf(stderr, "kiteplane-dataplane: bench interrupted after %lu of %lu packets\n",
                 static_cast<unsigned long>(pkts), static_cast<unsigned long>(rt->opts.bench_packets * rt->n_workers));
    return 1;
  }
  return c.counters[KP_CTR_TX_PKTS] == pkts ? 0 : 3;
}

int Run(Runtime* rt) {
  absl::Status st = PlanLcores(rt);
  if (st.ok()) st = CreateCore(rt);
  if (st.ok()) st = CreateIo(rt);
  if (st.ok()) st = CreateControl(rt);
  if (st.ok()) st = PresetPolice(rt);
  if (!st.ok()) return Fail(std::string(st.message()));
  if (!rt->opts.bench_write_pcap.empty()) {
    st = WriteBenchPcap(rt->bench, rt->opts.bench_write_pcap);
    if (!st.ok()) return Fail(std::string(st.message()));
    std::printf("bench: %zu %s frame(s) written to %s\n", rt->bench.frames.size(),
                rt->opts.bench_setup.c_str(), rt->opts.bench_write_pcap.c_str());
    return 0;
  }
  std::fprintf(stderr,
               "kiteplane-dataplane: port %u (%s) MTU %u, max frame %u, %s, %u worker(s)%s, "
               "exception %s, control %s\n",
               rt->port->id(), rt->port->driver().c_str(), rt->port->mtu(), rt->opts.max_frame,
               rt->port->hw_rss() ? "hardware RSS" : "one queue", rt->n_workers,
               rt->soft_rss ? " fed by soft RSS" : "",
               rt->exc ? rt->opts.exception_iface.c_str() : "none", rt->opts.ctl_socket.c_str());
  LaunchWorkers(rt);
  if (rt->opts.bench_packets != 0) return RunBench(rt);
  ControlLoop(rt);
  StopLcores(rt);
  std::fprintf(stderr, "kiteplane-dataplane: stopped\n");
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  // Installed first, so a stop request during start-up is not lost: the
  // control loop sees it as soon as it starts.
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  int consumed = rte_eal_init(argc, argv);
  if (consumed < 0) {
    return Fail(absl::StrCat("EAL init failed: ", rte_strerror(rte_errno),
                             " (check the EAL args; without hugepages use --no-huge -m 512 "
                             "--file-prefix=UNIQUE)"));
  }
  std::vector<std::string> args;
  for (int i = consumed + 1; i < argc; i++) args.emplace_back(argv[i]);
  int rc;
  {
    absl::StatusOr<AppOptions> opts = ParseAppOptions(args);
    if (!opts.ok()) {
      rc = Fail(std::string(opts.status().message()));
    } else {
      Runtime rt;
      rt.opts = *opts;
      // The bench installs its own gateway; no local next-hop override.
      if (rt.opts.bench()) rt.opts.gateway_mode = GatewayMode::kNone;
      rc = Run(&rt);
      StopLcores(&rt);
    }
  }
  // The EAL leaves its runtime directory (/var/run/dpdk/<file-prefix>) behind;
  // a primary process removes its own on the way out, so runs with a unique
  // --file-prefix do not pile up directories.
  const bool primary = rte_eal_process_type() == RTE_PROC_PRIMARY;
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  if (primary && !runtime_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(runtime_dir, ec);
  }
  return rc;
}

}  // namespace kp::dpdk
