// main.cc - kite-connector: registers kites with kiteplane front-ends and
// relays their datagrams to local services (docs/connector.md).
//
//   kite-connector --config FILE [--once] [--stats-file FILE]
//                  [--exit-after-register] [--check-config]
// Exit codes: 0 stopped normally, 1 nothing could be registered (--once),
// 2 bad command line or configuration.
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "tools/kite-connector/config.h"
#include "tools/kite-connector/connector.h"
#include "tools/kite-connector/net.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: kite-connector --config FILE [--once] [--stats-file FILE]\n"
               "                      [--exit-after-register] [--check-config]\n"
               "  --once                one pass over every front-end and port; exit 1 if\n"
               "                        no kite could be registered\n"
               "  --stats-file FILE     write counters to FILE periodically and on SIGUSR1\n"
               "  --exit-after-register close the session and exit 0 once registered\n"
               "  --check-config        parse the configuration and exit\n");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kp::connector;
  std::string config_path;
  Options opts;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--config" || a == "-c") && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--stats-file" && i + 1 < argc) {
      opts.stats_file = argv[++i];
    } else if (a == "--once") {
      opts.once = true;
    } else if (a == "--exit-after-register") {
      opts.exit_after_register = true;
    } else if (a == "--check-config") {
      check_only = true;
    } else if (a == "--help" || a == "-h") {
      Usage();
      return 0;
    } else {
      std::fprintf(stderr, "kite-connector: unknown argument '%s'\n", a.c_str());
      Usage();
      return 2;
    }
  }
  if (config_path.empty()) {
    Usage();
    return 2;
  }
  auto cfg = LoadConfigFile(config_path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "kite-connector: %s\n", std::string(cfg.status().message()).c_str());
    return 2;
  }
  if (check_only) {
    std::printf("%s: ok, %zu kites, %zu front-ends\n", config_path.c_str(), cfg->kites.size(),
                cfg->frontends.size());
    return 0;
  }
  auto conn = Connector::Create(std::move(*cfg), opts);
  if (!conn.ok()) {
    std::fprintf(stderr, "kite-connector: %s\n", std::string(conn.status().message()).c_str());
    return 2;
  }
  return (*conn)->Run();
}
