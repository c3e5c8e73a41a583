#include "core/net_addr.hpp"

#include <gtest/gtest.h>

using namespace mta::core;

TEST(NetAddrTest, CidrMatching) {
  auto c = Cidr::parse("192.168.0.0/24");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(*IpAddr::parse("192.168.0.20")));
  EXPECT_FALSE(c->contains(*IpAddr::parse("192.168.1.20")));
  // IPv4-mapped client addresses match IPv4 blocks.
  EXPECT_TRUE(c->contains(*IpAddr::parse("::ffff:192.168.0.7")));
  EXPECT_EQ(Cidr::parse("127.0.0.1/8")->str(), "127.0.0.0/8");
  EXPECT_FALSE(Cidr::parse("1.2.3.4/33"));
  EXPECT_FALSE(Cidr::parse("nonsense"));
}

TEST(NetAddrTest, NetListWithV6AndNegation) {
  std::vector<std::string> bad;
  auto n = NetList::parse({"!127.0.0.2", "127.0.0.0/8", "[::1]/128", "host.example"}, &bad);
  EXPECT_TRUE(n.match(*IpAddr::parse("127.0.0.1")));
  EXPECT_FALSE(n.match(*IpAddr::parse("127.0.0.2")));
  EXPECT_TRUE(n.match(*IpAddr::parse("::1")));
  EXPECT_FALSE(n.match(*IpAddr::parse("203.0.113.7")));
  EXPECT_EQ(bad, (std::vector<std::string>{"host.example"}));
}

TEST(NetAddrTest, LoopbackIsLocal) {
  auto a = local_addresses();
  bool lo = false;
  for (auto& x : a) lo = lo || x.is_loopback();
  EXPECT_TRUE(lo);
}
