// telemetry.cc - the /kiteplane/* DPDK telemetry commands (see telemetry.h).
// DPDK 22.11 telemetry callbacks take no user pointer, so the tables they
// read are kept in one file-local pointer pair set once at start-up.
#include "dataplane/dpdk/telemetry.h"

#include <rte_telemetry.h>

#include <cstdlib>
#include <string>

#include "counters.h"

namespace kp::dpdk {
namespace {

const fp::Tables* g_tables = nullptr;
const GlueStats* g_glue = nullptr;
uint32_t g_workers = 0;

void AddU64(rte_tel_data* d, std::string_view name, uint64_t v) {
  std::string n(name);
  rte_tel_data_add_dict_u64(d, n.c_str(), v);
}

int StatsCmd(const char*, const char*, rte_tel_data* d) {
  kp_ctl_global_counters c{};
  g_tables->GlobalCounters(&c);
  rte_tel_data_start_dict(d);
  for (const fp::CounterInfo& i : fp::kGlobalCounterInfo) AddU64(d, i.name, c.counters[i.id]);
  AddU64(d, "n_workers", g_workers);
  AddU64(d, "kites", g_tables->NumKites());
  AddU64(d, "soft_rss_ring_full", g_glue->soft_rss_ring_full.load(std::memory_order_relaxed));
  AddU64(d, "kernel_tx", g_glue->kernel_tx.load(std::memory_order_relaxed));
  AddU64(d, "kernel_tx_dropped", g_glue->kernel_tx_dropped.load(std::memory_order_relaxed));
  AddU64(d, "io_tx_dropped", g_glue->io_tx_dropped.load(std::memory_order_relaxed));
  return 0;
}

int DropsCmd(const char*, const char*, rte_tel_data* d) {
  kp_ctl_global_counters c{};
  g_tables->GlobalCounters(&c);
  rte_tel_data_start_dict(d);
  for (const fp::CounterInfo& i : fp::kDropReasonInfo) {
    if (i.id != KP_DROP_NONE) AddU64(d, i.name, c.drops[i.id]);
  }
  return 0;
}

int KiteCmd(const char*, const char* params, rte_tel_data* d) {
  if (params == nullptr || *params == '\0') return -1;
  char* end = nullptr;
  const unsigned long id = std::strtoul(params, &end, 10);
  if (*end != '\0' || id == 0 || id >= g_tables->sizes().max_kites) return -1;
  kp_ctl_kite_stats s{};
  if (!g_tables->KiteStats(static_cast<uint32_t>(id), &s)) return -1;
  rte_tel_data_start_dict(d);
  AddU64(d, "kite_id", s.kite_id);
  for (const fp::CounterInfo& i : fp::kKiteCounterInfo) AddU64(d, i.name, s.v[i.id]);
  AddU64(d, "used_bytes", s.used_bytes);
  return 0;
}

}  // namespace

void RegisterTelemetry(const fp::Tables* tables, uint32_t n_workers, const GlueStats* glue) {
  g_tables = tables;
  g_workers = n_workers;
  g_glue = glue;
  rte_telemetry_register_cmd("/kiteplane/stats", StatsCmd,
                             "kiteplane global counters. Takes no parameters");
  rte_telemetry_register_cmd("/kiteplane/drops", DropsCmd,
                             "kiteplane drops by reason. Takes no parameters");
  rte_telemetry_register_cmd("/kiteplane/kite", KiteCmd,
                             "kiteplane counters of one kite. Parameters: int kite_id");
}

}  // namespace kp::dpdk
