#include "dns/wire.hpp"

#include <gtest/gtest.h>

using namespace mxlab::dns::wire;

namespace {

std::vector<uint8_t> sample_response() {
  std::vector<uint8_t> b;
  Writer w(b);
  Header h;
  h.id = 0x1234;
  h.qr = h.aa = h.rd = true;
  w.header(h);
  w.question("Example.COM", t_mx, class_in);
  w.rr(Section::answer, "Example.COM", t_mx, class_in, 300, encode_rdata(t_mx, "10 mail.example.com."));
  w.rr(Section::answer, "Example.COM", t_mx, class_in, 300, encode_rdata(t_mx, "20 mx2.example.com."));
  w.rr(Section::authority, "example.com", t_soa, class_in, 60,
       encode_rdata(t_soa, "ns.example.com. hostmaster.example.com. 7 3600 600 86400 60"));
  w.rr(Section::additional, "mail.example.com", t_a, class_in, 300, encode_rdata(t_a, "192.0.2.25"));
  w.opt(Edns{1232, 0, 0, true, {}});
  return b;
}

}  // namespace

TEST(WireTest, HeaderAndQuestionRoundTrip) {
  auto b = sample_response();
  auto m = parse(b);
  EXPECT_EQ(m.header.id, 0x1234);
  EXPECT_TRUE(m.header.qr);
  EXPECT_TRUE(m.header.aa);
  EXPECT_TRUE(m.header.rd);
  EXPECT_FALSE(m.header.tc);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].name, "Example.COM");  // case kept as on the wire
  EXPECT_EQ(m.questions[0].type, t_mx);
  ASSERT_EQ(m.answers.size(), 2u);
  EXPECT_EQ(m.answers[0].data, "10 mail.example.com.");
  EXPECT_EQ(m.answers[1].data, "20 mx2.example.com.");
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].data, "ns.example.com. hostmaster.example.com. 7 3600 600 86400 60");
  EXPECT_EQ(m.authority[0].ttl, 60u);
  ASSERT_EQ(m.additional.size(), 1u);
  EXPECT_EQ(m.additional[0].data, "192.0.2.25");
  ASSERT_TRUE(m.edns);
  EXPECT_EQ(m.edns->udp_size, 1232);
  EXPECT_TRUE(m.edns->do_bit);
}

TEST(WireTest, NamesAreCompressedAgainstEarlierSuffixes) {
  auto b = sample_response();
  // The first answer's owner is a pointer to the question name at offset 12.
  const size_t q_end = 12 + 13 + 4;  // "\7Example\3COM\0" + type + class
  ASSERT_GT(b.size(), q_end + 2);
  EXPECT_EQ(b[q_end], 0xc0);
  EXPECT_EQ(b[q_end + 1], 12);
  // Header 12, question 17, MX 32 (its exchange in full: the question's
  // case differs) + 20, SOA 50, A 16, OPT 11.
  EXPECT_EQ(b.size(), 158u);
  auto m = parse(b);
  EXPECT_EQ(m.additional[0].name, "mail.example.com");
}

TEST(WireTest, EveryTruncationIsRejected) {
  auto b = sample_response();
  for (size_t n = 0; n < b.size(); ++n) {
    std::span<const uint8_t> part(b.data(), n);
    EXPECT_THROW(parse(part), ParseError) << "prefix of " << n << " octets";
  }
}

TEST(WireTest, PointerLoopsAndForwardPointersAreRejected) {
  // Header with one question, then a name that points at itself.
  std::vector<uint8_t> self = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
  EXPECT_THROW(parse(self), ParseError);
  // A label followed by a pointer back to that label: reading would cycle.
  std::vector<uint8_t> cycle = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0, 12, 0, 1, 0, 1};
  EXPECT_THROW(parse(cycle), ParseError);
  // Forward pointer.
  std::vector<uint8_t> fwd = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 16, 0, 1, 1, 'a', 0, 0, 1, 0, 1};
  EXPECT_THROW(parse(fwd), ParseError);
  // Pointer into the header.
  std::vector<uint8_t> hdr = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 2, 0, 1, 0, 1};
  EXPECT_THROW(parse(hdr), ParseError);
  // Extended label type 01.
  std::vector<uint8_t> ext = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1};
  EXPECT_THROW(parse(ext), ParseError);
}

TEST(WireTest, LongNamesAndHugeCountsAreRejected) {
  std::vector<uint8_t> b = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 128; ++i) {
    b.push_back(1);
    b.push_back('a');
  }
  b.push_back(0);
  b.insert(b.end(), {0, 1, 0, 1});
  EXPECT_THROW(parse(b), ParseError);  // 257 octets on the wire
  std::vector<uint8_t> counts = {0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0};
  EXPECT_THROW(parse(counts), ParseError);
}

TEST(WireTest, EdnsRules) {
  std::vector<uint8_t> b;
  Writer w(b);
  w.header(Header{});
  w.question("a.test", t_a, class_in);
  w.opt(Edns{4096, 0, 0, false, {}});
  w.opt(Edns{4096, 0, 0, false, {}});
  EXPECT_THROW(parse(b), ParseError);  // two OPT records
  w.header(Header{});
  w.question("a.test", t_a, class_in);
  w.opt(Edns{4096, 0, 1, false, {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}});  // a cookie option
  auto m = parse(b);
  ASSERT_TRUE(m.edns);
  EXPECT_EQ(m.edns->version, 1);
  EXPECT_EQ(m.edns->options.size(), 12u);
  w.header(Header{});
  w.question("a.test", t_a, class_in);
  w.opt(Edns{4096, 0, 0, false, {0, 10, 0, 9, 1}});  // option overruns
  EXPECT_THROW(parse(b), ParseError);
}

TEST(WireTest, RecordDataForms) {
  struct Case {
    uint16_t type;
    const char* in;
    const char* out;
  } cases[] = {
      {t_a, "192.0.2.1", "192.0.2.1"},
      {t_aaaa, "2001:db8::1", "2001:db8::1"},
      {t_mx, "0 .", "0 ."},
      {t_mx, "10 Mail.Example.com", "10 Mail.Example.com."},
      {t_cname, "target.test.", "target.test."},
      {t_ptr, "host.test", "host.test."},
      {t_txt, "\"v=spf1 -all\"", "\"v=spf1 -all\""},
      {t_txt, "\"a \\\"b\\\"\" plain \"\\255\"", "\"a \\\"b\\\"\" \"plain\" \"\\255\""},
      {t_soa, "ns.t. h.t. 1 2 3 4 5", "ns.t. h.t. 1 2 3 4 5"},
      {99, "\\# 3 0a0b0c", "\\# 3 0a0b0c"},
  };
  for (const auto& c : cases) {
    std::vector<uint8_t> b;
    Writer w(b);
    w.header(Header{});
    w.rr(Section::answer, "x.test", c.type, class_in, 1, encode_rdata(c.type, c.in));
    auto m = parse(b);
    ASSERT_EQ(m.answers.size(), 1u);
    EXPECT_EQ(m.answers[0].data, c.out) << c.in;
  }
  EXPECT_THROW(encode_rdata(t_a, "192.0.2"), std::invalid_argument);
  EXPECT_THROW(encode_rdata(t_aaaa, "192.0.2.1"), std::invalid_argument);
  EXPECT_THROW(encode_rdata(t_mx, "70000 a.test"), std::invalid_argument);
  EXPECT_THROW(encode_rdata(t_mx, "a.test"), std::invalid_argument);
  EXPECT_THROW(encode_rdata(t_txt, "\"open"), std::invalid_argument);
  EXPECT_THROW(encode_rdata(t_txt, std::string(300, 'x')), std::invalid_argument);
  EXPECT_THROW(encode_rdata(t_cname, "a..b"), std::invalid_argument);
  EXPECT_THROW(encode_rdata(99, "anything"), std::invalid_argument);
}

TEST(WireTest, EscapedLabelsSurviveTextAndBack) {
  std::vector<uint8_t> b = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 'a', '.', ' ', 0xff, '"', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};
  auto m = parse(b);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].name, "a\\.\\032\\255\\\".test");
  auto labels = split_name(m.questions[0].name);
  ASSERT_EQ(labels.size(), 2u);
  EXPECT_EQ(labels[0], std::string("a. \xff\"", 5));
  std::vector<uint8_t> again;
  Writer w(again);
  w.header(Header{0, false, 0, false, false, false, false, false, false, 0});
  again[1] = 1;  // the same ID as b
  w.question(m.questions[0].name, 1, 1);
  EXPECT_EQ(again, b);
}

TEST(WireTest, NameText) {
  EXPECT_EQ(canonical_name("MX.Example.COM."), "mx.example.com");
  EXPECT_EQ(canonical_name("."), ".");
  EXPECT_EQ(canonical_name(""), ".");
  EXPECT_EQ(canonical_name("\\065b.test"), "ab.test");
  EXPECT_THROW(split_name("a..b"), ParseError);
  EXPECT_THROW(split_name(".a"), ParseError);
  EXPECT_THROW(split_name(std::string(64, 'a') + ".test"), ParseError);
  EXPECT_THROW(split_name("a\\25"), ParseError);
  EXPECT_THROW(split_name("a\\256"), ParseError);
  EXPECT_EQ(split_name(std::string(63, 'a') + ".test").size(), 2u);
}

TEST(WireTest, TypeAndRcodeNames) {
  EXPECT_EQ(type_name(15), "MX");
  EXPECT_EQ(type_name(65), "TYPE65");
  EXPECT_EQ(type_from_name("mx"), std::optional<uint16_t>(15));
  EXPECT_EQ(type_from_name("TYPE65"), std::optional<uint16_t>(65));
  EXPECT_EQ(type_from_name("type99999"), std::nullopt);
  EXPECT_EQ(type_from_name("BOGUS"), std::nullopt);
  EXPECT_EQ(rcode_name(3), "NXDOMAIN");
  EXPECT_EQ(rcode_name(16), "BADVERS");
}
