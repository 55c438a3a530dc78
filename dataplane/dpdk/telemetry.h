// telemetry.h - DPDK telemetry commands of the data plane, readable with
// dpdk-telemetry.py (-f FILE_PREFIX):
//   /kiteplane/stats         global counters summed over workers, plus glue stats
//   /kiteplane/drops         one entry per drop reason
//   /kiteplane/kite,<id>     one kite's counters summed over workers
// The callbacks run on DPDK's telemetry thread and only read per-core
// counters (relaxed atomic loads) and seqlocked kite entries.
#pragma once

#include "dataplane/dpdk/worker.h"
#include "tables.h"

namespace kp::dpdk {

// Registers the commands; `tables` and `glue` must outlive the EAL.
void RegisterTelemetry(const fp::Tables* tables, uint32_t n_workers, const GlueStats* glue);

}  // namespace kp::dpdk
