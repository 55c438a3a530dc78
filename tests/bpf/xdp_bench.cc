// xdp_bench.cc - ns per packet of the XDP fast path under BPF_PROG_TEST_RUN,
// beside the trivial MAC-swap XDP_TX program measured in the same run.
//
// Scenarios: encapsulation (client -> connector) and decapsulation
// (connector -> client, cookie verified), IPv4 over IPv4 with a 64-byte
// client payload, first with the golden-vector tables (19 kites) and then
// with 1,000,000 more kites in the tables; between the two it times the
// upsert of those kites and (R times, median) the counter read of all kites
// through XdpBackend::KiteStats.  Each figure is the kernel's
// average over `repeat` runs; the median of several runs is printed.  The
// fast path is measured through bpf/bench_fastpath.bpf.c, which restores the
// frame after each repetition; its save/restore cost (kp_bench_restore) is
// measured too and subtracted to give the net figure: the fast path's own
// work.  Every figure of the test run includes the run's loop cost per
// repetition (about 25-30 ns here), MAC swap's too, and the subtraction
// removes it from the net figure, so the fast path is compared with MAC swap
// as it would run alone: net + the loop cost, measured as the figure of a
// program that only returns XDP_TX (bpf/bench_macswap.bpf.c).  The ratio and
// the difference printed are of those two per-packet figures.
//   usage: xdp_bench VECTORS.json [--repeat N] [--runs R] [--kites N] [--min] [--ab OTHER.bpf.o
//                    [--ab-vectors OTHER.json]] [--only encap|decap]
// --only runs one fast-path case (beside the baselines), for a profiler.
// --ab loads another build of bench_fastpath.bpf.o on the same maps and
// measures its encap and decap interleaved with this build's (A/B).
// --min reports each program's fastest run instead of the median (on a
// shared machine the fastest run is the one least disturbed by others).
// --ab-vectors takes that build's two frames from another vectors file (same
// tables and keys, frames of an older wire format, e.g. another cookie).
// Exits 77 without the privileges to load BPF programs.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/bench_fastpath.skel.h"
#include "bpf/bench_macswap.skel.h"
#include "dataplane/xdp/xdp_program.h"
#include "tests/bpf/xdp_world.h"

namespace kp::xdp::test {
namespace {

constexpr int kMaxLoads = 8;

struct Args {
  std::string vectors;
  uint32_t repeat = 1000000;
  int runs = 5;
  uint32_t kites = 1000000;
  std::string ab;  // another build of bench_fastpath.bpf.o, measured beside this one
  std::string ab_vectors;  // where that build's frames come from (default: vectors)
  bool min = false;  // report each program's fastest run instead of the median
  int loads = 1;     // with --ab: loads of each build (placements), see Run
  std::string only;  // "encap" or "decap": run only that case of the fast path (profiling)
};

// Average ns per run of `repeat` runs, or -1 (with the verdict check failing).
double RunOnce(int fd, const std::vector<uint8_t>& frame, uint32_t repeat, uint32_t want) {
  std::vector<uint8_t> out(4096);
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.data_out = out.data();
  opts.data_size_out = static_cast<uint32_t>(out.size());
  opts.repeat = repeat;
  if (bpf_prog_test_run_opts(fd, &opts) != 0 || opts.retval != want) {
    std::fprintf(stderr, "test run failed (retval %u, want %u)\n", opts.retval, want);
    return -1;
  }
  return static_cast<double>(opts.duration);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Prog {
  const char* name;
  int fd;
  const std::vector<uint8_t>* frame;
  uint32_t verdict = XDP_TX;  // what the wrapped program returns for this frame
};

// Runs every program `runs` times, interleaved (forward, then backward, so
// no program always runs after the same one); returns the medians.
std::vector<double> Measure(const std::vector<Prog>& progs, const Args& a) {
  std::vector<std::vector<double>> samples(progs.size());
  for (int r = 0; r < a.runs; r++) {
    for (size_t j = 0; j < progs.size(); j++) {
      const size_t i = r % 2 ? progs.size() - 1 - j : j;  // alternate the order
      const double ns = RunOnce(progs[i].fd, *progs[i].frame, a.repeat, progs[i].verdict);
      if (ns < 0) {
        std::fprintf(stderr, "  (program: %s)\n", progs[i].name);
        std::exit(1);
      }
      samples[i].push_back(ns);
    }
  }
  std::vector<double> med;
  for (auto& s : samples) med.push_back(a.min ? *std::min_element(s.begin(), s.end()) : Median(s));
  return med;
}

// progs[0]: MAC swap, [1]: the empty program (loop cost), [2]: save/restore
// only; then the fast path's cases.
constexpr size_t kFirstCase = 3;

void Report(const char* tables, const std::vector<Prog>& progs, const std::vector<double>& med) {
  const double swap = med[0], loop = med[1], restore = med[2];
  std::printf("\n[%s]\n", tables);
  for (size_t i = 0; i < kFirstCase; i++) {
    std::printf("  %-34s %8.1f ns/packet\n", progs[i].name, med[i]);
  }
  for (size_t i = kFirstCase; i < progs.size(); i++) {
    if (progs[i].verdict != XDP_TX) {  // only the save happens on these
      std::printf("  %-34s %8.1f ns/packet raw (save included): %.2fx MAC swap, %+.1f ns\n",
                  progs[i].name, med[i], med[i] / swap, med[i] - swap);
      continue;
    }
    const double net = med[i] - restore, alone = net + loop;
    std::printf("  %-34s %8.1f raw, %6.1f net, %6.1f ns/packet alone: %.2fx MAC swap, %+.1f ns\n",
                progs[i].name, med[i], net, alone, alone / swap, alone - swap);
  }
  // A/B: medians over the loads of each build (names "... [new L]" / "[ab L]").
  std::vector<double> net[2][2];  // [encap, decap][new, ab]
  for (size_t i = kFirstCase; i < progs.size(); i++) {
    const std::string_view n(progs[i].name);
    const int side = n.find("[ab ") != n.npos ? 1 : n.find("[new ") != n.npos ? 0 : -1;
    if (side < 0 || progs[i].verdict != XDP_TX) continue;
    net[n.substr(0, 5) == "encap" ? 0 : 1][side].push_back(med[i] - restore);
  }
  for (int d = 0; d < 2; d++) {
    if (net[d][0].empty() || net[d][1].empty()) continue;
    const double x = Median(net[d][0]), y = Median(net[d][1]);
    std::printf("  A/B %s, median over %zu loads: new %.1f net (alone %.2fx MAC swap), ab %.1f "
                "net (%.2fx), new - ab %+.1f ns\n",
                d ? "decap" : "encap", net[d][0].size(), x, (x + loop) / swap, y,
                (y + loop) / swap, x - y);
  }
}

const VectorCase* FindCase(const World& w, const char* name) {
  for (const VectorCase& c : w.cases) {
    if (c.name == name) return &c;
  }
  std::fprintf(stderr, "vector %s not found\n", name);
  std::exit(1);
}

absl::Status AddKites(XdpBackend* backend, uint32_t first_id, uint32_t n, uint32_t session) {
  std::vector<kp_kite> batch;
  for (uint32_t i = 0; i < n; i++) {
    kp_kite k{};
    k.kite_id = first_id + i;
    k.key.family = KP_AF_INET;
    k.key.addr[10] = k.key.addr[11] = 0xff;
    const uint32_t a = htonl(0x64400000u + i);  // 100.64.0.0 + i
    std::memcpy(k.key.addr + 12, &a, 4);
    k.key.port = htons(6000);
    k.state = KP_KITE_LIVE;
    k.n_sessions = 1;
    k.sessions[0] = session;
    batch.push_back(k);
    if (batch.size() == 65536 || i + 1 == n) {
      if (absl::Status st = backend->UpsertKites(batch); !st.ok()) return st;
      batch.clear();
    }
  }
  return absl::OkStatus();
}

// A/B mode: loads another build of bench_fastpath.bpf.o sharing every map of
// `bench` (same tables, same counters) and the same read-only data, so two
// builds are measured interleaved in one run; single-digit-ns steps hide in
// the spread between separate runs.  Returns the object, or nullptr.
// An empty path loads another copy of this build (the skeleton's object).
bpf_object* OpenOther(const std::string& path, kp_bench* bench) {
  size_t self_size = 0;
  const void* self = kp_bench__elf_bytes(&self_size);
  bpf_object* obj = path.empty() ? bpf_object__open_mem(self, self_size, nullptr)
                                 : bpf_object__open_file(path.c_str(), nullptr);
  if (!obj) return nullptr;
  bpf_map* m;
  bpf_object__for_each_map(m, obj) {
    const char* name = bpf_map__name(m);
    if (bpf_map__is_internal(m)) {
      const std::string_view n(name);
      if (n.size() < 7 || n.substr(n.size() - 7) != ".rodata") continue;  // strings, .bss
      size_t want = 0, have = 0;
      bpf_map__initial_value(m, &want);
      bpf_map__initial_value(bench->maps.rodata, &have);
      // same variables, same layout: the same source's read-only data
      if (std::strstr(name, ".rodata") == nullptr || want != have ||
          bpf_map__set_initial_value(m, bench->rodata, want) != 0) {
        std::fprintf(stderr, "--ab: internal map %s does not match\n", name);
        return nullptr;
      }
      continue;
    }
    const bpf_map* mine = bpf_object__find_map_by_name(bench->obj, name);
    if (!mine || bpf_map__reuse_fd(m, bpf_map__fd(mine)) != 0) {
      std::fprintf(stderr, "--ab: cannot share map %s\n", name);
      return nullptr;
    }
  }
  if (bpf_object__load(obj) != 0) {
    std::fprintf(stderr, "--ab: loading %s failed\n", path.c_str());
    return nullptr;
  }
  return obj;
}

int Run(const Args& a) {
  absl::StatusOr<World> w = World::Parse(a.vectors);
  if (!w.ok()) return 1;
  kp_bench* bench = kp_bench__open();
  kp_macswap* swap = kp_macswap__open();
  if (!bench || !swap) return 1;
  const uint32_t max_kites = 1u << 20;
  if (!SizeMaps(bench->obj, max_kites, KP_MAX_SESSIONS).ok()) return 1;
  SetStateLayout(bench->rodata, max_kites);
  if (kp_bench__load(bench) != 0 || kp_macswap__load(swap) != 0) {
    std::fprintf(stderr, "loading the benchmark programs failed\n");
    return 1;
  }
  XdpBackend backend(MapFdsOf(bench->obj), max_kites, KP_MAX_SESSIONS);
  if (absl::Status st = w->LoadTables(&backend); !st.ok()) {
    std::fprintf(stderr, "tables: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  const std::vector<uint8_t>& enc = FindCase(*w, "enc_v4_v4_basic")->input;
  const std::vector<uint8_t>& dec = FindCase(*w, "dec_v4_v4_basic")->input;
  // Early exits, for the cost breakdown (the wrapper returns XDP_DROP for
  // anything but TX and leaves such frames untouched).
  std::vector<uint8_t> not_ip = enc;
  not_ip[12] = 0x88;  // EtherType 0x88b5: local experimental, not IP
  not_ip[13] = 0xb5;
  std::vector<uint8_t> bad_csum = enc;
  bad_csum.back() ^= 0x01;  // payload byte flipped: parsed and summed, then dropped
  std::vector<Prog> progs = {
      {"MAC swap (baseline)", bpf_program__fd(swap->progs.kp_bench_macswap), &enc},
      {"empty XDP_TX (test-run loop cost)", bpf_program__fd(swap->progs.kp_bench_empty), &enc},
      {"save/restore only (subtracted)", bpf_program__fd(bench->progs.kp_bench_restore), &enc},
      {"encap v4/v4, cookie", bpf_program__fd(bench->progs.kp_bench_fastpath), &enc},
      {"decap v4/v4, cookie check", bpf_program__fd(bench->progs.kp_bench_fastpath), &dec},
      {"not IP: exception (breakdown)", bpf_program__fd(bench->progs.kp_bench_fastpath), &not_ip,
       XDP_DROP},
      {"bad UDP checksum: drop (breakdown)", bpf_program__fd(bench->progs.kp_bench_fastpath),
       &bad_csum, XDP_DROP},
  };
  if (!a.only.empty()) {  // keep the baselines and the one case asked for
    std::vector<Prog> kept(progs.begin(), progs.begin() + kFirstCase);
    for (size_t i = kFirstCase; i < progs.size(); i++) {
      if (std::string_view(progs[i].name).substr(0, 5) == a.only) kept.push_back(progs[i]);
    }
    progs = kept;
  }
  if (!a.ab.empty()) {  // (main refuses --ab with --only)
    const std::vector<uint8_t>* ab_enc = &enc;
    const std::vector<uint8_t>* ab_dec = &dec;
    if (!a.ab_vectors.empty()) {
      static absl::StatusOr<World> ow = World::Parse(a.ab_vectors);
      if (!ow.ok()) return 1;
      ab_enc = &FindCase(*ow, "enc_v4_v4_basic")->input;
      ab_dec = &FindCase(*ow, "dec_v4_v4_basic")->input;
    }
    // Load l (0-based) of this build is the skeleton's own program for l = 0,
    // else a fresh copy; each load of the other build is its own copy.  Where
    // the JIT puts a program shifts its cost by up to ~20 ns here, so with
    // --loads L the summary compares medians over L placements of each.
    static char names[2 * kMaxLoads][2][48];
    std::vector<Prog> ab;
    for (int l = 0; l < a.loads; l++) {
      for (int side = 0; side < 2; side++) {
        int fd = bpf_program__fd(bench->progs.kp_bench_fastpath);
        if (side == 1 || l > 0) {
          bpf_object* o = OpenOther(side ? a.ab : std::string(), bench);
          const bpf_program* p = o ? bpf_object__find_program_by_name(o, "kp_bench_fastpath")
                                   : nullptr;
          if (!p) return 1;
          fd = bpf_program__fd(p);
        }
        char(&n)[2][48] = names[2 * l + side];
        std::snprintf(n[0], sizeof n[0], "encap v4/v4, cookie [%s %d]", side ? "ab" : "new", l);
        std::snprintf(n[1], sizeof n[1], "decap v4/v4, cookie check [%s %d]", side ? "ab" : "new",
                      l);
        if (side == 0 && l == 0) {
          progs[kFirstCase].name = n[0];
          progs[kFirstCase + 1].name = n[1];
          continue;
        }
        ab.push_back({n[0], fd, side ? ab_enc : &enc});
        ab.push_back({n[1], fd, side ? ab_dec : &dec});
      }
    }
    progs.insert(progs.begin() + kFirstCase + 2, ab.begin(), ab.end());
  }
  std::printf("xdp_bench: %u repeats per run, %s of %d runs, client payload 64 B "
              "(frames %zu / %zu B)\n", a.repeat, a.min ? "minimum" : "median", a.runs, enc.size(),
              dec.size());
  char title0[64];
  std::snprintf(title0, sizeof title0, "golden-vector tables: %zu kites", w->kites.size());
  Report(title0, progs, Measure(progs, a));

  if (a.kites == 0) return 0;  // golden-vector tables only
  const auto t0 = std::chrono::steady_clock::now();
  if (absl::Status st = AddKites(&backend, 100, a.kites, w->sessions[0].session_id); !st.ok()) {
    std::fprintf(stderr, "add kites: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Counter read of every kite, a.runs times; the median is reported.
  std::vector<kp_ctl_kite_stats> stats(8192);
  std::vector<double> reads;
  uint32_t seen = 0;
  for (int r = 0; r < a.runs; r++) {
    const auto t1 = std::chrono::steady_clock::now();
    uint32_t first = 1, next = 0;
    seen = 0;
    do {
      absl::StatusOr<uint32_t> n = backend.KiteStats(first, stats, &next);
      if (!n.ok()) return 1;
      seen += *n;
      first = next;
    } while (next != 0);
    reads.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count());
  }
  std::sort(reads.begin(), reads.end());
  std::printf("\nloaded %u more kites in %.2f s; read counters of all %u kites: median %.1f ms "
              "(min %.1f, max %.1f, %d reads)\n",
              a.kites, load_s, seen, reads[reads.size() / 2] * 1e3, reads.front() * 1e3,
              reads.back() * 1e3, a.runs);
  char title[64];
  std::snprintf(title, sizeof title, "%u kites", seen);
  Report(title, progs, Measure(progs, a));
  kp_bench__destroy(bench);
  kp_macswap__destroy(swap);
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
  kp::xdp::test::Args a;
  for (int i = 1; i < argc; i++) {
    const std::string s = argv[i];
    if (s == "--repeat" && i + 1 < argc) {
      a.repeat = static_cast<uint32_t>(std::atoi(argv[++i]));
    } else if (s == "--runs" && i + 1 < argc) {
      a.runs = std::atoi(argv[++i]);
    } else if (s == "--ab" && i + 1 < argc) {
      a.ab = argv[++i];
    } else if (s == "--loads" && i + 1 < argc) {
      a.loads = std::atoi(argv[++i]);
    } else if (s == "--min") {
      a.min = true;
    } else if (s == "--ab-vectors" && i + 1 < argc) {
      a.ab_vectors = argv[++i];
    } else if (s == "--only" && i + 1 < argc) {
      a.only = argv[++i];
    } else if (s == "--kites" && i + 1 < argc) {
      a.kites = static_cast<uint32_t>(std::atoi(argv[++i]));
    } else {
      a.vectors = s;
    }
  }
  if (a.vectors.empty() || a.runs < 1 || a.repeat < 1 || a.kites > 1040000 || a.loads < 1 ||
      a.loads > kp::xdp::test::kMaxLoads ||
      (!a.only.empty() && a.only != "encap" && a.only != "decap") ||
      (!a.only.empty() && !a.ab.empty())) {
    std::fprintf(stderr,
                 "usage: %s VECTORS.json [--repeat N] [--runs R] [--kites N<=1040000] "
                 "[--ab OTHER.bpf.o [--ab-vectors OTHER.json] [--loads L<=8]] [--min] "
                 "[--only encap|decap (not with --ab)]\n",
                 argv[0]);
    return 2;
  }
  libbpf_set_print([](enum libbpf_print_level lvl, const char* fmt, va_list ap) {
    return lvl == LIBBPF_WARN ? std::vfprintf(stderr, fmt, ap) : 0;
  });
  return kp::xdp::test::Run(a);
}
