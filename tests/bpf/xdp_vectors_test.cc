// xdp_vectors_test.cc - the differential test of the XDP program: runs every
// golden vector (tests/vectors/*.json) through kp_xdp_main under
// BPF_PROG_TEST_RUN and compares the verdict, the output frame byte for byte
// (XDP_TX: the expected rewrite; XDP_PASS: the input unchanged), the drop
// reason's counter and which kite's counters moved.  Tables are loaded
// through XdpBackend.  Exits 77 without the privileges to load BPF.
//   usage: xdp_vectors_test FILE.json...
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "dataplane/xdp/xdp_program.h"
#include "tests/bpf/xdp_world.h"

namespace kp::xdp::test {
namespace {

constexpr uint32_t kTestKites = 4096;
constexpr uint32_t kTestSessions = 4096;

std::string Hex(const uint8_t* p, size_t n) {
  std::string s;
  char b[3];
  for (size_t i = 0; i < n; i++) {
    std::snprintf(b, sizeof b, "%02x", p[i]);
    s += b;
  }
  return s;
}

// Sum of every counter of each present kite, by kite id (one paged read).
std::map<uint32_t, uint64_t> KiteTotals(XdpBackend* backend) {
  std::map<uint32_t, uint64_t> totals;
  std::vector<kp_ctl_kite_stats> st(256);
  uint32_t first = 0, next = 0;
  do {
    absl::StatusOr<uint32_t> n = backend->KiteStats(first, st, &next);
    if (!n.ok()) break;
    for (uint32_t i = 0; i < *n; i++) {
      for (uint64_t v : st[i].v) totals[st[i].kite_id] += v;
    }
    first = next;
  } while (next != 0);
  return totals;
}

// Runs one case; returns an empty string when it passes, else why not.
std::string RunCase(int prog_fd, const World& w, const VectorCase& c, XdpBackend* backend) {
  if (absl::Status st = w.ResetPerCase(backend); !st.ok()) return std::string(st.message());
  std::vector<uint8_t> out(4096 + 512);
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = c.input.data();
  opts.data_size_in = static_cast<uint32_t>(c.input.size());
  opts.data_out = out.data();
  opts.data_size_out = static_cast<uint32_t>(out.size());
  opts.repeat = 1;
  if (int r = bpf_prog_test_run_opts(prog_fd, &opts); r != 0) {
    // BPF_PROG_TEST_RUN refuses XDP frames shorter than an Ethernet header,
    // so such a case cannot be run here (the program still checks the length).
    if (r == -EINVAL && c.input.size() < 14) return "skip";
    return "test_run failed: " + std::string(std::strerror(-r));
  }
  out.resize(opts.data_size_out);
  const uint32_t want_act = c.verdict == "tx" ? XDP_TX : c.verdict == "drop" ? XDP_DROP : XDP_PASS;
  absl::StatusOr<kp_ctl_global_counters> g = backend->GlobalCounters();
  if (!g.ok()) return std::string(g.status().message());
  std::string why;
  if (opts.retval != want_act) {
    int got_reason = -1;
    for (int i = 1; i < KP_DROP_MAX; i++) {
      if (g->drops[i]) got_reason = i;
    }
    return "verdict " + std::to_string(opts.retval) + " want " + std::to_string(want_act) +
           " (drop reason counted: " + std::to_string(got_reason) + ")";
  }
  if (c.verdict == "tx" && out != c.output) {
    size_t i = 0;
    while (i < out.size() && i < c.output.size() && out[i] == c.output[i]) i++;
    return "output differs at byte " + std::to_string(i) + " (len " + std::to_string(out.size()) +
           " want " + std::to_string(c.output.size()) + ")\n  got  " + Hex(out.data(), out.size()) +
           "\n  want " + Hex(c.output.data(), c.output.size());
  }
  if (c.verdict == "exception" && out != c.input) return "exception frame was modified";
  if (c.verdict == "drop") {
    const int reason = DropReasonByName(c.reason);
    if (reason <= 0) return "unknown reason " + c.reason;
    if (g->drops[reason] != 1 || g->counters[KP_CTR_DROP_PKTS] != 1) {
      return "drop counter " + c.reason + " not moved exactly once";
    }
  }
  if (c.verdict == "tx" && g->counters[KP_CTR_TX_PKTS] != 1) return "tx_packets not counted";
  if (c.verdict == "exception" && g->counters[KP_CTR_EXCEPTION_PKTS] != 1) {
    return "exception_packets not counted";
  }
  if (g->counters[KP_CTR_RX_PKTS] != 1) return "rx_packets not counted";
  std::map<uint32_t, uint64_t> totals = KiteTotals(backend);
  for (const kp_kite& k : w.kites) {
    const bool moved = totals[k.kite_id] != 0;
    if (moved != (k.kite_id == c.kite_id)) {
      return "kite " + std::to_string(k.kite_id) + " counters " + (moved ? "moved" : "did not move");
    }
  }
  return "";
}

int RunFile(const std::string& path, int* failed) {
  absl::StatusOr<World> w = World::Parse(path);
  if (!w.ok()) {
    std::fprintf(stderr, "%s: %s\n", path.c_str(), std::string(w.status().message()).c_str());
    return 1;
  }
  XdpProgramOptions po;
  po.max_kites = kTestKites;
  po.max_sessions = kTestSessions;
  po.fixed_now_ns = w->now_ns;
  absl::StatusOr<std::unique_ptr<XdpProgram>> prog = XdpProgram::Open(po);
  if (!prog.ok()) return 1;
  if (absl::Status st = (*prog)->Load(); !st.ok()) {
    std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
    return 1;
  }
  XdpBackend backend((*prog)->maps(), kTestKites, kTestSessions);
  if (absl::Status st = w->LoadTables(&backend); !st.ok()) {
    std::fprintf(stderr, "%s: load tables: %s\n", path.c_str(), std::string(st.message()).c_str());
    return 1;
  }
  int pass = 0, skipped = 0;
  for (const VectorCase& c : w->cases) {
    const std::string why = RunCase((*prog)->main_prog_fd(), *w, c, &backend);
    if (why.empty()) {
      pass++;
    } else if (why == "skip") {
      skipped++;
      std::printf("SKIP %s: BPF_PROG_TEST_RUN needs at least 14 bytes of frame\n", c.name.c_str());
    } else {
      (*failed)++;
      std::printf("FAIL %s [%s %s]: %s\n", c.name.c_str(), c.verdict.c_str(), c.reason.c_str(),
                  why.c_str());
    }
  }
  std::printf("%s: %d/%zu cases pass, %d skipped\n", path.c_str(), pass, w->cases.size(), skipped);
  return 0;
}

}  // namespace
}  // namespace kp::xdp::test

int main(int argc, char** argv) {
  // A verifier rejection must fail, not skip: probe the privilege first.
  if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, nullptr) != 1) {
    std::printf("SKIP: cannot load XDP programs (need CAP_BPF + CAP_NET_ADMIN or root)\n");
    return 77;
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s VECTORS.json...\n", argv[0]);
    return 2;
  }
  libbpf_set_print([](enum libbpf_print_level lvl, const char* fmt, va_list ap) {
    return lvl == LIBBPF_WARN ? std::vfprintf(stderr, fmt, ap) : 0;
  });
  int failed = 0;
  for (int i = 1; i < argc; i++) {
    const int r = kp::xdp::test::RunFile(argv[i], &failed);
    if (r != 0) return r;
  }
  std::printf("%s\n", failed ? "FAILED" : "all vectors pass");
  return failed ? 1 : 0;
}
