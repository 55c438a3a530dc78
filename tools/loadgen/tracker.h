// tracker.h - what came back: per-sequence bookkeeping and the run summary.
//
// The Tracker knows how many datagrams were sent and records each verified
// reply: new, duplicate (seen before) or reordered (new, but older than the
// newest seen), with its round-trip time.  Corrupted and foreign replies are
// counted apart.  Summary() turns it into the numbers kp-loadgen prints.
// Memory is one byte per datagram plus one RTT sample per reply, bounded by
// the count the run was started with.  Reordering is judged per flow (one
// flow per client socket): replies of different sockets have no order.
#ifndef KITEPLANE_TOOLS_LOADGEN_TRACKER_H_
#define KITEPLANE_TOOLS_LOADGEN_TRACKER_H_

#include <cstdint>
#include <string>
#include <vector>

namespace kiteplane::loadgen {

struct Summary {
  uint64_t sent = 0;
  uint64_t received = 0;  // distinct intact replies
  uint64_t lost = 0;      // sent - received - corrupted (never negative)
  uint64_t corrupted = 0;
  uint64_t duplicates = 0;
  uint64_t reordered = 0;
  uint64_t foreign = 0;      // not from this run (or sequence never sent)
  uint64_t unsent = 0;       // count - sent, when sending was cut short
  uint64_t send_errors = 0;  // failed send calls (ECONNREFUSED, ...)
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  double rtt_min_us = 0, rtt_p50_us = 0, rtt_p99_us = 0, rtt_max_us = 0;
  double send_seconds = 0;  // first to last send
  double elapsed_seconds = 0;
  double achieved_pps = 0;  // sent / send_seconds
  double loss_ratio = 0;    // lost / sent
  double max_loss = 0;
  bool pass = false;

  std::string ToJson() const;
  std::string ToText() const;
};

// Nearest-rank percentile (p in [0, 100]) of `sorted`; 0 when empty.
double Percentile(const std::vector<uint64_t>& sorted, double p);

class Tracker {
 public:
  explicit Tracker(uint64_t count, size_t flows = 1);

  enum class Rx { kNew, kReordered, kDuplicate, kUnexpected };

  void OnSent(uint64_t seq, uint64_t bytes);
  void OnSendError() { ++send_errors_; }
  // A verified reply for `seq` that took `rtt_ns`, received on `flow`.
  Rx OnReply(uint64_t seq, uint64_t rtt_ns, uint64_t bytes, size_t flow = 0);
  void OnCorrupt() { ++corrupted_; }
  void OnForeign() { ++foreign_; }

  uint64_t sent() const { return sent_; }
  uint64_t received() const { return received_; }
  // Datagrams neither answered nor known corrupt: what a window waits for.
  uint64_t in_flight() const;

  // count: datagrams the run meant to send; max_loss: allowed loss ratio.
  Summary Summarize(uint64_t count, double max_loss, double send_seconds,
                    double elapsed_seconds);

 private:
  std::vector<uint8_t> seen_;  // per sequence: 0 sent, 1 replied; size = count
  std::vector<uint64_t> rtt_ns_;
  uint64_t sent_ = 0, received_ = 0, corrupted_ = 0, duplicates_ = 0;
  uint64_t reordered_ = 0, foreign_ = 0, send_errors_ = 0;
  uint64_t bytes_sent_ = 0, bytes_received_ = 0;
  std::vector<uint64_t> next_expected_;  // per flow: newest seq seen + 1, 0 = none
};

}  // namespace kiteplane::loadgen

#endif  // KITEPLANE_TOOLS_LOADGEN_TRACKER_H_
