// counter_names.h - names of the data plane's counters, drop reasons and
// per-kite counters, expanded from the X-macro lists of kp_counters.h (never
// copied by hand), plus the per-kite result codes of kp_wire.h.  Used by the
// management API, the metrics exporter and kitectl.
#pragma once

#include <array>


extern "C" {
#include "kp_counters.h"
#include "kp_wire.h"
}

namespace kp::cp {

struct CounterName {
  const char* name;
  const char* help;
};

#define KP_X_NAME(id, metric, help) CounterName{metric, help},
inline constexpr std::array<CounterName, KP_CTR_MAX> kGlobalCounterNames = {KP_GLOBAL_COUNTERS(KP_X_NAME)};
inline constexpr std::array<CounterName, KP_DROP_MAX> kDropReasonNames = {KP_DROP_REASONS(KP_X_NAME)};
inline constexpr std::array<CounterName, KP_KCTR_MAX> kKiteCounterNames = {KP_KITE_COUNTERS(KP_X_NAME)};
#undef KP_X_NAME

#define KP_X_RESULT(id, val, text) text,
inline constexpr std::array<const char*, KP_RESULT_MAX> kResultNames = {KP_RESULT_CODES(KP_X_RESULT)};
#undef KP_X_RESULT

}  // namespace kp::cp
