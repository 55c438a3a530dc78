// client.h - the sending side of kp-loadgen: paced, batched, self-checking.
//
// RunClient opens one connected UDP socket per (--bind, --sockets) pair, sends
// `count` datagrams round-robin over them with sendmmsg at the target rate
// (bounded by --window in flight), drains replies with recvmmsg, verifies each
// one and finally waits up to --timeout for stragglers.  The whole run never
// exceeds --duration.
#ifndef KITEPLANE_TOOLS_LOADGEN_CLIENT_H_
#define KITEPLANE_TOOLS_LOADGEN_CLIENT_H_

#include <atomic>

#include "absl/status/statusor.h"
#include "tools/loadgen/options.h"
#include "tools/loadgen/tracker.h"

namespace kiteplane::loadgen {

// Runs one load run.  Errors are set-up failures (socket, bind, connect);
// loss and corruption are reported in the Summary, not as errors.  `stop`
// (optional) ends sending early, as a deadline would.
absl::StatusOr<Summary> RunClient(const Options& opts,
                                  const std::atomic<bool>* stop = nullptr);

}  // namespace kiteplane::loadgen

#endif  // KITEPLANE_TOOLS_LOADGEN_CLIENT_H_
