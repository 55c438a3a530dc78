// main.cc - kiteplane-controlplane's command line.
//
//   kiteplane-controlplane [--config FILE]      run (built-in default config without --config)
//   kiteplane-controlplane --check-config FILE  check FILE like a start would, with no side effect
//   kiteplane-controlplane --print-default-config
#include <cstdio>
#include <cstring>
#include <string>

#include "controlplane/app.h"
#include "controlplane/log.h"

namespace {

int Usage(FILE* f) {
  std::fprintf(f,
               "usage: kiteplane-controlplane [--config FILE]\n"
               "       kiteplane-controlplane --check-config FILE\n"
               "       kiteplane-controlplane --print-default-config\n"
               "Without --config the built-in default (loopback demo) configuration is used.\n");
  return f == stdout ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config, check;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if ((a == "--config" || a == "-c") && i + 1 < argc) {
      config = argv[++i];
    } else if (a == "--check-config" && i + 1 < argc) {
      check = argv[++i];
    } else if (a == "--print-default-config") {
      std::fputs(kp::cp::PolicyHost::DefaultConfigText(), stdout);
      return 0;
    } else if (a == "--help" || a == "-h") {
      return Usage(stdout);
    } else {
      std::fprintf(stderr, "kiteplane-controlplane: unknown argument '%s'\n", a.c_str());
      return Usage(stderr);
    }
  }
  if (!check.empty()) {
    auto p = kp::cp::PolicyHost::LoadFile(check);
    if (!p.ok()) {
      std::fprintf(stderr, "%s\n", std::string(p.status().message()).c_str());
      return 1;
    }
    std::printf("%s: OK (%zu kites declared, %zu port pools, hooks:%s%s%s%s%s)\n", check.c_str(),
                (*p)->config().kites.size(), (*p)->config().pools.size(),
                (*p)->has_hook(kp::cp::Hook::kOnRegister) ? " on_register" : "",
                (*p)->has_hook(kp::cp::Hook::kOnQuotaExhausted) ? " on_quota_exhausted" : "",
                (*p)->has_hook(kp::cp::Hook::kOnTick) ? " on_tick" : "",
                (*p)->has_hook(kp::cp::Hook::kOnSessionDown) ? " on_session_down" : "",
                (*p)->has_hook(kp::cp::Hook::kOnLameDuck) ? " on_lame_duck" : "");
    return 0;
  }
  auto p = config.empty() ? kp::cp::PolicyHost::LoadDefault() : kp::cp::PolicyHost::LoadFile(config);
  if (!p.ok()) {
    std::fprintf(stderr, "kiteplane-controlplane: configuration error: %s\n", std::string(p.status().message()).c_str());
    return 1;
  }
  kp::cp::App app(config, std::move(*p));
  absl::Status s = app.Start();
  if (!s.ok()) {
    kp::cp::Log("error", "cannot start", {{"error", std::string(s.message())}});
    return 1;
  }
  return app.Run();
}
