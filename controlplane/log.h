// log.h - a small JSON-lines logger for the control plane (Abseil 20220623
// has no absl/log).  One object per line on stderr: time, level, message and
// optional fields, so journald and log shippers parse it as is.
#pragma once

#include <cstdio>
#include <ctime>
#include <string>

#include <nlohmann/json.hpp>

namespace kp::cp {

inline void Log(const char* level, const std::string& msg, nlohmann::json fields = nlohmann::json::object()) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  fields["ts"] = static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
  fields["level"] = level;
  fields["msg"] = msg;
  std::string line = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace kp::cp
