// backoff.h - exponential backoff with jitter for kite-connector's retries.
//
// Delay n (n = 0, 1, ...) is min(max, initial * 2^n), then multiplied by a
// uniform factor in [1 - jitter, 1 + jitter] and clamped to [1 ms, max].
// The random source is injectable so tests are deterministic.
#pragma once

#include <cstdint>
#include <functional>

namespace kp::connector {

class Backoff {
 public:
  // `uniform` returns a value in [0, 1); defaults to a libsodium-backed source.
  Backoff(uint32_t initial_ms, uint32_t max_ms, double jitter = 0.25,
          std::function<double()> uniform = {});
  // The next delay in milliseconds; advances the attempt counter.
  uint32_t NextDelayMs();
  // Back to the initial delay (after a success).
  void Reset() { attempt_ = 0; }
  uint32_t attempt() const { return attempt_; }

 private:
  uint32_t initial_ms_;
  uint32_t max_ms_;
  double jitter_;
  std::function<double()> uniform_;
  uint32_t attempt_ = 0;
};

}  // namespace kp::connector
