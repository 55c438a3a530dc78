// udp_echo.cc - kp-udp-echo, the UDP echo service the end-to-end test and
// the demo run behind the NAT as the "kite".  It binds one socket per
// requested port on one address, and sends every datagram back to its sender
// unchanged, in batches (recvmmsg/sendmmsg), until SIGINT or SIGTERM.  With
// --count-file it writes "<received> <echoed>" there on exit, so a test can
// check that the relay delivered what it claims.  Datagrams up to 65,507
// bytes are echoed whole; a short send is reported on stderr and counted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

constexpr int kBatch = 32;
constexpr size_t kMaxDatagram = 65536;

struct Options {
  std::string addr = "0.0.0.0";
  std::vector<uint16_t> ports;
  std::string count_file;
};

void Usage() {
  std::fprintf(stderr,
               "usage: kp-udp-echo [--addr A] --port P [--port P ...] [--count-file F]\n"
               "Echoes every UDP datagram received on A:P back to its sender.\n");
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return false;
    if (a == "--addr") {
      o->addr = argv[++i];
    } else if (a == "--port") {
      long p = std::strtol(argv[++i], nullptr, 10);
      if (p <= 0 || p > 65535) return false;
      o->ports.push_back(static_cast<uint16_t>(p));
    } else if (a == "--count-file") {
      o->count_file = argv[++i];
    } else {
      return false;
    }
  }
  return !o->ports.empty();
}

// RAII file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int OpenSocket(const std::string& addr, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1) {
    std::fprintf(stderr, "kp-udp-echo: bad IPv4 address %s\n", addr.c_str());
    return -1;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    std::fprintf(stderr, "kp-udp-echo: bind %s:%u: %s\n", addr.c_str(), port, std::strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

struct Batch {
  std::vector<std::vector<char>> bufs;
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_storage peers[kBatch];
  Batch() : bufs(kBatch, std::vector<char>(kMaxDatagram)) {}
  void Reset() {
    std::memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {bufs[i].data(), bufs[i].size()};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &peers[i];
      msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
    }
  }
};

// Drains one socket: receives a batch, echoes it; returns datagrams received.
uint64_t EchoOnce(int fd, Batch* b, uint64_t* echoed) {
  b->Reset();
  int n = recvmmsg(fd, b->msgs, kBatch, MSG_DONTWAIT, nullptr);
  if (n <= 0) return 0;
  for (int i = 0; i < n; ++i) b->iov[i].iov_len = b->msgs[i].msg_len;
  int sent = 0;
  while (sent < n) {
    int r = sendmmsg(fd, b->msgs + sent, n - sent, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "kp-udp-echo: sendmmsg: %s\n", std::strerror(errno));
      break;
    }
    sent += r;
  }
  *echoed += static_cast<uint64_t>(sent);
  return static_cast<uint64_t>(n);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (!ParseArgs(argc, argv, &opt)) {
    Usage();
    return 2;
  }
  std::vector<Fd> socks;
  std::vector<pollfd> pfds;
  for (uint16_t p : opt.ports) {
    int fd = OpenSocket(opt.addr, p);
    if (fd < 0) return 1;
    socks.emplace_back(fd);
    pfds.push_back({fd, POLLIN, 0});
  }
  struct sigaction sa{};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::fprintf(stderr, "kp-udp-echo: listening on %s, %zu port(s)\n", opt.addr.c_str(),
               opt.ports.size());

  Batch batch;
  uint64_t received = 0, echoed = 0;
  while (!g_stop) {
    int r = poll(pfds.data(), pfds.size(), 500);
    if (r < 0 && errno != EINTR) break;
    for (auto& p : pfds) {
      if (!(p.revents & POLLIN)) continue;
      while (uint64_t n = EchoOnce(p.fd, &batch, &echoed)) received += n;
    }
  }
  std::fprintf(stderr, "kp-udp-echo: received %llu, echoed %llu\n",
               static_cast<unsigned long long>(received), static_cast<unsigned long long>(echoed));
  if (!opt.count_file.empty()) {
    if (FILE* f = std::fopen(opt.count_file.c_str(), "w")) {
      std::fprintf(f, "%llu %llu\n", static_cast<unsigned long long>(received),
                   static_cast<unsigned long long>(echoed));
      std::fclose(f);
    }
  }
  return 0;
}
