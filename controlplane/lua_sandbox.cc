// lua_sandbox.cc - the sandboxed Lua state: allocator cap, count hook, safe
// libraries, text-only chunks and JSON <-> Lua conversion.  See the header.
//
// Lua reports errors with longjmp (liblua is C), so no function here keeps a
// C++ object with a destructor alive across a Lua call that may raise.
#include "controlplane/lua_sandbox.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include <lua.hpp>

namespace kp::cp {
namespace {
constexpr int kHookStep = 1000;  // instructions between count-hook calls
constexpr int kMaxDepth = 16;
}  // namespace

void* LuaSandbox::Alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* self = static_cast<LuaSandbox*>(ud);
  if (ptr == nullptr) osize = 0;
  if (nsize == 0) {
    std::free(ptr);
    self->mem_used_ -= osize;
    return nullptr;
  }
  if (nsize > osize && self->mem_used_ - osize + nsize > self->limits_.memory_bytes) {
    self->mem_failed_ = true;
    return nullptr;
  }
  void* p = std::realloc(ptr, nsize);
  if (p != nullptr) self->mem_used_ = self->mem_used_ - osize + nsize;
  return p;
}

LuaSandbox* LuaSandbox::From(lua_State* L) {
  return *static_cast<LuaSandbox**>(lua_getextraspace(L));
}

void LuaSandbox::CountHook(lua_State* L, lua_Debug* /*ar*/) {
  LuaSandbox* self = From(L);
  self->budget_left_ -= kHookStep;
  if (self->budget_left_ <= 0) {
    self->exhausted_ = true;
    luaL_error(L, "instruction budget of %d exhausted", static_cast<int>(self->limits_.instructions));
  }
}

// pcall that refuses to swallow a budget or memory-cap error.
int LuaSandbox::SafePcall(lua_State* L) {
  luaL_checkany(L, 1);
  int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
  LuaSandbox* self = From(L);
  if (status != LUA_OK && (self->exhausted_ || status == LUA_ERRMEM)) return lua_error(L);
  if (status != LUA_OK) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  return lua_gettop(L);
}

int LuaSandbox::SafeXpcall(lua_State* L) {
  int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 1);  // f
  lua_copy(L, 2, 1);    // handler at 1
  lua_replace(L, 2);    // f at 2
  int status = lua_pcall(L, n - 2, LUA_MULTRET, 1);
  LuaSandbox* self = From(L);
  if (status != LUA_OK && (self->exhausted_ || status == LUA_ERRMEM)) return lua_error(L);
  lua_pushboolean(L, status == LUA_OK);
  lua_replace(L, 1);
  return lua_gettop(L);
}

int LuaSandbox::Print(lua_State* L) {
  LuaSandbox* self = From(L);
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    luaL_tolstring(L, i, nullptr);
    luaL_addvalue(&b);
    if (i < n) luaL_addchar(&b, '\t');
  }
  luaL_pushresult(&b);
  if (self->printed_.size() < 1000) self->printed_.emplace_back(lua_tostring(L, -1));
  return 0;
}

void LuaSandbox::OpenSafeLibs() {
  luaL_requiref(L_, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L_, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L_, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L_, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L_, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  lua_settop(L_, 0);
  for (const char* name : {"dofile", "loadfile", "load", "collectgarbage", "require"}) {
    lua_pushnil(L_);
    lua_setglobal(L_, name);
  }
  lua_register(L_, "pcall", SafePcall);
  lua_register(L_, "xpcall", SafeXpcall);
  lua_register(L_, "print", Print);
  lua_getglobal(L_, LUA_STRLIBNAME);
  lua_pushnil(L_);
  lua_setfield(L_, -2, "dump");
  lua_pop(L_, 1);
  // The package searchers are absent, but make sure nothing leaks them.
  lua_pushnil(L_);
  lua_setfield(L_, LUA_REGISTRYINDEX, LUA_LOADED_TABLE "_package");
}

absl::StatusOr<std::unique_ptr<LuaSandbox>> LuaSandbox::Create(SandboxLimits limits) {
  std::unique_ptr<LuaSandbox> sb(new LuaSandbox(limits));
  sb->L_ = lua_newstate(&LuaSandbox::Alloc, sb.get());
  if (sb->L_ == nullptr) return absl::ResourceExhaustedError("cannot create a Lua state under the memory cap");
  *static_cast<LuaSandbox**>(lua_getextraspace(sb->L_)) = sb.get();
  sb->budget_left_ = static_cast<int64_t>(limits.instructions) * 4;  // opening libs
  lua_sethook(sb->L_, &LuaSandbox::CountHook, LUA_MASKCOUNT, kHookStep);
  // Opening libraries may raise (memory); run it protected.
  lua_pushcfunction(sb->L_, [](lua_State* L) -> int {
    From(L)->OpenSafeLibs();
    return 0;
  });
  if (lua_pcall(sb->L_, 0, 0, 0) != LUA_OK) {
    return absl::ResourceExhaustedError("cannot open the Lua libraries under the memory cap");
  }
  return sb;
}

LuaSandbox::~LuaSandbox() {
  if (L_ != nullptr) lua_close(L_);
}

absl::Status LuaSandbox::ProtectedCall(int nargs, int nresults) {
  budget_left_ = static_cast<int64_t>(limits_.instructions);
  exhausted_ = false;
  mem_failed_ = false;
  int status = lua_pcall(L_, nargs, nresults, 0);
  if (status == LUA_OK) return absl::OkStatus();
  std::string msg = lua_type(L_, -1) == LUA_TSTRING ? lua_tostring(L_, -1) : "(error object is not a string)";
  lua_pop(L_, 1);
  if (exhausted_) return absl::ResourceExhaustedError(msg);
  if (status == LUA_ERRMEM || mem_failed_) {
    return absl::ResourceExhaustedError(absl::StrCat("memory cap of ", limits_.memory_bytes, " bytes reached: ", msg));
  }
  return absl::InternalError(msg);
}

absl::Status LuaSandbox::RunChunk(std::string_view code, const std::string& chunkname) {
  int st = luaL_loadbufferx(L_, code.data(), code.size(), chunkname.c_str(), "t");
  if (st != LUA_OK) {
    std::string msg = lua_type(L_, -1) == LUA_TSTRING ? lua_tostring(L_, -1) : "load error";
    lua_pop(L_, 1);
    if (st == LUA_ERRMEM) return absl::ResourceExhaustedError(msg);
    return absl::InvalidArgumentError(msg);
  }
  absl::Status s = ProtectedCall(0, 0);
  if (s.ok() || absl::IsResourceExhausted(s)) return s;
  return absl::InvalidArgumentError(s.message());
}

bool LuaSandbox::HasFunction(const std::string& name) { return GlobalType(name) == "function"; }

std::string LuaSandbox::GlobalType(const std::string& name) {
  lua_rawgeti(L_, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  lua_pushlstring(L_, name.data(), name.size());
  lua_rawget(L_, -2);
  std::string t = lua_typename(L_, lua_type(L_, -1));
  lua_pop(L_, 2);
  return t;
}

absl::StatusOr<nlohmann::json> LuaSandbox::Call(const std::string& name, const nlohmann::json& arg) {
  if (!HasFunction(name)) return absl::NotFoundError(absl::StrCat("no function ", name));
  lua_getglobal(L_, name.c_str());
  PushJson(L_, arg);
  absl::Status s = ProtectedCall(1, 1);
  if (!s.ok()) return s;
  nlohmann::json out = ToJson(L_, -1);
  lua_pop(L_, 1);
  return out;
}

void PushJson(lua_State* L, const nlohmann::json& v, int depth) {
  if (depth > kMaxDepth) {
    lua_pushnil(L);
    return;
  }
  switch (v.type()) {
    case nlohmann::json::value_t::boolean:
      lua_pushboolean(L, v.get<bool>());
      break;
    case nlohmann::json::value_t::number_integer:
      lua_pushinteger(L, v.get<int64_t>());
      break;
    case nlohmann::json::value_t::number_unsigned:
      lua_pushinteger(L, static_cast<lua_Integer>(v.get<uint64_t>()));
      break;
    case nlohmann::json::value_t::number_float:
      lua_pushnumber(L, v.get<double>());
      break;
    case nlohmann::json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      break;
    }
    case nlohmann::json::value_t::array: {
      lua_createtable(L, static_cast<int>(v.size()), 0);
      lua_Integer i = 1;
      for (const auto& e : v) {
        PushJson(L, e, depth + 1);
        lua_rawseti(L, -2, i++);
      }
      break;
    }
    case nlohmann::json::value_t::object: {
      lua_createtable(L, 0, static_cast<int>(v.size()));
      for (const auto& [k, e] : v.items()) {
        lua_pushlstring(L, k.data(), k.size());
        PushJson(L, e, depth + 1);
        lua_rawset(L, -3);
      }
      break;
    }
    default:
      lua_pushnil(L);
  }
}

nlohmann::json ToJson(lua_State* L, int idx, int depth) {
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
      return lua_toboolean(L, idx) != 0;
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) return static_cast<int64_t>(lua_tointeger(L, idx));
      {
        double d = lua_tonumber(L, idx);
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
        return d;
      }
    case LUA_TSTRING: {
      size_t n = 0;
      const char* s = lua_tolstring(L, idx, &n);
      return std::string(s, n);
    }
    case LUA_TTABLE: {
      if (depth >= kMaxDepth) return nullptr;
      lua_Unsigned n = lua_rawlen(L, idx);
      size_t count = 0;
      lua_pushnil(L);
      while (lua_next(L, idx) != 0) {
        count++;
        lua_pop(L, 1);
      }
      if (n > 0 && count == n) {
        nlohmann::json arr = nlohmann::json::array();
        for (lua_Unsigned i = 1; i <= n; i++) {
          lua_rawgeti(L, idx, static_cast<lua_Integer>(i));
          arr.push_back(ToJson(L, -1, depth + 1));
          lua_pop(L, 1);
        }
        return arr;
      }
      nlohmann::json obj = nlohmann::json::object();
      lua_pushnil(L);
      while (lua_next(L, idx) != 0) {
        std::string key;
        if (lua_type(L, -2) == LUA_TSTRING) {
          key = lua_tostring(L, -2);
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
          lua_pushvalue(L, -2);
          key = lua_tostring(L, -1);
          lua_pop(L, 1);
        } else {
          lua_pop(L, 1);
          continue;
        }
        obj[key] = ToJson(L, -1, depth + 1);
        lua_pop(L, 1);
      }
      return obj;
    }
    default:
      return nullptr;
  }
}

}  // namespace kp::cp
