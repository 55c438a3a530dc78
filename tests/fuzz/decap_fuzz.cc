// decap_fuzz.cc - fuzz target: the whole pipeline (ProcessBurst), mostly on
// tunnel frames from the live session.  The first input byte picks a mode:
//   bit 0 clear: the rest is a raw frame (any direction);
//   bit 0 set:   the rest is a tunnel UDP payload, wrapped in valid
//                Ethernet/IPv4/UDP from the session's connector to our tunnel
//                port; with bit 1 also set, the flow cookie is recomputed
//                over the fuzzed fields so the checks after it are reached.
// Bits 2..7 pick the time and the headroom.  Every TX frame must parse again.
#include <cstdint>
#include <cstring>
#include <vector>

#include "encap.h"
#include "fuzz_frames.h"
#include "pipeline.h"

namespace {

struct World {
  std::unique_ptr<kp::fp::Tables> tables = kp::fuzz::FuzzTables();
  kp::fp::WorkerContext ctx;
  World() { kp::fp::InitWorkerContext(ctx, *tables, 0); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kp::fp;
  static World* w = new World();
  if (size < 1 || size > 9000) return 0;
  uint8_t mode = data[0];
  std::vector<uint8_t> frame;
  if (mode & 1) {
    static const uint8_t connector[4] = {203, 0, 113, 7}, us[4] = {198, 51, 100, 1};
    std::vector<uint8_t> payload(data + 1, data + size);
    if ((mode & 2) && payload.size() >= sizeof(kp_data_hdr)) {
      payload[0] = KP_MAGIC;
      payload[1] = KP_PROTO_VERSION;
      payload[2] = KP_MSG_DATA;
      static const kp_config cfg = kp::fuzz::FuzzConfig();
      StoreLe64(payload.data() + 32, FlowCookie(cfg, payload.data()));
    }
    frame = kp::fuzz::WrapUdp4(connector, us, 40000, 7000, payload.data(), payload.size());
  } else {
    frame.assign(data + 1, data + size);
  }
  uint32_t headroom = (mode & 0x80) ? 16 : 128;
  uint64_t now = 5'000'000'000ull + (uint64_t{mode} >> 2) * 7'000'000ull;
  w->tables->ResetPerCoreState();
  w->tables->SetCredit(0, 2, 100 * (mode >> 4));
  std::vector<uint8_t> buf(headroom + frame.size());
  if (!frame.empty()) std::memcpy(buf.data() + headroom, frame.data(), frame.size());
  PacketBuf pkt{buf.data(), static_cast<uint32_t>(buf.size()), headroom, static_cast<uint32_t>(frame.size())};
  Outcome out;
  ProcessBurst(w->ctx, {&pkt, 1}, {&out, 1}, now);
  if (out.verdict == Verdict::kTx) {
    kp::fuzz::CheckTx(pkt);
  } else {
    kp::fuzz::FuzzAssert(pkt.off == headroom && pkt.len == frame.size(), "non-tx frame unchanged");
    kp::fuzz::FuzzAssert(frame.empty() || std::memcmp(pkt.data(), frame.data(), frame.size()) == 0,
                         "non-tx bytes unchanged");
    kp::fuzz::FuzzAssert((out.verdict == Verdict::kDrop) == (out.reason != KP_DROP_NONE), "reason iff drop");
  }
  return 0;
}
