// options.cc - strict parsing of the DPDK data plane's app arguments and of
// its --config file (same options, `name value` per line).
#include "dataplane/dpdk/options.h"

#include <arpa/inet.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kp::dpdk {
namespace {

absl::Status Bad(const std::string& name, const std::string& value, const char* why) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", name, " '", value, "': ", why, "\n", AppUsage()));
}

absl::Status ParseU32(const std::string& name, const std::string& v, uint32_t lo, uint32_t hi,
                      uint32_t* out) {
  uint32_t x = 0;
  if (!absl::SimpleAtoi(v, &x) || x < lo || x > hi) {
    return Bad(name, v, absl::StrCat("want an integer in [", lo, ", ", hi, "]").c_str());
  }
  *out = x;
  return absl::OkStatus();
}

// Adds comma-separated addresses, each optionally A/LEN (the prefix the
// kernel side of the exception interface gets).
absl::Status AddAddrs(const std::string& name, const std::string& v, int af,
                      std::vector<std::string>* out, std::vector<int>* lens) {
  const int max_len = af == AF_INET ? 32 : 128;
  for (absl::string_view a : absl::StrSplit(v, ',', absl::SkipEmpty())) {
    uint8_t buf[16];
    std::string s(a);
    int len = max_len;
    if (size_t slash = s.find('/'); slash != std::string::npos) {
      if (!absl::SimpleAtoi(s.substr(slash + 1), &len) || len < 1 || len > max_len) {
        return Bad(name, s, "bad prefix length");
      }
      s = s.substr(0, slash);
    }
    if (inet_pton(af, s.c_str(), buf) != 1) return Bad(name, s, "not an address of this family");
    out->push_back(s);
    lens->push_back(len);
  }
  return absl::OkStatus();
}

absl::Status ApplyConfigFile(const std::string& path, AppOptions* o);

// Applies one option; `value` is empty for flags.
absl::Status Apply(const std::string& name, const std::string& v, AppOptions* o) {
  if (name == "ctl-socket") {
    o->ctl_socket = v;
  } else if (name == "addr4") {
    return AddAddrs(name, v, AF_INET, &o->addr4, &o->addr4_len);
  } else if (name == "addr6") {
    return AddAddrs(name, v, AF_INET6, &o->addr6, &o->addr6_len);
  } else if (name == "tunnel-ports") {
    o->tunnel_ports.clear();
    for (absl::string_view p : absl::StrSplit(v, ',', absl::SkipEmpty())) {
      uint32_t port = 0;
      if (!absl::SimpleAtoi(p, &port) || port == 0 || port > 65535) {
        return Bad(name, v, "want UDP ports 1..65535, comma-separated");
      }
      o->tunnel_ports.push_back(static_cast<uint16_t>(port));
    }
    if (o->tunnel_ports.empty() || o->tunnel_ports.size() > 8) {
      return Bad(name, v, "want 1 to 8 ports");
    }
  } else if (name == "gateway-mac") {
    if (v == "mirror") {
      o->gateway_mode = GatewayMode::kMirror;
    } else if (v == "neigh") {
      o->gateway_mode = GatewayMode::kNeigh;
    } else if (v == "none") {
      o->gateway_mode = GatewayMode::kNone;
    } else if (ParseMac(v, o->gateway_mac)) {
      o->gateway_mode = GatewayMode::kStatic;
    } else {
      return Bad(name, v, "want a MAC (aa:bb:cc:dd:ee:ff), mirror, neigh or none");
    }
  } else if (name == "gateway4" || name == "gateway6") {
    uint8_t buf[16];
    if (inet_pton(name == "gateway4" ? AF_INET : AF_INET6, v.c_str(), buf) != 1) {
      return Bad(name, v, "not an address of this family");
    }
    (name == "gateway4" ? o->gateway4 : o->gateway6) = v;
  } else if (name == "exception") {
    if (v == "tap") {
      o->exception = ExceptionMode::kTap;
    } else if (v == "virtio-user") {
      o->exception = ExceptionMode::kVirtioUser;
    } else if (v == "none") {
      o->exception = ExceptionMode::kNone;
    } else {
      return Bad(name, v, "want tap, virtio-user or none");
    }
  } else if (name == "exception-iface") {
    if (v.empty() || v.size() > 15) return Bad(name, v, "want an interface name of 1..15 bytes");
    o->exception_iface = v;
  } else if (name == "max-kites") {
    return ParseU32(name, v, 2, 1u << 20, &o->max_kites);
  } else if (name == "max-sessions") {
    return ParseU32(name, v, 1, 1u << 17, &o->max_sessions);
  } else if (name == "port") {
    uint32_t p = 0;
    if (auto st = ParseU32(name, v, 0, 1023, &p); !st.ok()) return st;
    o->port = static_cast<uint16_t>(p);
  } else if (name == "rx-desc") {
    return ParseU32(name, v, 64, 16384, &o->rx_desc);
  } else if (name == "tx-desc") {
    return ParseU32(name, v, 64, 16384, &o->tx_desc);
  } else if (name == "mbufs") {
    return ParseU32(name, v, 1023, 1u << 22, &o->mbufs);
  } else if (name == "max-frame") {
    return ParseU32(name, v, kMinMaxFrame, kMaxMaxFrame, &o->max_frame);
  } else if (name == "exception-ring") {
    return ParseU32(name, v, 64, 65536, &o->exception_ring);
  } else if (name == "neigh-refresh-ms") {
    return ParseU32(name, v, 10, 600000, &o->neigh_refresh_ms);
  } else if (name == "soft-rss") {
    o->force_soft_rss = true;
  } else if (name == "bench-packets") {
    if (!absl::SimpleAtoi(v, &o->bench_packets)) return Bad(name, v, "want a packet count");
  } else if (name == "bench-setup") {
    if (v != "encap" && v != "decap") return Bad(name, v, "want encap or decap");
    o->bench_setup = v;
  } else if (name == "bench-kites") {
    return ParseU32(name, v, 1, (1u << 20) - 1, &o->bench_kites);
  } else if (name == "bench-source") {
    if (v != "synth" && v != "port") return Bad(name, v, "want synth or port");
    o->bench_from_port = v == "port";
  } else if (name == "bench-write-pcap") {
    if (v.empty()) return Bad(name, v, "want a file name");
    o->bench_write_pcap = v;
  } else if (name == "test-clock-ns") {
    if (!absl::SimpleAtoi(v, &o->test_clock_ns) || o->test_clock_ns == 0) {
      return Bad(name, v, "want a time in ns, above 0");
    }
  } else if (name == "test-police") {
    for (absl::string_view e : absl::StrSplit(v, ',', absl::SkipEmpty())) {
      std::vector<absl::string_view> f = absl::StrSplit(e, ':');
      TestPolice p;
      if (f.size() != 5 || !absl::SimpleAtoi(f[0], &p.kite_id) || p.kite_id == 0 ||
          !absl::SimpleAtoi(f[1], &p.last_ns) || !absl::SimpleAtoi(f[2], &p.pkt_tokens) ||
          !absl::SimpleAtoi(f[3], &p.bit_tokens) || !absl::SimpleAtoi(f[4], &p.used_bytes)) {
        return Bad(name, v, "want KITE:LAST_NS:PKT_TOKENS:BIT_TOKENS:USED_BYTES[,...]");
      }
      o->test_police.push_back(p);
    }
  } else if (name == "config") {
    return ApplyConfigFile(v, o);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown option --", name, "\n", AppUsage()));
  }
  return absl::OkStatus();
}

bool IsFlag(const std::string& name) { return name == "soft-rss"; }

bool IsKnown(const std::string& name) {
  static const char* const kNames[] = {
      "ctl-socket", "addr4", "addr6", "tunnel-ports", "gateway-mac", "gateway4", "gateway6",
      "exception", "exception-iface", "max-kites", "max-sessions", "port", "rx-desc", "tx-desc",
      "mbufs", "max-frame", "exception-ring", "neigh-refresh-ms", "soft-rss", "bench-packets",
      "bench-setup", "bench-kites", "bench-source", "bench-write-pcap", "test-clock-ns", "test-police", "config"};
  for (const char* n : kNames) {
    if (name == n) return true;
  }
  return false;
}

absl::Status ApplyConfigFile(const std::string& path, AppOptions* o) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read --config file ", path));
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    lineno++;
    const std::string uncommented = line.substr(0, line.find('#'));
    const std::string l(absl::StripAsciiWhitespace(uncommented));
    if (l.empty()) continue;
    const size_t sep = l.find_first_of(" \t=");
    const std::string name = l.substr(0, sep);
    std::string rest = sep == std::string::npos ? "" : l.substr(sep);
    rest = std::string(absl::StripAsciiWhitespace(rest));  // "name value" or "name = value"
    if (!rest.empty() && rest[0] == '=') rest = rest.substr(1);
    const std::string value(absl::StripAsciiWhitespace(rest));
    if (name == "config") {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", lineno, ": config cannot nest"));
    }
    absl::Status st = Apply(name, value, o);
    if (!st.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ":", lineno, ": ", st.message()));
  }
  return absl::OkStatus();
}

}  // namespace

bool ParseMac(const std::string& s, uint8_t mac[6]) {
  unsigned b[6];
  char tail;
  if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                  &tail) != 6) {
    return false;
  }
  for (int i = 0; i < 6; i++) mac[i] = static_cast<uint8_t>(b[i]);
  return true;
}

const char* AppUsage() {
  return "usage: kiteplane-dataplane [EAL args] -- [--config FILE] [--ctl-socket PATH]\n"
         "  [--addr4 A[,A]] [--addr6 A[,A]] [--tunnel-ports P[,P]]\n"
         "  [--gateway-mac MAC|mirror|neigh|none] [--gateway4 A] [--gateway6 A]\n"
         "  [--exception tap|virtio-user|none] [--exception-iface NAME]\n"
         "  [--max-kites N] [--max-sessions N] [--port ID] [--soft-rss]\n"
         "  [--mbufs N] [--max-frame BYTES] [--rx-desc N] [--tx-desc N]\n"
         "  bench: [--bench-packets N --bench-setup encap|decap] [--bench-kites K]\n"
         "    [--bench-source synth|port] [--bench-write-pcap FILE]\n"
         "  test only: [--test-clock-ns NS] [--test-police K:LAST:PKT:BIT:USED[,...]]\n"
         "  (see docs/operations.md)";
}

absl::StatusOr<AppOptions> ParseAppOptions(const std::vector<std::string>& args) {
  AppOptions o;
  for (size_t i = 0; i < args.size(); i++) {
    std::string a = args[i];
    if (a.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", a, "'\n", AppUsage()));
    }
    std::string name = a.substr(2), value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (!IsKnown(name)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", name, "\n", AppUsage()));
    } else if (!IsFlag(name)) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value\n", AppUsage()));
      }
      value = args[++i];
    }
    absl::Status st = Apply(name, value, &o);
    if (!st.ok()) return st;
  }
  if (o.addr4.size() > 8 || o.addr6.size() > 8) {
    return absl::InvalidArgumentError("at most 8 --addr4 and 8 --addr6 addresses");
  }
  if (o.bench() && o.bench_setup.empty()) {
    return absl::InvalidArgumentError("the bench needs --bench-setup encap or decap");
  }
  if (o.bench_from_port && o.bench_packets == 0) {
    return absl::InvalidArgumentError("--bench-source port needs --bench-packets");
  }
  return o;
}

}  // namespace kp::dpdk
