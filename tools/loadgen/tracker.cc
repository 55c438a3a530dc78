// tracker.cc - reply bookkeeping and the JSON / text summary of kp-loadgen.
#include "tools/loadgen/tracker.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace kiteplane::loadgen {

double Percentile(const std::vector<uint64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  size_t idx = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return static_cast<double>(sorted[std::min(idx, sorted.size() - 1)]);
}

Tracker::Tracker(uint64_t count, size_t flows)
    : seen_(count, 0), next_expected_(flows == 0 ? 1 : flows, 0) {}

void Tracker::OnSent(uint64_t seq, uint64_t bytes) {
  (void)seq;
  ++sent_;
  bytes_sent_ += bytes;
}

Tracker::Rx Tracker::OnReply(uint64_t seq, uint64_t rtt_ns, uint64_t bytes, size_t flow) {
  if (seq >= seen_.size() || seq >= sent_) {
    ++foreign_;
    return Rx::kUnexpected;
  }
  if (seen_[seq] != 0) {
    ++duplicates_;
    return Rx::kDuplicate;
  }
  seen_[seq] = 1;
  ++received_;
  bytes_received_ += bytes;
  rtt_ns_.push_back(rtt_ns);
  uint64_t& next = next_expected_[flow < next_expected_.size() ? flow : 0];
  if (seq + 1 < next) {
    ++reordered_;
    return Rx::kReordered;
  }
  next = seq + 1;
  return Rx::kNew;
}

uint64_t Tracker::in_flight() const {
  uint64_t done = received_ + corrupted_;
  return sent_ > done ? sent_ - done : 0;
}

Summary Tracker::Summarize(uint64_t count, double max_loss, double send_seconds,
                           double elapsed_seconds) {
  Summary s;
  s.sent = sent_;
  s.received = received_;
  s.corrupted = corrupted_;
  s.lost = in_flight();
  s.duplicates = duplicates_;
  s.reordered = reordered_;
  s.foreign = foreign_;
  s.unsent = count > sent_ ? count - sent_ : 0;
  s.send_errors = send_errors_;
  s.bytes_sent = bytes_sent_;
  s.bytes_received = bytes_received_;
  std::sort(rtt_ns_.begin(), rtt_ns_.end());
  if (!rtt_ns_.empty()) {
    s.rtt_min_us = static_cast<double>(rtt_ns_.front()) / 1e3;
    s.rtt_max_us = static_cast<double>(rtt_ns_.back()) / 1e3;
  }
  s.rtt_p50_us = Percentile(rtt_ns_, 50) / 1e3;
  s.rtt_p99_us = Percentile(rtt_ns_, 99) / 1e3;
  s.send_seconds = send_seconds;
  s.elapsed_seconds = elapsed_seconds;
  s.achieved_pps = send_seconds > 0 ? static_cast<double>(sent_) / send_seconds : 0;
  // Anything not sent counts as lost for the verdict: the run did not do its job.
  uint64_t missing = s.lost + s.unsent;
  s.loss_ratio = count > 0 ? static_cast<double>(missing) / static_cast<double>(count) : 0;
  s.max_loss = max_loss;
  s.pass = s.loss_ratio <= max_loss && s.corrupted == 0;
  return s;
}

std::string Summary::ToJson() const {
  nlohmann::ordered_json j;
  j["sent"] = sent;
  j["received"] = received;
  j["lost"] = lost;
  j["corrupted"] = corrupted;
  j["duplicates"] = duplicates;
  j["reordered"] = reordered;
  j["foreign"] = foreign;
  j["unsent"] = unsent;
  j["send_errors"] = send_errors;
  j["bytes_sent"] = bytes_sent;
  j["bytes_received"] = bytes_received;
  j["rtt_us"] = {{"min", rtt_min_us}, {"p50", rtt_p50_us}, {"p99", rtt_p99_us},
                 {"max", rtt_max_us}};
  j["achieved_pps"] = achieved_pps;
  j["send_seconds"] = send_seconds;
  j["elapsed_seconds"] = elapsed_seconds;
  j["loss_ratio"] = loss_ratio;
  j["max_loss"] = max_loss;
  j["pass"] = pass;
  return j.dump();
}

std::string Summary::ToText() const {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "sent %llu  received %llu  lost %llu  corrupted %llu  duplicates %llu  "
                "reordered %llu  foreign %llu  unsent %llu\n"
                "rtt us: min %.1f  p50 %.1f  p99 %.1f  max %.1f\n"
                "achieved %.0f pps over %.3f s; loss %.4f%% (max %.4f%%): %s\n",
                static_cast<unsigned long long>(sent),
                static_cast<unsigned long long>(received),
                static_cast<unsigned long long>(lost),
                static_cast<unsigned long long>(corrupted),
                static_cast<unsigned long long>(duplicates),
                static_cast<unsigned long long>(reordered),
                static_cast<unsigned long long>(foreign),
                static_cast<unsigned long long>(unsent), rtt_min_us, rtt_p50_us,
                rtt_p99_us, rtt_max_us, achieved_pps, send_seconds, loss_ratio * 100,
                max_loss * 100, pass ? "PASS" : "FAIL");
  return buf;
}

}  // namespace kiteplane::loadgen
