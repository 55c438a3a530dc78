// port.cc - forwarding-port and exception-interface setup (see port.h).
#include "dataplane/dpdk/port.h"

#include <net/if.h>
#include <rte_bus_vdev.h>
#include <rte_ethdev.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "dataplane/dpdk/netlink.h"

namespace kp::dpdk {
namespace {

absl::Status DpdkError(const std::string& what, int rc, const char* fix) {
  return absl::FailedPreconditionError(
      absl::StrCat(what, ": ", rte_strerror(rc < 0 ? -rc : rc), " (", fix, ")"));
}

std::string MacText(const rte_ether_addr& m) {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", m.addr_bytes[0], m.addr_bytes[1],
                         m.addr_bytes[2], m.addr_bytes[3], m.addr_bytes[4], m.addr_bytes[5]);
}

// The L3 MTU a frame of `max_frame` bytes carries: Ethernet header and one
// VLAN tag come off (the FCS is not part of max_frame).
uint32_t MtuOfFrame(uint32_t max_frame) { return max_frame - RTE_ETHER_HDR_LEN - RTE_VLAN_HLEN; }

// Clamps `want` into the PMD's advertised MTU range.  ethdev derives the
// L2 overhead from max_rx_pktlen - max_mtu when both are given, else assumes
// header + CRC; the frame must fit max_rx_pktlen.
uint16_t ClampMtu(const rte_eth_dev_info& info, uint32_t want) {
  uint32_t mtu = want;
  if (info.max_mtu != 0 && mtu > info.max_mtu) mtu = info.max_mtu;
  uint32_t overhead = RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN;
  if (info.max_mtu != UINT16_MAX && info.max_rx_pktlen > info.max_mtu) {
    overhead = info.max_rx_pktlen - info.max_mtu;
  }
  if (info.max_rx_pktlen > overhead && mtu + overhead > info.max_rx_pktlen) {
    mtu = info.max_rx_pktlen - overhead;
  }
  if (mtu < info.min_mtu) mtu = info.min_mtu;
  if (mtu < RTE_ETHER_MIN_MTU) mtu = RTE_ETHER_MIN_MTU;
  return static_cast<uint16_t>(std::min<uint32_t>(mtu, UINT16_MAX));
}

// What to change when an RX queue cannot be set up.  net_af_xdp uses each
// mempool object (max frame + about 320 bytes) as one UMEM chunk, which the
// kernel takes only between 2048 bytes and a 4 KiB page: its "Failed to
// create umem" means --max-frame is out of that range.
const char* RxQueueFix(uint16_t port) {
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(port, &info) == 0 && info.driver_name != nullptr &&
      std::strcmp(info.driver_name, "net_af_xdp") == 0) {
    return "net_af_xdp needs --max-frame between 2048 and 3560 so an mbuf is one UMEM chunk; "
           "else raise -m or lower --rx-desc; see docs/operations.md";
  }
  return "raise -m or lower --rx-desc";
}

// Configures `nq` queue pairs and starts the port.  A PMD that refuses the
// MTU in `conf` is configured again with its default MTU (logged).
absl::Status StartQueues(uint16_t port, uint16_t nq, rte_eth_conf conf, rte_mempool* pool,
                         uint16_t nrx, uint16_t ntx) {
  int rc = rte_eth_dev_configure(port, nq, nq, &conf);
  if (rc != 0 && conf.rxmode.mtu != 0) {
    std::fprintf(stderr, "kiteplane-dataplane: port %u refused MTU %u (%s); using its default\n",
                 port, conf.rxmode.mtu, rte_strerror(-rc));
    conf.rxmode.mtu = 0;
    rc = rte_eth_dev_configure(port, nq, nq, &conf);
  }
  if (rc != 0) return DpdkError(absl::StrCat("configure port ", port), rc, "check the PMD's queue limits");
  rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
  const int socket = rte_eth_dev_socket_id(port);
  const unsigned sock = socket < 0 ? 0 : static_cast<unsigned>(socket);
  for (uint16_t q = 0; q < nq; q++) {
    rc = rte_eth_rx_queue_setup(port, q, nrx, sock, nullptr, pool);
    if (rc != 0) return DpdkError(absl::StrCat("RX queue ", q, " of port ", port), rc, RxQueueFix(port));
    rc = rte_eth_tx_queue_setup(port, q, ntx, sock, nullptr);
    if (rc != 0) return DpdkError(absl::StrCat("TX queue ", q, " of port ", port), rc, "lower --tx-desc");
  }
  rc = rte_eth_dev_start(port);
  if (rc != 0) return DpdkError(absl::StrCat("start port ", port), rc, "see the PMD's log above");
  rte_eth_promiscuous_enable(port);  // not every PMD supports it; harmless
  return absl::OkStatus();
}

// Gives the exception interface the MTU of the forwarding port's frames:
// through the PMD when its limits allow (net_tap advertises 1522-byte
// frames), else on the kernel link directly.
absl::Status SetExceptionMtu(uint16_t port, int ifindex, uint32_t mtu) {
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(port, &info) == 0 && ClampMtu(info, mtu) == mtu &&
      rte_eth_dev_set_mtu(port, static_cast<uint16_t>(mtu)) == 0) {
    return absl::OkStatus();
  }
  return SetLinkMtu(ifindex, mtu);
}

}  // namespace

absl::StatusOr<Port> Port::Open(uint16_t port_id, uint16_t n_workers, rte_mempool* pool,
                                const AppOptions& opts) {
  if (!rte_eth_dev_is_valid_port(port_id)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no ethdev port ", port_id, " (", rte_eth_dev_count_avail(),
        " available): give a device, e.g. --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap, "
        "or pick another with --port"));
  }
  rte_eth_dev_info info{};
  int rc = rte_eth_dev_info_get(port_id, &info);
  if (rc != 0) return DpdkError(absl::StrCat("info of port ", port_id), rc, "is the PMD loaded?");
  Port p;
  p.id_ = port_id;
  p.driver_ = info.driver_name ? info.driver_name : "?";
  const uint64_t udp_rss = RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV6_UDP;
  p.hw_rss_ = n_workers > 1 && !opts.force_soft_rss && (info.flow_type_rss_offloads & udp_rss) &&
              info.max_rx_queues >= n_workers && info.max_tx_queues >= n_workers;
  p.n_queues_ = p.hw_rss_ ? n_workers : 1;
  rte_eth_conf conf{};
  if (p.hw_rss_) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf =
        info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP);
  }
  const uint32_t want = MtuOfFrame(opts.max_frame);
  conf.rxmode.mtu = ClampMtu(info, want);
  if (conf.rxmode.mtu < want) {
    std::fprintf(stderr,
                 "kiteplane-dataplane: port %u (%s) takes MTU %u at most (max_rx_pktlen %u), "
                 "not %u from --max-frame %u; a PMD that follows a kernel interface "
                 "(net_af_packet, net_tap) still receives up to that interface's MTU\n",
                 port_id, p.driver_.c_str(), conf.rxmode.mtu, info.max_rx_pktlen, want,
                 opts.max_frame);
  }
  absl::Status st = StartQueues(port_id, p.n_queues_, conf, pool, static_cast<uint16_t>(opts.rx_desc),
                                static_cast<uint16_t>(opts.tx_desc));
  if (!st.ok()) return st;
  p.open_ = true;
  rte_eth_macaddr_get(port_id, &p.mac_);
  if (rte_eth_dev_get_mtu(port_id, &p.mtu_) != 0) p.mtu_ = RTE_ETHER_MTU;
  return p;
}

Port& Port::operator=(Port&& o) noexcept {
  std::swap(id_, o.id_);
  std::swap(open_, o.open_);
  std::swap(hw_rss_, o.hw_rss_);
  std::swap(n_queues_, o.n_queues_);
  std::swap(mac_, o.mac_);
  std::swap(driver_, o.driver_);
  std::swap(mtu_, o.mtu_);
  return *this;
}

Port::~Port() {
  if (!open_) return;
  rte_eth_dev_stop(id_);
  rte_eth_dev_close(id_);
}

absl::StatusOr<ExceptionPort> ExceptionPort::Create(const AppOptions& opts,
                                                    const rte_ether_addr& mac, rte_mempool* pool) {
  ExceptionPort e;
  std::string args;
  if (opts.exception == ExceptionMode::kTap) {
    e.vdev_name_ = absl::StrCat("net_tap_kp", getpid());
    args = absl::StrCat("iface=", opts.exception_iface, ",mac=", MacText(mac));
  } else {
    e.vdev_name_ = absl::StrCat("virtio_user_kp", getpid());
    args = absl::StrCat("path=/dev/vhost-net,queues=1,queue_size=1024,iface=",
                        opts.exception_iface, ",mac=", MacText(mac));
  }
  int rc = rte_vdev_init(e.vdev_name_.c_str(), args.c_str());
  if (rc != 0) {
    return DpdkError(absl::StrCat("create exception interface ", e.vdev_name_, " (", args, ")"), rc,
                     "needs root and /dev/net/tun (tap) or /dev/vhost-net (virtio-user); "
                     "or run with --exception none");
  }
  e.open_ = true;
  rc = rte_eth_dev_get_port_by_name(e.vdev_name_.c_str(), &e.port_id_);
  if (rc != 0) return DpdkError("find the exception port", rc, "DPDK bug?");
  rte_eth_conf conf{};
  absl::Status st = StartQueues(e.port_id_, 1, conf, pool, 512, 512);
  if (!st.ok()) return st;
  e.ifindex_ = static_cast<int>(if_nametoindex(opts.exception_iface.c_str()));
  if (e.ifindex_ == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("exception interface ", opts.exception_iface, " did not appear"));
  }
  for (size_t i = 0; i < opts.addr4.size() + opts.addr6.size(); i++) {
    const bool v4 = i < opts.addr4.size();
    const std::string& a = v4 ? opts.addr4[i] : opts.addr6[i - opts.addr4.size()];
    const int len = v4 ? opts.addr4_len[i] : opts.addr6_len[i - opts.addr4.size()];
    uint8_t a16[16];
    bool is_v4 = false;
    if (!ParseAddr16(a, a16, &is_v4)) continue;
    st = AddAddress(e.ifindex_, a16, len);
    if (!st.ok()) return st;
  }
  st = SetExceptionMtu(e.port_id_, e.ifindex_, MtuOfFrame(opts.max_frame));
  if (!st.ok()) return st;
  st = LinkUp(e.ifindex_);
  if (!st.ok()) return st;
  return e;
}

ExceptionPort& ExceptionPort::operator=(ExceptionPort&& o) noexcept {
  std::swap(vdev_name_, o.vdev_name_);
  std::swap(port_id_, o.port_id_);
  std::swap(ifindex_, o.ifindex_);
  std::swap(open_, o.open_);
  return *this;
}

ExceptionPort::~ExceptionPort() {
  if (!open_) return;
  rte_eth_dev_stop(port_id_);
  rte_eth_dev_close(port_id_);
  rte_vdev_uninit(vdev_name_.c_str());
}

}  // namespace kp::dpdk
