// config_bindings.cc - the declarative Lua config calls and their strict
// option-table validation.
//
// Each call takes one option table.  The table is converted to JSON, checked
// against the call's schema (an unknown key is an error naming the key, a
// wrong type names the key and what was expected) and applied to the Config.
// Errors are raised as Lua errors prefixed with the caller's "file:line:",
// so the operator sees file, line, call and key in one message.
#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controlplane/policy.h"
#include <lua.hpp>

namespace kp::cp {
namespace {

using nlohmann::json;

enum class Kind { kString, kUInt, kBool, kStringList, kUIntList };

struct Field {
  const char* key;
  Kind kind;
  uint64_t max = UINT32_MAX;  // for kUInt / kUIntList
  uint64_t min = 0;
};

const char* KindText(Kind k) {
  switch (k) {
    case Kind::kString: return "a string";
    case Kind::kUInt: return "a non-negative integer";
    case Kind::kBool: return "a boolean";
    case Kind::kStringList: return "a list of strings";
    case Kind::kUIntList: return "a list of non-negative integers";
  }
  return "?";
}

bool UIntOk(const json& v, const Field& f) {
  if (!v.is_number_integer()) return false;
  if (v.is_number_unsigned()) return v.get<uint64_t>() >= f.min && v.get<uint64_t>() <= f.max;
  int64_t i = v.get<int64_t>();
  return i >= 0 && static_cast<uint64_t>(i) >= f.min && static_cast<uint64_t>(i) <= f.max;
}

bool TypeOk(const json& v, const Field& f) {
  switch (f.kind) {
    case Kind::kString: return v.is_string();
    case Kind::kUInt: return UIntOk(v, f);
    case Kind::kBool: return v.is_boolean();
    case Kind::kStringList:
      if (v.is_object() && v.empty()) return true;
      if (!v.is_array()) return false;
      for (const auto& e : v) if (!e.is_string()) return false;
      return true;
    case Kind::kUIntList:
      if (v.is_object() && v.empty()) return true;
      if (!v.is_array()) return false;
      for (const auto& e : v) if (!UIntOk(e, f)) return false;
      return true;
  }
  return false;
}

// Checks every key of `opts` against `schema`; returns "" or the error.
std::string CheckOptions(const char* call, const json& opts, std::initializer_list<Field> schema,
                         std::initializer_list<const char*> required = {}) {
  if (!opts.is_object()) return absl::StrCat(call, ": expects a table of key = value options");
  for (const auto& [key, val] : opts.items()) {
    const Field* found = nullptr;
    for (const Field& f : schema) if (key == f.key) found = &f;
    if (found == nullptr) return absl::StrCat(call, ": unknown key '", key, "'");
    if (!TypeOk(val, *found)) {
      std::string range;
      if (found->kind == Kind::kUInt || found->kind == Kind::kUIntList) {
        range = absl::StrCat(" in [", found->min, ", ", found->max, "]");
      }
      return absl::StrCat(call, ": key '", key, "' must be ", KindText(found->kind), range);
    }
  }
  for (const char* r : required) {
    if (!opts.contains(r)) return absl::StrCat(call, ": missing required key '", r, "'");
  }
  return "";
}

std::vector<std::string> Strings(const json& v) {
  std::vector<std::string> out;
  if (v.is_array()) for (const auto& e : v) out.push_back(e.get<std::string>());
  return out;
}

bool ValidAddress(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

template <typename T>
void Take(const json& o, const char* key, T* out) {
  if (o.contains(key)) *out = static_cast<T>(o[key].get<uint64_t>());
}

std::string ApplyFrontend(const json& o, Config& c) {
  std::string e = CheckOptions("frontend", o,
                               {{"addresses", Kind::kStringList},
                                {"tunnel_ports", Kind::kUIntList, 65535, 1},
                                {"mtu", Kind::kUInt, 9000, 576},
                                {"gateway_mac", Kind::kString},
                                {"own_mac", Kind::kString},
                                {"bogons", Kind::kStringList}});
  if (!e.empty()) return e;
  if (o.contains("addresses")) {
    c.addresses = Strings(o["addresses"]);
    for (const auto& a : c.addresses) {
      if (!ValidAddress(a)) return absl::StrCat("frontend: key 'addresses': '", a, "' is not an IP address");
    }
  }
  if (o.contains("tunnel_ports")) {
    c.tunnel_ports.clear();
    for (const auto& p : o["tunnel_ports"]) c.tunnel_ports.push_back(p.get<uint16_t>());
  }
  Take(o, "mtu", &c.mtu);
  for (const char* k : {"gateway_mac", "own_mac"}) {
    if (!o.contains(k)) continue;
    auto mac = ParseMac(o[k].get<std::string>());
    if (!mac) return absl::StrCat("frontend: key '", k, "' is not a MAC address aa:bb:cc:dd:ee:ff");
    (std::string_view(k) == "own_mac" ? c.own_mac : c.gateway_mac) = mac;
  }
  if (o.contains("bogons")) {
    c.bogons = Strings(o["bogons"]);
    for (const auto& b : c.bogons) {
      std::vector<std::string> parts = absl::StrSplit(b, '/');
      if (parts.size() != 2 || !ValidAddress(parts[0])) {
        return absl::StrCat("frontend: key 'bogons': '", b, "' is not a prefix addr/len");
      }
    }
  }
  return "";
}

std::string ApplyPortPool(const json& o, Config& c) {
  std::string e = CheckOptions("port_pool", o,
                               {{"address", Kind::kString},
                                {"first", Kind::kUInt, 65535, 1},
                                {"last", Kind::kUInt, 65535, 1}},
                               {"address", "first", "last"});
  if (!e.empty()) return e;
  PortPool p{o["address"].get<std::string>(), o["first"].get<uint16_t>(), o["last"].get<uint16_t>()};
  if (!ValidAddress(p.address)) return absl::StrCat("port_pool: key 'address': '", p.address, "' is not an IP address");
  if (p.last < p.first) return "port_pool: key 'last' is below 'first'";
  c.pools.push_back(p);
  return "";
}

std::string ApplyAccount(const json& o, Config& c) {
  std::string e = CheckOptions("account", o,
                               {{"name", Kind::kString},
                                {"quota_bytes", Kind::kUInt, UINT64_MAX >> 2},
                                {"quota_period_s", Kind::kUInt, 366u * 86400u, 1},
                                {"max_kites", Kind::kUInt}},
                               {"name"});
  if (!e.empty()) return e;
  AccountSpec a;
  a.name = o["name"].get<std::string>();
  if (c.accounts.count(a.name)) return absl::StrCat("account: key 'name': account '", a.name, "' declared twice");
  Take(o, "quota_bytes", &a.quota_bytes);
  Take(o, "quota_period_s", &a.quota_period_s);
  Take(o, "max_kites", &a.max_kites);
  c.accounts[a.name] = a;
  return "";
}

std::string ApplyKite(const json& o, Config& c) {
  std::string e = CheckOptions("kite", o,
                               {{"name", Kind::kString},
                                {"secret", Kind::kString},
                                {"account", Kind::kString},
                                {"port", Kind::kUInt, 65535, 1},
                                {"quota_bytes", Kind::kUInt, UINT64_MAX >> 2},
                                {"quota_period_s", Kind::kUInt, 366u * 86400u, 1},
                                {"rate_pps", Kind::kUInt},
                                {"rate_kbps", Kind::kUInt},
                                {"burst_ms", Kind::kUInt, 60000},
                                {"max_sessions", Kind::kUInt, 6, 1}},
                               {"name", "secret"});
  if (!e.empty()) return e;
  KiteSpec k;
  k.name = o["name"].get<std::string>();
  if (k.name.empty() || k.name.size() > 253) return "kite: key 'name' must be 1 to 253 bytes";
  if (c.kites.count(k.name)) return absl::StrCat("kite: key 'name': kite '", k.name, "' declared twice");
  k.secret = o["secret"].get<std::string>();
  if (k.secret.size() < 8) return "kite: key 'secret' must be at least 8 bytes";
  if (o.contains("account")) {
    k.account = o["account"].get<std::string>();
    if (!c.accounts.count(k.account)) {
      return absl::StrCat("kite: key 'account': no account '", k.account, "' declared before this kite");
    }
  }
  Take(o, "port", &k.port);
  Take(o, "quota_bytes", &k.quota_bytes);
  Take(o, "quota_period_s", &k.quota_period_s);
  Take(o, "rate_pps", &k.rate_pps);
  Take(o, "rate_kbps", &k.rate_kbps);
  Take(o, "burst_ms", &k.burst_ms);
  Take(o, "max_sessions", &k.max_sessions);
  c.kites[k.name] = k;
  return "";
}

std::string ApplyTimers(const json& o, Config& c) {
  const char* call = "timers";
  std::string e = CheckOptions(call, o,
                               {{"tick_ms", Kind::kUInt, 60000, 10},
                                {"heartbeat_s", Kind::kUInt, 3600, 1},
                                {"dead_after_s", Kind::kUInt, 86400, 2},
                                {"cookie_rotate_s", Kind::kUInt, 86400 * 30, 10},
                                {"token_lifetime_s", Kind::kUInt, 600, 1},
                                {"drain_deadline_s", Kind::kUInt, 86400},
                                {"session_linger_s", Kind::kUInt, 86400 * 30}});
  if (!e.empty()) return e;
  Timers& t = c.timers;
  Take(o, "tick_ms", &t.tick_ms);
  Take(o, "heartbeat_s", &t.heartbeat_s);
  Take(o, "dead_after_s", &t.dead_after_s);
  Take(o, "cookie_rotate_s", &t.cookie_rotate_s);
  Take(o, "token_lifetime_s", &t.token_lifetime_s);
  Take(o, "drain_deadline_s", &t.drain_deadline_s);
  Take(o, "session_linger_s", &t.session_linger_s);
  if (t.dead_after_s <= t.heartbeat_s) return "timers: key 'dead_after_s' must exceed 'heartbeat_s'";
  return "";
}

std::string ApplyLimits(const json& o, Config& c) {
  const char* call = "limits";
  std::string e = CheckOptions(call, o,
                               {{"register_rate_per_s", Kind::kUInt, 100000, 1},
                                {"register_burst", Kind::kUInt, 100000, 1},
                                {"max_sources_tracked", Kind::kUInt, 1u << 24, 16},
                                {"lease_bytes", Kind::kUInt, 1ull << 40, 1500},
                                {"max_sessions", Kind::kUInt, 131071, 1},
                                {"max_kites", Kind::kUInt, (1u << 20) - 1, 1},
                                {"max_kites_per_session", Kind::kUInt, 255, 1}});
  if (!e.empty()) return e;
  Limits& l = c.limits;
  Take(o, "register_rate_per_s", &l.register_rate_per_s);
  Take(o, "register_burst", &l.register_burst);
  Take(o, "max_sources_tracked", &l.max_sources_tracked);
  Take(o, "lease_bytes", &l.lease_bytes);
  Take(o, "max_sessions", &l.max_sessions);
  Take(o, "max_kites", &l.max_kites);
  Take(o, "max_kites_per_session", &l.max_kites_per_session);
  return "";
}

std::string ApplySimple(const char* call, const json& o, Config& c) {
  std::string_view name(call);
  if (name == "store") {
    std::string e = CheckOptions(call, o, {{"path", Kind::kString}}, {"path"});
    if (e.empty()) c.store_path = o["path"].get<std::string>();
    return e;
  }
  if (name == "dataplane") {
    std::string e = CheckOptions(call, o, {{"socket", Kind::kString}}, {"socket"});
    if (e.empty()) c.dataplane_socket = o["socket"].get<std::string>();
    return e;
  }
  if (name == "management") {
    std::string e = CheckOptions(call, o, {{"socket", Kind::kString}, {"group", Kind::kString},
                                           {"mode", Kind::kString}});
    if (!e.empty()) return e;
    if (o.contains("socket")) c.mgmt_socket = o["socket"].get<std::string>();
    if (o.contains("group")) c.mgmt_group = o["group"].get<std::string>();
    if (o.contains("mode")) {
      std::string m = o["mode"].get<std::string>();
      char* end = nullptr;
      unsigned long v = std::strtoul(m.c_str(), &end, 8);
      if (m.empty() || *end != 0 || v > 0777) return "management: key 'mode' must be an octal string such as \"0660\"";
      c.mgmt_mode = static_cast<uint32_t>(v);
    }
    if (c.mgmt_mode & 0007) return "management: key 'mode' must not grant access to others (o+rwx)";
    return "";
  }
  if (name == "metrics") {
    std::string e = CheckOptions(call, o, {{"listen", Kind::kString}, {"max_kite_series", Kind::kUInt, 100000}});
    if (!e.empty()) return e;
    if (o.contains("listen")) c.metrics_listen = o["listen"].get<std::string>();
    Take(o, "max_kite_series", &c.metrics_max_kite_series);
    return "";
  }
  if (name == "timers") return ApplyTimers(o, c);
  if (name == "limits") return ApplyLimits(o, c);
  if (name == "sandbox") {
    std::string e = CheckOptions(call, o, {{"instructions", Kind::kUInt, 1ull << 34, 10000},
                                           {"memory_bytes", Kind::kUInt, 1ull << 34, 1u << 20}});
    if (!e.empty()) return e;
    Take(o, "instructions", &c.sandbox.instructions);
    Take(o, "memory_bytes", &c.sandbox.memory_bytes);
    return "";
  }
  return absl::StrCat(call, ": no such call");
}

constexpr const char* kCalls[] = {"frontend", "port_pool", "account", "kite", "store", "dataplane",
                                  "management", "metrics", "timers", "limits", "sandbox"};

std::string Apply(const char* call, const json& o, Config& c) {
  std::string_view n(call);
  if (n == "frontend") return ApplyFrontend(o, c);
  if (n == "port_pool") return ApplyPortPool(o, c);
  if (n == "account") return ApplyAccount(o, c);
  if (n == "kite") return ApplyKite(o, c);
  return ApplySimple(call, o, c);
}

// upvalue 1: call name, upvalue 2: Config*
int Binding(lua_State* L) {
  const char* call = lua_tostring(L, lua_upvalueindex(1));
  auto* cfg = static_cast<Config*>(lua_touserdata(L, lua_upvalueindex(2)));
  bool failed = false;
  if (lua_gettop(L) != 1 || lua_type(L, 1) != LUA_TTABLE) {
    luaL_where(L, 1);
    lua_pushfstring(L, "%s: expects exactly one option table, as in %s{ key = value }", call, call);
    lua_concat(L, 2);
    return lua_error(L);
  }
  {
    std::string err = Apply(call, ToJson(L, 1), *cfg);
    if (!err.empty()) {
      luaL_where(L, 1);
      lua_pushlstring(L, err.data(), err.size());
      lua_concat(L, 2);
      failed = true;
    }
  }
  if (failed) return lua_error(L);
  return 0;
}

}  // namespace

std::optional<std::array<uint8_t, 6>> ParseMac(const std::string& s) {
  std::array<uint8_t, 6> m{};
  unsigned v[6];
  char tail;
  if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6) {
    return std::nullopt;
  }
  for (int i = 0; i < 6; i++) m[i] = static_cast<uint8_t>(v[i]);
  return m;
}

void RegisterConfigBindings(LuaSandbox& sb, Config* cfg) {
  lua_State* L = sb.state();
  for (const char* call : kCalls) {
    lua_pushstring(L, call);
    lua_pushlightuserdata(L, cfg);
    lua_pushcclosure(L, Binding, 2);
    lua_setglobal(L, call);
  }
}

absl::Status ValidateConfig(const Config& c) {
  auto err = [&](const std::string& m) { return absl::InvalidArgumentError(absl::StrCat(c.source, ": ", m)); };
  if (c.addresses.empty()) return err("frontend: no front-end 'addresses' configured");
  if (c.addresses.size() > 2 * 8) return err("frontend: key 'addresses': more than 8 per family");
  if (c.tunnel_ports.empty()) return err("frontend: no 'tunnel_ports' configured");
  if (c.tunnel_ports.size() > 8) return err("frontend: key 'tunnel_ports': at most 8 ports");
  if (c.bogons.size() > 32) return err("frontend: key 'bogons': at most 16 per family");
  if (c.pools.empty()) return err("port_pool: no public port pool configured");
  for (size_t i = 0; i < c.pools.size(); i++) {
    for (size_t j = i + 1; j < c.pools.size(); j++) {
      const PortPool &a = c.pools[i], &b = c.pools[j];
      if (a.address == b.address && a.first <= b.last && b.first <= a.last) {
        return err(absl::StrCat("port_pool: pools ", a.first, "-", a.last, " and ", b.first, "-", b.last,
                                " overlap on ", a.address));
      }
    }
    for (uint16_t tp : c.tunnel_ports) {
      if (tp >= c.pools[i].first && tp <= c.pools[i].last) {
        return err(absl::StrCat("port_pool: tunnel port ", tp, " lies inside pool ", c.pools[i].first, "-",
                                c.pools[i].last));
      }
    }
  }
  if (c.store_path.empty()) return err("store: key 'path' is empty");
  return absl::OkStatus();
}

}  // namespace kp::cp
