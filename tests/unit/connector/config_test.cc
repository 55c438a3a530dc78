// config_test.cc - unit tests of tools/kite-connector/config.h: a complete
// valid file, defaults, and each error naming the offending key or path.
#include "tools/kite-connector/config.h"

#include <gtest/gtest.h>

namespace kp::connector {
namespace {

constexpr const char* kGood = R"({
  "kites": [
    {"name": "game.example", "secret": "0123456789abcdef", "service": "127.0.0.1:27015"},
    {"name": "voice", "secret": "fedcba9876543210xx", "service": "[::1]:5060"}
  ],
  "frontends": [
    {"address": "203.0.113.10", "ports": [4443, 443]},
    {"address": "fe2.example.net", "ports": [53]}
  ],
  "mtu": 1400,
  "max_flows": 100,
  "flow_idle_s": 30,
  "backoff_initial_ms": 500,
  "backoff_max_ms": 8000,
  "stats_interval_s": 5
})";

TEST(ConfigTest, ParsesCompleteFile) {
  auto c = ParseConfig(kGood);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->kites.size(), 2u);
  EXPECT_EQ(c->kites[0].name, "game.example");
  EXPECT_EQ(c->kites[0].secret, "0123456789abcdef");
  EXPECT_EQ(c->kites[0].service.family, KP_AF_INET);
  EXPECT_EQ(c->kites[0].service.port, 27015);
  EXPECT_EQ(c->kites[0].service.addr[15], 1);
  EXPECT_EQ(c->kites[1].service.family, KP_AF_INET6);
  ASSERT_EQ(c->frontends.size(), 2u);
  EXPECT_EQ(c->frontends[0].ports, (std::vector<uint16_t>{4443, 443}));
  EXPECT_EQ(c->frontends[1].address, "fe2.example.net");
  EXPECT_EQ(c->mtu, 1400);
  EXPECT_EQ(c->max_flows, 100u);
  EXPECT_EQ(c->flow_idle_s, 30u);
  EXPECT_EQ(c->backoff_initial_ms, 500u);
  EXPECT_EQ(c->backoff_max_ms, 8000u);
  EXPECT_EQ(c->stats_interval_s, 5u);
}

TEST(ConfigTest, Defaults) {
  auto c = ParseConfig(R"({"kites":[{"name":"a","secret":"0123456789abcdef",
      "service":"127.0.0.1:1"}],"frontends":[{"address":"::1","ports":[1]}]})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->mtu, 1500);
  EXPECT_EQ(c->max_flows, 4096u);
  EXPECT_EQ(c->flow_idle_s, 120u);
}

struct BadCase {
  const char* json;
  const char* expect;  // substring of the error message
};

class ConfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigErrorTest, RejectsWithClearMessage) {
  auto c = ParseConfig(GetParam().json);
  ASSERT_FALSE(c.ok()) << GetParam().json;
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(c.status().message()).find(GetParam().expect), std::string::npos)
      << c.status();
}

#define KITE R"({"name":"a","secret":"0123456789abcdef","service":"127.0.0.1:1"})"
#define FE R"({"address":"127.0.0.1","ports":[1]})"

INSTANTIATE_TEST_SUITE_P(
    Cases, ConfigErrorTest,
    ::testing::Values(
        BadCase{"{", "not valid JSON"},
        BadCase{"[]", "must be a JSON object"},
        BadCase{R"({"kites":[)" KITE R"(],"frontends":[)" FE R"(],"mtus":1})", "mtus: unknown key"},
        BadCase{R"({"kites":[{"name":"a","secret":"0123456789abcdef","service":"127.0.0.1:1",
            "x":1}],"frontends":[)" FE "]}", "kites[0].x: unknown key"},
        BadCase{R"({"kites":[)" KITE R"(],"frontends":[{"address":"h","ports":[1],"y":2}]})",
                "frontends[0].y: unknown key"},
        BadCase{R"({"kites":[],"frontends":[)" FE "]}", "at least one kite"},
        BadCase{R"({"kites":[)" KITE R"(]})", "at least one front-end"},
        BadCase{R"({"kites":[{"secret":"0123456789abcdef","service":"127.0.0.1:1"}],
            "frontends":[)" FE "]}", "missing \"name\""},
        BadCase{R"({"kites":[{"name":"a","service":"127.0.0.1:1"}],"frontends":[)" FE "]}",
                "missing \"secret\""},
        BadCase{R"({"kites":[{"name":"a","secret":"0123456789abcdef"}],"frontends":[)" FE "]}",
                "missing \"service\""},
        BadCase{R"({"kites":[{"name":"A!","secret":"0123456789abcdef","service":"127.0.0.1:1"}],
            "frontends":[)" FE "]}", "kites[0].name"},
        BadCase{R"({"kites":[{"name":"a","secret":"short","service":"127.0.0.1:1"}],
            "frontends":[)" FE "]}", "at least 16 bytes"},
        BadCase{R"({"kites":[{"name":"a","secret":"0123456789abcdef","service":"localhost:1"}],
            "frontends":[)" FE "]}", "kites[0].service"},
        BadCase{R"({"kites":[{"name":"a","secret":"0123456789abcdef","service":"127.0.0.1:0"}],
            "frontends":[)" FE "]}", "bad port"},
        BadCase{R"({"kites":[{"name":"a","secret":"0123456789abcdef","service":"127.0.0.1"}],
            "frontends":[)" FE "]}", "kites[0].service"},
        BadCase{R"({"kites":[)" KITE "," KITE R"(],"frontends":[)" FE "]}", "duplicate kite"},
        BadCase{R"({"kites":[)" KITE R"(],"frontends":[{"address":"h","ports":[]}]})",
                "non-empty array"},
        BadCase{R"({"kites":[)" KITE R"(],"frontends":[{"address":"h","ports":[70000]}]})",
                "frontends[0].ports[0]"},
        BadCase{R"({"kites":[)" KITE R"(],"frontends":[{"ports":[1]}]})", "missing \"address\""},
        BadCase{R"({"kites":[)" KITE R"(],"frontends":[)" FE R"(],"mtu":100})", "mtu: must be in"},
        BadCase{R"({"kites":[)" KITE R"(],"frontends":[)" FE R"(],"mtu":"big"})", "non-negative"},
        BadCase{R"({"kites":[)" KITE R"(],"frontends":[)" FE
                R"(],"backoff_initial_ms":5000,"backoff_max_ms":100})",
                "backoff_max_ms"},
        BadCase{R"({"kites":{},"frontends":[)" FE "]}", "kites: must be an array"}));

TEST(ConfigTest, MissingFile) {
  EXPECT_EQ(LoadConfigFile("/nonexistent/kc.json").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kp::connector
