// mgmt_test.cc - the management API's request handling (every command, bad
// requests, reload and drain actions) and the Unix socket's permissions, and
// the metrics text: names from kp_counters.h, drops by reason as a label,
// build info, and the bound on per-kite series (top N by traffic, the rest
// summed into kite="_other").
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controlplane/metrics.h"
#include "controlplane/mgmt.h"
#include "test_util.h"

namespace kp::cp {
namespace {
using nlohmann::json;
using testing::ClaimFor;
using testing::NewSession;
using testing::Rig;
using ::testing::HasSubstr;

struct MgmtRig {
  MgmtRig() : tunnel(rig.reg.get(), [](auto&, auto&, auto&) {}) {
    MgmtActions a;
    a.reload = [this] {
      reloads++;
      return reload_ok ? absl::OkStatus() : absl::InvalidArgumentError("x.lua:3: kite: unknown key 'colour'");
    };
    a.drain = [this](uint32_t d) {
      drained = d;
      rig.reg->SetFrontendState(KP_FE_LAME_DUCK);
      return absl::OkStatus();
    };
    api = std::make_unique<MgmtApi>(rig.reg.get(), &tunnel, a);
    Session& s = **rig.reg->AddSession(NewSession(*rig.reg, "198.51.100.7", 40000));
    rig.reg->Claim(s, ClaimFor(s, "game.acme", "game-secret"), 1000);
    rig.reg->Claim(s, ClaimFor(s, "voip.acme", "voip-secret"), 1000);
    rig.dp.used[1] = 5000;  // game.acme
    rig.dp.used[2] = 100;
    rig.reg->QuotaTick(1001);
  }
  Rig rig;
  TunnelServer tunnel;
  std::unique_ptr<MgmtApi> api;
  int reloads = 0;
  bool reload_ok = true;
  uint32_t drained = 99;
};

TEST(Mgmt, ReadCommands) {
  MgmtRig m;
  json st = m.api->Handle({{"cmd", "status"}});
  EXPECT_TRUE(st["ok"]);
  EXPECT_EQ(st["kites"], 2);
  EXPECT_EQ(st["sessions"], 1);
  EXPECT_EQ(st["state"], "serving");
  json kites = m.api->Handle({{"cmd", "kites"}});
  ASSERT_EQ(kites["kites"].size(), 2u);
  EXPECT_EQ(kites["kites"][0]["name"], "game.acme");
  EXPECT_EQ(kites["kites"][0]["state"], "live");
  EXPECT_EQ(kites["kites"][0]["address"], "127.0.0.1");
  EXPECT_EQ(kites["kites"][0]["port"], 20002);
  EXPECT_EQ(kites["kites"][0]["counters"]["kite_rx_bytes"], 5000);
  json ses = m.api->Handle({{"cmd", "sessions"}});
  ASSERT_EQ(ses["sessions"].size(), 1u);
  EXPECT_EQ(ses["sessions"][0]["connector"], "198.51.100.7:40000");
  json stats = m.api->Handle({{"cmd", "stats"}});
  EXPECT_EQ(stats["global"]["rx_packets"], 42);
  EXPECT_EQ(stats["drops"]["tunnel_bad_cookie"], 3);  // name from kp_counters.h
  EXPECT_FALSE(stats["drops"].contains("none"));
  EXPECT_EQ(stats["control"]["register_results"]["accepted"], 2);
  json one = m.api->Handle({{"cmd", "stats"}, {"kite", "voip.acme"}});
  EXPECT_EQ(one["counters"]["kite_rx_bytes"], 100);
  EXPECT_FALSE(m.api->Handle({{"cmd", "stats"}, {"kite", "nope"}})["ok"]);
  json top = m.api->Handle({{"cmd", "top"}, {"n", 1}});
  ASSERT_EQ(top["top"].size(), 1u);
  EXPECT_EQ(top["top"][0]["name"], "game.acme");
}

TEST(Mgmt, ActionsAndErrors) {
  MgmtRig m;
  EXPECT_TRUE(m.api->Handle({{"cmd", "kick"}, {"kite", "voip.acme"}})["ok"]);
  EXPECT_EQ(m.rig.reg->FindKite("voip.acme")->sessions.size(), 0u);
  json bad = m.api->Handle({{"cmd", "kick"}, {"kite", "ghost"}});
  EXPECT_FALSE(bad["ok"]);
  EXPECT_THAT(bad["error"].get<std::string>(), HasSubstr("ghost"));
  m.reload_ok = false;
  json r = m.api->Handle({{"cmd", "reload"}});
  EXPECT_FALSE(r["ok"]);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("unknown key 'colour'"));
  m.reload_ok = true;
  EXPECT_TRUE(m.api->Handle({{"cmd", "reload"}})["ok"]);
  EXPECT_EQ(m.reloads, 2);
  EXPECT_TRUE(m.api->Handle({{"cmd", "drain"}, {"deadline_s", 7}})["ok"]);
  EXPECT_EQ(m.drained, 7u);
  EXPECT_EQ(m.api->Handle({{"cmd", "status"}})["state"], "lame_duck");
  EXPECT_FALSE(m.api->Handle({{"cmd", "explode"}})["ok"]);
  EXPECT_FALSE(m.api->Handle(json::array())["ok"]);
  EXPECT_THAT(m.api->HandleLine("{not json"), HasSubstr("\"ok\":false"));
  EXPECT_THAT(m.api->HandleLine("{\"cmd\":\"status\"}"), HasSubstr("\"ok\":true"));
}

TEST(Mgmt, SocketModeAndRoundTrip) {
  MgmtRig m;
  std::string path = ::testing::TempDir() + "/mgmt_test_" + std::to_string(getpid()) + ".sock";
  auto srv = MgmtServer::Open(path, 0660, "", m.api.get());
  ASSERT_TRUE(srv.ok()) << srv.status();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_TRUE(absl::IsNotFound(MgmtServer::Open(path + "2", 0660, "no-such-group-kp", m.api.get()).status()));
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  (*srv)->OnReadable((*srv)->fds()[0]);  // accept
  ASSERT_EQ((*srv)->fds().size(), 2u);
  const char req[] = "{\"cmd\":\"kites\"}\n";
  ASSERT_EQ(write(fd, req, sizeof req - 1), static_cast<ssize_t>(sizeof req - 1));
  (*srv)->OnReadable((*srv)->fds()[1]);
  char buf[65536];
  ssize_t n = read(fd, buf, sizeof buf);
  ASSERT_GT(n, 0);
  json rep = json::parse(std::string(buf, static_cast<size_t>(n)));
  EXPECT_EQ(rep["kites"].size(), 2u);
  close(fd);
  srv->reset();
  EXPECT_NE(access(path.c_str(), F_OK), 0);  // removed on shutdown
}

TEST(Metrics, NamesLabelsAndSeriesBound) {
  MgmtRig m;
  std::string text = RenderMetrics(*m.rig.reg, m.tunnel.counters(), true, 100);
  EXPECT_THAT(text, HasSubstr("kiteplane_build_info{version=\""));
  EXPECT_THAT(text, HasSubstr("kiteplane_rx_packets_total 42\n"));
  EXPECT_THAT(text, HasSubstr("kiteplane_drops_total{reason=\"tunnel_bad_cookie\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("kiteplane_kite_rx_bytes_total{kite=\"game.acme\"} 5000\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE kiteplane_kite_rx_bytes_total counter"));
  EXPECT_THAT(text, HasSubstr("kiteplane_sessions 1\n"));
  EXPECT_THAT(text, HasSubstr("kiteplane_kite_results_total{result=\"accepted\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("kiteplane_policy_hook_calls_total{hook=\"on_register\"}"));
  // Bound: with a cap of 1 series, the busiest kite keeps its label, the rest is "_other".
  std::string capped = RenderMetrics(*m.rig.reg, m.tunnel.counters(), true, 1);
  EXPECT_THAT(capped, HasSubstr("kiteplane_kite_rx_bytes_total{kite=\"game.acme\"} 5000\n"));
  EXPECT_THAT(capped, HasSubstr("kiteplane_kite_rx_bytes_total{kite=\"_other\"} 100\n"));
  EXPECT_THAT(capped, ::testing::Not(HasSubstr("voip.acme")));
  size_t series = 0;
  for (size_t p = capped.find("kiteplane_kite_rx_packets_total{"); p != std::string::npos;
       p = capped.find("kiteplane_kite_rx_packets_total{", p + 1)) {
    series++;
  }
  EXPECT_EQ(series, 2u);
}

TEST(Metrics, ServerServesPublishedText) {
  EXPECT_FALSE(MetricsServer::Start("127.0.0.1:0").ok());  // a real port is required
  EXPECT_FALSE(MetricsServer::Start("example.com:9").ok());  // an address, not a name
  // Find a free loopback port, then serve on it.
  int probe = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(probe, reinterpret_cast<sockaddr*>(&a), &len);
  uint16_t port = ntohs(a.sin_port);
  close(probe);
  auto srv = MetricsServer::Start("127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(srv.ok()) << srv.status();
  (*srv)->Publish("kiteplane_test_total 7\n");
  auto get = [&](const std::string& path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: x\r\n\r\n";
    EXPECT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    close(fd);
    return out;
  };
  std::string r = get("/metrics");
  EXPECT_THAT(r, HasSubstr("200"));
  EXPECT_THAT(r, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(r, HasSubstr("kiteplane_test_total 7"));
  EXPECT_THAT(get("/other"), HasSubstr("404"));
}


TEST(Mgmt, GarbageLinesGetErrorReplies) {
  MgmtRig m;
  std::mt19937 rng(99);
  const std::string alphabet = "{}[]\":,0123456789abcdefghijklmnopqrstuvwxyz cmd kite n deadline_s -.eE\\";
  for (int i = 0; i < 5000; i++) {
    std::string line;
    for (int n = rng() % 80; n > 0; n--) line += alphabet[rng() % alphabet.size()];
    if (i % 4 == 0) line = "{\"cmd\":\"" + line + "\"}";
    json rep = json::parse(m.api->HandleLine(line), nullptr, false);
    ASSERT_FALSE(rep.is_discarded()) << line;
    ASSERT_TRUE(rep.contains("ok")) << line;
  }
  EXPECT_EQ(m.drained, 99u);  // nothing random reached an action
}

}  // namespace
}  // namespace kp::cp
