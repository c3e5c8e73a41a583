#include "core/config.hpp"

#include <gtest/gtest.h>

using namespace mta::core;

TEST(ConfigTest, LazyExpansionIgnoresOrder) {
  auto c = Config::from_text("myorigin = $mydomain\nmydomain = late.example\nmyhostname = mx.late.example\n");
  EXPECT_EQ(c.get("myorigin"), "late.example");
}

TEST(ConfigTest, ConditionalsAsObservedOnPostfix) {
  auto c = Config::from_text(
      "mydomain = late.example\nempty_one =\n"
      "t1 = ${undefined?[set]}${mydomain?[has:$mydomain]}\n"
      "t2 = ${empty_one:dflt}/${mydomain:notused}\n"
      "t3 = cost$$dollar\n"
      "t4 = ${mydomain?{yes}:{no}}-${empty_one?{yes}:{no}}\n"
      "t5 = $(mydomain)\n");
  EXPECT_EQ(c.get("t1"), "[has:late.example]");
  EXPECT_EQ(c.get("t2"), "dflt/");
  EXPECT_EQ(c.get("t3"), "cost$dollar");
  EXPECT_EQ(c.get("t4"), "yes-no");
  EXPECT_EQ(c.get("t5"), "late.example");
}

TEST(ConfigTest, RelationalExpressions) {
  auto c = Config::from_text("lvl = 3\nr = ${{$lvl} < {10} ? {small} : {big}}\ns = ${{abc} == {abc} ? {eq}}\n");
  EXPECT_EQ(c.get("r"), "small");  // numeric: 3 < 10
  EXPECT_EQ(c.get("s"), "eq");
}

TEST(ConfigTest, UndefinedIsEmptyAndReported) {
  auto c = Config::from_text("x = a${nosuch}b$alsonot\n");
  std::set<std::string> undef;
  EXPECT_EQ(c.expand(*c.raw("x"), &undef), "ab");
  EXPECT_EQ(undef, (std::set<std::string>{"alsonot", "nosuch"}));
}

TEST(ConfigTest, RecursionIsBounded) {
  auto c = Config::from_text("a = $b\nb = $a\n");
  EXPECT_THROW(c.get("a"), ConfigError);
}

TEST(ConfigTest, DefaultsFromRegistry) {
  auto c = Config::from_text("myhostname = mx.example.test\n");
  EXPECT_EQ(c.get("mydomain"), "example.test");
  EXPECT_EQ(c.get("mydestination"), "mx.example.test, localhost.example.test, localhost");
  EXPECT_EQ(c.get("smtpd_banner"), "mx.example.test ESMTP mxmta");
  EXPECT_EQ(c.get_time("maximal_queue_lifetime"), 5 * 86400);
  EXPECT_EQ(c.get_time("queue_run_delay"), 300);
  EXPECT_EQ(c.get_int("smtp_destination_concurrency_limit"), 20);
  EXPECT_EQ(c.get("smtpd_forbid_bare_newline"), "normalize");
}

TEST(ConfigTest, TimeUnitsAndDefaultUnit) {
  auto c = Config::from_text("maximal_queue_lifetime = 2\ndelay_warning_time = 4\nqueue_run_delay = 10m\n");
  EXPECT_EQ(c.get_time("maximal_queue_lifetime"), 2 * 86400);  // default unit d
  EXPECT_EQ(c.get_time("delay_warning_time"), 4 * 3600);       // default unit h
  EXPECT_EQ(c.get_time("queue_run_delay"), 600);
}

TEST(ConfigTest, BadValuesNameFileAndLine) {
  auto c = Config::from_text("a = 1\nmessage_size_limit = 10MB\nsmtpd_helo_required = maybe\nqueue_run_delay = 5x\n",
                             "/etc/mxmta/main.cf");
  try {
    c.get_int("message_size_limit");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/etc/mxmta/main.cf, line 2: bad numerical configuration: message_size_limit = 10MB");
  }
  EXPECT_THROW(c.get_bool("smtpd_helo_required"), ConfigError);
  EXPECT_THROW(c.get_time("queue_run_delay"), ConfigError);
}

TEST(ConfigTest, IntegerOutOfItsRangeNamesFileAndLine) {
  auto c = Config::from_text("mxmta_loop_spin_microseconds = -5\n", "/etc/mxmta/main.cf");
  try {
    c.get_int("mxmta_loop_spin_microseconds");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "/etc/mxmta/main.cf, line 1: bad numerical configuration (from 0 to 1000000): "
                 "mxmta_loop_spin_microseconds = -5");
  }
  EXPECT_THROW(Config::from_text("mxmta_loop_spin_microseconds = 1000001\n", "m").get_int("mxmta_loop_spin_microseconds"),
               ConfigError);
  EXPECT_EQ(Config::from_text("mxmta_loop_spin_microseconds = 0\n", "m").get_int("mxmta_loop_spin_microseconds"), 0);
  EXPECT_EQ(Config::from_text("", "m").get_int("mxmta_loop_spin_microseconds"), 50);
}

TEST(ConfigTest, OverridesWin) {
  auto c = Config::from_text("smtpd_banner = a\n");
  c.set_override("smtpd_banner", "b");
  EXPECT_EQ(c.get("smtpd_banner"), "b");
}

TEST(ConfigTest, ReferencedNames) {
  auto c = Config::from_text("foo_custom = 1\nbar_custom = $foo_custom\n");
  auto r = c.referenced_names();
  EXPECT_TRUE(r.count("foo_custom"));
  EXPECT_FALSE(r.count("bar_custom"));
}
