#include "peer/peer.hpp"

#include <gtest/gtest.h>

using namespace mxlab::peer;

namespace {

std::string error_of(const std::string& text) {
  try {
    parse_rules(text, "peers/mx.rules");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(RuleTextTest, TheHeaderExamplesParse) {
  auto rules = parse_rules(
      "# a comment\n"
      "CONNECT 421 4.3.2 try later x2; 220 mx.remote.test ESMTP\n"
      "\n"
      "RCPT <bob@remote.test> 550 5.1.1 no such user\n"
      "DOT disconnect\n"
      "DATA stall 5000\n",
      "f");
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules[0].command, "CONNECT");
  EXPECT_EQ(rules[0].match, "");
  ASSERT_EQ(rules[0].replies.size(), 2u);
  EXPECT_EQ(rules[0].replies[0].text, "421 4.3.2 try later");
  EXPECT_EQ(rules[0].replies[0].repeat, 2);
  EXPECT_EQ(rules[0].replies[1].text, "220 mx.remote.test ESMTP");
  EXPECT_EQ(rules[0].replies[1].repeat, 1);
  EXPECT_EQ(rules[1].command, "RCPT");
  EXPECT_EQ(rules[1].match, "<bob@remote.test>");
  EXPECT_EQ(rules[1].replies[0].text, "550 5.1.1 no such user");
  EXPECT_EQ(rules[2].replies[0].action, Reply::Action::disconnect);
  EXPECT_EQ(rules[2].replies[0].text, "");
  EXPECT_EQ(rules[3].replies[0].action, Reply::Action::stall);
  EXPECT_EQ(rules[3].replies[0].delay_ms, 5000);
  EXPECT_EQ(rules[3].replies[0].text, "");
}

TEST(RuleTextTest, ActionsAndTexts) {
  auto rules = parse_rules(
      "dot disconnect 250 2.0.0 Ok, but goodbye\n"
      "RCPT stall forever\n"
      "RCPT stall 300 451 4.3.0 slow\n"
      "MAIL delay 200 250 2.1.0 Ok x3; default\n"
      "EHLO 250-mx.remote.test\\n250-PIPELINING\\n250 SIZE 1000\n"
      "HELO raw 25X broken\n"
      "NOOP 250 2.0.0 a\\;b \\\\ c\n"
      "RCPT \"two words\" 550 5.7.1 no\n"
      "RCPT \"550\" 250 2.1.5 matched a code-like argument\n"
      "* 502 5.5.2 nothing works\n",
      "f");
  ASSERT_EQ(rules.size(), 10u);
  EXPECT_EQ(rules[0].command, "DOT");
  EXPECT_EQ(rules[0].replies[0].action, Reply::Action::disconnect);
  EXPECT_EQ(rules[0].replies[0].text, "250 2.0.0 Ok, but goodbye");
  EXPECT_EQ(rules[1].replies[0].action, Reply::Action::stall);
  EXPECT_EQ(rules[1].replies[0].delay_ms, 0);
  EXPECT_EQ(rules[2].replies[0].delay_ms, 300);
  EXPECT_EQ(rules[2].replies[0].text, "451 4.3.0 slow");
  ASSERT_EQ(rules[3].replies.size(), 2u);
  EXPECT_EQ(rules[3].replies[0].action, Reply::Action::reply);
  EXPECT_EQ(rules[3].replies[0].delay_ms, 200);
  EXPECT_EQ(rules[3].replies[0].repeat, 3);
  EXPECT_EQ(rules[3].replies[1].text, "");  // default
  EXPECT_EQ(rules[4].replies[0].text, "250-mx.remote.test\n250-PIPELINING\n250 SIZE 1000");
  EXPECT_EQ(rules[5].replies[0].text, "25X broken");
  EXPECT_EQ(rules[6].replies[0].text, "250 2.0.0 a;b \\ c");
  EXPECT_EQ(rules[7].match, "two words");
  EXPECT_EQ(rules[8].match, "550");
  EXPECT_EQ(rules[9].command, "*");
}

TEST(RuleTextTest, ErrorsNameFileAndLine) {
  EXPECT_EQ(error_of("RCTP 550 x\n"),
            "peers/mx.rules:1: unknown command \"RCTP\" (CONNECT EHLO HELO MAIL RCPT DATA DOT RSET NOOP QUIT VRFY "
            "EXPN HELP STARTTLS AUTH BDAT ETRN *)");
  EXPECT_EQ(error_of("\nRCPT <bob@x>\n"), "peers/mx.rules:2: no reply for RCPT");
  EXPECT_EQ(error_of("MAIL 250 ok\nRCPT bob hello\n"),
            "peers/mx.rules:2: reply \"hello\" does not start with a 3-digit code (use raw for a malformed reply)");
  EXPECT_EQ(error_of("EHLO 250-a\\nb\n"),
            "peers/mx.rules:1: reply \"b\" does not start with a 3-digit code (use raw for a malformed reply)");
  EXPECT_EQ(error_of("MAIL delay soon 250 ok\n"), "peers/mx.rules:1: delay needs milliseconds, got \"soon\"");
  EXPECT_EQ(error_of("MAIL 250 ok;\n"), "peers/mx.rules:1: empty reply");
  EXPECT_EQ(error_of("RCPT \"open 550 x\n"), "peers/mx.rules:1: unterminated quoted match");
  EXPECT_EQ(error_of("MAIL default 250 x\n"), "peers/mx.rules:1: default takes no text");
  EXPECT_EQ(error_of("HELO raw\n"), "peers/mx.rules:1: raw needs a text");
}
