#include "core/master_cf.hpp"

#include "core/main_cf.hpp"

#include <gtest/gtest.h>

using namespace mta::core;

TEST(MasterCfTest, InetServiceWithOverrides) {
  auto s = parse_master_cf(
      "# comment\n"
      "127.0.0.1:2525 inet n - n - - smtpd\n"
      "  -o smtpd_banner=test -o\n"
      "  myhostname=x.example\n"
      "pickup unix n - y 60 1 pickup\n",
      "master.cf");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].service, "127.0.0.1:2525");
  EXPECT_EQ(s[0].command, "smtpd");
  ASSERT_EQ(s[0].overrides.size(), 2u);
  EXPECT_EQ(s[0].overrides[1].first, "myhostname");
  EXPECT_EQ(s[0].overrides[1].second, "x.example");
  std::string h;
  unsigned p = 0;
  ASSERT_TRUE(split_inet_service(s[0].service, h, p));
  EXPECT_EQ(h, "127.0.0.1");
  EXPECT_EQ(p, 2525u);
  ASSERT_TRUE(split_inet_service("smtp", h, p));
  EXPECT_EQ(p, 25u);
  EXPECT_TRUE(h.empty());
  ASSERT_TRUE(split_inet_service("[::1]:26", h, p));
  EXPECT_EQ(h, "::1");
}

TEST(MasterCfTest, StockMasterCfParses) {
  auto s = parse_master_cf(stock_master_cf(), "stock");
  EXPECT_GE(s.size(), 10u);
}

TEST(MasterCfTest, ErrorsCarryLine) {
  try {
    parse_master_cf("smtp inet n - n - - smtpd\nbad bogus n - n - - smtpd\n", "/etc/mxmta/master.cf");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/etc/mxmta/master.cf, line 2: field \"type\": bad value: \"bogus\"");
  }
  EXPECT_THROW(parse_master_cf("smtp inet n\n", "m"), ConfigError);
  EXPECT_THROW(parse_master_cf("nosuchservice inet n - n - - smtpd\n", "m"), ConfigError);
}
