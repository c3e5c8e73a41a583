#include "smtp/nexthop.hpp"

#include <gtest/gtest.h>

using namespace mta::smtp;

namespace {
struct Case {
  const char* text;
  bool ok;
  const char* host;
  uint16_t port;
  bool bracketed;
  bool numeric;
};
}  // namespace

TEST(NexthopTest, DestinationForms) {
  const Case cases[] = {
      {"example.com", true, "example.com", 25, false, false},
      {"Example.COM.", true, "example.com", 25, false, false},
      {"example.com:2525", true, "example.com", 2525, false, false},
      {"[mail.example.com]", true, "mail.example.com", 25, true, false},
      {"[mail.example.com]:587", true, "mail.example.com", 587, true, false},
      {"[mail.example.com]:submission", true, "mail.example.com", 587, true, false},
      {"example.com:smtp", true, "example.com", 25, false, false},
      {"[192.0.2.1]", true, "192.0.2.1", 25, true, true},
      {"[192.0.2.1]:2525", true, "192.0.2.1", 2525, true, true},
      {"192.0.2.1:2525", true, "192.0.2.1", 2525, false, true},
      {"[ipv6:2001:db8::1]", true, "2001:db8::1", 25, true, true},
      {"[IPv6:2001:db8::1]:2525", true, "2001:db8::1", 2525, true, true},
      {"[2001:db8::1]:26", true, "2001:db8::1", 26, true, true},
      {"2001:db8::1", true, "2001:db8::1", 25, false, true},
      {"[mail.example.com", false, "", 0, false, false},
      {"[mail.example.com]x", false, "", 0, false, false},
      {"example.com:0", false, "", 0, false, false},
      {"example.com:65536", false, "", 0, false, false},
      {"example.com:", false, "", 0, false, false},
      {"example.com:nosuchservice", false, "", 0, false, false},
      {"[]", false, "", 0, false, false},
      {"", false, "", 0, false, false},
  };
  for (const auto& c : cases) {
    Destination d;
    std::string err;
    bool ok = parse_destination(c.text, 25, d, err);
    EXPECT_EQ(ok, c.ok) << c.text << ": " << err;
    if (!ok || !c.ok) {
      EXPECT_FALSE(err.empty()) << c.text;
      continue;
    }
    EXPECT_EQ(d.host, c.host) << c.text;
    EXPECT_EQ(d.port, c.port) << c.text;
    EXPECT_EQ(d.bracketed, c.bracketed) << c.text;
    EXPECT_EQ(d.numeric, c.numeric) << c.text;
    EXPECT_EQ(d.text, c.text) << c.text;
  }
}

TEST(NexthopTest, DefaultPortAndErrorsAreExplained) {
  Destination d;
  std::string err;
  ASSERT_TRUE(parse_destination("example.com", 2525, d, err));
  EXPECT_EQ(d.port, 2525);
  EXPECT_FALSE(parse_destination("example.com:99999", 25, d, err));
  EXPECT_EQ(err, "bad network port: 99999");
  EXPECT_FALSE(parse_destination("x:nosuchservice", 25, d, err));
  EXPECT_EQ(err, "unknown service: nosuchservice/tcp");
}

TEST(NexthopTest, ListsSplitOnCommasAndSpace) {
  EXPECT_EQ(split_destinations("a.example, [b.example]:587  c.example,d.example"),
            (std::vector<std::string>{"a.example", "[b.example]:587", "c.example", "d.example"}));
  EXPECT_TRUE(split_destinations(" , ").empty());
}
