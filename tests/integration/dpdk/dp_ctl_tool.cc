// dp_ctl_tool.cc - a tiny command-line client of the data plane's control
// socket for the integration scripts (the real control plane is tested
// elsewhere).  Commands:
//   dp_ctl_tool SOCK kite KITE_ADDR KITE_PORT CONNECTOR_ADDR CONNECTOR_PORT LOCAL_ADDR LOCAL_PORT [MTU]
//       installs session 131073 toward the connector and kite 1 on it (IPv4),
//       keeping the data plane's own addresses and tunnel ports; the
//       session's path MTU is MTU (default 1500)
//   dp_ctl_tool SOCK counters      prints non-zero global counters and drops
//   dp_ctl_tool SOCK delete-kite ID  deletes kite ID (after a grace period)
//   dp_ctl_tool SOCK timing N      upserts N kites (ids 1..N), then times reading
//                                  every kite's stats and dumping every kite
#include <arpa/inet.h>

#include <chrono>
#include <cstdio>
#include <vector>
#include <cstdlib>
#include <cstring>
#include <string>

#include "counters.h"
#include "dataplane/ctl/client.h"

namespace {

bool Mapped(const char* text, uint8_t out[16]) {
  std::memset(out, 0, 16);
  out[10] = out[11] = 0xff;
  return inet_pton(AF_INET, text, out + 12) == 1;
}

int InstallKite(kp::ctl::Client* c, char** a, uint16_t mtu) {
  kp_session s{};
  s.session_id = (1u << KP_SESSION_INDEX_BITS) | 1u;
  s.state = KP_SESSION_LIVE;
  s.family = KP_AF_INET;
  if (!Mapped(a[2], s.connector_addr) || !Mapped(a[4], s.local_addr)) {
    std::fprintf(stderr, "bad IPv4 address\n");
    return 2;
  }
  s.connector_port = htons(static_cast<uint16_t>(std::atoi(a[3])));
  s.local_port = htons(static_cast<uint16_t>(std::atoi(a[5])));
  s.mtu = mtu;
  kp_kite k{};
  if (!Mapped(a[0], k.key.addr)) return 2;
  k.key.port = htons(static_cast<uint16_t>(std::atoi(a[1])));
  k.key.family = KP_AF_INET;
  k.kite_id = 1;
  k.state = KP_KITE_LIVE;
  k.n_sessions = 1;
  k.sessions[0] = s.session_id;
  auto cfg = c->GetConfig();
  if (!cfg.ok()) return 1;
  // Cookie keys for the run; everything else as the data plane set it.
  cfg->cookie_keys[0][0] = 0x0706050403020100ull;
  cfg->cookie_keys[0][1] = 0x0f0e0d0c0b0a0908ull;
  cfg->generation++;
  absl::Status st = c->SetConfig(*cfg);
  if (st.ok()) st = c->UpsertSessions({&s, 1});
  if (st.ok()) st = c->UpsertKites({&k, 1});
  if (!st.ok()) {
    std::fprintf(stderr, "dp_ctl_tool: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  return 0;
}

int PrintCounters(kp::ctl::Client* c) {
  auto ctr = c->GlobalCounters();
  if (!ctr.ok()) return 1;
  for (const auto& i : kp::fp::kGlobalCounterInfo) {
    if (ctr->counters[i.id]) std::printf("%s %llu\n", std::string(i.name).c_str(),
                                         static_cast<unsigned long long>(ctr->counters[i.id]));
  }
  for (const auto& i : kp::fp::kDropReasonInfo) {
    if (ctr->drops[i.id]) std::printf("drop_%s %llu\n", std::string(i.name).c_str(),
                                      static_cast<unsigned long long>(ctr->drops[i.id]));
  }
  return 0;
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int Timing(kp::ctl::Client* c, uint32_t n) {
  std::vector<kp_kite> kites(n);
  for (uint32_t i = 0; i < n; i++) {
    kp_kite& k = kites[i];
    k.kite_id = i + 1;
    k.key.family = KP_AF_INET;
    k.key.addr[10] = k.key.addr[11] = 0xff;
    k.key.addr[12] = 100;
    k.key.addr[13] = 64;
    k.key.addr[14] = static_cast<uint8_t>(i / 50000);
    k.key.port = htons(static_cast<uint16_t>(10000 + i % 50000));
    k.state = KP_KITE_LIVE;
  }
  auto t0 = std::chrono::steady_clock::now();
  absl::Status st = c->UpsertKites(kites);
  if (!st.ok()) {
    std::fprintf(stderr, "upsert: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::printf("upsert %u kites: %.3f s\n", n, Seconds(t0));
  uint32_t seen = 0;
  t0 = std::chrono::steady_clock::now();
  st = c->ForEachKiteStats(0, [&](const kp_ctl_kite_stats&) { seen++; });
  std::printf("kite stats of %u kites: %.3f s (%s)\n", seen, Seconds(t0), st.ok() ? "ok" : "error");
  seen = 0;
  t0 = std::chrono::steady_clock::now();
  st = c->ForEachKite(0, [&](const kp_kite&) { seen++; });
  std::printf("dump of %u kites: %.3f s (%s)\n", seen, Seconds(t0), st.ok() ? "ok" : "error");
  return seen == n ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: dp_ctl_tool SOCK kite ...|counters\n");
    return 2;
  }
  auto c = kp::ctl::Client::Connect(argv[1], "dp_ctl_tool");
  if (!c.ok()) {
    std::fprintf(stderr, "dp_ctl_tool: %s\n", std::string(c.status().message()).c_str());
    return 1;
  }
  const std::string cmd = argv[2];
  if (cmd == "kite" && argc == 9) return InstallKite(c->get(), argv + 3, 1500);
  if (cmd == "kite" && argc == 10) {
    return InstallKite(c->get(), argv + 3, static_cast<uint16_t>(std::atoi(argv[9])));
  }
  if (cmd == "counters") return PrintCounters(c->get());
  if (cmd == "delete-kite" && argc == 4) {
    const uint32_t id = static_cast<uint32_t>(std::strtoul(argv[3], nullptr, 10));
    absl::Status st = (*c)->DeleteKites({&id, 1});
    if (!st.ok()) std::fprintf(stderr, "dp_ctl_tool: %s\n", std::string(st.message()).c_str());
    return st.ok() ? 0 : 1;
  }
  if (cmd == "timing" && argc == 4) return Timing(c->get(), static_cast<uint32_t>(std::atoi(argv[3])));
  std::fprintf(stderr, "dp_ctl_tool: bad command\n");
  return 2;
}
