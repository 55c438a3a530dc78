// dataplane_client.cc - CtlDataplane: DataplaneClient over kp::ctl::Client,
// with reconnect-on-failure.  A call that fails with Unavailable drops the
// connection so the next tick reconnects and resyncs.
#include "controlplane/dataplane_client.h"

#include "absl/strings/str_cat.h"
#include "dataplane/ctl/client.h"

namespace kp::cp {
namespace {

class CtlDataplane final : public DataplaneClient {
 public:
  explicit CtlDataplane(std::string path) : path_(std::move(path)) {}

  bool Connected() const override { return client_ != nullptr; }

  absl::StatusOr<bool> EnsureConnected() override {
    if (client_) return false;
    auto c = ctl::Client::Connect(path_, "kiteplane-controlplane", 3000);
    if (!c.ok()) return absl::UnavailableError(absl::StrCat("data plane at ", path_, ": ", c.status().message()));
    client_ = std::move(*c);
    return true;
  }

  uint32_t NumWorkers() const override { return client_ ? client_->hello().n_workers : 1; }

  std::string Describe() const override {
    if (!client_) return absl::StrCat("disconnected (", path_, ")");
    const auto& h = client_->hello();
    return absl::StrCat(h.mode == KP_DP_XDP ? "xdp" : "dpdk", ", ", h.n_workers, " workers, ", path_);
  }

  absl::Status SetConfig(const kp_config& c) override { return Do([&] { return client_->SetConfig(c); }); }
  absl::Status UpsertKites(std::span<const kp_kite> k) override { return Do([&] { return client_->UpsertKites(k); }); }
  absl::Status DeleteKites(std::span<const uint32_t> k) override { return Do([&] { return client_->DeleteKites(k); }); }
  absl::Status UpsertSessions(std::span<const kp_session> s) override {
    return Do([&] { return client_->UpsertSessions(s); });
  }
  absl::Status DeleteSessions(std::span<const uint32_t> s) override {
    return Do([&] { return client_->DeleteSessions(s); });
  }
  absl::Status GrantCredit(std::span<const kp_ctl_credit> g) override {
    return Do([&] { return client_->GrantCredit(g); });
  }
  absl::Status SetState(kp_frontend_state s) override { return Do([&] { return client_->SetState(s); }); }
  absl::Status ResyncBegin() override { return Do([&] { return client_->ResyncBegin(); }); }
  absl::Status ResyncEnd() override { return Do([&] { return client_->ResyncEnd(); }); }
  absl::StatusOr<kp_ctl_global_counters> GlobalCounters() override {
    if (!client_) return absl::UnavailableError("no data plane");
    auto r = client_->GlobalCounters();
    if (!r.ok() && absl::IsUnavailable(r.status())) client_.reset();
    return r;
  }
  absl::Status ForEachKiteStats(const std::function<void(const kp_ctl_kite_stats&)>& fn) override {
    return Do([&] { return client_->ForEachKiteStats(1, fn); });
  }

 private:
  template <typename F>
  absl::Status Do(F f) {
    if (!client_) return absl::UnavailableError("no data plane");
    absl::Status s = f();
    if (absl::IsUnavailable(s)) client_.reset();
    return s;
  }

  std::string path_;
  std::unique_ptr<ctl::Client> client_;
};

}  // namespace

std::unique_ptr<DataplaneClient> MakeCtlDataplane(const std::string& path) {
  return std::make_unique<CtlDataplane>(path);
}

}  // namespace kp::cp
