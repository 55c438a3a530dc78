// port.h - RAII setup of the forwarding port and of the exception
// interface (a net_tap or virtio-user port whose kernel side carries the
// port's MAC and the front-end's addresses).
//
// The forwarding port gets one RX/TX queue pair per worker with RSS on
// IPv4/IPv6 UDP when it advertises RSS for them and has the queues; else one
// queue pair, and workers beyond the first are fed by the software
// distributor (soft RSS).  Both ports get the MTU --max-frame implies; a PMD
// that cannot take it is clamped to its limit (logged).  RX stays
// single-segment: no scatter offload, the mempool's data room holds a whole
// frame.  Errors say what to fix (no such port, too few
// queues, mempool too small, tap device cannot be created without root...).
#pragma once

#include <rte_ether.h>
#include <rte_mempool.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "dataplane/dpdk/options.h"

namespace kp::dpdk {

class Port {
 public:
  // Configures and starts `port_id` for `n_workers` workers.
  static absl::StatusOr<Port> Open(uint16_t port_id, uint16_t n_workers, rte_mempool* pool,
                                   const AppOptions& opts);
  Port(Port&& o) noexcept { *this = std::move(o); }
  Port& operator=(Port&& o) noexcept;
  ~Port();

  uint16_t id() const { return id_; }
  bool hw_rss() const { return hw_rss_; }
  uint16_t n_queues() const { return n_queues_; }
  const rte_ether_addr& mac() const { return mac_; }
  std::string driver() const { return driver_; }
  // The MTU the PMD accepted (max_frame - 18 unless it clamped).
  uint16_t mtu() const { return mtu_; }

 private:
  Port() = default;
  uint16_t id_ = 0;
  bool open_ = false;
  bool hw_rss_ = false;
  uint16_t n_queues_ = 1;
  rte_ether_addr mac_{};
  std::string driver_;
  uint16_t mtu_ = RTE_ETHER_MTU;
};

class ExceptionPort {
 public:
  // Creates the kernel interface `opts.exception_iface` with `mac` and the
  // MTU --max-frame implies (max_frame - 18), adds the own addresses,
  // brings it up.
  static absl::StatusOr<ExceptionPort> Create(const AppOptions& opts, const rte_ether_addr& mac,
                                              rte_mempool* pool);
  ExceptionPort(ExceptionPort&& o) noexcept { *this = std::move(o); }
  ExceptionPort& operator=(ExceptionPort&& o) noexcept;
  ~ExceptionPort();

  uint16_t port_id() const { return port_id_; }
  int ifindex() const { return ifindex_; }

 private:
  ExceptionPort() = default;
  std::string vdev_name_;
  uint16_t port_id_ = 0;
  int ifindex_ = 0;
  bool open_ = false;
};

}  // namespace kp::dpdk
