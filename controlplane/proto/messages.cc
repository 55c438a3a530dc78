// messages.cc - encoders and strict decoders of the tunnel control messages.
//
// Each message has one Encode/Decode pair built on the bounds-checked
// Reader/Writer of bytes.h.  Decoders reject short, long and inconsistent
// frames with InvalidArgument; reserved fields are written as zero and
// ignored when read; HELLO padding must be zero.  Sizes are checked against
// the kp_wire.h structs with static_asserts so the two cannot drift.
#include "controlplane/proto/messages.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "controlplane/proto/bytes.h"
#include "controlplane/proto/crypto.h"

namespace kp::proto {
namespace {

using internal::Reader;
using internal::Writer;

constexpr size_t kCtrlHdrLen = sizeof(kp_ctrl_hdr);
constexpr size_t kResultFixedLen = sizeof(kp_kite_result);
static_assert(sizeof(kp_hello) == 56 && sizeof(kp_challenge) == 60);
static_assert(sizeof(kp_register) == 92 && kResultFixedLen == 60);
static_assert(sizeof(kp_register_result) == 72 && sizeof(kp_kite_result_msg) == 32);
static_assert(sizeof(kp_heartbeat) == 24 && sizeof(kp_heartbeat_ack) == 32);
static_assert(sizeof(kp_resume) == 24 && sizeof(kp_resume_ack) == 48);
static_assert(sizeof(kp_notice) == 32 && sizeof(kp_notice_ack) == 24);
static_assert(sizeof(kp_close) == 24 && sizeof(kp_error) == 16);

absl::Status Bad(absl::string_view what) { return absl::InvalidArgumentError(what); }

void PutHdr(Writer& w, uint8_t type, bool from_frontend) {
  w.U8(KP_MAGIC);
  w.U8(KP_PROTO_VERSION);
  w.U8(type);
  w.U8(from_frontend ? KP_F_FROM_FRONTEND : 0);
}

// Checks the common header, the expected type and direction.
absl::Status CheckHdr(Reader& r, uint8_t type, bool from_frontend, absl::string_view name,
                      size_t frame_len) {
  if (frame_len > KP_MAX_CONTROL_LEN) return Bad(absl::StrCat(name, ": longer than 1400 bytes"));
  uint8_t magic = r.U8(), version = r.U8(), t = r.U8(), flags = r.U8();
  if (!r.ok()) return Bad(absl::StrCat(name, ": shorter than the common header"));
  if (magic != KP_MAGIC) return Bad(absl::StrCat(name, ": bad magic"));
  if (version != KP_PROTO_VERSION) {
    return absl::FailedPreconditionError(absl::StrCat(name, ": unsupported version ", version));
  }
  if (t != type) return Bad(absl::StrCat(name, ": wrong type ", TypeName(t)));
  if (((flags & KP_F_FROM_FRONTEND) != 0) != from_frontend) {
    return Bad(absl::StrCat(name, ": direction flag mismatch"));
  }
  return absl::OkStatus();
}

absl::Status CheckEnd(const Reader& r, absl::string_view name) {
  if (!r.ok()) return Bad(absl::StrCat(name, ": truncated"));
  if (r.remaining() != 0) return Bad(absl::StrCat(name, ": ", r.remaining(), " trailing bytes"));
  return absl::OkStatus();
}

void PutEndpoint(Writer& w, const Endpoint& e) {  // family(1) reserved(1) port(2) addr(16)
  w.U8(e.family);
  w.U8(0);
  w.U16(e.port);
  w.Raw(e.addr);
}

absl::Status CheckFamily(uint8_t family, const std::array<uint8_t, 16>& addr, bool allow_none) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (family == KP_AF_INET6) return absl::OkStatus();
  if (family == KP_AF_INET) {
    if (std::memcmp(addr.data(), kMapped, 12) != 0) return Bad("IPv4 address not IPv4-mapped");
    return absl::OkStatus();
  }
  if (family == KP_AF_NONE && allow_none) return absl::OkStatus();
  return Bad(absl::StrCat("bad address family ", family));
}

absl::Status CheckText(std::string_view text) {
  if (text.size() > KP_MAX_TEXT) return Bad("text longer than 255 bytes");
  return absl::OkStatus();
}

// ---- claims and results ----------------------------------------------------

absl::Status PutClaims(Writer& w, const std::vector<KiteClaim>& claims, size_t min) {
  if (claims.size() < min || claims.size() > KP_MAX_CLAIMS) {
    return Bad(absl::StrCat("claim count ", claims.size(), " outside ", min, "..32"));
  }
  w.U8(static_cast<uint8_t>(claims.size()));
  for (const KiteClaim& c : claims) {
    if (auto st = ValidateKiteName(c.name); !st.ok()) return st;
    w.U8(static_cast<uint8_t>(c.name.size()));
    w.Str(c.name);
    w.Raw(c.proof);
  }
  return absl::OkStatus();
}

absl::Status ReadName(Reader& r, std::string& name) {
  size_t len = r.U8();
  name = r.String(len);
  if (!r.ok()) return Bad("kite name truncated");
  return ValidateKiteName(name);
}

absl::Status CheckDistinct(const std::vector<std::string_view>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = i + 1; j < names.size(); ++j) {
      if (names[i] == names[j]) return Bad(absl::StrCat("duplicate kite name ", std::string(names[i])));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadClaims(Reader& r, size_t n, std::vector<KiteClaim>& out) {
  if (n > KP_MAX_CLAIMS) return Bad(absl::StrCat("claim count ", n, " above 32"));
  std::vector<std::string_view> names;
  out.resize(n);
  for (KiteClaim& c : out) {
    if (auto st = ReadName(r, c.name); !st.ok()) return st;
    r.Array(c.proof);
    if (!r.ok()) return Bad("claim proof truncated");
  }
  for (const KiteClaim& c : out) names.push_back(c.name);
  return CheckDistinct(names);
}

absl::Status PutResults(Writer& w, const std::vector<KiteResult>& results) {
  if (results.size() > KP_MAX_CLAIMS) return Bad("more than 32 kite results");
  w.U8(static_cast<uint8_t>(results.size()));
  return absl::OkStatus();
}

absl::Status PutResultEntries(Writer& w, const std::vector<KiteResult>& results) {
  for (const KiteResult& k : results) {
    if (k.code >= KP_RESULT_MAX) return Bad(absl::StrCat("bad result code ", k.code));
    if (auto st = ValidateKiteName(k.name); !st.ok()) return st;
    if (auto st = CheckText(k.text); !st.ok()) return st;
    if (auto st = CheckFamily(k.endpoint.family, k.endpoint.addr, true); !st.ok()) return st;
    w.U8(k.code);
    w.U8(k.endpoint.family);
    w.U16(k.endpoint.port);
    w.U32(k.kite_id);
    w.U32(k.holder_session);
    w.Raw(k.endpoint.addr);
    w.Raw(k.server_proof);
    w.U8(static_cast<uint8_t>(k.name.size()));
    w.Str(k.name);
    w.U8(static_cast<uint8_t>(k.text.size()));
    w.Str(k.text);
  }
  return absl::OkStatus();
}

absl::Status ReadResults(Reader& r, size_t n, std::vector<KiteResult>& out) {
  if (n > KP_MAX_CLAIMS) return Bad("more than 32 kite results");
  out.resize(n);
  for (KiteResult& k : out) {
    k.code = r.U8();
    k.endpoint.family = r.U8();
    k.endpoint.port = r.U16();
    k.kite_id = r.U32();
    k.holder_session = r.U32();
    r.Array(k.endpoint.addr);
    r.Array(k.server_proof);
    if (!r.ok()) return Bad("kite result truncated");
    if (k.code >= KP_RESULT_MAX) return Bad(absl::StrCat("bad result code ", k.code));
    if (auto st = CheckFamily(k.endpoint.family, k.endpoint.addr, true); !st.ok()) return st;
    if (auto st = ReadName(r, k.name); !st.ok()) return st;
    size_t tl = r.U8();
    k.text = r.String(tl);
    if (!r.ok()) return Bad("kite result text truncated");
  }
  return absl::OkStatus();
}

// ---- in-session bodies -----------------------------------------------------

struct BodyWriter {
  Writer& w;
  absl::Status operator()(const RegisterResult& m) {
    w.Raw(m.server_pubkey);
    w.Raw(m.client_nonce);
    w.U16(m.mtu);
    w.U16(m.heartbeat_s);
    w.U16(m.cookie_rotate_s);
    w.U8(m.dead_after);
    if (auto st = PutResults(w, m.results); !st.ok()) return st;
    return PutResultEntries(w, m.results);
  }
  absl::Status operator()(const KiteAdd& m) { return PutClaims(w, m.claims, 1); }
  absl::Status operator()(const KiteRemove& m) {
    if (m.names.empty() || m.names.size() > KP_MAX_CLAIMS) return Bad("KITE_REMOVE: 1..32 names");
    w.U8(static_cast<uint8_t>(m.names.size()));
    for (const std::string& n : m.names) {
      if (auto st = ValidateKiteName(n); !st.ok()) return st;
      w.U8(static_cast<uint8_t>(n.size()));
      w.Str(n);
    }
    return absl::OkStatus();
  }
  absl::Status operator()(const KiteResultMsg& m) {
    w.U64(m.ack_seq);
    if (auto st = PutResults(w, m.results); !st.ok()) return st;
    w.Zeros(7);
    return PutResultEntries(w, m.results);
  }
  absl::Status operator()(const Heartbeat& m) {
    w.U32(m.timestamp_ms);
    w.U32(0);
    return absl::OkStatus();
  }
  absl::Status operator()(const HeartbeatAck& m) {
    w.U64(m.ack_seq);
    w.U32(m.timestamp_ms);
    w.U32(0);
    return absl::OkStatus();
  }
  absl::Status operator()(const Resume& m) {
    w.U8(m.reason);
    w.Zeros(7);
    return absl::OkStatus();
  }
  absl::Status operator()(const ResumeAck& m) {
    if (auto st = CheckFamily(m.observed.family, m.observed.addr, true); !st.ok()) return st;
    w.U64(m.ack_seq);
    PutEndpoint(w, m.observed);
    w.U32(0);
    return absl::OkStatus();
  }
  absl::Status operator()(const Notice& m) {
    if (auto st = CheckText(m.text); !st.ok()) return st;
    w.U8(m.kind);
    w.Zeros(3);
    w.U32(m.kite_id);
    w.U32(m.arg);
    w.U32(0);
    w.U8(static_cast<uint8_t>(m.text.size()));
    w.Str(m.text);
    return absl::OkStatus();
  }
  absl::Status operator()(const NoticeAck& m) {
    w.U64(m.ack_seq);
    return absl::OkStatus();
  }
  absl::Status operator()(const Close& m) {
    if (auto st = CheckText(m.text); !st.ok()) return st;
    w.U8(m.reason);
    w.Zeros(7);
    w.U8(static_cast<uint8_t>(m.text.size()));
    w.Str(m.text);
    return absl::OkStatus();
  }
};

absl::Status ReadRegisterResult(Reader& r, SessionBody& body) {
  RegisterResult m;
  r.Array(m.server_pubkey);
  r.Array(m.client_nonce);
  m.mtu = r.U16();
  m.heartbeat_s = r.U16();
  m.cookie_rotate_s = r.U16();
  m.dead_after = r.U8();
  size_t n = r.U8();
  if (!r.ok()) return Bad("REGISTER_RESULT: truncated");
  if (auto st = ReadResults(r, n, m.results); !st.ok()) return st;
  body = std::move(m);
  return absl::OkStatus();
}

absl::Status ReadKiteRemove(Reader& r, SessionBody& body) {
  KiteRemove m;
  size_t n = r.U8();
  if (!r.ok() || n == 0 || n > KP_MAX_CLAIMS) return Bad("KITE_REMOVE: 1..32 names");
  m.names.resize(n);
  std::vector<std::string_view> views;
  for (std::string& name : m.names) {
    if (auto st = ReadName(r, name); !st.ok()) return st;
  }
  for (const std::string& name : m.names) views.push_back(name);
  if (auto st = CheckDistinct(views); !st.ok()) return st;
  body = std::move(m);
  return absl::OkStatus();
}

absl::Status ReadResumeAck(Reader& r, SessionBody& body) {
  ResumeAck m;
  m.ack_seq = r.U64();
  m.observed.family = r.U8();
  r.Skip(1);
  m.observed.port = r.U16();
  r.Array(m.observed.addr);
  r.Skip(4);
  if (!r.ok()) return Bad("RESUME_ACK: truncated");
  if (auto st = CheckFamily(m.observed.family, m.observed.addr, true); !st.ok()) return st;
  body = m;
  return absl::OkStatus();
}

absl::Status ReadText(Reader& r, std::string& text, absl::string_view name) {
  size_t n = r.U8();
  text = r.String(n);
  if (!r.ok()) return Bad(absl::StrCat(name, ": text truncated"));
  return absl::OkStatus();
}

absl::Status ReadBody(uint8_t type, Reader& r, SessionBody& body) {
  switch (type) {
    case KP_MSG_REGISTER_RESULT:
      return ReadRegisterResult(r, body);
    case KP_MSG_KITE_ADD: {
      KiteAdd m;
      size_t n = r.U8();
      if (!r.ok() || n == 0) return Bad("KITE_ADD: 1..32 claims");
      if (auto st = ReadClaims(r, n, m.claims); !st.ok()) return st;
      body = std::move(m);
      return absl::OkStatus();
    }
    case KP_MSG_KITE_REMOVE:
      return ReadKiteRemove(r, body);
    case KP_MSG_KITE_RESULT: {
      KiteResultMsg m;
      m.ack_seq = r.U64();
      size_t n = r.U8();
      r.Skip(7);
      if (!r.ok()) return Bad("KITE_RESULT: truncated");
      if (auto st = ReadResults(r, n, m.results); !st.ok()) return st;
      body = std::move(m);
      return absl::OkStatus();
    }
    case KP_MSG_HEARTBEAT: {
      Heartbeat m{.timestamp_ms = r.U32()};
      r.Skip(4);
      body = m;
      return absl::OkStatus();
    }
    case KP_MSG_HEARTBEAT_ACK: {
      HeartbeatAck m;
      m.ack_seq = r.U64();
      m.timestamp_ms = r.U32();
      r.Skip(4);
      body = m;
      return absl::OkStatus();
    }
    case KP_MSG_RESUME: {
      Resume m{.reason = r.U8()};
      r.Skip(7);
      body = m;
      return absl::OkStatus();
    }
    case KP_MSG_RESUME_ACK:
      return ReadResumeAck(r, body);
    case KP_MSG_NOTICE: {
      Notice m;
      m.kind = r.U8();
      r.Skip(3);
      m.kite_id = r.U32();
      m.arg = r.U32();
      r.Skip(4);
      if (auto st = ReadText(r, m.text, "NOTICE"); !st.ok()) return st;
      body = std::move(m);
      return absl::OkStatus();
    }
    case KP_MSG_NOTICE_ACK:
      body = NoticeAck{.ack_seq = r.U64()};
      return absl::OkStatus();
    case KP_MSG_CLOSE: {
      Close m;
      m.reason = r.U8();
      r.Skip(7);
      if (auto st = ReadText(r, m.text, "CLOSE"); !st.ok()) return st;
      body = std::move(m);
      return absl::OkStatus();
    }
    default:
      return Bad(absl::StrCat(TypeName(type), " is not an in-session message"));
  }
}

bool IsSessionType(uint8_t type) {
  switch (type) {
    case KP_MSG_REGISTER_RESULT:
    case KP_MSG_KITE_ADD:
    case KP_MSG_KITE_REMOVE:
    case KP_MSG_KITE_RESULT:
    case KP_MSG_HEARTBEAT:
    case KP_MSG_HEARTBEAT_ACK:
    case KP_MSG_RESUME:
    case KP_MSG_RESUME_ACK:
    case KP_MSG_NOTICE:
    case KP_MSG_NOTICE_ACK:
    case KP_MSG_CLOSE:
      return true;
    default:
      return false;
  }
}

bool IsConnectorOnlyType(uint8_t type) {
  return type == KP_MSG_KITE_ADD || type == KP_MSG_KITE_REMOVE || type == KP_MSG_RESUME ||
         type == KP_MSG_NOTICE_ACK;
}

absl::StatusOr<SessionMessage> DecodeSession(ByteSpan frame, bool with_mac) {
  auto hdr = PeekSession(frame);
  if (!hdr.ok()) return hdr.status();
  if (IsFrontendOnlyType(hdr->type) && !hdr->from_frontend) {
    return Bad(absl::StrCat(TypeName(hdr->type), ": must come from a front-end"));
  }
  if (IsConnectorOnlyType(hdr->type) && hdr->from_frontend) {
    return Bad(absl::StrCat(TypeName(hdr->type), ": must come from a connector"));
  }
  size_t body_end = with_mac ? frame.size() - KP_MAC_LEN : frame.size();
  Reader r(frame.subspan(kCtrlHdrLen, body_end - kCtrlHdrLen));
  SessionMessage m{.session_id = hdr->session_id, .seq = hdr->seq,
                   .from_frontend = hdr->from_frontend, .body = Heartbeat{}};
  if (auto st = ReadBody(hdr->type, r, m.body); !st.ok()) return st;
  if (auto st = CheckEnd(r, TypeName(hdr->type)); !st.ok()) return st;
  return m;
}

}  // namespace

std::string EndpointToString(const Endpoint& e) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (e.family == KP_AF_INET) {
    inet_ntop(AF_INET, e.addr.data() + 12, buf, sizeof buf);
    return absl::StrCat(buf, ":", e.port);
  }
  if (e.family == KP_AF_INET6) {
    inet_ntop(AF_INET6, e.addr.data(), buf, sizeof buf);
    return absl::StrCat("[", buf, "]:", e.port);
  }
  return "-";
}

uint8_t BodyType(const SessionBody& body) {
  static constexpr uint8_t kTypes[] = {
      KP_MSG_REGISTER_RESULT, KP_MSG_KITE_ADD,      KP_MSG_KITE_REMOVE, KP_MSG_KITE_RESULT,
      KP_MSG_HEARTBEAT,       KP_MSG_HEARTBEAT_ACK, KP_MSG_RESUME,      KP_MSG_RESUME_ACK,
      KP_MSG_NOTICE,          KP_MSG_NOTICE_ACK,    KP_MSG_CLOSE};
  static_assert(std::size(kTypes) == std::variant_size_v<SessionBody>);
  return kTypes[body.index()];
}

bool IsFrontendOnlyType(uint8_t type) {
  return type == KP_MSG_REGISTER_RESULT || type == KP_MSG_KITE_RESULT ||
         type == KP_MSG_RESUME_ACK || type == KP_MSG_NOTICE;
}

std::string TypeName(uint8_t type) {
  switch (type) {
    case KP_MSG_DATA: return "DATA";
    case KP_MSG_HELLO: return "HELLO";
    case KP_MSG_CHALLENGE: return "CHALLENGE";
    case KP_MSG_REGISTER: return "REGISTER";
    case KP_MSG_REGISTER_RESULT: return "REGISTER_RESULT";
    case KP_MSG_KITE_ADD: return "KITE_ADD";
    case KP_MSG_KITE_REMOVE: return "KITE_REMOVE";
    case KP_MSG_KITE_RESULT: return "KITE_RESULT";
    case KP_MSG_HEARTBEAT: return "HEARTBEAT";
    case KP_MSG_HEARTBEAT_ACK: return "HEARTBEAT_ACK";
    case KP_MSG_RESUME: return "RESUME";
    case KP_MSG_RESUME_ACK: return "RESUME_ACK";
    case KP_MSG_NOTICE: return "NOTICE";
    case KP_MSG_NOTICE_ACK: return "NOTICE_ACK";
    case KP_MSG_CLOSE: return "CLOSE";
    case KP_MSG_ERROR: return "ERROR";
    default: return absl::StrFormat("type 0x%02x", type);
  }
}

std::string_view ResultCodeText(uint8_t code) {
#define KP_X_TEXT(name, val, text) \
  case val:                        \
    return text;
  switch (code) {
    KP_RESULT_CODES(KP_X_TEXT)
    default:
      return "unknown result";
  }
#undef KP_X_TEXT
}

absl::Status ValidateKiteName(std::string_view name) {
  if (name.empty() || name.size() > KP_MAX_KITE_NAME) return Bad("kite name must be 1..253 bytes");
  if (name.front() == '.' || name.back() == '.') return Bad("kite name starts or ends with '.'");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) return Bad("kite name has a character outside [a-z0-9._-]");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint8_t> PeekType(ByteSpan frame) {
  if (frame.size() < sizeof(kp_hdr)) return Bad("frame shorter than the common header");
  if (frame[0] != KP_MAGIC) return Bad("bad magic");
  if (frame[1] != KP_PROTO_VERSION) {
    return absl::FailedPreconditionError(absl::StrCat("unsupported version ", frame[1]));
  }
  return frame[2];
}

absl::StatusOr<SessionHeader> PeekSession(ByteSpan frame) {
  auto type = PeekType(frame);
  if (!type.ok()) return type.status();
  if (!IsSessionType(*type)) return Bad(absl::StrCat(TypeName(*type), " is not in-session"));
  if (frame.size() > KP_MAX_CONTROL_LEN) return Bad("frame longer than 1400 bytes");
  if (frame.size() < kCtrlHdrLen + KP_MAC_LEN) return Bad("in-session frame truncated");
  Reader r(frame);
  r.Skip(3);
  SessionHeader h;
  h.type = *type;
  h.from_frontend = (r.U8() & KP_F_FROM_FRONTEND) != 0;
  h.session_id = r.U32();
  h.seq = r.U64();
  return h;
}

absl::StatusOr<Bytes> EncodeHello(const Hello& m) {
  if (m.padded_len < KP_HELLO_MIN_LEN || m.padded_len > KP_MAX_CONTROL_LEN) {
    return Bad("HELLO: padded length must be 128..1400");
  }
  Bytes out;
  Writer w(out);
  PutHdr(w, KP_MSG_HELLO, false);
  w.U16(static_cast<uint16_t>((m.version_min << 8) | m.version_max));
  w.U16(m.mtu);
  w.Raw(m.client_nonce);
  w.Raw(m.client_pubkey);
  w.Zeros(m.padded_len - out.size());
  return out;
}

absl::StatusOr<Hello> DecodeHello(ByteSpan frame) {
  Reader r(frame);
  if (auto st = CheckHdr(r, KP_MSG_HELLO, false, "HELLO", frame.size()); !st.ok()) return st;
  if (frame.size() < KP_HELLO_MIN_LEN) return Bad("HELLO: shorter than 128 bytes");
  Hello m;
  uint16_t v = r.U16();
  m.version_min = static_cast<uint8_t>(v >> 8);
  m.version_max = static_cast<uint8_t>(v);
  m.mtu = r.U16();
  r.Array(m.client_nonce);
  r.Array(m.client_pubkey);
  if (!r.Zeros(r.remaining())) return Bad("HELLO: nonzero padding");
  if (m.version_min > m.version_max) return Bad("HELLO: version range inverted");
  m.padded_len = frame.size();
  return m;
}

Bytes EncodeChallenge(const Challenge& m) {
  Bytes out;
  Writer w(out);
  PutHdr(w, KP_MSG_CHALLENGE, true);
  w.U32(m.timestamp);
  w.Raw(m.token);
  w.Raw(m.client_nonce);
  w.U16(m.mtu);
  w.U16(0);
  return out;
}

absl::StatusOr<Challenge> DecodeChallenge(ByteSpan frame) {
  Reader r(frame);
  if (auto st = CheckHdr(r, KP_MSG_CHALLENGE, true, "CHALLENGE", frame.size()); !st.ok()) {
    return st;
  }
  Challenge m;
  m.timestamp = r.U32();
  r.Array(m.token);
  r.Array(m.client_nonce);
  m.mtu = r.U16();
  r.Skip(2);
  if (auto st = CheckEnd(r, "CHALLENGE"); !st.ok()) return st;
  return m;
}

absl::StatusOr<Bytes> EncodeRegister(const Register& m) {
  Bytes out;
  Writer w(out);
  PutHdr(w, KP_MSG_REGISTER, false);
  w.U32(m.timestamp);
  w.Raw(m.token);
  w.Raw(m.client_nonce);
  w.Raw(m.client_pubkey);
  w.U16(m.mtu);
  Bytes claims;
  Writer cw(claims);
  if (auto st = PutClaims(cw, m.claims, 0); !st.ok()) return st;
  w.U8(claims[0]);
  w.U8(0);
  w.Raw(ByteSpan(claims).subspan(1));
  if (out.size() > KP_MAX_CONTROL_LEN) return Bad("REGISTER: longer than 1400 bytes");
  return out;
}

absl::StatusOr<Register> DecodeRegister(ByteSpan frame) {
  Reader r(frame);
  if (auto st = CheckHdr(r, KP_MSG_REGISTER, false, "REGISTER", frame.size()); !st.ok()) {
    return st;
  }
  Register m;
  m.timestamp = r.U32();
  r.Array(m.token);
  r.Array(m.client_nonce);
  r.Array(m.client_pubkey);
  m.mtu = r.U16();
  size_t n = r.U8();
  r.Skip(1);
  if (!r.ok()) return Bad("REGISTER: truncated");
  if (auto st = ReadClaims(r, n, m.claims); !st.ok()) return st;
  if (auto st = CheckEnd(r, "REGISTER"); !st.ok()) return st;
  return m;
}

Bytes EncodeError(const Error& m) {
  Bytes out;
  Writer w(out);
  PutHdr(w, KP_MSG_ERROR, true);
  w.U8(m.code);
  w.Zeros(3);
  w.U32(m.arg);
  w.U32(m.session_id);
  return out;
}

absl::StatusOr<Error> DecodeError(ByteSpan frame) {
  Reader r(frame);
  if (auto st = CheckHdr(r, KP_MSG_ERROR, true, "ERROR", frame.size()); !st.ok()) return st;
  Error m;
  m.code = r.U8();
  r.Skip(3);
  m.arg = r.U32();
  m.session_id = r.U32();
  if (auto st = CheckEnd(r, "ERROR"); !st.ok()) return st;
  return m;
}

absl::StatusOr<Bytes> SealMessage(const SessionMessage& m, const Key32& key) {
  uint8_t type = BodyType(m.body);
  if (IsFrontendOnlyType(type) && !m.from_frontend) {
    return Bad(absl::StrCat(TypeName(type), ": only a front-end sends it"));
  }
  if (IsConnectorOnlyType(type) && m.from_frontend) {
    return Bad(absl::StrCat(TypeName(type), ": only a connector sends it"));
  }
  Bytes out;
  Writer w(out);
  PutHdr(w, type, m.from_frontend);
  w.U32(m.session_id);
  w.U64(m.seq);
  if (auto st = std::visit(BodyWriter{w}, m.body); !st.ok()) return st;
  if (out.size() + KP_MAC_LEN > KP_MAX_CONTROL_LEN) {
    return Bad(absl::StrCat(TypeName(type), ": longer than 1400 bytes"));
  }
  Mac mac = ComputeMac(key, out);
  w.Raw(mac);
  return out;
}

absl::StatusOr<SessionMessage> OpenMessage(ByteSpan frame, const Key32& key) {
  auto hdr = PeekSession(frame);
  if (!hdr.ok()) return hdr.status();
  size_t n = frame.size() - KP_MAC_LEN;
  if (!VerifyMac(key, frame.first(n), frame.subspan(n))) {
    return absl::UnauthenticatedError(absl::StrCat(TypeName(hdr->type), ": bad MAC"));
  }
  return DecodeSession(frame, true);
}

absl::StatusOr<SessionMessage> DecodeMessageUnverified(ByteSpan frame) {
  return DecodeSession(frame, true);
}

}  // namespace kp::proto
