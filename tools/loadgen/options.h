// options.h - kp-loadgen's command line: parsed and checked into Options.
//
// Every run is bounded: a datagram count (client) or a duration (echo), a
// straggler timeout and a hard wall-clock cap.  Sizes are a comma list whose
// items are sizes or inclusive ranges ("64,512,1400-1472,3000"): datagram
// `seq` uses item seq % n, and a range item picks a size from a hash of seq,
// so a run's sizes are reproducible.
#ifndef KITEPLANE_TOOLS_LOADGEN_OPTIONS_H_
#define KITEPLANE_TOOLS_LOADGEN_OPTIONS_H_

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace kiteplane::loadgen {

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = 0;  // AF_INET / AF_INET6
  uint16_t port = 0;
  std::string text;
};

// "1.2.3.4:5", "[2001:db8::1]:5", and with need_port "2001:db8::1:5" (the last
// group is the port); with !need_port also "1.2.3.4", "2001:db8::1".
absl::StatusOr<Endpoint> ParseEndpoint(absl::string_view spec, bool need_port);

struct SizeSpec {
  struct Item {
    uint32_t lo, hi;
  };
  std::vector<Item> items;
  uint32_t SizeFor(uint64_t seq) const;
  uint32_t Max() const;
};

absl::StatusOr<SizeSpec> ParseSizes(absl::string_view spec);

struct Options {
  bool echo = false;            // --echo ADDR:PORT: serve as an echo instead
  Endpoint target;              // client: where to send; echo: where to listen
  std::vector<Endpoint> binds;  // --bind, repeatable; default: wildcard
  uint32_t sockets = 1;         // sockets per bind address
  SizeSpec sizes;
  uint64_t count = 1000;
  double pps = 0;               // 0 = as fast as possible
  uint32_t window = 0;          // max datagrams in flight, 0 = no limit
  uint32_t batch = 32;          // datagrams per sendmmsg / recvmmsg
  double timeout_s = 2.0;       // straggler wait (and window stall limit)
  double duration_s = 300.0;    // hard cap on the whole run
  double max_loss = 0.0;        // ratio, 0..1
  uint32_t run_id = 0;          // 0 = random
  bool json = false;
};

// Returns the options, or InvalidArgument naming the bad flag.  "--help"
// yields a FailedPrecondition whose message is the usage text.
absl::StatusOr<Options> ParseArgs(int argc, const char* const* argv);

std::string Usage();

}  // namespace kiteplane::loadgen

#endif  // KITEPLANE_TOOLS_LOADGEN_OPTIONS_H_
