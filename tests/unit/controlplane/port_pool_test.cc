// port_pool_test.cc - public port allocation: preferred ports, lowest free,
// taken and out-of-pool preferences, exhaustion, reservations from the store.
#include <gtest/gtest.h>

#include "controlplane/port_pool.h"

namespace kp::cp {
namespace {

TEST(PortPool, AllocatesPreferredThenLowestFree) {
  auto p = PortAllocator::Create({{"192.0.2.1", 1000, 1002}, {"2001:db8::1", 2000, 2000}});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->capacity(), 4u);
  auto a = p->Allocate(1001);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port, 1001);
  EXPECT_EQ(a->family, KP_AF_INET);
  EXPECT_EQ(AddressText(*a), "192.0.2.1");
  EXPECT_TRUE(absl::IsAlreadyExists(p->Allocate(1001).status()));
  EXPECT_TRUE(absl::IsOutOfRange(p->Allocate(5).status()));
  EXPECT_EQ(p->Allocate(0)->port, 1000);
  EXPECT_EQ(p->Allocate(0)->port, 1002);
  auto v6 = p->Allocate(0);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->family, KP_AF_INET6);
  EXPECT_EQ(AddressText(*v6), "2001:db8::1");
  EXPECT_TRUE(absl::IsResourceExhausted(p->Allocate(0).status()));
  p->Release(*a);
  EXPECT_EQ(p->Allocate(0)->port, 1001);
}

TEST(PortPool, ReservedEndpointsAreNeverHandedOut) {
  auto p = PortAllocator::Create({{"192.0.2.1", 1000, 1001}});
  ASSERT_TRUE(p.ok());
  auto e = ParseAddress("192.0.2.1", 1000);
  ASSERT_TRUE(e.ok());
  p->Reserve(*e);
  EXPECT_EQ(p->Allocate(0)->port, 1001);
  EXPECT_FALSE(p->Allocate(0).ok());
  EXPECT_FALSE(ParseAddress("not-an-address", 1).ok());
}

}  // namespace
}  // namespace kp::cp
