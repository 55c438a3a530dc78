// connector_session_fuzz.cc - fuzz target for the connector's handling of
// frames from a front-end (tools/kite-connector/session.h).
//
// A Session is started (HELLO sent) and then fed the input as a sequence of
// frames (each prefixed by a one-byte length) interleaved with timer ticks.
// The first frame may be answered by a CHALLENGE built from the session's
// own HELLO so that the REGISTER-sent state is reached too.  Nothing may
// crash; unauthenticated input must never establish a session.
#include <cstdint>
#include <cstdlib>

#include "controlplane/proto/crypto.h"
#include "tools/kite-connector/session.h"

using namespace kp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool init = proto::InitCrypto().ok();
  if (!init) std::abort();
  static const connector::Config cfg = [] {
    connector::Config c;
    c.kites.push_back({"game.example", "0123456789abcdef", {}});
    c.kites.push_back({"voice", "fedcba9876543210", {}});
    c.frontends.push_back({"127.0.0.1", {4443}});
    return c;
  }();
  connector::Counters ctr;
  proto::Endpoint fe;
  connector::Session s(cfg, 0, 0, fe, &ctr);
  connector::Outbox out;
  uint64_t now = 1000000000ull;
  if (!s.Start(now, out).ok()) std::abort();
  // Optionally answer our own HELLO so that REGISTER is sent.
  if (size > 0 && (data[0] & 1)) {
    auto hello = proto::DecodeHello(out.front());
    if (!hello.ok()) std::abort();
    proto::Challenge c{.timestamp = 5, .client_nonce = hello->client_nonce};
    s.OnFrame(proto::EncodeChallenge(c), now, out);
    if (s.state() != connector::Session::State::kRegisterSent) std::abort();
  }
  size_t pos = size > 0 ? 1 : 0;
  while (pos < size) {
    size_t len = data[pos++];
    if (len > size - pos) len = size - pos;
    s.OnFrame(proto::ByteSpan(data + pos, len), now, out);
    pos += len;
    now += 700000000ull;
    s.OnTimer(now, out);
  }
  if (s.established()) std::abort();  // no MAC key, no session
  return 0;
}
