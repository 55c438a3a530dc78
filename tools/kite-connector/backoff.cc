// backoff.cc - exponential backoff with jitter (see backoff.h).
#include "tools/kite-connector/backoff.h"

#include <sodium.h>

#include <algorithm>
#include <cmath>

namespace kp::connector {

Backoff::Backoff(uint32_t initial_ms, uint32_t max_ms, double jitter,
                 std::function<double()> uniform)
    : initial_ms_(std::max<uint32_t>(1, initial_ms)),
      max_ms_(std::max(max_ms, std::max<uint32_t>(1, initial_ms))),
      jitter_(std::clamp(jitter, 0.0, 1.0)),
      uniform_(std::move(uniform)) {
  if (!uniform_) {
    uniform_ = [] { return randombytes_uniform(1u << 30) / static_cast<double>(1u << 30); };
  }
}

uint32_t Backoff::NextDelayMs() {
  double base = initial_ms_;
  for (uint32_t i = 0; i < attempt_ && base < max_ms_; ++i) base *= 2;
  base = std::min<double>(base, max_ms_);
  if (attempt_ < 64) ++attempt_;
  double factor = 1.0 - jitter_ + 2.0 * jitter_ * uniform_();
  double d = std::clamp(base * factor, 1.0, static_cast<double>(max_ms_));
  return static_cast<uint32_t>(std::lround(d));
}

}  // namespace kp::connector
