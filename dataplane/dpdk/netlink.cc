// netlink.cc - minimal rtnetlink client: one request, read replies until
// NLMSG_DONE or the ACK, on a short-lived NETLINK_ROUTE socket.
#include "dataplane/dpdk/netlink.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace kp::dpdk {
namespace {

// RAII netlink socket.
class NlSocket {
 public:
  NlSocket() : fd_(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {
    if (fd_ >= 0) {
      timeval tv{1, 0};  // the kernel answers at once; never hang on it
      setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
  }
  ~NlSocket() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

struct Req {
  nlmsghdr nh;
  union {
    ifinfomsg ifi;
    ifaddrmsg ifa;
    ndmsg nd;
  };
  char attrs[64];
};

void AddAttr(Req* r, uint16_t type, const void* data, size_t len) {
  auto* rta = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(r) + NLMSG_ALIGN(r->nh.nlmsg_len));
  rta->rta_type = type;
  rta->rta_len = static_cast<uint16_t>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(rta), data, len);
  r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

absl::Status Errno(const char* what, int err) {
  return absl::InternalError(absl::StrCat("netlink ", what, ": ", std::strerror(err)));
}

// Sends `r` and waits for the ACK.
absl::Status Transact(Req* r, const char* what) {
  NlSocket s;
  if (s.fd() < 0) return Errno(what, errno);
  r->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  if (send(s.fd(), r, r->nh.nlmsg_len, 0) < 0) return Errno(what, errno);
  char buf[4096];
  ssize_t n = recv(s.fd(), buf, sizeof(buf), 0);
  if (n < 0) return Errno(what, errno);
  auto* nh = reinterpret_cast<nlmsghdr*>(buf);
  if (NLMSG_OK(nh, static_cast<uint32_t>(n)) && nh->nlmsg_type == NLMSG_ERROR) {
    auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(nh));
    if (e->error != 0 && e->error != -EEXIST) return Errno(what, -e->error);
  }
  return absl::OkStatus();
}

}  // namespace

bool ParseAddr16(const std::string& text, uint8_t out[16], bool* is_v4) {
  uint8_t v4[4];
  if (inet_pton(AF_INET, text.c_str(), v4) == 1) {
    std::memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    std::memcpy(out + 12, v4, 4);
    *is_v4 = true;
    return true;
  }
  *is_v4 = false;
  return inet_pton(AF_INET6, text.c_str(), out) == 1;
}

absl::Status LinkUp(int ifindex) {
  Req r{};
  r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  r.nh.nlmsg_type = RTM_NEWLINK;
  r.ifi.ifi_family = AF_UNSPEC;
  r.ifi.ifi_index = ifindex;
  r.ifi.ifi_flags = IFF_UP;
  r.ifi.ifi_change = IFF_UP;
  return Transact(&r, "set link up");
}

absl::Status SetLinkMtu(int ifindex, uint32_t mtu) {
  Req r{};
  r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  r.nh.nlmsg_type = RTM_NEWLINK;
  r.ifi.ifi_family = AF_UNSPEC;
  r.ifi.ifi_index = ifindex;
  AddAttr(&r, IFLA_MTU, &mtu, sizeof(mtu));
  return Transact(&r, "set link MTU");
}

absl::Status AddAddress(int ifindex, const uint8_t addr16[16], int prefix_len) {
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  const bool v4 = std::memcmp(addr16, kMapped, 12) == 0;
  Req r{};
  r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ifaddrmsg));
  r.nh.nlmsg_type = RTM_NEWADDR;
  r.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
  r.ifa.ifa_family = v4 ? AF_INET : AF_INET6;
  r.ifa.ifa_prefixlen = static_cast<uint8_t>(prefix_len);
  r.ifa.ifa_index = static_cast<uint32_t>(ifindex);
  r.ifa.ifa_flags = v4 ? 0 : IFA_F_NODAD;
  const uint8_t* a = v4 ? addr16 + 12 : addr16;
  const size_t len = v4 ? 4 : 16;
  AddAttr(&r, IFA_LOCAL, a, len);
  AddAttr(&r, IFA_ADDRESS, a, len);
  return Transact(&r, "add address");
}

absl::StatusOr<std::vector<Neighbour>> DumpNeighbours(int ifindex) {
  NlSocket s;
  if (s.fd() < 0) return Errno("neighbour dump", errno);
  Req r{};
  r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(ndmsg));
  r.nh.nlmsg_type = RTM_GETNEIGH;
  r.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  r.nd.ndm_family = AF_UNSPEC;
  if (send(s.fd(), &r, r.nh.nlmsg_len, 0) < 0) return Errno("neighbour dump", errno);
  std::vector<Neighbour> out;
  alignas(nlmsghdr) char buf[16384];
  for (;;) {
    ssize_t n = recv(s.fd(), buf, sizeof(buf), 0);
    if (n < 0) return Errno("neighbour dump", errno);
    for (auto* nh = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(nh, static_cast<uint32_t>(n));
         nh = NLMSG_NEXT(nh, n)) {
      if (nh->nlmsg_type == NLMSG_DONE) return out;
      if (nh->nlmsg_type == NLMSG_ERROR) return absl::InternalError("netlink neighbour dump failed");
      if (nh->nlmsg_type != RTM_NEWNEIGH) continue;
      auto* nd = static_cast<ndmsg*>(NLMSG_DATA(nh));
      if (nd->ndm_ifindex != ifindex) continue;
      if (nd->ndm_state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP)) continue;
      Neighbour nb{};
      bool have_dst = false, have_mac = false;
      int len = static_cast<int>(RTM_PAYLOAD(nh));
      for (auto* a = RTM_RTA(nd); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == NDA_DST && nd->ndm_family == AF_INET && RTA_PAYLOAD(a) == 4) {
          nb.addr[10] = nb.addr[11] = 0xff;
          std::memcpy(nb.addr + 12, RTA_DATA(a), 4);
          have_dst = true;
        } else if (a->rta_type == NDA_DST && nd->ndm_family == AF_INET6 && RTA_PAYLOAD(a) == 16) {
          std::memcpy(nb.addr, RTA_DATA(a), 16);
          have_dst = true;
        } else if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
          std::memcpy(nb.mac, RTA_DATA(a), 6);
          have_mac = true;
        }
      }
      if (have_dst && have_mac) out.push_back(nb);
    }
  }
}

}  // namespace kp::dpdk
