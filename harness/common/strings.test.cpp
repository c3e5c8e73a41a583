#include "common/strings.hpp"

#include <gtest/gtest.h>

using namespace mxlab::common;

TEST(StringsTest, CaseFolding) {
  EXPECT_EQ(lower("MiXeD.Example"), "mixed.example");
  EXPECT_EQ(upper("rcpt"), "RCPT");
  EXPECT_TRUE(iequals("Mail", "MAIL"));
  EXPECT_FALSE(iequals("Mail", "MAILS"));
  EXPECT_TRUE(istarts_with("MAIL FROM:<a>", "mail from:"));
}

TEST(StringsTest, ContainsIgnoringCase) {
  EXPECT_TRUE(icontains("TO:<Bob@Remote.test>", "<bob@remote.TEST>"));
  EXPECT_TRUE(icontains("anything", ""));
  EXPECT_FALSE(icontains("TO:<alice@remote.test>", "bob"));
  EXPECT_FALSE(icontains("ab", "abc"));
  EXPECT_TRUE(icontains("aab", "ab"));
}

TEST(StringsTest, SplitAndTrim) {
  auto v = split_ws("  a \t bb   c ");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], "a");
  EXPECT_EQ(v[1], "bb");
  EXPECT_EQ(v[2], "c");
  EXPECT_EQ(trim(" \tx y\r\n"), "x y");
  EXPECT_TRUE(split_ws("   ").empty());
}

TEST(StringsTest, Integers) {
  long long v = 0;
  EXPECT_TRUE(parse_int("65535", 0, 65535, v));
  EXPECT_EQ(v, 65535);
  EXPECT_FALSE(parse_int("65536", 0, 65535, v));
  EXPECT_FALSE(parse_int("12a", 0, 100, v));
  EXPECT_FALSE(parse_int("", 0, 100, v));
  EXPECT_TRUE(parse_int("-3", -5, 5, v));
  EXPECT_EQ(v, -3);
}

TEST(StringsTest, HostPort) {
  std::string h;
  uint16_t p = 0;
  ASSERT_TRUE(split_host_port("127.0.0.53:53", h, p));
  EXPECT_EQ(h, "127.0.0.53");
  EXPECT_EQ(p, 53);
  ASSERT_TRUE(split_host_port("[::1]:2525", h, p));
  EXPECT_EQ(h, "::1");
  EXPECT_EQ(p, 2525);
  EXPECT_FALSE(split_host_port("127.0.0.1", h, p));
  EXPECT_FALSE(split_host_port("::1:53", h, p));
  EXPECT_FALSE(split_host_port(":53", h, p));
  EXPECT_FALSE(split_host_port("a:70000", h, p));
}

TEST(StringsTest, WallClockIsEpochSeconds) {
  double t = wall_seconds();
  EXPECT_GT(t, 1.5e9);
  EXPECT_LT(t, 1e11);
}
