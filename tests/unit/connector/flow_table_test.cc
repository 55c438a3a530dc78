// flow_table_test.cc - unit tests of tools/kite-connector/flow_table.h:
// lookup by key and serial, the max_flows bound, idle expiry (also as the
// way Insert makes room), per-session removal, and that removal closes the
// flow's socket.
#include "tools/kite-connector/flow_table.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>

namespace kp::connector {
namespace {

constexpr uint64_t kSec = 1000000000ull;

FlowKey Key(uint32_t session, uint16_t port) {
  FlowKey k;
  k.session_id = session;
  k.kite_id = 3;
  k.family = KP_AF_INET;
  k.addr[10] = k.addr[11] = 0xff;
  k.addr[15] = 9;
  k.port = port;
  return k;
}

UniqueFd Fd() { return UniqueFd(eventfd(0, EFD_CLOEXEC)); }

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST(FlowTableTest, InsertFindAndSerials) {
  FlowTable t(4, 10 * kSec);
  auto a = t.Insert(Key(1, 1000), 0, Fd(), 0);
  auto b = t.Insert(Key(1, 1001), 1, Fd(), 0);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE((*a)->serial, (*b)->serial);
  EXPECT_EQ(t.Find(Key(1, 1000)), *a);
  EXPECT_EQ(t.FindBySerial((*b)->serial), *b);
  EXPECT_EQ(t.Find(Key(2, 1000)), nullptr);
  EXPECT_EQ((*b)->kite_index, 1u);
  // Inserting an existing key returns the existing flow.
  auto again = t.Insert(Key(1, 1000), 0, Fd(), 5);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *a);
  EXPECT_EQ(t.size(), 2u);
}

TEST(FlowTableTest, BoundedAndClosesRefusedFd) {
  FlowTable t(2, 10 * kSec);
  ASSERT_TRUE(t.Insert(Key(1, 1), 0, Fd(), 0).ok());
  ASSERT_TRUE(t.Insert(Key(1, 2), 0, Fd(), 0).ok());
  UniqueFd extra = Fd();
  int raw = extra.get();
  auto full = t.Insert(Key(1, 3), 0, std::move(extra), 1 * kSec);
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(IsOpen(raw));
  EXPECT_EQ(t.size(), 2u);
}

TEST(FlowTableTest, FullTableMakesRoomByExpiringIdleFlows) {
  FlowTable t(2, 10 * kSec);
  ASSERT_TRUE(t.Insert(Key(1, 1), 0, Fd(), 0).ok());
  auto busy = t.Insert(Key(1, 2), 0, Fd(), 0);
  (*busy)->last_activity_ns = 8 * kSec;
  auto c = t.Insert(Key(1, 3), 0, Fd(), 10 * kSec);  // flow 1 idle 10 s: expired
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(t.Find(Key(1, 1)), nullptr);
  EXPECT_NE(t.Find(Key(1, 2)), nullptr);
  EXPECT_EQ(t.size(), 2u);
}

TEST(FlowTableTest, ExpireIdleClosesSockets) {
  FlowTable t(8, 10 * kSec);
  auto a = t.Insert(Key(1, 1), 0, Fd(), 0);
  auto b = t.Insert(Key(1, 2), 0, Fd(), 5 * kSec);
  int fa = (*a)->fd.get();
  uint64_t sa = (*a)->serial;
  EXPECT_EQ(t.ExpireIdle(9 * kSec), 0u);
  EXPECT_EQ(t.ExpireIdle(10 * kSec), 1u);
  EXPECT_FALSE(IsOpen(fa));
  EXPECT_EQ(t.FindBySerial(sa), nullptr);
  EXPECT_NE(t.Find(Key(1, 2)), nullptr);
  EXPECT_EQ(t.ExpireIdle(15 * kSec), 1u);
  EXPECT_EQ(t.size(), 0u);
  (void)b;
}

TEST(FlowTableTest, RemoveSessionAndRemove) {
  FlowTable t(8, 10 * kSec);
  ASSERT_TRUE(t.Insert(Key(1, 1), 0, Fd(), 0).ok());
  ASSERT_TRUE(t.Insert(Key(1, 2), 0, Fd(), 0).ok());
  auto other = t.Insert(Key(2, 1), 0, Fd(), 0);
  EXPECT_EQ(t.RemoveSession(1), 2u);
  EXPECT_EQ(t.size(), 1u);
  t.Remove((*other)->serial);
  EXPECT_EQ(t.size(), 0u);
  t.Remove(12345);  // unknown: no-op
}

}  // namespace
}  // namespace kp::connector
