// dp_harness.h - runs kiteplane-dataplane (DPDK mode) as a child process on
// net_pcap devices for the `dpdk` test suite.
//
// The RX "file" is a FIFO the test writes a pcap stream into, so the process
// can be started, its tables loaded through the control socket, and only then
// fed frames; the TX pcap is read back after a clean SIGTERM shutdown.  Every
// wait is bounded; the child is killed by pid if it does not stop.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/ctl/client.h"

namespace kp::dptest {

using Frame = std::vector<uint8_t>;

class Dataplane {
 public:
  // Starts the binary of $KP_DATAPLANE with `extra_app_args` after the
  // standard ones (ctl socket, --exception none, --gateway-mac none), one
  // worker, and connects the control client.  Returns nullptr (with the
  // reason in *why) when anything fails.
  // `lcores` is the EAL --lcores value ("0,1": one worker; "(0-3)@(0-1)":
  // the soft-RSS I/O core and two workers on net_pcap's single queue).
  static std::unique_ptr<Dataplane> Start(const std::vector<std::string>& extra_app_args,
                                          std::string* why, const std::string& lcores = "0,1");
  ~Dataplane();

  ctl::Client* ctl() { return client_.get(); }
  // Drops the control client (the data plane goes headless) / connects anew.
  void Disconnect() { client_.reset(); }
  bool Reconnect();
  // Writes frames into the RX FIFO (pcap records).
  bool Feed(const std::vector<Frame>& frames);
  bool Feed(const Frame& frame);
  // Closes the RX FIFO: the port sees end of file.
  void CloseInput();
  // Waits (bounded) until the data plane counted `n` received frames and a
  // verdict for each.
  bool WaitRx(uint64_t n, int timeout_ms);
  // SIGTERM and wait; returns the exit status (or -1) and the TX frames.
  int Stop(std::vector<Frame>* tx);

 private:
  Dataplane() = default;
  pid_t pid_ = -1;
  int fifo_fd_ = -1;
  std::string dir_, fifo_, out_pcap_, sock_;
  std::unique_ptr<ctl::Client> client_;
};

// Reads the packets of a classic pcap file.
bool ReadPcap(const std::string& path, std::vector<Frame>* out);

}  // namespace kp::dptest
