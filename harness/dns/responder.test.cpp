#include "dns/responder.hpp"

#include <gtest/gtest.h>

using namespace mxlab::dns;
namespace w = mxlab::dns::wire;

namespace {

const char* k_zone =
    "$ORIGIN example.com\n"
    "@ MX 10 mail\n"
    "mail A 192.168.0.25\n"
    "mail AAAA 2001:db8::25\n"
    "alias CNAME mail\n"
    "alias2 CNAME alias\n"
    "dangling CNAME gone\n"
    "away CNAME elsewhere.test.\n"
    "loop1 CNAME loop2\n"
    "loop2 CNAME loop1\n"
    "deep.ent.example.com. A 192.0.2.7\n"
    "$ORIGIN null.test\n"
    "@ MX 0 .\n"
    "$ORIGIN 0.168.192.in-addr.arpa\n"
    "25 PTR mail.example.com.\n";

class ResponderTest : public ::testing::Test {
 protected:
  ResponderTest() : zones_(parse_zone_text(k_zone, "t")), r_(zones_) {}

  struct Result {
    Responder::Outcome oc;
    w::Message m;
  };
  Result ask(std::string_view name, uint16_t type, bool tcp = false, std::optional<uint16_t> edns = std::nullopt,
             uint16_t id = 77) {
    std::vector<uint8_t> q;
    w::Writer wr(q);
    w::Header h;
    h.id = id;
    h.rd = true;
    wr.header(h);
    wr.question(name, type, w::class_in);
    if (edns) wr.opt(w::Edns{*edns, 0, 0, false, {}});
    return raw(q, tcp);
  }
  Result raw(std::span<const uint8_t> q, bool tcp = false) {
    Result res;
    res.oc = r_.respond(q, tcp, "127.0.0.1:5000", out_);
    if (res.oc.send) res.m = w::parse(out_);
    return res;
  }

  ZoneSet zones_;
  Responder r_;
  std::vector<uint8_t> out_;
};

}  // namespace

TEST_F(ResponderTest, AnswersAuthoritativelyAndEchoesTheQuestion) {
  auto r = ask("MAIL.Example.com", w::t_a);
  ASSERT_TRUE(r.oc.send);
  EXPECT_EQ(r.m.header.id, 77);
  EXPECT_TRUE(r.m.header.qr);
  EXPECT_TRUE(r.m.header.aa);
  EXPECT_TRUE(r.m.header.rd);
  EXPECT_EQ(r.m.header.rcode, w::noerror);
  ASSERT_EQ(r.m.questions.size(), 1u);
  EXPECT_EQ(r.m.questions[0].name, "MAIL.Example.com");  // 0x20-safe
  ASSERT_EQ(r.m.answers.size(), 1u);
  EXPECT_EQ(r.m.answers[0].data, "192.168.0.25");
  EXPECT_EQ(r.m.answers[0].ttl, 300u);
  EXPECT_TRUE(r.m.authority.empty());
  EXPECT_FALSE(r.m.edns);
  EXPECT_EQ(r.oc.log.name, "mail.example.com");
  EXPECT_EQ(r.oc.log.type, "A");
  EXPECT_EQ(r.oc.log.result, "NOERROR");
  EXPECT_EQ(r.oc.log.answers, 1);
  EXPECT_EQ(r.oc.log.transport, "udp");
  EXPECT_EQ(r.oc.log.client, "127.0.0.1:5000");
}

TEST_F(ResponderTest, MxNullMxPtrAndApexRecords) {
  auto mx = ask("example.com", w::t_mx);
  ASSERT_EQ(mx.m.answers.size(), 1u);
  EXPECT_EQ(mx.m.answers[0].data, "10 mail.example.com.");
  auto null_mx = ask("null.test", w::t_mx);
  ASSERT_EQ(null_mx.m.answers.size(), 1u);
  EXPECT_EQ(null_mx.m.answers[0].data, "0 .");
  auto ptr = ask("25.0.168.192.in-addr.arpa", w::t_ptr);
  ASSERT_EQ(ptr.m.answers.size(), 1u);
  EXPECT_EQ(ptr.m.answers[0].data, "mail.example.com.");
  auto soa = ask("example.com", w::t_soa);
  ASSERT_EQ(soa.m.answers.size(), 1u);
  EXPECT_EQ(soa.m.answers[0].data, "ns.example.com. hostmaster.example.com. 1 3600 600 86400 60");
  auto ns = ask("example.com", w::t_ns);
  ASSERT_EQ(ns.m.answers.size(), 1u);
  EXPECT_EQ(ns.m.answers[0].data, "ns.example.com.");
  auto any = ask("mail.example.com", w::t_any);
  EXPECT_EQ(any.m.answers.size(), 2u);
}

TEST_F(ResponderTest, CnamesAreChasedInsideTheZones) {
  auto r = ask("alias2.example.com", w::t_a);
  ASSERT_EQ(r.m.answers.size(), 3u);
  EXPECT_EQ(r.m.answers[0].name, "alias2.example.com");
  EXPECT_EQ(r.m.answers[0].data, "alias.example.com.");
  EXPECT_EQ(r.m.answers[1].name, "alias.example.com");
  EXPECT_EQ(r.m.answers[1].data, "mail.example.com.");
  EXPECT_EQ(r.m.answers[2].name, "mail.example.com");
  EXPECT_EQ(r.m.answers[2].type, w::t_a);
  // Asking for the CNAME itself does not chase.
  auto c = ask("alias.example.com", w::t_cname);
  ASSERT_EQ(c.m.answers.size(), 1u);
  // A CNAME to a missing name: the chain, then NXDOMAIN with the SOA.
  auto d = ask("dangling.example.com", w::t_a);
  EXPECT_EQ(d.m.header.rcode, w::nxdomain);
  EXPECT_EQ(d.m.answers.size(), 1u);
  ASSERT_EQ(d.m.authority.size(), 1u);
  EXPECT_EQ(d.m.authority[0].type, w::t_soa);
  // Out of every zone: NXDOMAIN without a SOA.
  auto a = ask("away.example.com", w::t_a);
  EXPECT_EQ(a.m.header.rcode, w::nxdomain);
  EXPECT_EQ(a.m.answers.size(), 1u);
  EXPECT_TRUE(a.m.authority.empty());
  // A loop ends the chain instead of spinning.
  auto l = ask("loop1.example.com", w::t_a);
  EXPECT_EQ(l.m.header.rcode, w::noerror);
  EXPECT_EQ(l.m.answers.size(), 2u);
}

TEST_F(ResponderTest, NegativeAnswersCarryTheSoa) {
  auto nx = ask("nosuch.example.com", w::t_a);
  EXPECT_EQ(nx.m.header.rcode, w::nxdomain);
  EXPECT_TRUE(nx.m.header.aa);
  EXPECT_TRUE(nx.m.answers.empty());
  ASSERT_EQ(nx.m.authority.size(), 1u);
  EXPECT_EQ(nx.m.authority[0].name, "example.com");
  EXPECT_EQ(nx.m.authority[0].ttl, 60u);  // min(300, minimum 60)
  EXPECT_EQ(nx.oc.log.result, "NXDOMAIN");
  auto nodata = ask("mail.example.com", w::t_txt);
  EXPECT_EQ(nodata.m.header.rcode, w::noerror);
  EXPECT_TRUE(nodata.m.answers.empty());
  ASSERT_EQ(nodata.m.authority.size(), 1u);
  EXPECT_EQ(nodata.oc.log.result, "NODATA");
  // An empty non-terminal exists.
  auto ent = ask("ent.example.com", w::t_a);
  EXPECT_EQ(ent.m.header.rcode, w::noerror);
  EXPECT_EQ(ent.oc.log.result, "NODATA");
  auto outside = ask("nowhere.invalid", w::t_mx);
  EXPECT_EQ(outside.m.header.rcode, w::nxdomain);
  EXPECT_TRUE(outside.m.authority.empty());
}

TEST_F(ResponderTest, FaultsFirstNThenNormal) {
  r_.set_faults({Fault{"example.com", "MX", FaultKind::servfail, 2, 0}});
  EXPECT_EQ(ask("example.com", w::t_mx).m.header.rcode, w::servfail);
  EXPECT_EQ(ask("example.com", w::t_a).oc.log.result, "NODATA");  // other type: no fault, no count
  auto second = ask("EXAMPLE.com", w::t_mx);
  EXPECT_EQ(second.m.header.rcode, w::servfail);
  EXPECT_EQ(second.oc.log.result, "SERVFAIL");
  auto third = ask("example.com", w::t_mx);
  EXPECT_EQ(third.m.header.rcode, w::noerror);
  EXPECT_EQ(third.m.answers.size(), 1u);
  // set_faults starts the counts again.
  r_.set_faults({Fault{"example.com", "MX", FaultKind::servfail, 1, 0}});
  EXPECT_EQ(ask("example.com", w::t_mx).m.header.rcode, w::servfail);
  EXPECT_EQ(ask("example.com", w::t_mx).m.header.rcode, w::noerror);
}

TEST_F(ResponderTest, EveryFaultKind) {
  r_.set_faults({
      Fault{"a.example.com", "*", FaultKind::nxdomain, 0, 0},
      Fault{"mail.example.com", "A", FaultKind::nodata, 0, 0},
      Fault{"*.null.test", "*", FaultKind::refused, 0, 0},
      Fault{"drop.test", "*", FaultKind::drop, 0, 0},
      Fault{"example.com", "SOA", FaultKind::delay, 0, 250},
      Fault{"example.com", "MX", FaultKind::truncate, 0, 0},
      Fault{"slowfail.test", "A", FaultKind::servfail, 0, 40},
  });
  auto nx = ask("a.example.com", w::t_a);
  EXPECT_EQ(nx.m.header.rcode, w::nxdomain);
  EXPECT_EQ(nx.m.authority.size(), 1u);
  auto nd = ask("mail.example.com", w::t_a);
  EXPECT_EQ(nd.m.header.rcode, w::noerror);
  EXPECT_TRUE(nd.m.answers.empty());
  EXPECT_EQ(nd.oc.log.result, "NODATA");
  EXPECT_EQ(ask("mail.example.com", w::t_aaaa).m.answers.size(), 1u);
  EXPECT_EQ(ask("x.null.test", w::t_mx).m.header.rcode, w::refused);
  EXPECT_EQ(ask("null.test", w::t_mx).m.header.rcode, w::noerror);  // "*.x" is below x only
  auto drop = ask("drop.test", w::t_a);
  EXPECT_FALSE(drop.oc.send);
  EXPECT_EQ(drop.oc.log.result, "DROPPED");
  auto delay = ask("example.com", w::t_soa);
  EXPECT_EQ(delay.oc.delay_ms, 250);
  EXPECT_EQ(delay.m.answers.size(), 1u);
  EXPECT_EQ(delay.oc.log.result, "NOERROR");
  auto tc = ask("example.com", w::t_mx);
  EXPECT_TRUE(tc.m.header.tc);
  EXPECT_TRUE(tc.m.answers.empty());
  EXPECT_EQ(tc.oc.log.result, "TRUNCATED");
  auto tcp = ask("example.com", w::t_mx, true);
  EXPECT_FALSE(tcp.m.header.tc);
  EXPECT_EQ(tcp.m.answers.size(), 1u);
  auto sf = ask("slowfail.test", w::t_a);
  EXPECT_EQ(sf.m.header.rcode, w::servfail);
  EXPECT_EQ(sf.oc.delay_ms, 40);
}

TEST_F(ResponderTest, LargeAnswersAreTruncatedOverUdpOnly) {
  std::string text = "$ORIGIN big.test\n";
  for (int i = 0; i < 12; ++i) text += "@ TXT \"" + std::string(60, static_cast<char>('a' + i)) + "\"\n";
  auto zs = parse_zone_text(text, "big");
  Responder big(zs);
  std::vector<uint8_t> q, out;
  auto query = [&](std::optional<uint16_t> edns) {
    w::Writer wr(q);
    wr.header(w::Header{});
    wr.question("big.test", w::t_txt, w::class_in);
    if (edns) wr.opt(w::Edns{*edns, 0, 0, false, {}});
  };
  query(std::nullopt);
  auto oc = big.respond(q, false, "c", out);
  EXPECT_EQ(oc.log.result, "TRUNCATED");
  EXPECT_LE(out.size(), 512u);
  auto m = w::parse(out);
  EXPECT_TRUE(m.header.tc);
  EXPECT_TRUE(m.answers.empty());
  EXPECT_EQ(m.questions.size(), 1u);
  oc = big.respond(q, true, "c", out);
  m = w::parse(out);
  EXPECT_FALSE(m.header.tc);
  EXPECT_EQ(m.answers.size(), 12u);
  EXPECT_GT(out.size(), 512u);
  query(1232);  // EDNS0 makes room
  oc = big.respond(q, false, "c", out);
  m = w::parse(out);
  EXPECT_FALSE(m.header.tc);
  EXPECT_EQ(m.answers.size(), 12u);
  ASSERT_TRUE(m.edns);
  EXPECT_EQ(m.edns->udp_size, Responder::advertised_udp_payload);
  query(300);  // below 512 counts as 512
  oc = big.respond(q, false, "c", out);
  EXPECT_TRUE(w::parse(out).header.tc);
}

TEST_F(ResponderTest, ProtocolErrors) {
  std::vector<uint8_t> shortq = {1, 2, 3};
  auto s = raw(shortq);
  EXPECT_FALSE(s.oc.send);
  EXPECT_EQ(s.oc.log.result, "FORMERR");

  std::vector<uint8_t> garbage = {0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'x'};
  auto g = raw(garbage);
  ASSERT_TRUE(g.oc.send);
  EXPECT_EQ(g.m.header.id, 0xabcd);
  EXPECT_EQ(g.m.header.rcode, w::formerr);
  EXPECT_EQ(g.oc.log.result, "FORMERR");

  std::vector<uint8_t> q;
  w::Writer wr(q);
  w::Header h;
  h.id = 9;
  h.opcode = 2;  // STATUS
  wr.header(h);
  wr.question("example.com", w::t_a, w::class_in);
  auto ni = raw(q);
  EXPECT_EQ(ni.m.header.rcode, w::notimp);
  EXPECT_EQ(ni.m.header.opcode, 2);
  EXPECT_EQ(ni.oc.log.result, "NOTIMP");

  h.opcode = 0;
  wr.header(h);
  wr.question("a.test", w::t_a, w::class_in);
  wr.question("b.test", w::t_a, w::class_in);
  EXPECT_EQ(raw(q).m.header.rcode, w::formerr);

  wr.header(h);
  wr.question("example.com", w::t_a, 3);  // CHAOS
  EXPECT_EQ(raw(q).m.header.rcode, w::refused);

  wr.header(h);
  wr.question("example.com", w::t_axfr, w::class_in);
  EXPECT_EQ(raw(q, true).m.header.rcode, w::refused);

  wr.header(h);
  wr.question("example.com", w::t_a, w::class_in);
  wr.opt(w::Edns{1232, 0, 1, false, {}});
  auto bv = raw(q);
  ASSERT_TRUE(bv.m.edns);
  EXPECT_EQ(bv.m.edns->ext_rcode, 1);  // 16 = BADVERS
  EXPECT_EQ(bv.oc.log.result, "BADVERS");

  h.qr = true;  // a response: ignored, not logged
  wr.header(h);
  wr.question("example.com", w::t_a, w::class_in);
  auto resp = raw(q);
  EXPECT_FALSE(resp.oc.send);
  EXPECT_FALSE(resp.oc.logged);
}

TEST(ResponderCompileTest, BadRecordValuesAreReported) {
  ZoneSet zs;
  zs.records.push_back(Record{"x.test", "A", 300, "not-an-address"});
  try {
    Responder r(zs);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "record x.test A \"not-an-address\": bad IPv4 address \"not-an-address\"");
  }
}

TEST_F(ResponderTest, BadFaultsAreRefused) {
  EXPECT_THROW(r_.set_faults({Fault{"a..b", "*", FaultKind::drop, 0, 0}}), std::invalid_argument);
  EXPECT_THROW(r_.set_faults({Fault{"a.test", "BOGUS", FaultKind::drop, 0, 0}}), std::invalid_argument);
  EXPECT_THROW(r_.set_faults({Fault{"a.test", "A", FaultKind::delay, -1, 0}}), std::invalid_argument);
}
