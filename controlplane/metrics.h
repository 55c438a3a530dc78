// metrics.h - Prometheus metrics: text rendering and the loopback HTTP server.
//
// RenderMetrics() writes the exposition text from the registry's last data-
// plane snapshot and the control plane's own counters: global counters as
// kiteplane_<name>_total, drops as kiteplane_drops_total{reason="..."} (names
// from kp_counters.h), per-kite counters as kiteplane_<kite counter>_total
// {kite="..."}, and kiteplane_build_info.  Per-kite series are bounded: only
// the `max_kite_series` kites with the most traffic (rx + tx bytes) get
// their own label; every other kite is summed into kite="_other", so the
// series count never exceeds (max_kite_series + 1) x counters whatever the
// number of kites.  MetricsServer serves the last rendered text on
// GET /metrics with libmicrohttpd's own thread; the control loop publishes a
// new text each tick, so scrapes never touch the registry.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "controlplane/registry.h"
#include "controlplane/tunnel.h"

struct MHD_Daemon;

namespace kp::cp {

std::string RenderMetrics(const Registry& reg, const TunnelCounters& tunnel, bool dataplane_connected,
                          uint32_t max_kite_series);

class MetricsServer {
 public:
  // Listens on "host:port" (IPv4 or [IPv6]).  Errors: InvalidArgument for a
  // bad address, Unavailable if the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  void Publish(std::string text);
  uint16_t port() const { return port_; }
  std::string Snapshot();

 private:
  MetricsServer() = default;
  std::mutex mu_;
  std::string text_ = "# no data yet\n";
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
};

}  // namespace kp::cp
