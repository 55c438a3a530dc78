// policy_test.cc - unit tests of the Lua config, sandbox and policy hooks:
// strict option tables (unknown key named with file and line), sandbox limits
// (runaway loop, memory cap, no io/os/debug/package/load), hook safe defaults
// and the reload rule (a bad file never replaces a good one).
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "controlplane/policy.h"

namespace kp::cp {
namespace {
using ::testing::HasSubstr;

const char* kBase = R"(
frontend { addresses = { "127.0.0.1" }, tunnel_ports = { 4500 } }
port_pool { address = "127.0.0.1", first = 20000, last = 20009 }
)";

absl::StatusOr<std::unique_ptr<PolicyHost>> Load(const std::string& extra) {
  return PolicyHost::LoadString(std::string(kBase) + extra, "test.lua");
}

TEST(Config, DefaultConfigLoads) {
  auto p = PolicyHost::LoadDefault();
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->config().tunnel_ports.size(), 2u);
  EXPECT_EQ((*p)->config().kites.count("echo.demo.kite"), 1u);
  EXPECT_TRUE((*p)->has_hook(Hook::kOnRegister));
}

TEST(Config, UnknownKeyNamesFileLineAndKey) {
  auto p = PolicyHost::LoadString("frontend {\n addresses = {'127.0.0.1'} }\n\nmetrics { lisen = 'x' }\n", "site.lua");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("site.lua:4:"));
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("unknown key 'lisen'"));
}

TEST(Config, WrongTypeNamesKey) {
  auto p = Load("kite { name = 'a', secret = 'longsecret', port = 'x' }\n");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("test.lua:4:"));
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("key 'port'"));
}

TEST(Config, MissingPartsAreErrors) {
  auto p = PolicyHost::LoadString("frontend { addresses = { '127.0.0.1' } }", "x.lua");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("tunnel_ports"));
  p = Load("port_pool { address = '127.0.0.1', first = 4400, last = 4600 }");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("tunnel port 4500"));
  p = Load("kite { name = 'k', secret = 'longsecret', account = 'nobody' }");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("no account 'nobody'"));
  p = Load("on_register = 5");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("on_register"));
  p = Load("management { mode = '0666' }");
  ASSERT_FALSE(p.ok());
}

TEST(Config, SyntaxErrorNamesLine) {
  auto p = Load("\n\nthis is not lua\n");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("test.lua:6:"));
}

TEST(Config, ValuesAreApplied) {
  auto p = Load(R"(
account { name = 'a', quota_bytes = 1e9 }
kite { name = 'k.example', secret = 'longsecret', account = 'a', port = 20003, rate_pps = 10 }
metrics { listen = '127.0.0.1:1234', max_kite_series = 7 }
management { mode = '0640', group = 'kp' }
timers { tick_ms = 100 }
)");
  ASSERT_TRUE(p.ok()) << p.status();
  const Config& c = (*p)->config();
  EXPECT_EQ(c.metrics_max_kite_series, 7u);
  EXPECT_EQ(c.mgmt_mode, 0640u);
  EXPECT_EQ(c.timers.tick_ms, 100u);
  Admission a = (*p)->OnRegister({"k.example", "1.2.3.4:5", 1});
  EXPECT_TRUE(a.accept);
  EXPECT_EQ(a.quota_bytes, 1000000000u);
  EXPECT_EQ(a.port, 20003);
  EXPECT_EQ(a.rate_pps, 10u);
  Admission u = (*p)->OnRegister({"other", "1.2.3.4:5", 1});
  EXPECT_FALSE(u.accept);
  EXPECT_FALSE(u.known);
}

TEST(Sandbox, DangerousLibrariesAbsent) {
  auto p = Load(R"(
assert(io == nil and os == nil and debug == nil and package == nil)
assert(require == nil and load == nil and loadfile == nil and dofile == nil)
assert(string.dump == nil)
)");
  EXPECT_TRUE(p.ok()) << p.status();
}

TEST(Sandbox, BinaryChunksRefused) {
  auto sb = LuaSandbox::Create({});
  ASSERT_TRUE(sb.ok());
  std::string bin = "\x1bLua\x54";
  bin += std::string(40, '\0');
  absl::Status s = (*sb)->RunChunk(bin, "=bin");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("binary"));
}

TEST(Sandbox, RunawayLoopIsStopped) {
  auto sb = LuaSandbox::Create({.instructions = 100000, .memory_bytes = 8u << 20});
  ASSERT_TRUE(sb.ok());
  absl::Status s = (*sb)->RunChunk("while true do end", "=loop");
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  // pcall cannot swallow the budget error.
  s = (*sb)->RunChunk("while true do pcall(function() while true do end end) end", "=loop2");
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  // The state stays usable for the next call.
  EXPECT_TRUE((*sb)->RunChunk("x = 1 + 1", "=ok").ok());
}

TEST(Sandbox, MemoryCapHolds) {
  auto sb = LuaSandbox::Create({.instructions = 100000000, .memory_bytes = 2u << 20});
  ASSERT_TRUE(sb.ok());
  absl::Status s = (*sb)->RunChunk("local t = {} for i = 1, 1e8 do t[i] = tostring(i) .. 'xxxxxxxx' end", "=mem");
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_LE((*sb)->memory_in_use(), 2u << 20);
  s = (*sb)->RunChunk("local s = string.rep('x', 1 << 30)", "=rep");
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
}

TEST(Hooks, RunawayHookGivesSafeDefaultAndCounts) {
  auto p = Load(R"(
sandbox { instructions = 20000 }
kite { name = 'k', secret = 'longsecret' }
function on_register(req) while true do end end
function on_lame_duck(ev) error('boom') end
)");
  ASSERT_TRUE(p.ok()) << p.status();
  Admission a = (*p)->OnRegister({"k", "1.2.3.4:5", 1});
  EXPECT_FALSE(a.accept);
  EXPECT_THAT(a.reason, HasSubstr("policy hook failed"));
  EXPECT_EQ((*p)->stats(Hook::kOnRegister).failures, 1u);
  EXPECT_EQ((*p)->OnLameDuck(30, 2), 30u);
  EXPECT_EQ((*p)->stats(Hook::kOnLameDuck).failures, 1u);
}

TEST(Hooks, OnRegisterDecides) {
  auto p = Load(R"(
function on_register(req)
  if req.kite == 'dyn.example' then return { secret = 'from-the-hook', port = 20005, rate_pps = 7 } end
  if req.kite == 'bad.example' then return { acept = true } end
  return { accept = false, reason = 'not today' }
end
function on_quota_exhausted(ev) return { extra_bytes = 100 } end
)");
  ASSERT_TRUE(p.ok()) << p.status();
  Admission a = (*p)->OnRegister({"dyn.example", "1.2.3.4:5", 1});
  EXPECT_TRUE(a.accept);
  EXPECT_EQ(a.secret, "from-the-hook");
  EXPECT_EQ(a.port, 20005);
  Admission b = (*p)->OnRegister({"other", "1.2.3.4:5", 1});
  EXPECT_FALSE(b.accept);
  EXPECT_EQ(b.reason, "not today");
  Admission c = (*p)->OnRegister({"bad.example", "1.2.3.4:5", 1});
  EXPECT_FALSE(c.accept);
  EXPECT_THAT(c.reason, HasSubstr("unknown key 'acept'"));
  EXPECT_EQ((*p)->OnQuotaExhausted("dyn.example", 10, 10), 100u);
}

TEST(Reload, BadFileNeverReplacesGoodOne) {
  std::string path = ::testing::TempDir() + "/reload_test.lua";
  {
    std::ofstream(path) << kBase << "kite { name = 'one', secret = 'longsecret' }\n";
  }
  auto current = PolicyHost::LoadFile(path);
  ASSERT_TRUE(current.ok()) << current.status();
  std::unique_ptr<PolicyHost> live = std::move(*current);
  {
    std::ofstream(path) << kBase << "kite { name = 'two', secret = 'longsecret', colour = 'red' }\n";
  }
  auto next = PolicyHost::LoadFile(path);
  ASSERT_FALSE(next.ok());
  EXPECT_THAT(std::string(next.status().message()), HasSubstr("unknown key 'colour'"));
  EXPECT_THAT(std::string(next.status().message()), HasSubstr("reload_test.lua:4:"));
  EXPECT_EQ(live->config().kites.count("one"), 1u);  // still the old one
  {
    std::ofstream(path) << kBase << "kite { name = 'two', secret = 'longsecret' }\n";
  }
  next = PolicyHost::LoadFile(path);
  ASSERT_TRUE(next.ok());
  (*next)->InheritStats(*live);
  live = std::move(*next);
  EXPECT_EQ(live->config().kites.count("two"), 1u);
  EXPECT_EQ(live->config().kites.count("one"), 0u);
}

}  // namespace
}  // namespace kp::cp

namespace kp::cp {
namespace {

TEST(Examples, ShippedConfigsLoadAndBehave) {
  std::string root = KP_SOURCE_DIR;
  for (const char* f : {"/lua/default.lua", "/lua/examples/dynamic_kites.lua", "/lua/examples/quota_topup.lua"}) {
    auto p = PolicyHost::LoadFile(root + f);
    EXPECT_TRUE(p.ok()) << f << ": " << p.status();
  }
  auto dyn = PolicyHost::LoadFile(root + "/lua/examples/dynamic_kites.lua");
  ASSERT_TRUE(dyn.ok());
  Admission a = (*dyn)->OnRegister({"voip.bob.example", "1.2.3.4:5", 1});
  EXPECT_TRUE(a.accept);
  EXPECT_EQ(a.port, 20500);
  EXPECT_EQ(a.account, "pro");
  Admission b = (*dyn)->OnRegister({"x.blocked", "1.2.3.4:5", 1});
  EXPECT_FALSE(b.accept);
  EXPECT_EQ(b.reason, "kite is blocked");
  auto top = PolicyHost::LoadFile(root + "/lua/examples/quota_topup.lua");
  ASSERT_TRUE(top.ok());
  EXPECT_EQ((*top)->OnQuotaExhausted("iot.example", 100, 1000), 100u);
  EXPECT_EQ((*top)->OnQuotaExhausted("iot.example", 1100, 1100), 0u);
}

}  // namespace
}  // namespace kp::cp
