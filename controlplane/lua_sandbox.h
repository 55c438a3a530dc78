// lua_sandbox.h - one sandboxed PUC Lua 5.4 state for operator policy.
//
// A LuaSandbox owns a lua_State built with a limiting allocator (memory cap),
// a count hook that enforces an instruction budget per call, and only the
// safe standard libraries (base without dofile/loadfile/load/collectgarbage,
// string without dump, table, math, utf8).  io, os, debug, package and the C
// loaders are never opened; chunks are loaded in text mode only.  pcall and
// xpcall are wrapped so a script cannot swallow a budget or memory error and
// keep running.  Values cross the boundary as nlohmann::json so hooks take
// and return plain tables.  Not thread-safe: one state per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

struct lua_State;
struct lua_Debug;

namespace kp::cp {

struct SandboxLimits {
  uint64_t instructions = 1'000'000;  // per call (and for the config chunk)
  size_t memory_bytes = 32u << 20;    // whole state
};

class LuaSandbox {
 public:
  // Errors: ResourceExhausted if the state cannot be created under the cap.
  static absl::StatusOr<std::unique_ptr<LuaSandbox>> Create(SandboxLimits limits);
  ~LuaSandbox();
  LuaSandbox(const LuaSandbox&) = delete;
  LuaSandbox& operator=(const LuaSandbox&) = delete;

  lua_State* state() { return L_; }

  // Loads `code` as a text chunk named `chunkname` (use "@path" for files)
  // and runs it under the instruction budget.  Errors: InvalidArgument with
  // Lua's "file:line: message" text, ResourceExhausted for budget or memory.
  absl::Status RunChunk(std::string_view code, const std::string& chunkname);

  // True if global `name` is a function.
  bool HasFunction(const std::string& name);
  // Type name of global `name` ("nil" when absent).
  std::string GlobalType(const std::string& name);

  // Calls global function `name` with one argument; returns its first result
  // (null for nil).  Errors: NotFound (no such function), ResourceExhausted
  // (instruction budget or memory cap hit), Internal (runtime error).
  absl::StatusOr<nlohmann::json> Call(const std::string& name, const nlohmann::json& arg);

  size_t memory_in_use() const { return mem_used_; }
  const SandboxLimits& limits() const { return limits_; }
  // Lines printed by the script with print().
  std::vector<std::string>& printed() { return printed_; }

  // Used by the C callbacks.
  static LuaSandbox* From(lua_State* L);
  bool budget_exhausted() const { return exhausted_; }

 private:
  explicit LuaSandbox(SandboxLimits limits) : limits_(limits) {}
  static void* Alloc(void* ud, void* ptr, size_t osize, size_t nsize);
  static void CountHook(lua_State* L, lua_Debug* ar);
  static int SafePcall(lua_State* L);
  static int SafeXpcall(lua_State* L);
  static int Print(lua_State* L);
  void OpenSafeLibs();
  absl::Status ProtectedCall(int nargs, int nresults);

  SandboxLimits limits_;
  lua_State* L_ = nullptr;
  size_t mem_used_ = 0;
  int64_t budget_left_ = 0;
  bool exhausted_ = false;
  bool mem_failed_ = false;
  std::vector<std::string> printed_;
};

// Pushes a JSON value as a Lua value (objects and arrays become tables).
void PushJson(lua_State* L, const nlohmann::json& v, int depth = 0);
// Converts the Lua value at `idx` to JSON.  Tables whose keys are exactly
// 1..n become arrays; others become objects with string keys.  Functions,
// userdata and deeper than 16 levels become null.
nlohmann::json ToJson(lua_State* L, int idx, int depth = 0);

}  // namespace kp::cp
