#include "util/strings.hpp"

#include <gtest/gtest.h>

using namespace mta::util;

TEST(StringsTest, SplitListTakesCommasAndSpaces) {
  EXPECT_EQ(split_list("a, b,c  d\te"), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_TRUE(split_list("  ,, ").empty());
  EXPECT_EQ(split_list("CONNECT GET regexp:{{/^[^A-Z]/ Bogus}}, inline:{a=b, c=d} x"),
            (std::vector<std::string>{"CONNECT", "GET", "regexp:{{/^[^A-Z]/ Bogus}}", "inline:{a=b, c=d}", "x"}));
}

TEST(StringsTest, TrimAndCase) {
  EXPECT_EQ(trim("  x y \t"), "x y");
  EXPECT_TRUE(iequals("MyHost", "myhost"));
  EXPECT_FALSE(iequals("a", "ab"));
  EXPECT_TRUE(istarts_with("MAIL FROM:<x>", "mail from:"));
}

TEST(StringsTest, ParseU64RejectsGarbageAndOverflow) {
  unsigned long long v = 0;
  EXPECT_TRUE(parse_u64("10240000", v));
  EXPECT_EQ(v, 10240000u);
  EXPECT_FALSE(parse_u64("", v));
  EXPECT_FALSE(parse_u64("12a", v));
  EXPECT_FALSE(parse_u64("-1", v));
  EXPECT_FALSE(parse_u64("99999999999999999999999", v));
}

TEST(StringsTest, JsonQuoteEscapesControls) {
  EXPECT_EQ(json_quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}
