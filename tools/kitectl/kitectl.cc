// kitectl.cc - the operator CLI of kiteplane, over the control plane's
// management socket (JSON lines, controlplane/mgmt.h).
//
//   kitectl [--socket PATH] [-j] status | kites | sessions | stats [KITE]
//           | top [-n COUNT] [--interval S] | kick KITE | reload | drain [--deadline S]
//
// Human tables by default, the server's JSON with -j.  The socket defaults to
// $KITEPLANE_MGMT_SOCKET, else /run/kiteplane/mgmt.sock.  Exit status: 0 ok,
// 1 the control plane refused the request, 2 usage, 3 cannot connect.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {
using nlohmann::json;

struct Options {
  std::string socket;
  bool json = false;
  std::vector<std::string> args;
};

int Usage(FILE* f) {
  std::fprintf(f,
               "usage: kitectl [--socket PATH] [-j] COMMAND\n"
               "  status                     front-end state, data plane, counts\n"
               "  kites                      every kite: endpoint, state, sessions, counters\n"
               "  sessions                   connector sessions\n"
               "  stats [KITE]               global counters, drops by reason, control plane; or one kite\n"
               "  top [-n COUNT] [--interval S]  busiest kites, refreshed COUNT times (default 10)\n"
               "  kick KITE                  remove a kite from its sessions\n"
               "  reload                     reload the Lua configuration (kept if invalid)\n"
               "  drain [--deadline S]       lame duck: refuse registrations, tell connectors, exit when done\n"
               "  -j                         print JSON\n");
  return 2;
}

std::optional<json> Request(const std::string& path, const json& req, std::string* err) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) {
    *err = "socket path too long";
    return std::nullopt;
  }
  std::memcpy(sa.sun_path, path.c_str(), path.size());
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    *err = "cannot connect to " + path + ": " + strerror(errno);
    close(fd);
    return std::nullopt;
  }
  std::string line = req.dump() + "\n";
  if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    *err = "write failed";
    close(fd);
    return std::nullopt;
  }
  std::string buf;
  char chunk[65536];
  while (buf.find('\n') == std::string::npos) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
  }
  close(fd);
  json rep = json::parse(buf, nullptr, false);
  if (rep.is_discarded()) {
    *err = "no valid reply from " + path;
    return std::nullopt;
  }
  return rep;
}

std::string Str(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  if (v.is_array()) {
    std::string s;
    for (const auto& e : v) s += (s.empty() ? "" : ",") + Str(e);
    return s.empty() ? "-" : s;
  }
  return v.dump();
}

// Prints rows as an aligned table.
void Table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(head.size());
  for (size_t i = 0; i < head.size(); i++) w[i] = head[i].size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size() && i < w.size(); i++) w[i] = std::max(w[i], r[i].size());
  }
  auto line = [&](const std::vector<std::string>& r) {
    std::string s;
    for (size_t i = 0; i < r.size(); i++) {
      s += r[i];
      if (i + 1 < r.size()) s += std::string(w[i] - r[i].size() + 2, ' ');
    }
    std::printf("%s\n", s.c_str());
  };
  line(head);
  for (const auto& r : rows) line(r);
}

std::string Human(uint64_t v) {
  const char* units[] = {"", "k", "M", "G", "T"};
  double d = static_cast<double>(v);
  int u = 0;
  while (d >= 1000 && u < 4) {
    d /= 1000;
    u++;
  }
  char b[32];
  std::snprintf(b, sizeof b, u ? "%.1f%s" : "%.0f%s", d, units[u]);
  return b;
}

uint64_t U(const json& o, const char* k) { return o.contains(k) && o[k].is_number() ? o[k].get<uint64_t>() : 0; }

void PrintStatus(const json& r) {
  Table({"field", "value"}, [&] {
    std::vector<std::vector<std::string>> rows;
    for (const char* k : {"state", "version", "uptime_s", "config", "store", "dataplane", "dataplane_connected",
                          "kites", "sessions", "key_epoch", "reloads", "reload_failures", "draining",
                          "drain_deadline_in_s"}) {
      if (r.contains(k)) rows.push_back({k, Str(r[k])});
    }
    return rows;
  }());
}

void PrintKites(const json& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& k : r["kites"]) {
    const json& c = k["counters"];
    std::string quota = U(k, "quota_bytes") ? Human(U(k, "quota_used_bytes")) + "/" + Human(U(k, "quota_bytes")) : "-";
    rows.push_back({Str(k["name"]), Str(k["kite_id"]), Str(k["address"]) + ":" + Str(k["port"]), Str(k["state"]),
                    Str(k["sessions"]), Human(U(c, "kite_rx_packets")), Human(U(c, "kite_tx_packets")), quota,
                    Str(k["reason"]).empty() ? "-" : Str(k["reason"])});
  }
  Table({"KITE", "ID", "PUBLIC", "STATE", "SESSIONS", "RX_PKTS", "TX_PKTS", "QUOTA", "REASON"}, rows);
}

void PrintSessions(const json& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : r["sessions"]) {
    rows.push_back({Str(s["session_id"]), Str(s["connector"]), Str(s["local"]), Str(s["mtu"]), Str(s["kites"]),
                    Str(s["age_s"]), Str(s["idle_s"]), Str(s["rebinds"])});
  }
  Table({"SESSION", "CONNECTOR", "LOCAL", "MTU", "KITES", "AGE_S", "IDLE_S", "REBINDS"}, rows);
}

void PrintStats(const json& r) {
  if (r.contains("kite")) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& [k, v] : r["counters"].items()) rows.push_back({k, Str(v)});
    rows.push_back({"quota_used_bytes", Str(r["quota_used_bytes"])});
    rows.push_back({"quota_bytes", Str(r["quota_bytes"])});
    Table({"COUNTER (" + Str(r["kite"]) + ")", "VALUE"}, rows);
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& [k, v] : r["global"].items()) rows.push_back({k, Str(v)});
  Table({"COUNTER", "VALUE"}, rows);
  rows.clear();
  for (const auto& [k, v] : r["drops"].items()) rows.push_back({k, Str(v)});
  std::printf("\n");
  Table({"DROP REASON", "PACKETS"}, rows);
  rows.clear();
  for (const auto& [k, v] : r["control"].items()) {
    if (v.is_object()) {
      for (const auto& [k2, v2] : v.items()) rows.push_back({k + "." + k2, v2.is_object() ? v2.dump() : Str(v2)});
    } else {
      rows.push_back({k, Str(v)});
    }
  }
  std::printf("\n");
  Table({"CONTROL PLANE", "VALUE"}, rows);
}

int Top(const Options& o, int count, double interval) {
  std::map<std::string, json> prev;
  for (int i = 0; i < count; i++) {
    std::string err;
    auto r = Request(o.socket, {{"cmd", "top"}, {"n", 20}}, &err);
    if (!r) {
      std::fprintf(stderr, "kitectl: %s\n", err.c_str());
      return 3;
    }
    if (o.json) {
      std::printf("%s\n", r->dump().c_str());
    } else {
      if (isatty(1)) std::printf("\033[H\033[2J");
      std::vector<std::vector<std::string>> rows;
      for (const auto& k : (*r)["top"]) {
        std::string name = Str(k["name"]);
        auto rate = [&](const char* c) {
          if (!prev.count(name) || i == 0) return std::string("-");
          uint64_t a = U(k, c), b = U(prev[name], c);
          return Human(static_cast<uint64_t>((a >= b ? a - b : 0) / interval));
        };
        rows.push_back({name, Str(k["state"]), rate("kite_rx_packets"), rate("kite_rx_bytes"), rate("kite_tx_packets"),
                        rate("kite_tx_bytes"), Human(U(k, "kite_dropped_quota") + U(k, "kite_dropped_rate") +
                                                     U(k, "kite_dropped_state") + U(k, "kite_dropped_other"))});
        prev[name] = k;
      }
      std::printf("kitectl top  (refresh %d/%d, every %.1f s)\n", i + 1, count, interval);
      Table({"KITE", "STATE", "RX_PPS", "RX_B/S", "TX_PPS", "TX_B/S", "DROPS"}, rows);
      std::fflush(stdout);
    }
    if (i + 1 < count) std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(interval * 1000)));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  const char* env = std::getenv("KITEPLANE_MGMT_SOCKET");
  o.socket = env ? env : "/run/kiteplane/mgmt.sock";
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if ((a == "--socket" || a == "-s") && i + 1 < argc) {
      o.socket = argv[++i];
    } else if (a == "-j" || a == "--json") {
      o.json = true;
    } else if (a == "-h" || a == "--help") {
      Usage(stdout);
      return 0;
    } else {
      o.args.push_back(a);
    }
  }
  if (o.args.empty()) return Usage(stderr);
  const std::string cmd = o.args[0];
  json req = {{"cmd", cmd}};
  if (cmd == "top") {
    int count = 10;
    double interval = 1.0;
    for (size_t i = 1; i < o.args.size(); i++) {
      if (o.args[i] == "-n" && i + 1 < o.args.size()) {
        count = std::max(1, std::atoi(o.args[++i].c_str()));
      } else if (o.args[i] == "--interval" && i + 1 < o.args.size()) {
        interval = std::max(0.1, std::atof(o.args[++i].c_str()));
      } else {
        return Usage(stderr);
      }
    }
    return Top(o, count, interval);
  }
  if (cmd == "kick") {
    if (o.args.size() != 2) return Usage(stderr);
    req["kite"] = o.args[1];
  } else if (cmd == "stats") {
    if (o.args.size() > 2) return Usage(stderr);
    if (o.args.size() == 2) req["kite"] = o.args[1];
  } else if (cmd == "drain") {
    if (o.args.size() == 3 && o.args[1] == "--deadline") {
      req["deadline_s"] = static_cast<uint32_t>(std::atoi(o.args[2].c_str()));
    } else if (o.args.size() != 1) {
      return Usage(stderr);
    }
  } else if (cmd != "status" && cmd != "kites" && cmd != "sessions" && cmd != "reload") {
    std::fprintf(stderr, "kitectl: unknown command '%s'\n", cmd.c_str());
    return Usage(stderr);
  } else if (o.args.size() != 1) {
    return Usage(stderr);
  }
  std::string err;
  auto r = Request(o.socket, req, &err);
  if (!r) {
    std::fprintf(stderr, "kitectl: %s\n", err.c_str());
    return 3;
  }
  bool ok = r->value("ok", false);
  if (o.json) {
    std::printf("%s\n", r->dump(2).c_str());
    return ok ? 0 : 1;
  }
  if (!ok) {
    std::fprintf(stderr, "kitectl: %s\n", Str((*r)["error"]).c_str());
    return 1;
  }
  if (cmd == "status") PrintStatus(*r);
  if (cmd == "kites") PrintKites(*r);
  if (cmd == "sessions") PrintSessions(*r);
  if (cmd == "stats") PrintStats(*r);
  if (cmd == "kick") std::printf("kicked %s\n", Str((*r)["kicked"]).c_str());
  if (cmd == "reload") std::printf("reloaded %s\n", Str((*r)["config"]).c_str());
  if (cmd == "drain") std::printf("draining: %s sessions left\n", Str((*r)["sessions"]).c_str());
  return 0;
}
