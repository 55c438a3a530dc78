// xdp_ctl_tool.cc - a tiny control-socket client for the XDP integration
// test: programs one front-end configuration, one session and one kite, and
// prints the global counters, through kp::ctl::Client.
//   xdp_ctl_tool SOCK setup OWN4 TUNNEL_PORT KITE_ADDR KITE_PORT
//                CONNECTOR_ADDR CONNECTOR_PORT
//   xdp_ctl_tool SOCK counters      (one "metric_name value" per line)
// IPv4 only; the next hop is "mirror" (reply to the sender's MAC), which is
// what a veth pair needs.
#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dataplane/ctl/client.h"

namespace {

const char* const kCounterNames[] = {
#define KP_X_NAME(name, metric, help) metric,
    KP_GLOBAL_COUNTERS(KP_X_NAME)
#undef KP_X_NAME
};
const char* const kDropNames[] = {
#define KP_X_NAME(name, metric, help) metric,
    KP_DROP_REASONS(KP_X_NAME)
#undef KP_X_NAME
};

bool Addr4(const char* text, uint8_t out16[16]) {
  in_addr a{};
  if (inet_pton(AF_INET, text, &a) != 1) return false;
  std::memset(out16, 0, 16);
  out16[10] = out16[11] = 0xff;
  std::memcpy(out16 + 12, &a, 4);
  return true;
}

int Die(const absl::Status& st) {
  std::fprintf(stderr, "xdp_ctl_tool: %s\n", std::string(st.ToString()).c_str());
  return 1;
}

int Setup(kp::ctl::Client* c, char** a) {
  kp_config cfg{};
  cfg.generation = 1;
  cfg.state = KP_FE_SERVING;
  cfg.key_epoch = 1;
  cfg.gateway_mac_valid = 2;  // mirror
  cfg.n_workers = 1;
  cfg.cookie_keys[0][0] = 0x0123456789abcdefull;
  cfg.cookie_keys[0][1] = 0xfedcba9876543210ull;
  cfg.cookie_keys[1][0] = 0x1111111111111111ull;
  cfg.cookie_keys[1][1] = 0x2222222222222222ull;
  cfg.n_tunnel_ports = 1;
  cfg.tunnel_ports[0] = htons(static_cast<uint16_t>(std::atoi(a[1])));
  uint8_t own[16];
  if (!Addr4(a[0], own)) return 2;
  cfg.n_own4 = 1;
  std::memcpy(cfg.own4[0], own + 12, 4);
  if (absl::Status st = c->SetConfig(cfg); !st.ok()) return Die(st);

  kp_session s{};
  s.session_id = (1u << KP_SESSION_INDEX_BITS) | 1u;  // generation 1, slot 1
  s.state = KP_SESSION_LIVE;
  s.family = KP_AF_INET;
  if (!Addr4(a[4], s.connector_addr)) return 2;
  s.connector_port = htons(static_cast<uint16_t>(std::atoi(a[5])));
  std::memcpy(s.local_addr, own, 16);
  s.local_port = cfg.tunnel_ports[0];
  s.mtu = 1500;
  if (absl::Status st = c->UpsertSessions({&s, 1}); !st.ok()) return Die(st);

  kp_kite k{};
  k.kite_id = 1;
  if (!Addr4(a[2], k.key.addr)) return 2;
  k.key.port = htons(static_cast<uint16_t>(std::atoi(a[3])));
  k.key.family = KP_AF_INET;
  k.state = KP_KITE_LIVE;
  k.n_sessions = 1;
  k.sessions[0] = s.session_id;
  if (absl::Status st = c->UpsertKites({&k, 1}); !st.ok()) return Die(st);
  std::printf("configured: kite 1, session %u\n", s.session_id);
  return 0;
}

int Counters(kp::ctl::Client* c) {
  absl::StatusOr<kp_ctl_global_counters> g = c->GlobalCounters();
  if (!g.ok()) return Die(g.status());
  for (int i = 0; i < KP_CTR_MAX; i++) {
    std::printf("%s %llu\n", kCounterNames[i], static_cast<unsigned long long>(g->counters[i]));
  }
  for (int i = 1; i < KP_DROP_MAX; i++) {
    if (g->drops[i]) {
      std::printf("drop_%s %llu\n", kDropNames[i], static_cast<unsigned long long>(g->drops[i]));
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SOCK setup OWN4 TPORT KADDR KPORT CADDR CPORT | counters\n",
                 argv[0]);
    return 2;
  }
  absl::StatusOr<std::unique_ptr<kp::ctl::Client>> c =
      kp::ctl::Client::Connect(argv[1], "xdp-integration-test");
  if (!c.ok()) return Die(c.status());
  const std::string cmd = argv[2];
  if (cmd == "setup" && argc == 9) return Setup(c->get(), argv + 3);
  if (cmd == "counters") return Counters(c->get());
  std::fprintf(stderr, "xdp_ctl_tool: bad command\n");
  return 2;
}
