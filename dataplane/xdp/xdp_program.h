// xdp_program.h - kp::xdp::XdpProgram, RAII owner of the XDP program's
// libbpf skeleton, its pinned maps and its attachment to one interface.
//
// Open() sizes the maps and sets their pin paths (when a pin directory is
// given: existing pins are reused, so a replacing process inherits every
// table and counter); Load() verifies and loads; Attach() attaches natively
// or in generic mode with bpf_xdp_attach (never libxdp's dispatcher, which
// cannot load here), atomically replacing a program already attached when
// asked to; the destructor detaches only if our program is still the one
// attached (a successor that replaced it is left alone) and frees the
// skeleton.  Every step returns absl::Status with a message naming the fix.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dataplane/xdp/xdp_backend.h"

struct kp_xdp;
struct bpf_object;

namespace kp::xdp {

enum class XdpMode { kNative, kGeneric };

struct XdpProgramOptions {
  uint32_t max_kites = KP_MAX_KITES;
  uint32_t max_sessions = KP_MAX_SESSIONS;
  std::string pin_dir;        // empty: maps are not pinned
  uint64_t fixed_now_ns = 0;  // tests: the program's clock; 0 = monotonic
};

class XdpProgram {
 public:
  // Errors: Internal when the embedded object cannot be opened or sized.
  static absl::StatusOr<std::unique_ptr<XdpProgram>> Open(const XdpProgramOptions& options);
  ~XdpProgram();
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;

  // Errors: FailedPrecondition (verifier or pinned-map mismatch, with libbpf's errno).
  absl::Status Load();

  // Attaches kp_xdp_main, or kp_xdp_spread when cpus is not empty (after
  // filling kp_cpumap with kp_xdp_cpumap on each listed CPU).  `replace`:
  // atomically swap out whatever program is attached (XDP_FLAGS_REPLACE);
  // otherwise an attached program is an error.
  // Errors: NotFound (interface), AlreadyExists, Internal.
  absl::Status Attach(const std::string& ifname, XdpMode mode, bool replace,
                      std::span<const uint32_t> cpus);
  // Detaches if we are attached and still the attached program.
  void Detach();

  XdpMapFds maps() const;
  int main_prog_fd() const;
  const XdpProgramOptions& options() const { return options_; }

 private:
  explicit XdpProgram(const XdpProgramOptions& options) : options_(options) {}
  absl::Status SetupCpumap(std::span<const uint32_t> cpus);

  XdpProgramOptions options_;
  kp_xdp* skel_ = nullptr;
  int ifindex_ = 0;
  uint32_t attach_flags_ = 0;
  int attached_fd_ = -1;
};

// Sizes the kite and session maps of any object built from bpf/maps.h
// (before load) and collects their descriptors (after load).
// Errors: InvalidArgument (sizes), Internal.
absl::Status SizeMaps(bpf_object* obj, uint32_t max_kites, uint32_t max_sessions);
XdpMapFds MapFdsOf(const bpf_object* obj);

// Sets the read-only layout constants of a skeleton built from bpf/maps.h
// (kp_max_kites, kp_n_cpus) before load; they must agree with SizeMaps.
template <class Rodata>
void SetStateLayout(Rodata* ro, uint32_t max_kites) {
  ro->kp_max_kites = max_kites;
  ro->kp_n_cpus = XdpNumCpus();
}

// Makes sure `dir` (under /sys/fs/bpf) exists on a bpffs, mounting bpffs on
// /sys/fs/bpf first when it is not one (as after `ip netns exec`).
absl::Status EnsureBpffsDir(const std::string& dir);

}  // namespace kp::xdp
