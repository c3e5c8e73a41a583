#include "smtpd/command.hpp"

#include "core/envelope.hpp"

#include <gtest/gtest.h>

using namespace mta::smtpd;

namespace {
std::vector<std::string> texts(const std::vector<Token>& t) {
  std::vector<std::string> r;
  for (const auto& x : t) r.push_back(x.text);
  return r;
}
}  // namespace

struct TokenCase {
  const char* line;
  std::vector<std::string> want;
  bool error;
};

class CommandTokenTest : public ::testing::TestWithParam<TokenCase> {};

TEST_P(CommandTokenTest, SplitsAsPostfix) {
  const auto& c = GetParam();
  auto t = tokenize(c.line);
  EXPECT_EQ(texts(t), c.want) << c.line;
  bool err = false;
  for (const auto& x : t) err = err || x.error;
  EXPECT_EQ(err, c.error) << c.line;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CommandTokenTest,
    ::testing::Values(
        TokenCase{"MAIL FROM:<a@b.example>", {"MAIL", "FROM:", "<a@b.example>"}, false},
        TokenCase{"MAIL FROM: <a@b.example> SIZE=10", {"MAIL", "FROM:", "<a@b.example>", "SIZE=10"}, false},
        TokenCase{"mail from:<>", {"mail", "from:", "<>"}, false},
        TokenCase{"RCPT TO:<\"a b\"@c.example>", {"RCPT", "TO:", "<\"a b\"@c.example>"}, false},
        TokenCase{"MAIL FROM:<a b@c>", {"MAIL", "FROM:", "<a b@c>"}, false},
        TokenCase{"MAIL FROM:<a@b", {"MAIL", "FROM:", "<a@b"}, true},
        TokenCase{"MAIL FROM:a@b", {"MAIL", "FROM:", "a@b"}, false},
        TokenCase{"  NOOP   x  ", {"NOOP", "x"}, false}, TokenCase{"", {}, false},
        TokenCase{"HELO  a\tb", {"HELO", "a", "b"}, false},
        TokenCase{"X-Header: value", {"X-Header:", "value"}, false},
        TokenCase{"MAIL FROM:<<nested>>", {"MAIL", "FROM:", "<<nested>>"}, false}),
    [](const auto& tpi) { return "Case" + std::to_string(tpi.index); });

struct AddrCase {
  const char* token;
  bool allow_empty;
  bool strict;
  bool ok;
  const char* want;
};

class CommandAddressTest : public ::testing::TestWithParam<AddrCase> {};

TEST_P(CommandAddressTest, ExtractsOrRefuses) {
  const auto& c = GetParam();
  std::string out;
  EXPECT_EQ(extract_address(c.token, c.allow_empty, c.strict, out), c.ok) << c.token;
  if (c.ok) {
    EXPECT_EQ(out, c.want) << c.token;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, CommandAddressTest,
                         ::testing::Values(AddrCase{"<a@b.example>", false, false, true, "a@b.example"},
                                           AddrCase{"a@b.example", false, false, true, "a@b.example"},
                                           AddrCase{"a@b.example", false, true, false, ""},
                                           AddrCase{"<>", true, false, true, ""},
                                           AddrCase{"<>", false, false, false, ""},
                                           AddrCase{"<a b@c.example>", true, false, false, ""},
                                           AddrCase{"<\"a b\"@c.example>", false, false, true, "\"a b\"@c.example"},
                                           AddrCase{"<@r1,@r2:u@d.example>", false, false, true, "u@d.example"},
                                           AddrCase{"<postmaster>", false, false, true, "postmaster"},
                                           AddrCase{"<u@[127.0.0.1]>", false, false, true, "u@[127.0.0.1]"},
                                           AddrCase{"<u@[IPv6:::1]>", false, false, true, "u@[IPv6:::1]"},
                                           AddrCase{"<u@[300.1.1.1]>", false, false, false, ""},
                                           AddrCase{"<u@>", false, false, false, ""},
                                           AddrCase{"<@d.example>", false, false, false, ""},
                                           AddrCase{"<u@d..example>", false, false, false, ""},
                                           AddrCase{"<u@-d.example>", false, false, false, ""},
                                           AddrCase{"<u(x)@d.example>", false, false, false, ""},
                                           AddrCase{"<u@d.example>x", false, false, false, ""},
                                           AddrCase{"<a@b@c.example>", false, false, true, "a@b@c.example"},
                                           AddrCase{"<\"unterminated@c.example>", false, false, false, ""}),
                         [](const auto& tpi) { return "Case" + std::to_string(tpi.index); });

TEST(CommandTest, HeaderLikeWords) {
  EXPECT_TRUE(is_header_like("From:"));
  EXPECT_TRUE(is_header_like("X-Spam:"));
  EXPECT_TRUE(is_header_like("Subject:x"));
  EXPECT_FALSE(is_header_like("MAIL"));
  EXPECT_FALSE(is_header_like(":x"));
  EXPECT_FALSE(is_header_like("a b:"));
}

TEST(CommandTest, NotifyMask) {
  using namespace mta::core;
  EXPECT_EQ(parse_notify("NEVER"), unsigned(notify_never));
  EXPECT_EQ(parse_notify("success,Failure,DELAY"), unsigned(notify_success | notify_failure | notify_delay));
  EXPECT_EQ(parse_notify("NEVER,SUCCESS"), 0u);
  EXPECT_EQ(parse_notify("SOMETIMES"), 0u);
  EXPECT_EQ(parse_notify(""), 0u);
}

struct MailParamCase {
  const char* line;
  bool dsn;
  const char* reply;
  long long size;  // after the call (starting from 7)
};

class CommandMailParamTest : public ::testing::TestWithParam<MailParamCase> {};

TEST_P(CommandMailParamTest, RepliesAsPostfix) {
  const auto& c = GetParam();
  auto t = tokenize(c.line);
  MailParams mp;
  long long size = 7;
  EXPECT_EQ(parse_mail_params(t, 3, c.dsn, mp, size), c.reply) << c.line;
  EXPECT_EQ(size, c.size) << c.line;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CommandMailParamTest,
    ::testing::Values(MailParamCase{"MAIL FROM:<> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=x+2By", true, "", 100},
                      MailParamCase{"MAIL FROM:<> SIZE=abc", true, "501 5.5.4 Bad message size syntax", 7},
                      MailParamCase{"MAIL FROM:<> SIZE=", true, "501 5.5.4 Bad message size syntax", 7},
                      MailParamCase{"MAIL FROM:<> SIZE=99999999999999999999", true,
                                    "552 5.3.4 Message size exceeds file system imposed limit", 7},
                      MailParamCase{"MAIL FROM:<> FOO=BAR", true, "555 5.5.4 Unsupported option: FOO=BAR", 7},
                      MailParamCase{"MAIL FROM:<> BODY=BINARYMIME", true,
                                    "555 5.5.4 Unsupported option: BODY=BINARYMIME", 7},
                      MailParamCase{"MAIL FROM:<> RET=ALL", true, "501 5.5.4 Bad RET parameter syntax", 7},
                      MailParamCase{"MAIL FROM:<> RET=FULL RET=FULL", true, "501 5.5.4 Bad RET parameter syntax", 7},
                      MailParamCase{"MAIL FROM:<> ENVID=a+zz", true, "501 5.5.4 Bad ENVID parameter syntax", 7},
                      MailParamCase{"MAIL FROM:<> ENVID=a ENVID=b", true, "501 5.5.4 Bad ENVID parameter syntax", 7},
                      MailParamCase{"MAIL FROM:<> RET=FULL", false, "501 5.7.1 DSN support is disabled", 7},
                      // The size is kept although a later parameter is bad.
                      MailParamCase{"MAIL FROM:<> SIZE=55 X=1", true, "555 5.5.4 Unsupported option: X=1", 55}),
    [](const auto& tpi) { return "Case" + std::to_string(tpi.index); });

TEST(CommandTest, MailParamValues) {
  auto t = tokenize("MAIL FROM:<> body=7bit ret=full envid=QQ+2B1");
  MailParams mp;
  long long size = 0;
  ASSERT_EQ(parse_mail_params(t, 3, true, mp, size), "");
  EXPECT_EQ(mp.body, "7BIT");
  EXPECT_EQ(mp.ret, "FULL");
  ASSERT_TRUE(mp.envid);
  EXPECT_EQ(*mp.envid, "QQ+1");
}

struct RcptParamCase {
  const char* line;
  bool dsn;
  const char* reply;
};

class CommandRcptParamTest : public ::testing::TestWithParam<RcptParamCase> {};

TEST_P(CommandRcptParamTest, RepliesAsPostfix) {
  const auto& c = GetParam();
  RcptParams rp;
  EXPECT_EQ(parse_rcpt_params(tokenize(c.line), 3, c.dsn, rp), c.reply) << c.line;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CommandRcptParamTest,
    ::testing::Values(RcptParamCase{"RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b", true, ""},
                      RcptParamCase{"RCPT TO:<a@b> NOTIFY=NEVER,DELAY", true,
                                    "501 5.5.4 Error: Bad NOTIFY parameter syntax"},
                      RcptParamCase{"RCPT TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER", true,
                                    "501 5.5.4 Error: Bad NOTIFY parameter syntax"},
                      RcptParamCase{"RCPT TO:<a@b> ORCPT=rfc822", true, "501 5.5.4 Error: Bad ORCPT parameter syntax"},
                      RcptParamCase{"RCPT TO:<a@b> ORCPT=;a@b", true, "501 5.5.4 Error: Bad ORCPT parameter syntax"},
                      RcptParamCase{"RCPT TO:<a@b> ORCPT=rfc822;a+4", true,
                                    "501 5.5.4 Error: Bad ORCPT parameter syntax"},
                      RcptParamCase{"RCPT TO:<a@b> NOTIFY=NEVER", false, "501 5.7.1 DSN support is disabled"},
                      RcptParamCase{"RCPT TO:<a@b> XFOO", true, "555 5.5.4 Unsupported option: XFOO"}),
    [](const auto& tpi) { return "Case" + std::to_string(tpi.index); });

TEST(CommandTest, RcptParamValues) {
  RcptParams rp;
  ASSERT_EQ(parse_rcpt_params(tokenize("RCPT TO:<a@b> ORCPT=rfc822;x+2By@b NOTIFY=delay"), 3, true, rp), "");
  EXPECT_EQ(rp.orcpt, "rfc822;x+y@b");
  EXPECT_EQ(rp.notify, unsigned(mta::core::notify_delay));
}

TEST(CommandTest, EhloLinesInPostfixOrder) {
  auto l = ehlo_lines("mx.example.test", 10240000, true, 0);
  std::vector<std::string> want{"mx.example.test", "PIPELINING", "SIZE 10240000", "VRFY", "ETRN",
                                "ENHANCEDSTATUSCODES", "8BITMIME", "DSN"};
  EXPECT_EQ(l, want);
  l = ehlo_lines("h", 0, false, ehlo_discard_mask({"pipelining", "DSN", "nosuch"}));
  want = {"h", "SIZE", "ETRN", "ENHANCEDSTATUSCODES", "8BITMIME"};
  EXPECT_EQ(l, want);
  EXPECT_EQ(ehlo_mask_names(ehlo_discard_mask({"dsn", "etrn", "8bitmime", "silent-discard", "auth"})),
            "8BITMIME AUTH ETRN DSN SILENT-DISCARD");
  // Keywords mxmta never announces change nothing in the reply.
  EXPECT_EQ(ehlo_lines("h", 5, true, ehlo_discard_mask({"starttls", "chunking", "smtputf8"})),
            ehlo_lines("h", 5, true, 0));
}

TEST(CommandTest, StripEnhancedCode) {
  EXPECT_EQ(strip_enhanced_code("550 5.1.1 <a@b>: unknown"), "550 <a@b>: unknown");
  EXPECT_EQ(strip_enhanced_code("250 2.0.0 Ok: queued as X"), "250 Ok: queued as X");
  EXPECT_EQ(strip_enhanced_code("250-PIPELINING"), "250-PIPELINING");
  EXPECT_EQ(strip_enhanced_code("501 Syntax: HELO hostname"), "501 Syntax: HELO hostname");
  EXPECT_EQ(strip_enhanced_code("220 mx ESMTP"), "220 mx ESMTP");
}
