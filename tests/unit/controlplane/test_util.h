// test_util.h - shared fixtures of the control-plane unit tests: a small
// policy (two static kites, a refusing hook), a fake connector's claim
// helper and a Registry wired to an in-memory store and a FakeDataplane.
#pragma once

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "controlplane/policy.h"
#include "controlplane/registry.h"
#include "controlplane/store.h"
#include "fake_dataplane.h"

namespace kp::cp::testing {

inline const char* kPolicy = R"(
frontend { addresses = { "127.0.0.1" }, tunnel_ports = { 4500, 4501 } }
port_pool { address = "127.0.0.1", first = 20000, last = 20003 }
account { name = "acme", quota_bytes = 100000 }
kite { name = "game.acme", secret = "game-secret", account = "acme", port = 20002 }
kite { name = "voip.acme", secret = "voip-secret", account = "acme" }
kite { name = "shared.acme", secret = "shared-secret", max_sessions = 2 }
kite { name = "banned.acme", secret = "banned-secret" }
function on_register(req)
  if req.kite == "banned.acme" then return { accept = false, reason = "banned for abuse" } end
  if req.kite == "dyn.acme" then return { secret = "dyn-secret" } end
  return nil
end
)";

inline std::unique_ptr<PolicyHost> MakePolicy(const std::string& extra = "") {
  auto p = PolicyHost::LoadString(std::string(kPolicy) + extra, "test.lua");
  EXPECT_TRUE(p.ok()) << p.status();
  return std::move(*p);
}

inline proto::Endpoint Ep(const std::string& addr, uint16_t port) {
  auto e = ParseAddress(addr, port);
  EXPECT_TRUE(e.ok());
  return *e;
}

// A session as a connector that registered from `addr:port` would have.
inline Session NewSession(Registry& reg, const std::string& addr, uint16_t port) {
  Session s;
  auto id = reg.AllocateSessionId();
  EXPECT_TRUE(id.ok());
  s.session_id = *id;
  s.connector = Ep(addr, port);
  s.local = Ep("127.0.0.1", 4500);
  s.token = proto::RandomKey();
  proto::RandomBytes(s.client_pubkey);
  proto::RandomBytes(s.server_pubkey);
  s.keys.c2f = proto::RandomKey();
  s.keys.f2c = proto::RandomKey();
  s.last_rx = 1000;
  return s;
}

inline proto::KiteClaim ClaimFor(const Session& s, const std::string& name, const std::string& secret) {
  return {name, proto::ClientProof(secret, s.token, s.client_pubkey, name)};
}

struct Rig {
  explicit Rig(const std::string& db = ":memory:", const std::string& extra = "")
      : policy(MakePolicy(extra)) {
    EXPECT_TRUE(proto::InitCrypto().ok());
    auto st = Store::Open(db);
    EXPECT_TRUE(st.ok()) << st.status();
    store = std::move(*st);
    reg = std::make_unique<Registry>(store.get(), &dp, policy.get());
    EXPECT_TRUE(reg->Recover(1000).ok());
    EXPECT_TRUE(reg->SyncDataplane().ok());
  }
  FakeDataplane dp;
  std::unique_ptr<PolicyHost> policy;
  std::unique_ptr<Store> store;
  std::unique_ptr<Registry> reg;
};

}  // namespace kp::cp::testing
