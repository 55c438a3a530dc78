// messages_test.cc - unit tests of controlplane/proto/messages.h.
//
// Round trips of every message type, the exact byte layout of the fixed parts
// against kp_wire.h offsets, and the malformed inputs every decoder must
// reject with a status: truncation at every length, trailing bytes, bad
// magic/version/type/direction, bad names, counts, families, MAC failures.
#include "controlplane/proto/messages.h"

#include <gtest/gtest.h>

#include "controlplane/proto/crypto.h"

namespace kp::proto {
namespace {

Endpoint V4(uint8_t last, uint16_t port) {
  Endpoint e{.family = KP_AF_INET, .port = port};
  e.addr[10] = e.addr[11] = 0xff;
  e.addr[12] = 203;
  e.addr[13] = 0;
  e.addr[14] = 113;
  e.addr[15] = last;
  return e;
}

template <size_t N>
std::array<uint8_t, N> Filled(uint8_t v) {
  std::array<uint8_t, N> a;
  a.fill(v);
  return a;
}

KiteResult SampleResult(std::string name, uint8_t code) {
  return KiteResult{.code = code, .kite_id = 17, .holder_session = 0, .endpoint = V4(5, 27015),
                    .server_proof = Filled<32>(0xab), .name = std::move(name), .text = "ok"};
}

std::vector<SessionMessage> AllSessionMessages() {
  RegisterResult rr{.server_pubkey = Filled<32>(1), .client_nonce = Filled<16>(2), .mtu = 1400,
                    .heartbeat_s = 10, .cookie_rotate_s = 300, .dead_after = 3};
  rr.results.push_back(SampleResult("a.example", KP_RESULT_ACCEPTED));
  KiteResult taken = SampleResult("b.example", KP_RESULT_NAME_TAKEN);
  taken.holder_session = 0x10002;
  rr.results.push_back(taken);
  KiteResult refused = SampleResult("c", KP_RESULT_REFUSED_BY_POLICY);
  refused.endpoint = Endpoint{};
  refused.text = "only weekdays";
  rr.results.push_back(refused);
  Endpoint v6{.family = KP_AF_INET6, .addr = Filled<16>(0x20), .port = 9};
  return {
      {7, 1, true, rr},
      {7, 2, false, KiteAdd{{{"new.kite", Filled<32>(3)}, {"x", Filled<32>(4)}}}},
      {7, 3, false, KiteRemove{{"old.kite", "y_z"}}},
      {7, 4, true, KiteResultMsg{3, {SampleResult("old.kite", KP_RESULT_REMOVED)}}},
      {7, 5, false, Heartbeat{123456}},
      {7, 6, true, HeartbeatAck{5, 123456}},
      {7, 7, true, Heartbeat{99}},
      {7, 8, false, HeartbeatAck{7, 99}},
      {7, 9, false, Resume{KP_RESUME_MISSED_ACKS}},
      {7, 10, true, ResumeAck{9, v6}},
      {7, 11, true, Notice{KP_NOTICE_LAME_DUCK, 0, 30, "draining for upgrade"}},
      {7, 12, false, NoticeAck{11}},
      {7, 13, false, Close{KP_CLOSE_REPLACED, "moved"}},
      {7, 14, true, Close{KP_CLOSE_NORMAL, ""}},
  };
}

class MessagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto().ok());
    key_ = RandomKey();
  }
  Key32 key_;
};

TEST_F(MessagesTest, HelloRoundTripAndLayout) {
  Hello h{.mtu = 1280, .client_nonce = Filled<16>(7), .client_pubkey = Filled<32>(8),
          .padded_len = 200};
  auto b = EncodeHello(h);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 200u);
  EXPECT_EQ((*b)[0], KP_MAGIC);
  EXPECT_EQ((*b)[2], KP_MSG_HELLO);
  EXPECT_EQ((*b)[3], 0);
  EXPECT_EQ((*b)[4], 1);  // versions_min_max 0x0101
  EXPECT_EQ((*b)[5], 1);
  EXPECT_EQ((*b)[6], 1280 >> 8);
  EXPECT_EQ((*b)[offsetof(kp_hello, client_nonce)], 7);
  EXPECT_EQ((*b)[offsetof(kp_hello, client_pubkey)], 8);
  auto d = DecodeHello(*b);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, h);
}

TEST_F(MessagesTest, HelloRejectsShortPaddingAndBadPadding) {
  EXPECT_FALSE(EncodeHello(Hello{.padded_len = 127}).ok());
  EXPECT_FALSE(EncodeHello(Hello{.padded_len = 1401}).ok());
  Bytes b = *EncodeHello(Hello{});
  b.pop_back();
  EXPECT_FALSE(DecodeHello(b).ok());  // 127 bytes
  b = *EncodeHello(Hello{});
  b.back() = 1;
  EXPECT_FALSE(DecodeHello(b).ok());  // nonzero padding
  b = *EncodeHello(Hello{});
  b[4] = 2;                           // versions 2..1
  EXPECT_FALSE(DecodeHello(b).ok());
}

TEST_F(MessagesTest, VersionAndMagicAndDirection) {
  Bytes b = *EncodeHello(Hello{});
  b[1] = 2;
  EXPECT_EQ(DecodeHello(b).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(PeekType(b).status().code(), absl::StatusCode::kFailedPrecondition);
  b[1] = 1;
  b[0] = 'X';
  EXPECT_EQ(PeekType(b).status().code(), absl::StatusCode::kInvalidArgument);
  b[0] = KP_MAGIC;
  b[3] = KP_F_FROM_FRONTEND;  // HELLO from a front-end?
  EXPECT_FALSE(DecodeHello(b).ok());
  EXPECT_FALSE(PeekType(ByteSpan(b).first(3)).ok());
  EXPECT_EQ(*PeekType(ByteSpan(b).first(4)), KP_MSG_HELLO);
}

TEST_F(MessagesTest, ChallengeRoundTripLayoutAndNoAmplification) {
  Challenge c{.timestamp = 0x01020304, .token = Filled<32>(9), .client_nonce = Filled<16>(10),
              .mtu = 1500};
  Bytes b = EncodeChallenge(c);
  ASSERT_EQ(b.size(), sizeof(kp_challenge));
  EXPECT_LT(b.size(), KP_HELLO_MIN_LEN);
  EXPECT_EQ(b[3], KP_F_FROM_FRONTEND);
  EXPECT_EQ(b[4], 1);
  EXPECT_EQ(b[7], 4);
  EXPECT_EQ(b[offsetof(kp_challenge, token)], 9);
  EXPECT_EQ(b[offsetof(kp_challenge, client_nonce)], 10);
  EXPECT_EQ(*DecodeChallenge(b), c);
  for (size_t n = 0; n < b.size(); ++n) {
    EXPECT_FALSE(DecodeChallenge(ByteSpan(b).first(n)).ok()) << n;
  }
  b.push_back(0);
  EXPECT_FALSE(DecodeChallenge(b).ok());
}

TEST_F(MessagesTest, RegisterRoundTripAndEveryTruncation) {
  Register r{.timestamp = 5, .token = Filled<32>(1), .client_nonce = Filled<16>(2),
             .client_pubkey = Filled<32>(3), .mtu = 1400};
  r.claims = {{"game.example", Filled<32>(4)}, {"voice", Filled<32>(5)}};
  auto b = EncodeRegister(r);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size(), 92u + (1 + 12 + 32) + (1 + 5 + 32));
  EXPECT_EQ((*b)[offsetof(kp_register, n_kites)], 2);
  EXPECT_EQ((*b)[92], 12);
  EXPECT_EQ(*DecodeRegister(*b), r);
  for (size_t n = 0; n < b->size(); ++n) {
    EXPECT_FALSE(DecodeRegister(ByteSpan(*b).first(n)).ok()) << n;
  }
  Bytes more = *b;
  more.push_back(0);
  EXPECT_FALSE(DecodeRegister(more).ok());
}

TEST_F(MessagesTest, RegisterWithZeroKitesIsValid) {
  Register r;
  auto b = EncodeRegister(r);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size(), sizeof(kp_register));
  EXPECT_TRUE(DecodeRegister(*b)->claims.empty());
}

TEST_F(MessagesTest, RegisterRejectsBadClaims) {
  Register r;
  r.claims = {{"UPPER", {}}};
  EXPECT_FALSE(EncodeRegister(r).ok());
  r.claims = {{".lead", {}}};
  EXPECT_FALSE(EncodeRegister(r).ok());
  r.claims = {{"", {}}};
  EXPECT_FALSE(EncodeRegister(r).ok());
  r.claims = {{std::string(254, 'a'), {}}};
  EXPECT_FALSE(EncodeRegister(r).ok());
  r.claims.assign(33, KiteClaim{"a", {}});
  EXPECT_FALSE(EncodeRegister(r).ok());
  // Too big for 1400 bytes even though within 32 claims.
  r.claims.clear();
  for (int i = 0; i < 6; ++i) r.claims.push_back({std::string(250, 'a' + i), {}});
  EXPECT_FALSE(EncodeRegister(r).ok());
  // Duplicate names and a zero-length name, built by hand.
  r.claims = {{"dup", {}}, {"dup", {}}};
  Bytes b = *EncodeRegister(Register{.claims = {{"dup", {}}, {"dux", {}}}});
  b[92 + 1 + 3 + 32 + 3] = 'p';
  EXPECT_FALSE(DecodeRegister(b).ok());
  b = *EncodeRegister(Register{.claims = {{"a", {}}}});
  b[92] = 0;
  EXPECT_FALSE(DecodeRegister(b).ok());
  b = *EncodeRegister(Register{.claims = {{"a", {}}}});
  b[92 + 1] = 'A';
  EXPECT_FALSE(DecodeRegister(b).ok());
  b = *EncodeRegister(Register{});
  b[offsetof(kp_register, n_kites)] = 200;  // claims missing
  EXPECT_FALSE(DecodeRegister(b).ok());
}

TEST_F(MessagesTest, ErrorRoundTripAndSize) {
  Error e{.code = KP_ERR_UNKNOWN_SESSION, .arg = 0, .session_id = 0xdeadbeef};
  Bytes b = EncodeError(e);
  ASSERT_EQ(b.size(), sizeof(kp_error));
  EXPECT_EQ(b[3], KP_F_FROM_FRONTEND);
  EXPECT_EQ(*DecodeError(b), e);
  b.push_back(0);
  EXPECT_FALSE(DecodeError(b).ok());
}

TEST_F(MessagesTest, EverySessionMessageRoundTrips) {
  for (const SessionMessage& m : AllSessionMessages()) {
    auto b = SealMessage(m, key_);
    ASSERT_TRUE(b.ok()) << TypeName(BodyType(m.body)) << ": " << b.status();
    auto hdr = PeekSession(*b);
    ASSERT_TRUE(hdr.ok());
    EXPECT_EQ(hdr->type, BodyType(m.body));
    EXPECT_EQ(hdr->seq, m.seq);
    EXPECT_EQ(hdr->session_id, m.session_id);
    auto d = OpenMessage(*b, key_);
    ASSERT_TRUE(d.ok()) << TypeName(hdr->type) << ": " << d.status();
    EXPECT_EQ(*d, m) << TypeName(hdr->type);
  }
}

TEST_F(MessagesTest, FixedSizesMatchAbiStructs) {
  auto size_of = [&](SessionBody body, bool ff) {
    return SealMessage({1, 1, ff, std::move(body)}, key_)->size() - KP_MAC_LEN;
  };
  EXPECT_EQ(size_of(Heartbeat{}, false), sizeof(kp_heartbeat));
  EXPECT_EQ(size_of(HeartbeatAck{}, true), sizeof(kp_heartbeat_ack));
  EXPECT_EQ(size_of(Resume{}, false), sizeof(kp_resume));
  EXPECT_EQ(size_of(ResumeAck{}, true), sizeof(kp_resume_ack));
  EXPECT_EQ(size_of(NoticeAck{}, false), sizeof(kp_notice_ack));
  EXPECT_EQ(size_of(Notice{}, true), sizeof(kp_notice) + 1);
  EXPECT_EQ(size_of(Close{}, true), sizeof(kp_close) + 1);
  EXPECT_EQ(size_of(RegisterResult{}, true), sizeof(kp_register_result));
  EXPECT_EQ(size_of(KiteResultMsg{}, true), sizeof(kp_kite_result_msg));
  RegisterResult rr;
  rr.results.push_back(SampleResult("abc", 0));
  EXPECT_EQ(size_of(rr, true), sizeof(kp_register_result) + sizeof(kp_kite_result) + 1 + 3 + 1 + 2);
}

TEST_F(MessagesTest, SessionMessagesRejectEveryTruncationAndExtension) {
  for (const SessionMessage& m : AllSessionMessages()) {
    Bytes b = *SealMessage(m, key_);
    for (size_t n = 0; n < b.size(); ++n) {
      EXPECT_FALSE(OpenMessage(ByteSpan(b).first(n), key_).ok()) << n;
      EXPECT_FALSE(DecodeMessageUnverified(ByteSpan(b).first(n)).ok())
          << TypeName(BodyType(m.body)) << " at " << n;
    }
    Bytes longer = b;
    longer.insert(longer.end() - KP_MAC_LEN, 0);
    EXPECT_FALSE(DecodeMessageUnverified(longer).ok()) << TypeName(BodyType(m.body));
  }
}

TEST_F(MessagesTest, MacFailuresAreUnauthenticated) {
  Bytes b = *SealMessage({5, 1, false, Heartbeat{1}}, key_);
  Key32 other = RandomKey();
  EXPECT_EQ(OpenMessage(b, other).status().code(), absl::StatusCode::kUnauthenticated);
  for (size_t i = 0; i < b.size(); ++i) {
    Bytes c = b;
    c[i] ^= 0x40;
    EXPECT_FALSE(OpenMessage(c, key_).ok()) << i;
  }
}

TEST_F(MessagesTest, DirectionRules) {
  EXPECT_FALSE(SealMessage({1, 1, false, RegisterResult{}}, key_).ok());
  EXPECT_FALSE(SealMessage({1, 1, true, KiteAdd{{{"a", {}}}}}, key_).ok());
  EXPECT_FALSE(SealMessage({1, 1, true, Resume{}}, key_).ok());
  EXPECT_FALSE(SealMessage({1, 1, false, Notice{}}, key_).ok());
  // A NOTICE whose flag was cleared (and MAC recomputed) is still refused.
  Bytes b = *SealMessage({1, 1, true, Notice{}}, key_);
  b[3] = 0;
  Mac mac = ComputeMac(key_, ByteSpan(b).first(b.size() - KP_MAC_LEN));
  std::copy(mac.begin(), mac.end(), b.end() - KP_MAC_LEN);
  EXPECT_FALSE(OpenMessage(b, key_).ok());
}

TEST_F(MessagesTest, EncodersRejectOversizedFields) {
  EXPECT_FALSE(SealMessage({1, 1, true, Notice{.text = std::string(256, 'x')}}, key_).ok());
  EXPECT_FALSE(SealMessage({1, 1, false, Close{.text = std::string(256, 'x')}}, key_).ok());
  EXPECT_FALSE(SealMessage({1, 1, false, KiteAdd{}}, key_).ok());
  EXPECT_FALSE(SealMessage({1, 1, false, KiteRemove{}}, key_).ok());
  KiteResultMsg many;
  many.results.assign(33, SampleResult("a", 0));
  EXPECT_FALSE(SealMessage({1, 1, true, many}, key_).ok());
  KiteResultMsg big;  // 20 results with long names overflow 1400 bytes
  big.results.assign(20, SampleResult(std::string(200, 'n'), 0));
  EXPECT_FALSE(SealMessage({1, 1, true, big}, key_).ok());
  KiteResultMsg bad;
  bad.results.push_back(SampleResult("a", KP_RESULT_MAX));
  EXPECT_FALSE(SealMessage({1, 1, true, bad}, key_).ok());
  KiteResultMsg badfam;
  badfam.results.push_back(SampleResult("a", 0));
  badfam.results[0].endpoint.addr[10] = 0;  // IPv4 but not mapped
  EXPECT_FALSE(SealMessage({1, 1, true, badfam}, key_).ok());
}

TEST_F(MessagesTest, DecoderRejectsBadFamilyAndCodeInResult) {
  KiteResultMsg m{1, {SampleResult("a", 0)}};
  Bytes b = *SealMessage({1, 1, true, m}, key_);
  Bytes c = b;
  c[sizeof(kp_kite_result_msg) + 1] = 5;  // family 5
  EXPECT_FALSE(DecodeMessageUnverified(c).ok());
  c = b;
  c[sizeof(kp_kite_result_msg)] = KP_RESULT_MAX;
  EXPECT_FALSE(DecodeMessageUnverified(c).ok());
  c = b;
  c[sizeof(kp_kite_result_msg) - 8] = 2;  // n_results 2, only one present
  EXPECT_FALSE(DecodeMessageUnverified(c).ok());
}

TEST_F(MessagesTest, NonSessionTypesAreNotSessionMessages) {
  Bytes b = *EncodeHello(Hello{});
  EXPECT_FALSE(PeekSession(b).ok());
  b[2] = KP_MSG_DATA;
  EXPECT_FALSE(DecodeMessageUnverified(b).ok());
  b[2] = 0x7e;
  EXPECT_FALSE(DecodeMessageUnverified(b).ok());
  Bytes big(1401, 0);
  big[0] = KP_MAGIC;
  big[1] = 1;
  big[2] = KP_MSG_HEARTBEAT;
  EXPECT_FALSE(PeekSession(big).ok());
}

TEST_F(MessagesTest, NamesAndTexts) {
  EXPECT_EQ(TypeName(KP_MSG_RESUME_ACK), "RESUME_ACK");
  EXPECT_EQ(TypeName(0x55), "type 0x55");
  EXPECT_EQ(ResultCodeText(KP_RESULT_NAME_TAKEN), "name taken");
  EXPECT_EQ(ResultCodeText(200), "unknown result");
  EXPECT_EQ(EndpointToString(V4(5, 80)), "203.0.113.5:80");
  Endpoint v6{.family = KP_AF_INET6, .port = 53};
  v6.addr[15] = 1;
  EXPECT_EQ(EndpointToString(v6), "[::1]:53");
  EXPECT_TRUE(ValidateKiteName("a-b_c.d9").ok());
  EXPECT_FALSE(ValidateKiteName("a b").ok());
  EXPECT_FALSE(ValidateKiteName("trailing.").ok());
}

}  // namespace
}  // namespace kp::proto
