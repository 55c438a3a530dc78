// vector_loader.h - loads the golden packet vectors (tests/vectors/FORMAT.md).
//
// API: `LoadVectorSet(path)` parses one vectors JSON file into plain ABI
// structs (kp_config, kp_kite, kp_session, per-core credit and police) and a
// list of cases (input frame, expected verdict, drop reason, kite id, output
// frame), converting addresses to the 16-byte form of kp_tables.h.  Errors:
// NotFound (file), InvalidArgument (malformed JSON or field, with its name).
// Shared by the C++ core, DPDK and XDP test runners (meson: vector_loader_dep).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

extern "C" {
#include "kp_counters.h"
#include "kp_tables.h"
}

namespace kp::vectors {

enum class ExpectedVerdict : uint8_t { kDrop = 0, kTx = 1, kException = 2 };  // same values as kp::fp::Verdict

struct VectorCase {
  std::string name;
  std::string description;
  std::vector<uint8_t> input;
  ExpectedVerdict verdict;
  kp_drop_reason reason;  // KP_DROP_NONE unless kDrop
  uint32_t kite_id;
  std::vector<uint8_t> output;  // tx only
};

struct CreditInit {
  uint32_t kite_id;
  uint64_t granted_bytes;
};

struct PoliceInit {
  uint32_t kite_id;
  kp_kite_police police;
};

struct VectorSet {
  uint64_t now_ns = 0;
  uint32_t n_workers = 1;
  kp_config config = {};
  std::vector<kp_kite> kites;
  std::vector<kp_session> sessions;
  std::vector<CreditInit> credit;  // per core
  std::vector<PoliceInit> police;  // per core
  std::vector<VectorCase> cases;
};

absl::StatusOr<VectorSet> LoadVectorSet(const std::string& path);

// Helpers also useful to runners.
absl::StatusOr<std::vector<uint8_t>> HexDecode(const std::string& hex);
std::string HexEncode(const std::vector<uint8_t>& bytes);
// Text address to 16-byte form; *family gets KP_AF_INET or KP_AF_INET6.
bool ParseAddress(const std::string& text, uint8_t out16[16], uint8_t* family);

}  // namespace kp::vectors
