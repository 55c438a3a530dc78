// metrics.cc - Prometheus text rendering with bounded per-kite series, and
// the libmicrohttpd server that exposes it (see metrics.h).
#include "controlplane/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controlplane/counter_names.h"

namespace kp::cp {
namespace {

std::string Label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Header(std::string& o, const std::string& name, const char* help, const char* type) {
  absl::StrAppend(&o, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

}  // namespace

std::string RenderMetrics(const Registry& reg, const TunnelCounters& tunnel, bool connected, uint32_t max_series) {
  std::string o;
  Header(o, "kiteplane_build_info", "Build of the control plane", "gauge");
  absl::StrAppend(&o, "kiteplane_build_info{version=\"", KP_VERSION, "\",ctl_version=\"", KP_CTL_VERSION,
                  "\",protocol_version=\"", KP_PROTO_VERSION, "\"} 1\n");
  Header(o, "kiteplane_dataplane_connected", "1 while the data plane's control socket is connected", "gauge");
  absl::StrAppend(&o, "kiteplane_dataplane_connected ", connected ? 1 : 0, "\n");
  const kp_ctl_global_counters& g = reg.last_global();
  for (size_t i = 0; i < kGlobalCounterNames.size(); i++) {
    std::string name = absl::StrCat("kiteplane_", kGlobalCounterNames[i].name, "_total");
    Header(o, name, kGlobalCounterNames[i].help, "counter");
    absl::StrAppend(&o, name, " ", g.counters[i], "\n");
  }
  Header(o, "kiteplane_drops_total", "Frames dropped by the fast path, by reason", "counter");
  for (size_t i = 1; i < kDropReasonNames.size(); i++) {
    absl::StrAppend(&o, "kiteplane_drops_total{reason=\"", kDropReasonNames[i].name, "\"} ", g.drops[i], "\n");
  }
  // Per-kite: top-N by traffic, the rest summed into kite="_other".
  std::vector<const kp_ctl_kite_stats*> v;
  for (const auto& [id, s] : reg.last_kite_stats()) v.push_back(&s);
  auto traffic = [](const kp_ctl_kite_stats* s) { return s->v[KP_KCTR_RX_BYTES] + s->v[KP_KCTR_TX_BYTES]; };
  std::stable_sort(v.begin(), v.end(), [&](auto* a, auto* b) { return traffic(a) > traffic(b); });
  kp_ctl_kite_stats other{};
  bool have_other = v.size() > max_series;
  for (size_t i = max_series; i < v.size(); i++) {
    for (int c = 0; c < KP_KCTR_MAX; c++) other.v[c] += v[i]->v[c];
  }
  if (v.size() > max_series) v.resize(max_series);
  for (size_t c = 0; c < kKiteCounterNames.size(); c++) {
    std::string name = absl::StrCat("kiteplane_", kKiteCounterNames[c].name, "_total");
    Header(o, name, kKiteCounterNames[c].help, "counter");
    for (const kp_ctl_kite_stats* s : v) {
      auto k = reg.kites().find(s->kite_id);
      std::string kname = k == reg.kites().end() ? absl::StrCat("#", s->kite_id) : k->second.name;
      absl::StrAppend(&o, name, "{kite=\"", Label(kname), "\"} ", s->v[c], "\n");
    }
    if (have_other) absl::StrAppend(&o, name, "{kite=\"_other\"} ", other.v[c], "\n");
  }
  Header(o, "kiteplane_kites", "Kites in the registry", "gauge");
  absl::StrAppend(&o, "kiteplane_kites ", reg.kites().size(), "\n");
  Header(o, "kiteplane_sessions", "Live connector sessions", "gauge");
  absl::StrAppend(&o, "kiteplane_sessions ", reg.sessions().size(), "\n");
  Header(o, "kiteplane_frontend_state", "0 serving, 1 lame duck, 2 closed", "gauge");
  absl::StrAppend(&o, "kiteplane_frontend_state ", static_cast<int>(reg.frontend_state()), "\n");
#define KP_X_METRIC(field, help)                                              \
  Header(o, "kiteplane_tunnel_" #field "_total", help, "counter");            \
  absl::StrAppend(&o, "kiteplane_tunnel_" #field "_total ", tunnel.field, "\n");
  KP_TUNNEL_COUNTERS(KP_X_METRIC)
#undef KP_X_METRIC
  const RegistryCounters& rc = reg.counters();
  Header(o, "kiteplane_kite_results_total", "Per-kite registration results sent, by result", "counter");
  for (size_t i = 0; i < kResultNames.size(); i++) {
    absl::StrAppend(&o, "kiteplane_kite_results_total{result=\"", kResultNames[i], "\"} ", rc.results[i], "\n");
  }
  struct {
    const char* name;
    const char* help;
    uint64_t v;
  } simple[] = {
      {"sessions_created", "Sessions created", rc.sessions_created},
      {"sessions_ended", "Sessions ended", rc.sessions_ended},
      {"session_rebinds", "Sessions moved to a new connector address", rc.rebinds},
      {"kite_kicks", "Kites kicked by the operator", rc.kicks},
      {"quota_exhausted", "Kites that spent their quota", rc.quota_exhausted},
      {"cookie_key_rotations", "Flow-cookie key rotations", rc.key_rotations},
      {"dataplane_errors", "Control-socket requests the data plane refused", rc.dataplane_errors},
      {"dataplane_resyncs", "Full data-plane resyncs", rc.resyncs},
      {"store_errors", "Failed writes to the durable store", rc.store_errors},
  };
  for (const auto& s : simple) {
    std::string name = absl::StrCat("kiteplane_", s.name, "_total");
    Header(o, name, s.help, "counter");
    absl::StrAppend(&o, name, " ", s.v, "\n");
  }
  Header(o, "kiteplane_policy_hook_calls_total", "Lua policy hook calls", "counter");
  for (int h = 0; h < static_cast<int>(Hook::kCount); h++) {
    absl::StrAppend(&o, "kiteplane_policy_hook_calls_total{hook=\"", HookName(static_cast<Hook>(h)), "\"} ",
                    reg.policy()->stats(static_cast<Hook>(h)).calls, "\n");
  }
  Header(o, "kiteplane_policy_hook_failures_total",
         "Lua policy hook calls that failed (error, budget, memory, bad result) and used the safe default", "counter");
  for (int h = 0; h < static_cast<int>(Hook::kCount); h++) {
    absl::StrAppend(&o, "kiteplane_policy_hook_failures_total{hook=\"", HookName(static_cast<Hook>(h)), "\"} ",
                    reg.policy()->stats(static_cast<Hook>(h)).failures, "\n");
  }
  return o;
}

std::string MetricsServer::Snapshot() {
  std::lock_guard<std::mutex> lock(mu_);
  return text_;
}

namespace {
MHD_Result AnswerMetrics(void* cls, MHD_Connection* c, const char* url, const char* method, const char*,
                         const char*, size_t*, void**) {
  auto* self = static_cast<MetricsServer*>(cls);
  std::string body;
  unsigned status = MHD_HTTP_OK;
  if (std::strcmp(method, "GET") != 0) {
    body = "only GET\n";
    status = MHD_HTTP_METHOD_NOT_ALLOWED;
  } else if (std::strcmp(url, "/metrics") != 0) {
    body = "see /metrics\n";
    status = MHD_HTTP_NOT_FOUND;
  } else {
    body = self->Snapshot();
  }
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
  MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}
}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError("metrics listen must be host:port");
  std::string host = listen.substr(0, colon);
  int port = std::atoi(listen.c_str() + colon + 1);
  if (port <= 0 || port > 65535) return absl::InvalidArgumentError("metrics listen: bad port");
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::unique_ptr<MetricsServer> m(new MetricsServer());
  sockaddr_in a4{};
  sockaddr_in6 a6{};
  const sockaddr* sa = nullptr;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  if (inet_pton(AF_INET, host.c_str(), &a4.sin_addr) == 1) {
    a4.sin_family = AF_INET;
    a4.sin_port = htons(static_cast<uint16_t>(port));
    sa = reinterpret_cast<sockaddr*>(&a4);
  } else if (inet_pton(AF_INET6, host.c_str(), &a6.sin6_addr) == 1) {
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(static_cast<uint16_t>(port));
    sa = reinterpret_cast<sockaddr*>(&a6);
    flags |= MHD_USE_IPv6;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("metrics listen: '", host, "' is not an IP address"));
  }
  m->daemon_ = MHD_start_daemon(flags, static_cast<uint16_t>(port), nullptr, nullptr,
                                &AnswerMetrics, m.get(),
                                MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_CONNECTION_LIMIT, 16u,
                                MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
  if (m->daemon_ == nullptr) return absl::UnavailableError(absl::StrCat("cannot listen for metrics on ", listen));
  m->port_ = static_cast<uint16_t>(port);
  return m;
}

MetricsServer::~MetricsServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

void MetricsServer::Publish(std::string text) {
  std::lock_guard<std::mutex> lock(mu_);
  text_ = std::move(text);
}

}  // namespace kp::cp
