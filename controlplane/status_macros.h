// status_macros.h - RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status code.
//
// Abseil 20220623 ships no public status macros, so the control plane keeps
// its own two, used at every fallible boundary of controlplane/ and kitectl.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KP_CONCAT_INNER(a, b) a##b
#define KP_CONCAT(a, b) KP_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    absl::Status kp_status_ = (expr);          \
    if (!kp_status_.ok()) return kp_status_;   \
  } while (0)

#define KP_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(*tmp)

#define ASSIGN_OR_RETURN(lhs, expr) \
  KP_ASSIGN_OR_RETURN_IMPL(KP_CONCAT(kp_statusor_, __LINE__), lhs, expr)
