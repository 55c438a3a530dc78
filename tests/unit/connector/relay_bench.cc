// relay_bench.cc - rough throughput of kite-connector's relay on loopback.
//
// A fake front-end registers the connector, then keeps a bounded window of
// 64-byte DATA frames in flight over 16 client flows; a local echo service
// (recvmmsg/sendmmsg) answers each datagram, and the connector carries it
// back as DATA.  Prints round trips per second (client -> service -> client
// through the connector: two relayed datagrams each).  All three run on this
// machine's shared cores, so the figure is indicative only.
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "fake_frontend.h"
#include "tools/kite-connector/connector.h"

using namespace kp;
using namespace kp::connector;
using namespace kp::connector::fake;

namespace {

constexpr int kFlows = 16;

void EchoLoop(int fd, std::atomic<bool>* stop) {
  constexpr int kBatch = 32;
  std::vector<uint8_t> buf(kBatch * 2048);
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_storage from[kBatch];
  while (!stop->load()) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {buf.data() + i * 2048, 2048};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    int n = recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) continue;
    for (int i = 0; i < n; ++i) iov[i].iov_len = msgs[i].msg_len;
    sendmmsg(fd, msgs, static_cast<unsigned>(n), 0);
  }
}

}  // namespace

int main() {
  if (!proto::InitCrypto().ok()) return 1;
  uint16_t svc_port = 0;
  UniqueFd svc = UdpLoopback(&svc_port);
  std::atomic<bool> stop{false};
  std::thread echo(EchoLoop, svc.get(), &stop);
  FakeFrontend fe;
  Config cfg;
  cfg.kites.push_back({"game.example", kSecret, *ParseHostPort("127.0.0.1:" + std::to_string(svc_port))});
  cfg.frontends.push_back({"127.0.0.1", {fe.port()}});
  Options opts;
  opts.handle_signals = false;
  auto conn = Connector::Create(cfg, opts);
  if (!conn.ok()) return 1;
  std::thread run([&] { (*conn)->Run(); });
  bool ok = fe.Register().has_value();
  double secs = 0;
  if (ok) {
    constexpr int kWindow = 256, kBatch = 32;
    std::vector<Bytes> frames;
    for (int f = 0; f < kFlows; ++f) {
      Bytes b = DataFrame(fe.session_id(), 100, std::string(64, 'p'));
      b[13] = static_cast<uint8_t>(f);
      frames.push_back(b);
    }
    SockAddr to = ToSockAddr(fe.peer());
    std::vector<uint8_t> rx(kBatch * 2048);
    uint64_t sent = 0, received = 0;
    auto t0 = std::chrono::steady_clock::now();
    auto last_rx = t0;
    const auto duration = std::chrono::seconds(3);
    while (std::chrono::steady_clock::now() - t0 < duration) {
      while (sent - received < kWindow) {
        mmsghdr msgs[kBatch];
        iovec iov[kBatch];
        for (int i = 0; i < kBatch; ++i) {
          Bytes& b = frames[(sent + i) % kFlows];
          iov[i] = {b.data(), b.size()};
          msgs[i] = {};
          msgs[i].msg_hdr.msg_name = &to.ss;
          msgs[i].msg_hdr.msg_namelen = to.len;
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = sendmmsg(fe.fd(), msgs, kBatch, 0);
        if (n <= 0) break;
        sent += static_cast<uint64_t>(n);
      }
      pollfd p{fe.fd(), POLLIN, 0};
      if (poll(&p, 1, 20) > 0) {
        mmsghdr msgs[kBatch];
        iovec iov[kBatch];
        for (int i = 0; i < kBatch; ++i) {
          iov[i] = {rx.data() + i * 2048, 2048};
          msgs[i] = {};
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(fe.fd(), msgs, kBatch, MSG_DONTWAIT, nullptr);
        for (int i = 0; i < n; ++i) {
          if (msgs[i].msg_len >= 40 && rx[i * 2048 + 2] == KP_MSG_DATA) ++received;
        }
        if (n > 0) last_rx = std::chrono::steady_clock::now();
      } else if (std::chrono::steady_clock::now() - last_rx > std::chrono::milliseconds(200)) {
        received = sent;  // losses: reopen the window
        last_rx = std::chrono::steady_clock::now();
      }
    }
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  (*conn)->RequestStop();
  run.join();
  stop.store(true);
  echo.join();
  if (ok) {
    const Counters& c = (*conn)->counters();  // read after the connector stopped
    std::printf("relay: %.1f k round trips/s over %d flows (%llu delivered to service, %llu "
                "replies relayed) in %.1f s\n",
                c.data_tx_packets / secs / 1000.0, kFlows,
                static_cast<unsigned long long>(c.data_rx_packets),
                static_cast<unsigned long long>(c.data_tx_packets), secs);
  }
  return ok ? 0 : 1;
}
