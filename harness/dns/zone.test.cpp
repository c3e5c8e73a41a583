#include "dns/fake_dns.hpp"

#include <gtest/gtest.h>

using namespace mxlab::dns;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_zone_text(text, "zones/lab.zone");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(ZoneTextTest, TheHeaderExampleParses) {
  auto zs = parse_zone_text(
      "$ORIGIN example.com            ; authoritative zone\n"
      "mail.example.com  A    192.168.0.25\n"
      "example.com       MX   10 mail.example.com.\n"
      "@                 TXT  \"v=spf1 -all\"   # a comment\n"
      "!fault nosuch.example. MX servfail first=2\n"
      "!fault slow A delay ms=3000\n",
      "lab.zone");
  ASSERT_EQ(zs.origins.size(), 1u);
  EXPECT_EQ(zs.origins[0], "example.com");
  ASSERT_EQ(zs.records.size(), 3u);
  EXPECT_EQ(zs.records[0].name, "mail.example.com");
  EXPECT_EQ(zs.records[0].type, "A");
  EXPECT_EQ(zs.records[0].value, "192.168.0.25");
  EXPECT_EQ(zs.records[0].ttl, 300u);
  EXPECT_EQ(zs.records[1].value, "10 mail.example.com.");
  EXPECT_EQ(zs.records[2].name, "example.com");
  EXPECT_EQ(zs.records[2].value, "\"v=spf1 -all\"");
  ASSERT_EQ(zs.faults.size(), 2u);
  EXPECT_EQ(zs.faults[0].name, "nosuch.example");
  EXPECT_EQ(zs.faults[0].type, "MX");
  EXPECT_EQ(zs.faults[0].kind, FaultKind::servfail);
  EXPECT_EQ(zs.faults[0].first_n, 2);
  EXPECT_EQ(zs.faults[1].name, "slow.example.com");
  EXPECT_EQ(zs.faults[1].kind, FaultKind::delay);
  EXPECT_EQ(zs.faults[1].delay_ms, 3000);
}

TEST(ZoneTextTest, NameRules) {
  auto zs = parse_zone_text(
      "outside.test A 192.0.2.9\n"  // no origin yet: absolute
      "$ORIGIN Remote.TEST.\n"
      "$TTL 60\n"
      "mx 120 IN A 192.0.2.1\n"        // relative
      "www.sub CNAME mx\n"             // relative owner and target
      "other.example. A 192.0.2.2\n"   // trailing dot: absolute
      "@ MX 0 .\n"                     // null MX at the apex
      "1.2.0.192.in-addr.arpa. PTR mx\n"
      "$ORIGIN second.test\n"
      "@ AAAA 2001:db8::1\n",
      "z");
  ASSERT_EQ(zs.origins.size(), 2u);
  EXPECT_EQ(zs.origins[0], "remote.test");
  EXPECT_EQ(zs.origins[1], "second.test");
  ASSERT_EQ(zs.records.size(), 7u);
  EXPECT_EQ(zs.records[0].name, "outside.test");
  EXPECT_EQ(zs.records[1].name, "mx.remote.test");
  EXPECT_EQ(zs.records[1].ttl, 120u);
  EXPECT_EQ(zs.records[2].name, "www.sub.remote.test");
  EXPECT_EQ(zs.records[2].value, "mx.remote.test.");
  EXPECT_EQ(zs.records[2].ttl, 60u);
  EXPECT_EQ(zs.records[3].name, "other.example");
  EXPECT_EQ(zs.records[4].name, "remote.test");
  EXPECT_EQ(zs.records[4].value, "0 .");
  EXPECT_EQ(zs.records[5].name, "1.2.0.192.in-addr.arpa");
  EXPECT_EQ(zs.records[5].value, "mx.remote.test.");
  EXPECT_EQ(zs.records[6].name, "second.test");
}

TEST(ZoneTextTest, CommentCharactersInsideQuotesAreText) {
  auto zs = parse_zone_text("$ORIGIN t.test\n@ TXT \"a#b;c\" ; real comment\n", "z");
  ASSERT_EQ(zs.records.size(), 1u);
  EXPECT_EQ(zs.records[0].value, "\"a#b;c\"");
}

TEST(ZoneTextTest, FaultForms) {
  auto zs = parse_zone_text(
      "$ORIGIN t.test\n"
      "!fault * * drop\n"
      "!fault *.t.test TYPE65 refused first=1 ms=20\n"
      "!fault @ aaaa nodata\n"
      "!fault x.t.test A truncate\n",
      "z");
  ASSERT_EQ(zs.faults.size(), 4u);
  EXPECT_EQ(zs.faults[0].name, "*");
  EXPECT_EQ(zs.faults[0].type, "*");
  EXPECT_EQ(zs.faults[0].kind, FaultKind::drop);
  EXPECT_EQ(zs.faults[1].name, "*.t.test");
  EXPECT_EQ(zs.faults[1].type, "TYPE65");
  EXPECT_EQ(zs.faults[1].first_n, 1);
  EXPECT_EQ(zs.faults[1].delay_ms, 20);
  EXPECT_EQ(zs.faults[2].name, "t.test");
  EXPECT_EQ(zs.faults[2].type, "AAAA");
  EXPECT_EQ(zs.faults[3].kind, FaultKind::truncate);
}

TEST(ZoneTextTest, ErrorsNameFileAndLine) {
  EXPECT_EQ(error_of("$ORIGIN a.test\n\nmx A 300.1.1.1\n"), "zones/lab.zone:3: A bad IPv4 address \"300.1.1.1\"");
  EXPECT_EQ(error_of("x.test BOGUS 1\n"), "zones/lab.zone:1: unknown record type \"BOGUS\"");
  EXPECT_EQ(error_of("x.test A\n"), "zones/lab.zone:1: missing value for A");
  EXPECT_EQ(error_of("x.test\n"), "zones/lab.zone:1: expected NAME [TTL] [IN] TYPE VALUE");
  EXPECT_EQ(error_of("x.test CNAME y.test\nx.test A 192.0.2.1\n"),
            "zones/lab.zone:2: CNAME and other data for x.test (line 1)");
  EXPECT_EQ(error_of("x.test MX 10 y.test\nx.test CNAME y.test\n"),
            "zones/lab.zone:2: CNAME and other data for x.test (line 1)");
  EXPECT_EQ(error_of("@ A 192.0.2.1\n"), "zones/lab.zone:1: \"@\" needs a $ORIGIN");
  EXPECT_EQ(error_of("$INCLUDE other\n"), "zones/lab.zone:1: unknown directive \"$INCLUDE\"");
  EXPECT_EQ(error_of("!fault x.test A explode\n"),
            "zones/lab.zone:1: unknown fault \"explode\" (nxdomain nodata servfail refused drop delay truncate)");
  EXPECT_EQ(error_of("!fault x.test A delay\n"), "zones/lab.zone:1: a delay fault needs ms=N");
  EXPECT_EQ(error_of("!fault x.test A servfail first=two\n"), "zones/lab.zone:1: bad number in \"first=two\"");
  EXPECT_EQ(error_of("!fault x.test A servfail\n!fault x.test\n"),
            "zones/lab.zone:2: expected !fault NAME TYPE KIND [first=N] [ms=N]");
  EXPECT_EQ(error_of("x.test TXT \"open\n"), "zones/lab.zone:1: TXT unterminated quoted string");
  EXPECT_EQ(error_of("a..b A 192.0.2.1\n"), "zones/lab.zone:1: bad name \"a..b\": empty label in \"a..b\"");
  EXPECT_EQ(error_of("x.test SRV 0 0 25 y.test\n"), "zones/lab.zone:1: type SRV needs the generic form \\# LEN HEX");
  EXPECT_EQ(error_of("$TTL soon\n"), "zones/lab.zone:1: expected $TTL SECONDS");
}

TEST(ZoneTextTest, GenericFormForOtherTypes) {
  auto zs = parse_zone_text("x.test TYPE99 \\# 2 abcd\n", "z");
  ASSERT_EQ(zs.records.size(), 1u);
  EXPECT_EQ(zs.records[0].type, "TYPE99");
}
