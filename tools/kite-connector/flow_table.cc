// flow_table.cc - bounded table of client flows with idle expiry (see flow_table.h).
#include "tools/kite-connector/flow_table.h"

namespace kp::connector {

size_t FlowKeyHash::operator()(const FlowKey& k) const {
  // FNV-1a over the key's fields; flows are few enough that this is plenty.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  mix(k.session_id, 4);
  mix(k.kite_id, 4);
  mix(k.family, 1);
  for (uint8_t b : k.addr) mix(b, 1);
  mix(k.port, 2);
  return static_cast<size_t>(h);
}

Flow* FlowTable::Find(const FlowKey& key) {
  auto it = flows_.find(key);
  return it == flows_.end() ? nullptr : it->second.get();
}

Flow* FlowTable::FindBySerial(uint64_t serial) {
  auto it = by_serial_.find(serial);
  return it == by_serial_.end() ? nullptr : it->second;
}

absl::StatusOr<Flow*> FlowTable::Insert(const FlowKey& key, size_t kite_index, UniqueFd fd,
                                        uint64_t now_ns) {
  if (Flow* f = Find(key)) return f;
  if (flows_.size() >= max_flows_) ExpireIdle(now_ns);
  if (flows_.size() >= max_flows_) {
    return absl::ResourceExhaustedError("flow table full (max_flows)");
  }
  auto flow = std::make_unique<Flow>();
  flow->serial = next_serial_++;
  flow->key = key;
  flow->kite_index = kite_index;
  flow->fd = std::move(fd);
  flow->last_client_ns = now_ns;
  flow->last_activity_ns = now_ns;
  Flow* raw = flow.get();
  by_serial_[raw->serial] = raw;
  flows_.emplace(key, std::move(flow));
  return raw;
}

size_t FlowTable::ExpireIdle(uint64_t now_ns) {
  size_t n = 0;
  for (auto it = flows_.begin(); it != flows_.end();) {
    if (now_ns - it->second->last_activity_ns >= idle_ns_) {
      by_serial_.erase(it->second->serial);
      it = flows_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

size_t FlowTable::RemoveSession(uint32_t session_id) {
  size_t n = 0;
  for (auto it = flows_.begin(); it != flows_.end();) {
    if (it->first.session_id == session_id) {
      by_serial_.erase(it->second->serial);
      it = flows_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

void FlowTable::Remove(uint64_t serial) {
  Flow* f = FindBySerial(serial);
  if (f == nullptr) return;
  FlowKey key = f->key;
  by_serial_.erase(serial);
  flows_.erase(key);
}

}  // namespace kp::connector
