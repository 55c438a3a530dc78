// xdp_world.h - loads a golden-vector "world" (tests/vectors/FORMAT.md) into
// the XDP program's maps, for the BPF test and benchmark.
//
// World::Parse reads the tables and cases of a vectors file; LoadTables()
// writes config, kites, sessions through kp::xdp::XdpBackend (so the backend
// is exercised too); ResetPerCase() restores per-CPU police, credit and
// counters to the file's values before each case, as the format requires.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dataplane/xdp/xdp_backend.h"

namespace kp::xdp::test {

struct VectorCase {
  std::string name;
  std::vector<uint8_t> input;
  std::string verdict;  // tx | drop | exception
  std::string reason;   // metric name of the drop reason
  uint32_t kite_id = 0;
  std::vector<uint8_t> output;
};

struct World {
  uint64_t now_ns = 0;
  kp_config config{};
  std::vector<kp_kite> kites;
  std::vector<kp_session> sessions;
  std::vector<std::pair<uint32_t, uint64_t>> credit;
  std::vector<std::pair<uint32_t, kp_kite_police>> police;
  std::vector<VectorCase> cases;

  // Errors: InvalidArgument naming the bad field.
  static absl::StatusOr<World> Parse(const std::string& path);
  absl::Status LoadTables(XdpBackend* backend) const;
  absl::Status ResetPerCase(XdpBackend* backend) const;
};

// Index of a drop reason's metric name, or -1.
int DropReasonByName(const std::string& name);

std::vector<uint8_t> FromHex(const std::string& hex);

}  // namespace kp::xdp::test
