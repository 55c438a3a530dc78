// options.cc - parsing of kp-loadgen's flags, endpoints and size lists.
#include "tools/loadgen/options.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "tools/loadgen/payload.h"

namespace kiteplane::loadgen {
namespace {

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(what);
}

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

}  // namespace

absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view spec, bool need_port) {
  std::string host;
  absl::string_view port_text;
  if (!spec.empty() && spec.front() == '[') {
    size_t close = spec.find(']');
    if (close == absl::string_view::npos) return Bad(absl::StrCat("bad address: ", spec));
    host = std::string(spec.substr(1, close - 1));
    if (close + 1 < spec.size()) {
      if (spec[close + 1] != ':') return Bad(absl::StrCat("bad address: ", spec));
      port_text = spec.substr(close + 2);
    }
  } else if (size_t c = spec.find(':'); c != absl::string_view::npos &&
                                        spec.find(':', c + 1) == absl::string_view::npos) {
    host = std::string(spec.substr(0, c));
    port_text = spec.substr(c + 1);
  } else if (size_t last = spec.rfind(':'); need_port && last != absl::string_view::npos) {
    // Unbracketed IPv6 with a port ("2001:db8::1:5000"): when a port is
    // required, the last group is the port.
    host = std::string(spec.substr(0, last));
    port_text = spec.substr(last + 1);
  } else {
    host = std::string(spec);
  }
  Endpoint ep;
  uint32_t port = 0;
  if (!port_text.empty() && (!absl::SimpleAtoi(port_text, &port) || port > 65535)) {
    return Bad(absl::StrCat("bad port in: ", spec));
  }
  if (need_port && (port_text.empty() || port == 0)) {
    return Bad(absl::StrCat("need ADDR:PORT, got: ", spec));
  }
  ep.port = static_cast<uint16_t>(port);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(ep.port);
    ep.family = AF_INET;
    ep.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(ep.port);
    ep.family = AF_INET6;
    ep.len = sizeof(sockaddr_in6);
  } else {
    return Bad(absl::StrCat("not an IPv4 or IPv6 address: ", host));
  }
  ep.text = std::string(spec);
  return ep;
}

uint32_t SizeSpec::SizeFor(uint64_t seq) const {
  const Item& it = items[seq % items.size()];
  if (it.lo == it.hi) return it.lo;
  return it.lo + static_cast<uint32_t>(Mix(seq) % (it.hi - it.lo + 1));
}

uint32_t SizeSpec::Max() const {
  uint32_t m = 0;
  for (const Item& it : items) m = std::max(m, it.hi);
  return m;
}

absl::StatusOr<SizeSpec> ParseSizes(absl::string_view spec) {
  SizeSpec out;
  for (absl::string_view item : absl::StrSplit(spec, ',')) {
    std::pair<absl::string_view, absl::string_view> r = absl::StrSplit(item, '-');
    uint32_t lo = 0, hi = 0;
    if (!absl::SimpleAtoi(r.first, &lo)) return Bad(absl::StrCat("bad size: ", item));
    hi = lo;
    if (!r.second.empty() && !absl::SimpleAtoi(r.second, &hi)) {
      return Bad(absl::StrCat("bad size range: ", item));
    }
    if (lo < kHeaderSize || hi > kMaxPayload || lo > hi) {
      return Bad(absl::StrCat("size ", item, " outside [", kHeaderSize, ", ", kMaxPayload,
                              "] (the payload header is ", kHeaderSize, " bytes)"));
    }
    out.items.push_back({lo, hi});
  }
  if (out.items.empty()) return Bad("empty --sizes");
  return out;
}

std::string Usage() {
  return R"(kp-loadgen: UDP load generator with self-checking payloads.

client:  kp-loadgen --target ADDR:PORT [options]
echo:    kp-loadgen --echo ADDR:PORT [--duration S] [-j]

  --target ADDR:PORT   where to send (IPv4 or [IPv6]:PORT)
  --bind ADDR[:PORT]   source address, repeatable (default: any address)
  --sockets N          sockets per --bind, each its own source port (default 1)
  --sizes LIST         payload sizes, e.g. 64,512,1400,3000 or 64-1472 (default 64;
                       each at least 32 bytes, the checking header)
  --count N            datagrams to send (default 1000)
  --pps R              target rate, 0 = as fast as possible (default 0)
  --window N           at most N datagrams in flight, 0 = no limit (default 0)
  --batch N            datagrams per sendmmsg/recvmmsg (default 32, max 1024)
  --timeout S          wait for stragglers after the last send; also the limit
                       of a window stall (default 2)
  --duration S         hard cap on the run, both modes (default 300)
  --max-loss X         allowed loss: ratio (0.01) or percent (1%) (default 0)
  --run-id N           tag of this run's datagrams (default random)
  -j, --json           print the summary as one JSON object

Exit status: 0 when loss <= --max-loss and nothing came back corrupted,
1 otherwise, 2 on bad usage or a socket error.
)";
}

namespace {

absl::Status ParseDouble(absl::string_view flag, absl::string_view v, double lo, double hi,
                         double* out) {
  bool pct = !v.empty() && v.back() == '%';
  if (pct) v.remove_suffix(1);
  double d = 0;
  if (!absl::SimpleAtod(v, &d) || !std::isfinite(d)) {
    return Bad(absl::StrCat(flag, ": not a number: ", v));
  }
  if (pct) d /= 100.0;
  if (d < lo || d > hi) return Bad(absl::StrCat(flag, ": out of range: ", v));
  *out = d;
  return absl::OkStatus();
}

template <typename T>
absl::Status ParseUint(absl::string_view flag, absl::string_view v, T lo, T hi, T* out) {
  uint64_t u = 0;
  if (!absl::SimpleAtoi(v, &u) || u < lo || u > hi) {
    return Bad(absl::StrCat(flag, ": expected an integer in [", lo, ", ", hi, "]: ", v));
  }
  *out = static_cast<T>(u);
  return absl::OkStatus();
}

absl::Status ApplyFlag(Options& o, absl::string_view flag, absl::string_view v) {
  if (flag == "--target" || flag == "--echo") {
    absl::StatusOr<Endpoint> ep = ParseEndpoint(v, /*need_port=*/flag == "--target");
    if (!ep.ok()) return ep.status();
    o.target = *ep;
    o.echo = flag == "--echo";
    return absl::OkStatus();
  }
  if (flag == "--bind") {
    absl::StatusOr<Endpoint> ep = ParseEndpoint(v, /*need_port=*/false);
    if (!ep.ok()) return ep.status();
    o.binds.push_back(*ep);
    return absl::OkStatus();
  }
  if (flag == "--sizes") {
    absl::StatusOr<SizeSpec> s = ParseSizes(v);
    if (!s.ok()) return s.status();
    o.sizes = *s;
    return absl::OkStatus();
  }
  if (flag == "--sockets") return ParseUint<uint32_t>(flag, v, 1, 1024, &o.sockets);
  if (flag == "--count") return ParseUint<uint64_t>(flag, v, 1, 100'000'000, &o.count);
  if (flag == "--window") return ParseUint<uint32_t>(flag, v, 0, 1'000'000, &o.window);
  if (flag == "--batch") return ParseUint<uint32_t>(flag, v, 1, 1024, &o.batch);
  if (flag == "--run-id") return ParseUint<uint32_t>(flag, v, 1, UINT32_MAX, &o.run_id);
  if (flag == "--pps") return ParseDouble(flag, v, 0, 1e9, &o.pps);
  if (flag == "--timeout") return ParseDouble(flag, v, 0, 3600, &o.timeout_s);
  if (flag == "--duration") return ParseDouble(flag, v, 0.001, 86400, &o.duration_s);
  if (flag == "--max-loss") return ParseDouble(flag, v, 0, 1, &o.max_loss);
  return Bad(absl::StrCat("unknown flag: ", flag, " (see --help)"));
}

}  // namespace

absl::StatusOr<Options> ParseArgs(int argc, const char* const* argv) {
  Options o;
  o.sizes.items.push_back({64, 64});
  bool have_target = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (a == "-h" || a == "--help") return absl::FailedPreconditionError(Usage());
    if (a == "-j" || a == "--json") {
      o.json = true;
      continue;
    }
    absl::string_view flag = a, value;
    if (size_t eq = a.find('='); eq != absl::string_view::npos && absl::StartsWith(a, "--")) {
      flag = a.substr(0, eq);
      value = a.substr(eq + 1);
    } else {
      if (i + 1 >= argc) return Bad(absl::StrCat(a, ": missing value"));
      value = argv[++i];
    }
    absl::Status st = ApplyFlag(o, flag, value);
    if (!st.ok()) return st;
    have_target |= flag == "--target" || flag == "--echo";
  }
  if (!have_target) return Bad("need --target ADDR:PORT (or --echo ADDR:PORT)");
  for (const Endpoint& b : o.binds) {
    if (b.family != o.target.family) {
      return Bad(absl::StrCat("--bind ", b.text, ": not the family of the target"));
    }
    if (b.port != 0 && o.sockets > 1) {
      return Bad(absl::StrCat("--bind ", b.text, ": a fixed port allows only --sockets 1"));
    }
  }
  return o;
}

}  // namespace kiteplane::loadgen
