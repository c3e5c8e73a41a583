#include "dns/message.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace mta::dns;

namespace {

// Hand-assembled wire data, so these tests do not share code with the parser.
struct Wire {
  std::vector<uint8_t> b;
  Wire& u8(unsigned v) {
    b.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  Wire& u16(unsigned v) { return u8(v >> 8).u8(v & 0xFF); }
  Wire& u32(uint32_t v) { return u16(v >> 16).u16(v & 0xFFFF); }
  Wire& name(const std::string& n) {
    size_t p = 0;
    while (p < n.size()) {
      size_t d = n.find('.', p);
      std::string l = n.substr(p, d == std::string::npos ? std::string::npos : d - p);
      u8(static_cast<unsigned>(l.size()));
      for (char c : l) u8(static_cast<unsigned char>(c));
      if (d == std::string::npos) break;
      p = d + 1;
    }
    return u8(0);
  }
  Wire& ptr(unsigned off) { return u16(0xC000 | off); }
  Wire& header(unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns = 0, unsigned ar = 0) {
    return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  Wire& rr_fixed(unsigned type, unsigned rdlen) { return u16(type).u16(1).u32(300).u16(rdlen); }
  // Wire length of an uncompressed name.
  static unsigned wl(const std::string& n) { return static_cast<unsigned>(n.size() + 2); }
  bool parse(Message& m, std::string& err) const { return parse_message(b.data(), b.size(), m, err); }
};

}  // namespace

TEST(MessageTest, ParsesMxWithCompressionAndNullMx) {
  Wire w;
  w.header(0x1234, 0x8180, 1, 3);
  w.name("example.com").u16(type_mx).u16(1);  // question at offset 12
  // 10 mx1.example.com (suffix compressed to the question name)
  w.ptr(12).rr_fixed(type_mx, 2 + 4 + 2).u16(10).u8(3).u8('m').u8('x').u8('1').ptr(12);
  // 20 MX2.Example.COM (case kept, matched case-insensitively)
  w.ptr(12).rr_fixed(type_mx, 2 + Wire::wl("MX2.Example.COM")).u16(20).name("MX2.Example.COM");
  // 0 . (null MX)
  w.ptr(12).rr_fixed(type_mx, 3).u16(0).u8(0);
  Message m;
  std::string err;
  ASSERT_TRUE(w.parse(m, err)) << err;
  EXPECT_EQ(m.id, 0x1234);
  EXPECT_TRUE(m.qr);
  EXPECT_EQ(m.rcode, rcode_noerror);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].name, "example.com");
  ASSERT_EQ(m.answers.size(), 3u);
  EXPECT_EQ(m.answers[0].target, "mx1.example.com");
  EXPECT_EQ(m.answers[0].pref, 10);
  EXPECT_EQ(m.answers[1].target, "MX2.Example.COM");
  EXPECT_EQ(m.answers[2].target, "");
  auto x = extract_answer(m, "EXAMPLE.com.", type_mx);
  EXPECT_TRUE(x.null_mx);
  ASSERT_EQ(x.records.size(), 2u);
  EXPECT_EQ(x.records[1].pref, 20);
}

TEST(MessageTest, FollowsCnameChainByOwnerName) {
  Wire w;
  w.header(1, 0x8180, 1, 4);
  w.name("www.example.com").u16(type_a).u16(1);
  // An A record of an unrelated owner must not count.
  w.name("other.example").rr_fixed(type_a, 4).u8(10).u8(0).u8(0).u8(9);
  w.ptr(12).rr_fixed(type_cname, Wire::wl("web.example.net")).name("web.example.net");
  w.name("web.example.net").rr_fixed(type_cname, Wire::wl("cdn.example.org.zz")).name("cdn.example.org.zz");
  w.name("cdn.example.org.zz").rr_fixed(type_a, 4).u8(192).u8(0).u8(2).u8(7);
  Message m;
  std::string err;
  ASSERT_TRUE(w.parse(m, err)) << err;
  auto x = extract_answer(m, "www.example.com", type_a);
  EXPECT_TRUE(x.via_cname);
  EXPECT_EQ(x.final_name, "cdn.example.org.zz");
  ASSERT_EQ(x.records.size(), 1u);
  EXPECT_EQ(x.records[0].addr, "192.0.2.7");
}

TEST(MessageTest, CnameWithoutTargetDataAsksForTheTarget) {
  Wire w;
  w.header(1, 0x8180, 1, 1);
  w.name("alias.example").u16(type_mx).u16(1);
  w.ptr(12).rr_fixed(type_cname, Wire::wl("real.example")).name("real.example");
  Message m;
  std::string err;
  ASSERT_TRUE(w.parse(m, err)) << err;
  auto x = extract_answer(m, "alias.example", type_mx);
  EXPECT_TRUE(x.records.empty());
  EXPECT_TRUE(x.via_cname);
  EXPECT_EQ(x.final_name, "real.example");
}

TEST(MessageTest, CnameLoopInsideOneAnswerEnds) {
  Wire w;
  w.header(1, 0x8180, 1, 2);
  w.name("a.example").u16(type_a).u16(1);
  w.ptr(12).rr_fixed(type_cname, Wire::wl("b.example")).name("b.example");
  w.name("b.example").rr_fixed(type_cname, 2).ptr(12);
  Message m;
  std::string err;
  ASSERT_TRUE(w.parse(m, err)) << err;
  auto x = extract_answer(m, "a.example", type_a);
  EXPECT_TRUE(x.records.empty());
  EXPECT_TRUE(x.via_cname);
}

TEST(MessageTest, AaaaAndPtr) {
  Wire w;
  w.header(1, 0x8180, 1, 1);
  w.name("v6.example").u16(type_aaaa).u16(1);
  w.ptr(12).rr_fixed(type_aaaa, 16);
  for (int i = 0; i < 15; ++i) w.u8(i == 0 ? 0x20 : i == 1 ? 0x01 : i == 2 ? 0x0d : i == 3 ? 0xb8 : 0);
  w.u8(1);
  Message m;
  std::string err;
  ASSERT_TRUE(w.parse(m, err)) << err;
  auto x = extract_answer(m, "v6.example", type_aaaa);
  ASSERT_EQ(x.records.size(), 1u);
  EXPECT_EQ(x.records[0].addr, "2001:db8::1");
  EXPECT_EQ(reverse_name("192.0.2.1"), "1.2.0.192.in-addr.arpa");
  EXPECT_EQ(reverse_name("[IPv6:2001:db8::1]"),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  EXPECT_EQ(reverse_name("not-an-address"), "");
}

TEST(MessageTest, InvalidHostnameInMxDataIsCountedNotUsed) {
  Wire w;
  w.header(1, 0x8180, 1, 1);
  w.name("example.com").u16(type_mx).u16(1);
  // "bad host" with a space: dn_expand escapes it, valid_hostname refuses it.
  w.ptr(12).rr_fixed(type_mx, 2 + 10).u16(10).u8(8);
  for (char c : std::string("bad host")) w.u8(static_cast<unsigned char>(c));
  w.u8(0);
  Message m;
  std::string err;
  ASSERT_TRUE(w.parse(m, err)) << err;
  EXPECT_EQ(m.answers[0].target, "bad\\032host");
  auto x = extract_answer(m, "example.com", type_mx);
  EXPECT_TRUE(x.records.empty());
  EXPECT_EQ(x.invalid, 1);
}

TEST(MessageTest, RejectsMalformedInput) {
  Message m;
  std::string err;
  {
    Wire w;
    w.u16(1).u16(0x8180);  // short header
    EXPECT_FALSE(w.parse(m, err));
    EXPECT_EQ(err, "truncated header");
  }
  {
    Wire w;  // pointer to itself
    w.header(1, 0x8180, 1, 0).ptr(12).u16(1).u16(1);
    EXPECT_FALSE(w.parse(m, err));
    EXPECT_EQ(err, "compression loop");
  }
  {
    Wire w;  // forward pointer
    w.header(1, 0x8180, 1, 0).ptr(20).u16(1).u16(1).u8(0).u8(0).u8(0).u8(0);
    EXPECT_FALSE(w.parse(m, err));
  }
  {
    Wire w;  // a length byte of 64 has the reserved 01 prefix (RFC 6891 6.1.5 retired it)
    w.header(1, 0x8180, 1, 0).u8(64);
    for (int i = 0; i < 64; ++i) w.u8('a');
    w.u8(0).u16(1).u16(1);
    EXPECT_FALSE(w.parse(m, err));
    EXPECT_EQ(err, "bad label type");
  }
  {
    Wire w;  // name longer than 255
    w.header(1, 0x8180, 1, 0);
    for (int l = 0; l < 5; ++l) {
      w.u8(60);
      for (int i = 0; i < 60; ++i) w.u8('a');
    }
    w.u8(0).u16(1).u16(1);
    EXPECT_FALSE(w.parse(m, err));
    EXPECT_EQ(err, "domain name too long");
  }
  {
    Wire w;  // RDLENGTH beyond the end
    w.header(1, 0x8180, 1, 1).name("x.example").u16(1).u16(1);
    w.ptr(12).rr_fixed(type_a, 40).u8(1).u8(2).u8(3).u8(4);
    EXPECT_FALSE(w.parse(m, err));
  }
  {
    Wire w;  // A record with 5 bytes
    w.header(1, 0x8180, 1, 1).name("x.example").u16(1).u16(1);
    w.ptr(12).rr_fixed(type_a, 5).u8(1).u8(2).u8(3).u8(4).u8(5);
    EXPECT_FALSE(w.parse(m, err));
    EXPECT_EQ(err, "bad address length");
  }
  {
    Wire w;  // MX exchange name runs past RDLENGTH
    w.header(1, 0x8180, 1, 1).name("x.example").u16(15).u16(1);
    w.ptr(12).rr_fixed(type_mx, 4).u16(10).name("longer.example");
    EXPECT_FALSE(w.parse(m, err));
  }
}

TEST(MessageTest, TruncatedUdpReplyKeepsWhatArrived) {
  Wire w;
  w.header(1, 0x8380, 1, 3);  // TC set, 3 answers claimed, 1 present
  w.name("x.example").u16(type_a).u16(1);
  w.ptr(12).rr_fixed(type_a, 4).u8(192).u8(0).u8(2).u8(1);
  w.ptr(12).u16(1);
  Message m;
  std::string err;
  ASSERT_TRUE(w.parse(m, err)) << err;
  EXPECT_TRUE(m.tc);
  EXPECT_EQ(m.answers.size(), 1u);
}

TEST(MessageTest, HostnameSyntax) {
  EXPECT_TRUE(valid_hostname("mx.example.com"));
  EXPECT_TRUE(valid_hostname("mx.example.com."));
  EXPECT_TRUE(valid_hostname("_dmarc.example"));
  EXPECT_FALSE(valid_hostname(""));
  EXPECT_FALSE(valid_hostname("a..b"));
  EXPECT_FALSE(valid_hostname("bad\\032host"));
  EXPECT_FALSE(valid_hostname(std::string(64, 'a') + ".example"));
  EXPECT_TRUE(same_name("Example.COM.", "example.com"));
  EXPECT_FALSE(same_name("example.com", "example.co"));
  EXPECT_EQ(type_name(type_mx), "MX");
  EXPECT_EQ(type_name(65), "TYPE65");
}
