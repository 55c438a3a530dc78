// ctrl_msg_fuzz.cc - fuzz target for the tunnel control-message parser.
//
// Feeds arbitrary bytes to every decoder of controlplane/proto/messages.h
// (PeekType, PeekSession, each unauthenticated decoder, OpenMessage and the
// unverified in-session decoder).  Whatever decodes must re-encode and decode
// to the same value (for HELLO, same padded size), so the encoders and
// decoders cannot disagree.  Crashes, sanitizer reports and round-trip
// mismatches abort.
#include <cstdint>
#include <cstdlib>

#include "controlplane/proto/crypto.h"
#include "controlplane/proto/messages.h"

namespace {

using namespace kp::proto;

void Check(bool cond) {
  if (!cond) std::abort();
}

template <typename T, typename Enc, typename Dec>
void RoundTrip(const T& value, Enc enc, Dec dec) {
  auto bytes = enc(value);
  Check(bytes.ok());
  auto again = dec(*bytes);
  Check(again.ok() && *again == value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool init = InitCrypto().ok();
  Check(init);
  static const Key32 key = [] {
    Key32 k{};
    k[0] = 1;
    return k;
  }();
  ByteSpan in(data, size);
  (void)PeekType(in);
  (void)PeekSession(in);
  (void)OpenMessage(in, key);
  if (auto h = DecodeHello(in); h.ok()) {
    RoundTrip(*h, EncodeHello, DecodeHello);
  }
  if (auto c = DecodeChallenge(in); c.ok()) {
    Check(EncodeChallenge(*c).size() == size);
  }
  if (auto r = DecodeRegister(in); r.ok()) {
    RoundTrip(*r, EncodeRegister, DecodeRegister);
  }
  if (auto e = DecodeError(in); e.ok()) {
    Check(*DecodeError(EncodeError(*e)) == *e);
  }
  if (auto m = DecodeMessageUnverified(in); m.ok()) {
    auto sealed = SealMessage(*m, key);
    Check(sealed.ok());
    auto opened = OpenMessage(*sealed, key);
    Check(opened.ok() && *opened == *m);
  }
  return 0;
}
