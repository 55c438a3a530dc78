// dp_harness.cc - child-process harness for the DPDK suite (see dp_harness.h).
#include "tests/dpdk/dp_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace kp::dptest {
namespace {

struct PcapFileHeader {
  uint32_t magic = 0xa1b2c3d4;
  uint16_t major = 2, minor = 4;
  int32_t zone = 0;
  uint32_t sigfigs = 0, snaplen = 65535, linktype = 1;  // Ethernet
};
struct PcapRecord {
  uint32_t sec, usec, caplen, len;
};

uint64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

bool WriteAll(int fd, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    b += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

bool ReadPcap(const std::string& path, std::vector<Frame>* out) {
  std::ifstream in(path, std::ios::binary);
  PcapFileHeader h;
  if (!in.read(reinterpret_cast<char*>(&h), sizeof(h))) return false;
  if (h.magic != 0xa1b2c3d4 && h.magic != 0xa1b23c4d) return false;  // micro- or nanoseconds
  PcapRecord r{};
  while (in.read(reinterpret_cast<char*>(&r), sizeof(r))) {
    Frame f(r.caplen);
    if (!in.read(reinterpret_cast<char*>(f.data()), r.caplen)) return false;
    out->push_back(std::move(f));
  }
  return true;
}

std::unique_ptr<Dataplane> Dataplane::Start(const std::vector<std::string>& extra, std::string* why,
                                            const std::string& lcores) {
  const char* bin = std::getenv("KP_DATAPLANE");
  if (bin == nullptr) {
    *why = "KP_DATAPLANE is not set";
    return nullptr;
  }
  std::unique_ptr<Dataplane> d(new Dataplane());
  char tmpl[] = "/tmp/kp_dpdk_test_XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    *why = "mkdtemp failed";
    return nullptr;
  }
  d->dir_ = tmpl;
  d->fifo_ = d->dir_ + "/rx.fifo";
  d->out_pcap_ = d->dir_ + "/tx.pcap";
  d->sock_ = d->dir_ + "/ctl.sock";
  if (mkfifo(d->fifo_.c_str(), 0600) != 0) {
    *why = "mkfifo failed";
    return nullptr;
  }
  std::vector<std::string> args = {
      bin, "--lcores=" + lcores, "--no-huge", "--no-pci", "-m", "512",
      "--file-prefix=kpt" + std::to_string(getpid()), "--log-level=*:warning",
      "--vdev", "net_pcap0,rx_pcap=" + d->fifo_ + ",tx_pcap=" + d->out_pcap_, "--",
      "--ctl-socket", d->sock_, "--exception", "none", "--gateway-mac", "none"};
  args.insert(args.end(), extra.begin(), extra.end());
  d->pid_ = fork();
  if (d->pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a killed test
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin, argv.data());
    _exit(127);
  }
  // The PMD opens the FIFO for reading at probe time: rendezvous with it.
  const uint64_t deadline = NowMs() + 30000;
  while (d->fifo_fd_ < 0 && NowMs() < deadline) {
    d->fifo_fd_ = open(d->fifo_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (d->fifo_fd_ < 0) {
      if (waitpid(d->pid_, nullptr, WNOHANG) == d->pid_) {
        d->pid_ = -1;
        *why = "data plane exited during start-up";
        return nullptr;
      }
      usleep(10000);
    }
  }
  if (d->fifo_fd_ < 0) {
    *why = "data plane never opened its RX FIFO";
    return nullptr;
  }
  fcntl(d->fifo_fd_, F_SETFL, 0);  // blocking writes from now on
  PcapFileHeader h;
  if (!WriteAll(d->fifo_fd_, &h, sizeof(h))) {
    *why = "cannot write the pcap header";
    return nullptr;
  }
  while (NowMs() < deadline) {
    auto c = ctl::Client::Connect(d->sock_, "dpdk-test");
    if (c.ok()) {
      d->client_ = std::move(*c);
      return d;
    }
    if (waitpid(d->pid_, nullptr, WNOHANG) == d->pid_) {
      d->pid_ = -1;
      *why = "data plane exited before serving its control socket";
      return nullptr;
    }
    usleep(10000);
  }
  *why = "control socket never came up";
  return nullptr;
}

bool Dataplane::Reconnect() {
  auto c = ctl::Client::Connect(sock_, "dpdk-test-again");
  if (!c.ok()) return false;
  client_ = std::move(*c);
  return true;
}

bool Dataplane::Feed(const Frame& f) {
  PcapRecord r{1, 0, static_cast<uint32_t>(f.size()), static_cast<uint32_t>(f.size())};
  return WriteAll(fifo_fd_, &r, sizeof(r)) && WriteAll(fifo_fd_, f.data(), f.size());
}

bool Dataplane::Feed(const std::vector<Frame>& frames) {
  for (const Frame& f : frames) {
    if (!Feed(f)) return false;
  }
  return true;
}

void Dataplane::CloseInput() {
  if (fifo_fd_ >= 0) close(fifo_fd_);
  fifo_fd_ = -1;
}

bool Dataplane::WaitRx(uint64_t n, int timeout_ms) {
  const uint64_t deadline = NowMs() + static_cast<uint64_t>(timeout_ms);
  while (NowMs() < deadline) {
    // Received, and every received frame has its verdict counted (a burst
    // counts RX first and verdicts later, possibly after page faults on
    // lazily backed tables).
    auto c = client_->GlobalCounters();
    if (c.ok() && c->counters[KP_CTR_RX_PKTS] >= n &&
        c->counters[KP_CTR_TX_PKTS] + c->counters[KP_CTR_EXCEPTION_PKTS] +
                c->counters[KP_CTR_DROP_PKTS] >= c->counters[KP_CTR_RX_PKTS]) {
      return true;
    }
    usleep(5000);
  }
  return false;
}

int Dataplane::Stop(std::vector<Frame>* tx) {
  CloseInput();
  client_.reset();
  int status = -1;
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    const uint64_t deadline = NowMs() + 20000;
    int st = 0;
    while (NowMs() < deadline) {
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        break;
      }
      usleep(10000);
    }
    if (status == -1) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  if (tx != nullptr) ReadPcap(out_pcap_, tx);
  return status;
}

Dataplane::~Dataplane() {
  Stop(nullptr);
  unlink(fifo_.c_str());
  unlink(out_pcap_.c_str());
  unlink(sock_.c_str());
  rmdir(dir_.c_str());
}

}  // namespace kp::dptest
