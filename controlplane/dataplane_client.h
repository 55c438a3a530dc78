// dataplane_client.h - DataplaneClient: what the control plane needs from the
// data plane's control socket, as an interface.
//
// CtlDataplane (below, dataplane_client.cc) speaks dataplane/abi/kp_ctl.h
// through kp::ctl::Client and reconnects when the data plane restarts; the
// unit tests use a fake over plain maps.  Every call is synchronous and
// returns the data plane's error mapped to an absl::Status (Unavailable when
// there is no data plane: the control plane then keeps its state and resyncs
// when one comes back).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"

extern "C" {
#include "kp_ctl.h"
}

namespace kp::ctl {
class Client;
}

namespace kp::cp {

class DataplaneClient {
 public:
  virtual ~DataplaneClient() = default;
  // True while a data plane is connected (after a successful HELLO).
  virtual bool Connected() const = 0;
  // Connects if not connected.  Returns true when this call (re)connected,
  // so the caller must resync.  Errors: Unavailable.
  virtual absl::StatusOr<bool> EnsureConnected() = 0;
  virtual uint32_t NumWorkers() const = 0;
  virtual std::string Describe() const = 0;

  virtual absl::Status SetConfig(const kp_config& c) = 0;
  virtual absl::Status UpsertKites(std::span<const kp_kite> kites) = 0;
  virtual absl::Status DeleteKites(std::span<const uint32_t> ids) = 0;
  virtual absl::Status UpsertSessions(std::span<const kp_session> sessions) = 0;
  virtual absl::Status DeleteSessions(std::span<const uint32_t> ids) = 0;
  virtual absl::Status GrantCredit(std::span<const kp_ctl_credit> grants) = 0;
  virtual absl::Status SetState(kp_frontend_state state) = 0;
  virtual absl::Status ResyncBegin() = 0;
  virtual absl::Status ResyncEnd() = 0;
  virtual absl::StatusOr<kp_ctl_global_counters> GlobalCounters() = 0;
  virtual absl::Status ForEachKiteStats(const std::function<void(const kp_ctl_kite_stats&)>& fn) = 0;
};

// The real client over the control socket at `path`.
std::unique_ptr<DataplaneClient> MakeCtlDataplane(const std::string& path);

}  // namespace kp::cp
