#include "core/headers.hpp"

#include <gtest/gtest.h>

using namespace mta::core;

TEST(HeadersTest, SplitFoldedHeadersAndBody) {
  std::string m = "Subject: a\n\tfolded\nTo: x@y\n\nbody\nSubject: not a header\n";
  auto h = split_headers(m);
  ASSERT_EQ(h.fields.size(), 2u);
  EXPECT_EQ(h.fields[0].name, "Subject");
  EXPECT_EQ(h.fields[0].value(), "a\tfolded");
  EXPECT_EQ(m.substr(h.body_offset), "body\nSubject: not a header\n");
  EXPECT_TRUE(find_header(h, "to"));
  EXPECT_FALSE(find_header(h, "from"));
}

TEST(HeadersTest, NoBlankLineBodyStartsAtFirstNonHeader) {
  std::string m = "Subject: a\nthis is body\n";
  auto h = split_headers(m);
  EXPECT_EQ(h.fields.size(), 1u);
  EXPECT_EQ(m.substr(h.body_offset), "this is body\n");
  EXPECT_FALSE(h.has_blank);
}

TEST(HeadersTest, AddressLists) {
  EXPECT_EQ(parse_address_list("Alice <alice@example.com>, bob@example.com (Bob), \"Doe, J\" <jd@x.y>"),
            (std::vector<std::string>{"alice@example.com", "bob@example.com", "jd@x.y"}));
  EXPECT_EQ(parse_address_list("team: a@x, b@x;, c@x"), (std::vector<std::string>{"a@x", "b@x", "c@x"}));
  EXPECT_EQ(parse_address_list("undisclosed-recipients:;"), std::vector<std::string>{});
  EXPECT_EQ(parse_address_list("root"), std::vector<std::string>{"root"});
}
