// counters.cc - text forms of kite-connector's counters (see counters.h).
#include "tools/kite-connector/counters.h"

#include "absl/strings/str_cat.h"

namespace kp::connector {

std::string FormatCounters(const Counters& c) {
  std::string out;
#define KC_X_LINE(name, help) absl::StrAppend(&out, #name, " ", c.name, "\n");
  KC_COUNTERS(KC_X_LINE)
#undef KC_X_LINE
  return out;
}

std::string FormatCountersLine(const Counters& c) {
  std::string out;
#define KC_X_PAIR(name, help) \
  if (c.name != 0) absl::StrAppend(&out, out.empty() ? "" : " ", #name, "=", c.name);
  KC_COUNTERS(KC_X_PAIR)
#undef KC_X_PAIR
  return out.empty() ? "all zero" : out;
}

}  // namespace kp::connector
