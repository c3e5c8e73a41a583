#include "core/router.hpp"

#include <gtest/gtest.h>

using namespace mta::core;

namespace {
Router make(const std::string& extra = "") {
  auto c = Config::from_text(
      "myhostname = mail.example.com\nmydomain = example.com\n"
      "mydestination = localhost, $myhostname, $mydomain\n"
      "inet_interfaces = loopback-only\n"
      "relay_domains = partner.example\n" +
      extra);
  return Router(c);
}
}  // namespace

TEST(RouterTest, Classes) {
  auto r = make();
  auto a = r.route("alice@Example.COM");
  EXPECT_EQ(a.cls, AddrClass::local);
  EXPECT_EQ(a.transport, "local");
  EXPECT_EQ(a.nexthop, "mail.example.com");
  EXPECT_EQ(a.address, "alice@example.com");
  auto b = r.route("bob@sub.partner.example");
  EXPECT_EQ(b.cls, AddrClass::relay);
  EXPECT_EQ(b.transport, "relay");
  EXPECT_EQ(b.nexthop, "sub.partner.example");
  auto c = r.route("carol@elsewhere.test");
  EXPECT_EQ(c.cls, AddrClass::def);
  EXPECT_EQ(c.transport, "smtp");
  EXPECT_EQ(c.nexthop, "elsewhere.test");
  EXPECT_FALSE(c.routed);
  EXPECT_EQ(r.route("root").cls, AddrClass::local);
  EXPECT_EQ(r.route("user@[127.0.0.1]").cls, AddrClass::local);
  EXPECT_EQ(r.route("user@[192.0.2.1]").cls, AddrClass::def);
}

TEST(RouterTest, RelayhostAndTransports) {
  auto r = make("relayhost = smtp.example.com\nlocal_transport = error:local delivery is disabled\n");
  auto c = r.route("x@elsewhere.test");
  EXPECT_EQ(c.nexthop, "smtp.example.com");
  auto l = r.route("alice@example.com");
  EXPECT_EQ(l.transport, "error");
  EXPECT_EQ(l.nexthop, "local delivery is disabled");
  auto t = make("transport_maps = inline:{ elsewhere.test=smtp:[10.0.0.9]:2525, .deep.test=relay: }\n");
  EXPECT_EQ(t.route("x@elsewhere.test").nexthop, "[10.0.0.9]:2525");
  auto d = t.route("x@a.deep.test");
  EXPECT_EQ(d.transport, "relay");
  EXPECT_EQ(d.nexthop, "a.deep.test");
}

TEST(RouterTest, OpenRelayTricksAreResolvedOrMarkedRouted) {
  auto r = make();
  // Percent hack through a local domain resolves to the outside domain.
  auto p = r.route("victim%outside.test@example.com");
  EXPECT_EQ(p.cls, AddrClass::def);
  EXPECT_EQ(p.address, "victim@outside.test");
  // user@other@local
  EXPECT_EQ(r.route("\"victim@outside.test\"@mail.example.com").cls, AddrClass::def);
  // Bang path through a local domain.
  auto b = r.route("outside.test!victim@localhost");
  EXPECT_EQ(b.cls, AddrClass::def);
  EXPECT_EQ(b.address, "victim@outside.test");
  // Routing operators left for a relay domain mark the address routed.
  EXPECT_TRUE(r.route("victim%outside.test@partner.example").routed);
  EXPECT_TRUE(r.route("\"victim@outside.test\"@partner.example").routed);
  EXPECT_FALSE(r.route("plain@partner.example").routed);
}
