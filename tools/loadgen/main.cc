// main.cc - kp-loadgen: UDP load generator (client) and echo server for
// kiteplane benchmarks, soak and integration tests.  See Usage() in
// options.cc for the flags; exit 0 only when the run met --max-loss with
// nothing corrupted.
#include <csignal>
#include <cstdio>

#include <atomic>
#include <nlohmann/json.hpp>

#include "tools/loadgen/client.h"
#include "tools/loadgen/net.h"
#include "tools/loadgen/options.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int RunEcho(const kiteplane::loadgen::Options& o) {
  auto server = kiteplane::loadgen::EchoServer::Open(o.target, o.batch);
  if (!server.ok()) {
    std::fprintf(stderr, "kp-loadgen: %s\n", server.status().ToString().c_str());
    return 2;
  }
  std::fprintf(stderr, "kp-loadgen: echoing on %s (port %u) for at most %.0f s\n",
               o.target.text.c_str(), server->port(), o.duration_s);
  absl::Status st = server->Run(g_stop, o.duration_s);
  if (o.json) {
    nlohmann::ordered_json j;
    j["received"] = server->received();
    j["sent"] = server->sent();
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("echoed: received %llu, sent %llu\n",
                static_cast<unsigned long long>(server->received()),
                static_cast<unsigned long long>(server->sent()));
  }
  if (!st.ok()) {
    std::fprintf(stderr, "kp-loadgen: %s\n", st.ToString().c_str());
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto opts = kiteplane::loadgen::ParseArgs(argc, argv);
  if (!opts.ok()) {
    if (absl::IsFailedPrecondition(opts.status())) {
      std::fputs(kiteplane::loadgen::Usage().c_str(), stdout);
      return 0;
    }
    std::fprintf(stderr, "kp-loadgen: %s\n", std::string(opts.status().message()).c_str());
    return 2;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  if (opts->echo) return RunEcho(*opts);
  auto summary = kiteplane::loadgen::RunClient(*opts, &g_stop);
  if (!summary.ok()) {
    std::fprintf(stderr, "kp-loadgen: %s\n", summary.status().ToString().c_str());
    return 2;
  }
  if (opts->json) {
    std::printf("%s\n", summary->ToJson().c_str());
  } else {
    std::fputs(summary->ToText().c_str(), stdout);
  }
  return summary->pass ? 0 : 1;
}
