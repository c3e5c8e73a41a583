#include "core/address.hpp"

#include <gtest/gtest.h>

using namespace mta::core;

TEST(AddressTest, SplitUsesLastAtOutsideQuotes) {
  auto p = split_address("\"a@b\"@example.com");
  EXPECT_EQ(p.local, "\"a@b\"");
  EXPECT_EQ(p.domain, "example.com");
  auto q = split_address("user%other@relay.example");
  EXPECT_EQ(q.local, "user%other");
  EXPECT_FALSE(split_address("root").has_at);
}

TEST(AddressTest, QuoteAndUnquote) {
  EXPECT_EQ(quote_local("odd name"), "\"odd name\"");
  EXPECT_EQ(quote_local("alice"), "alice");
  EXPECT_EQ(quote_local("a..b"), "\"a..b\"");
  EXPECT_EQ(unquote_local("\"odd name\""), "odd name");
  EXPECT_EQ(unquote_local("\"a\\\"b\""), "a\"b");
}

TEST(AddressTest, Validity) {
  EXPECT_TRUE(valid_mailbox("alice@example.com"));
  EXPECT_TRUE(valid_mailbox("\"a b\"@example.com"));
  EXPECT_TRUE(valid_mailbox("user@[192.0.2.1]"));
  EXPECT_TRUE(valid_mailbox("user@[IPv6:2001:db8::1]"));
  EXPECT_FALSE(valid_mailbox("a b@c"));
  EXPECT_FALSE(valid_mailbox("a@b..c"));
  EXPECT_FALSE(valid_mailbox("a@[300.1.1.1]"));
  EXPECT_FALSE(valid_mailbox(".a@b.c"));
  EXPECT_TRUE(is_fqdn("example.com"));
  EXPECT_FALSE(is_fqdn("localhost"));
}

TEST(AddressTest, PathArgs) {
  PathArg a;
  ASSERT_TRUE(parse_path_arg("<a@b.c> SIZE=100 BODY=8BITMIME", a, false));
  EXPECT_EQ(a.addr, "a@b.c");
  EXPECT_EQ(a.params, (std::vector<std::string>{"SIZE=100", "BODY=8BITMIME"}));
  ASSERT_TRUE(parse_path_arg("<>", a, false));
  EXPECT_EQ(a.addr, "");
  ASSERT_TRUE(parse_path_arg("<@hop1,@hop2:user@dest.example>", a, false));
  EXPECT_EQ(a.addr, "user@dest.example");
  ASSERT_TRUE(parse_path_arg("a@b", a, false));  // Postfix accepts without <> ...
  EXPECT_FALSE(parse_path_arg("a@b", a, true));  // ... unless strict_rfc821_envelopes
  EXPECT_FALSE(parse_path_arg("<a@b", a, false));
  EXPECT_FALSE(parse_path_arg("", a, false));
  ASSERT_TRUE(parse_path_arg("<\"x>y\"@b>", a, false));
  EXPECT_EQ(a.addr, "\"x>y\"@b");
}

TEST(AddressTest, Xtext) {
  std::string out;
  ASSERT_TRUE(xtext_decode("rfc822;a+2Bb@c", out));
  EXPECT_EQ(out, "rfc822;a+b@c");
  EXPECT_FALSE(xtext_decode("a+2", out));
  EXPECT_FALSE(xtext_decode("a+zz", out));
  EXPECT_EQ(xtext_encode("a+b=c"), "a+2Bb+3Dc");
}
