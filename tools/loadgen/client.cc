// client.cc - the send/receive loop of kp-loadgen (see client.h).
#include "tools/loadgen/client.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "tools/loadgen/net.h"
#include "tools/loadgen/payload.h"

namespace kiteplane::loadgen {
namespace {

constexpr uint64_t kNs = 1'000'000'000ull;

// Buffers for one batch of outgoing or incoming datagrams.
struct Batch {
  Batch(uint32_t n, size_t size) : buf(n, std::vector<uint8_t>(size)), iov(n), msgs(n) {}
  void Arm(uint32_t i, size_t len) {
    iov[i] = {buf[i].data(), len};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  std::vector<std::vector<uint8_t>> buf;
  std::vector<iovec> iov;
  std::vector<mmsghdr> msgs;
};

class Runner {
 public:
  Runner(const Options& o, std::vector<Fd> socks, const std::atomic<bool>* stop)
      : o_(o), socks_(std::move(socks)), stop_(stop), tracker_(o.count, socks_.size()),
        tx_(o.batch, o.sizes.Max()), rx_(o.batch, kMaxPayload + 1) {
    run_id_ = o.run_id;
    if (run_id_ == 0) run_id_ = std::random_device{}() | 1u;
  }

  Summary Run();

 private:
  bool SendSome(uint64_t now);
  void Drain();
  uint64_t Allowed(uint64_t now) const;
  int WaitNs(uint64_t now) const;

  const Options& o_;
  std::vector<Fd> socks_;
  const std::atomic<bool>* stop_;
  Tracker tracker_;
  Batch tx_, rx_;
  uint32_t run_id_ = 0;
  uint64_t start_ = 0, deadline_ = 0, first_send_ = 0, last_send_ = 0;
  uint64_t last_progress_ = 0;
  uint64_t next_seq_ = 0;
  size_t next_sock_ = 0;
  bool sending_ = true;
};

// How many datagrams may have been sent by `now` (rate and window).
uint64_t Runner::Allowed(uint64_t now) const {
  uint64_t allowed = o_.count;
  if (o_.pps > 0) {
    double due = std::floor(static_cast<double>(now - start_) * o_.pps / 1e9) + 1;
    allowed = std::min<uint64_t>(allowed, static_cast<uint64_t>(due));
  }
  if (o_.window > 0) {
    allowed = std::min<uint64_t>(allowed, next_seq_ + (o_.window - std::min<uint64_t>(
                                                           o_.window, tracker_.in_flight())));
  }
  return allowed;
}

// Sends one batch if due; returns true if anything went out.
bool Runner::SendSome(uint64_t now) {
  uint64_t allowed = Allowed(now);
  if (allowed <= next_seq_) return false;
  uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(allowed - next_seq_, o_.batch));
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t seq = next_seq_ + i;
    size_t len = o_.sizes.SizeFor(seq);
    EncodePayload(std::span<uint8_t>(tx_.buf[i].data(), len), run_id_, seq, now);
    tx_.Arm(i, len);
  }
  int fd = socks_[next_sock_].get();
  next_sock_ = (next_sock_ + 1) % socks_.size();
  int sent = ::sendmmsg(fd, tx_.msgs.data(), n, 0);
  if (sent <= 0) {
    // EAGAIN: the socket buffer is full, try again later.  Anything else
    // (ECONNREFUSED after an ICMP port unreachable, ...) is counted.
    if (sent < 0 && errno != EAGAIN) tracker_.OnSendError();
    return false;
  }
  for (int i = 0; i < sent; ++i) tracker_.OnSent(next_seq_ + i, tx_.iov[i].iov_len);
  if (first_send_ == 0) first_send_ = now;
  last_send_ = MonotonicNs();
  next_seq_ += static_cast<uint64_t>(sent);
  return true;
}

void Runner::Drain() {
  for (size_t flow = 0; flow < socks_.size(); ++flow) {
    const Fd& s = socks_[flow];
    for (;;) {
      for (uint32_t i = 0; i < o_.batch; ++i) rx_.Arm(i, rx_.buf[i].size());
      int n = ::recvmmsg(s.get(), rx_.msgs.data(), o_.batch, MSG_DONTWAIT, nullptr);
      if (n <= 0) {
        // ECONNREFUSED surfaces here too; it carries no datagram.
        if (n < 0 && errno == ECONNREFUSED) tracker_.OnSendError();
        break;
      }
      uint64_t now = MonotonicNs();
      for (int i = 0; i < n; ++i) {
        std::span<const uint8_t> d(rx_.buf[i].data(), rx_.msgs[i].msg_len);
        PayloadInfo info;
        switch (VerifyPayload(d, run_id_, &info)) {
          case Verdict::kOk:
            tracker_.OnReply(info.seq, now > info.send_ns ? now - info.send_ns : 0, d.size(),
                             flow);
            break;
          case Verdict::kCorrupt:
            tracker_.OnCorrupt();
            break;
          case Verdict::kForeign:
            tracker_.OnForeign();
            break;
        }
      }
      last_progress_ = now;
      if (static_cast<uint32_t>(n) < o_.batch) break;
    }
  }
}

// How long to sleep before something is due, in nanoseconds.
int Runner::WaitNs(uint64_t now) const {
  uint64_t wait = 50'000'000;  // re-check at least every 50 ms
  if (sending_ && o_.pps > 0 && (o_.window == 0 || tracker_.in_flight() < o_.window)) {
    double next_at = static_cast<double>(start_) + static_cast<double>(next_seq_) * 1e9 / o_.pps;
    wait = next_at > static_cast<double>(now)
               ? std::min<uint64_t>(wait, static_cast<uint64_t>(next_at - static_cast<double>(now)))
               : 0;
  } else if (sending_ && o_.pps == 0 && (o_.window == 0 || tracker_.in_flight() < o_.window)) {
    wait = 0;
  }
  return static_cast<int>(wait);
}

Summary Runner::Run() {
  start_ = MonotonicNs();
  last_progress_ = start_;
  deadline_ = start_ + static_cast<uint64_t>(o_.duration_s * 1e9);
  const uint64_t timeout_ns = static_cast<uint64_t>(o_.timeout_s * 1e9);
  std::vector<pollfd> pfds;
  for (Fd& s : socks_) pfds.push_back({s.get(), POLLIN, 0});
  for (;;) {
    uint64_t now = MonotonicNs();
    if (now >= deadline_ || (stop_ != nullptr && stop_->load())) break;
    if (sending_) {
      if (next_seq_ >= o_.count) {
        sending_ = false;
      } else if (SendSome(now)) {
        last_progress_ = now;
      } else if (o_.window > 0 && tracker_.in_flight() >= o_.window &&
                 now - last_progress_ > timeout_ns) {
        sending_ = false;  // the window has been stuck for --timeout: give up
      }
    }
    Drain();
    if (!sending_) {
      uint64_t since = last_send_ ? last_send_ : start_;
      if (tracker_.in_flight() == 0 || now - since >= timeout_ns) break;
    }
    int wait_ns = WaitNs(now);
    if (wait_ns > 0) {
      timespec ts{wait_ns / 1'000'000'000, wait_ns % 1'000'000'000};
      (void)::ppoll(pfds.data(), pfds.size(), &ts, nullptr);
    }
  }
  Drain();
  uint64_t end = MonotonicNs();
  double send_s = last_send_ > first_send_ ? static_cast<double>(last_send_ - first_send_) / 1e9
                                           : 0;
  return tracker_.Summarize(o_.count, o_.max_loss, send_s,
                            static_cast<double>(end - start_) / kNs);
}

}  // namespace

absl::StatusOr<Summary> RunClient(const Options& opts, const std::atomic<bool>* stop) {
  std::vector<Fd> socks;
  std::vector<const Endpoint*> binds;
  for (const Endpoint& b : opts.binds) binds.push_back(&b);
  if (binds.empty()) binds.push_back(nullptr);
  for (const Endpoint* b : binds) {
    for (uint32_t i = 0; i < opts.sockets; ++i) {
      absl::StatusOr<Fd> fd = OpenUdp(opts.target.family, b, &opts.target);
      if (!fd.ok()) return fd.status();
      socks.push_back(std::move(*fd));
    }
  }
  Runner r(opts, std::move(socks), stop);
  return r.Run();
}

}  // namespace kiteplane::loadgen
