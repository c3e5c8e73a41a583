#include "bounce/bounce.hpp"

#include "cleanup/cleanup.hpp"
#include "queue/queue_file.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <regex>

using namespace mta;

namespace {

// Sat, 28 Nov 2026 06:50:26 +0000: the reference NDR's arrival and notice time.
constexpr int64_t kNow = 1795848626;

const char* const kOriginal =
    "Received: from c.example.net (localhost [127.0.0.1])\n"
    "\tby mx.example.test (Postfix) with ESMTP id 8FE96104017\n"
    "\tfor <nobody@remote.example>; Sat, 28 Nov 2026 06:50:26 +0000 (UTC)\n"
    "Subject: test\n"
    "Message-Id: <t1@example.test>\n"
    "From: alice@example.test\n"
    "\n"
    "hello\n";

core::Message original(std::string sender = "alice@example.test") {
  core::Message m;
  m.env.id = "8FE96104017";
  m.env.arrival = {kNow, 123};
  m.env.sender = std::move(sender);
  m.content = kOriginal;
  m.env.content_size = static_cast<int64_t>(m.content.size());
  return m;
}

bounce::RecipientReport smtp_reject() {
  bounce::RecipientReport r;
  r.rcpt.address = "nobody@remote.example";
  r.rcpt.dsn_orcpt = "rfc822;nobody@remote.example";
  r.result.dsn = "5.1.1";
  r.result.reason =
      "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nobody@remote.example>: Recipient address rejected: User "
      "unknown (in reply to RCPT TO command)";
  r.result.diagnostic = "smtp; 550 5.1.1 <nobody@remote.example>: Recipient address rejected: User unknown";
  r.result.remote_mta = "dns; 127.0.0.1";
  r.result.relay = "127.0.0.1[127.0.0.1]:2599";
  return r;
}

bounce::RecipientReport deferred(const std::string& addr, unsigned notify = 0) {
  bounce::RecipientReport r;
  r.rcpt.address = addr;
  r.rcpt.notify = notify;
  r.rcpt.dsn_status = "4.4.1";
  r.rcpt.reason = "connect to 127.0.0.1[127.0.0.1]:2599: Connection refused";
  return r;
}

const char* const kBoundary = "8FE96104017.1795848626/mx.example.test";

// The first part of every notice, up to and including the text part's headers.
std::string head(const std::string& subject, const std::string& to, bool postmaster = false,
                 const std::string& origin = "example.test") {
  return std::string("Date: Sat, 28 Nov 2026 06:50:26 +0000 (UTC)\n") +
         "From: Mail Delivery System <MAILER-DAEMON@" + origin + ">\n" + "Subject: " + subject + "\n" + "To: " + to +
         "\n" + "Auto-Submitted: " + (postmaster ? "auto-generated" : "auto-replied") + "\n" +
         "MIME-Version: 1.0\n"
         "Content-Type: multipart/report; report-type=delivery-status;\n"
         "\tboundary=\"" +
         kBoundary +
         "\"\n"
         "Content-Transfer-Encoding: 8bit\n"
         "\n"
         "This is a MIME-encapsulated message.\n"
         "\n"
         "--" +
         kBoundary +
         "\n"
         "Content-Description: Notification\n"
         "Content-Type: text/plain; charset=utf-8\n"
         "Content-Transfer-Encoding: 8bit\n"
         "\n";
}

const char* const kFailureText =
    "This is the mail system at host mx.example.test.\n"
    "\n"
    "I'm sorry to have to inform you that your message could not\n"
    "be delivered to one or more recipients. It's attached below.\n"
    "\n"
    "For further assistance, please send mail to postmaster.\n"
    "\n"
    "If you do so, please include this problem report. You can\n"
    "delete your own text from the attached returned message.\n"
    "\n"
    "                   The mail system\n";

std::string dsn_head(const std::string& xname = "Postfix", const std::string& sender = "alice@example.test") {
  return std::string("\n--") + kBoundary +
         "\n"
         "Content-Description: Delivery report\n"
         "Content-Type: message/delivery-status\n"
         "\n"
         "Reporting-MTA: dns; mx.example.test\n"
         "X-" +
         xname + "-Queue-ID: 8FE96104017\n" + "X-" + xname + "-Sender: rfc822; " + sender +
         "\n"
         "Arrival-Date: Sat, 28 Nov 2026 06:50:26 +0000 (UTC)\n";
}

std::string returned(bool headers_only, bool undelivered = true, const std::string& sender = "alice@example.test") {
  std::string s = std::string("\n--") + kBoundary + "\n" + "Content-Description: " +
                  (undelivered ? "Undelivered " : "") + (headers_only ? "Message Headers" : "Message") + "\n" +
                  "Content-Type: " + (headers_only ? "text/rfc822-headers" : "message/rfc822") + "\n" +
                  "Content-Transfer-Encoding: 8bit\n\n" + "Return-Path: <" + sender + ">\n";
  std::string orig = kOriginal;
  if (headers_only) orig = orig.substr(0, orig.find("\n\n") + 1);
  return s + orig + "\n--" + kBoundary + "--\n";
}

}  // namespace

class BounceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
    s_.myhostname = "mx.example.test";
    s_.myorigin = "example.test";
    s_.mail_name = "Postfix";  // so that the reference sample applies byte for byte
  }
  bounce::Settings s_;
};

// Reference section 6, the observed Postfix 3.7 NDR for a 550 to RCPT TO.
TEST_F(BounceTest, FailureMatchesPostfixNdrByteForByte) {
  auto n = bounce::make_notice(bounce::Kind::failure, original(), {smtp_reject()}, s_, kNow);
  ASSERT_TRUE(n);
  std::string expected = head("Undelivered Mail Returned to Sender", "alice@example.test") + kFailureText +
                         "\n"
                         "<nobody@remote.example>: host 127.0.0.1[127.0.0.1] said: 550 5.1.1\n"
                         "    <nobody@remote.example>: Recipient address rejected: User unknown (in reply\n"
                         "    to RCPT TO command)\n" +
                         dsn_head() +
                         "\n"
                         "Final-Recipient: rfc822; nobody@remote.example\n"
                         "Original-Recipient: rfc822;nobody@remote.example\n"
                         "Action: failed\n"
                         "Status: 5.1.1\n"
                         "Remote-MTA: dns; 127.0.0.1\n"
                         "Diagnostic-Code: smtp; 550 5.1.1 <nobody@remote.example>: Recipient address\n"
                         "    rejected: User unknown\n" +
                         returned(false);
  EXPECT_EQ(n->content, expected);
  EXPECT_EQ(n->env.sender, "");
  ASSERT_EQ(n->env.rcpts.size(), 1u);
  EXPECT_EQ(n->env.rcpts[0].address, "alice@example.test");
  EXPECT_EQ(n->env.origin, "bounce");
  EXPECT_EQ(n->env.body_type, "8BITMIME");
}

TEST_F(BounceTest, LocalFailureWithRewrittenAddressAndNoDiagnostic) {
  s_.mail_name = "mxmta";
  bounce::RecipientReport r;
  r.rcpt.address = "nosuch@example.test";
  r.rcpt.orig = "nosuch";
  r.result.dsn = "5.1.1";
  r.result.reason = "unknown user: \"nosuch\"";
  r.result.relay = "local";
  auto n = bounce::make_notice(bounce::Kind::failure, original(), {r}, s_, kNow);
  ASSERT_TRUE(n);
  std::string expected = head("Undelivered Mail Returned to Sender", "alice@example.test") + kFailureText +
                         "\n"
                         "<nosuch@example.test> (expanded from <nosuch>): unknown user: \"nosuch\"\n" +
                         dsn_head("mxmta") +
                         "\n"
                         "Final-Recipient: rfc822; nosuch@example.test\n"
                         "Original-Recipient: rfc822; nosuch\n"
                         "Action: failed\n"
                         "Status: 5.1.1\n"
                         "Diagnostic-Code: X-mxmta; unknown user: \"nosuch\"\n" +
                         returned(false);
  EXPECT_EQ(n->content, expected);
}

TEST_F(BounceTest, ExpiredMailKeepsItsTemporaryStatusAndSaysFailed) {
  // Expiry: qmgr reports from the queue file alone (persisted status and reason).
  auto n = bounce::make_notice(bounce::Kind::failure, original(),
                               {deferred("a@remote.example"), deferred("b@remote.example")}, s_, kNow);
  ASSERT_TRUE(n);
  std::string expected = head("Undelivered Mail Returned to Sender", "alice@example.test") + kFailureText +
                         "\n"
                         "<a@remote.example>: connect to 127.0.0.1[127.0.0.1]:2599: Connection refused\n"
                         "\n"
                         "<b@remote.example>: connect to 127.0.0.1[127.0.0.1]:2599: Connection refused\n" +
                         dsn_head() +
                         "\n"
                         "Final-Recipient: rfc822; a@remote.example\n"
                         "Action: failed\n"
                         "Status: 4.4.1\n"
                         "Diagnostic-Code: X-Postfix; connect to 127.0.0.1[127.0.0.1]:2599: Connection\n"
                         "    refused\n"
                         "\n"
                         "Final-Recipient: rfc822; b@remote.example\n"
                         "Action: failed\n"
                         "Status: 4.4.1\n"
                         "Diagnostic-Code: X-Postfix; connect to 127.0.0.1[127.0.0.1]:2599: Connection\n"
                         "    refused\n" +
                         returned(false);
  EXPECT_EQ(n->content, expected);
}

TEST_F(BounceTest, DelayWarningMatchesPostfixTemplate) {
  s_.delay_warning_time = 4 * 3600;
  // Two days keeps Will-Retry-Until on a two-digit day of the month, where
  // Postfix 3.7 and util::rfc5322_date agree.
  s_.maximal_queue_lifetime = 2 * 86400;
  core::Message m = original();
  m.env.envid = "ENV42";
  auto n = bounce::make_notice(bounce::Kind::delay, m, {deferred("a@remote.example")}, s_, kNow);
  ASSERT_TRUE(n);
  std::string expected =
      head("Delayed Mail (still being retried)", "alice@example.test") +
      "This is the mail system at host mx.example.test.\n"
      "\n"
      "####################################################################\n"
      "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
      "####################################################################\n"
      "\n"
      "Your message could not be delivered for more than 4 hour(s).\n"
      "It will be retried until it is 2 day(s) old.\n"
      "\n"
      "For further assistance, please send mail to postmaster.\n"
      "\n"
      "If you do so, please include this problem report. You can\n"
      "delete your own text from the attached returned message.\n"
      "\n"
      "                   The mail system\n"
      "\n"
      "<a@remote.example>: connect to 127.0.0.1[127.0.0.1]:2599: Connection refused\n"
      "\n--" +
      kBoundary +
      "\n"
      "Content-Description: Delivery report\n"
      "Content-Type: message/delivery-status\n"
      "\n"
      "Reporting-MTA: dns; mx.example.test\n"
      "Original-Envelope-Id: ENV42\n"
      "X-Postfix-Queue-ID: 8FE96104017\n"
      "X-Postfix-Sender: rfc822; alice@example.test\n"
      "Arrival-Date: Sat, 28 Nov 2026 06:50:26 +0000 (UTC)\n"
      "\n"
      "Final-Recipient: rfc822; a@remote.example\n"
      "Action: delayed\n"
      "Status: 4.4.1\n"
      "Diagnostic-Code: X-Postfix; connect to 127.0.0.1[127.0.0.1]:2599: Connection\n"
      "    refused\n"
      "Will-Retry-Until: Mon, 30 Nov 2026 06:50:26 +0000 (UTC)\n" +
      returned(true);
  EXPECT_EQ(n->content, expected);
}

TEST_F(BounceTest, SuccessReportOnlyForNotifySuccessRecipients) {
  bounce::RecipientReport ok;
  ok.rcpt.address = "bob@example.test";
  ok.rcpt.notify = core::notify_success | core::notify_failure;
  ok.result.dsn = "2.0.0";
  ok.result.reason = "delivered to mailbox";
  ok.result.relay = "local";
  bounce::RecipientReport quiet = ok;
  quiet.rcpt.address = "carol@example.test";
  quiet.rcpt.notify = 0;  // default NOTIFY: no success report
  auto n = bounce::make_notice(bounce::Kind::success, original(), {ok, quiet}, s_, kNow);
  ASSERT_TRUE(n);
  std::string expected = head("Successful Mail Delivery Report", "alice@example.test") +
                         "This is the mail system at host mx.example.test.\n"
                         "\n"
                         "Your message was successfully delivered to the destination(s)\n"
                         "listed below. If the message was delivered to mailbox you will\n"
                         "receive no further notifications. Otherwise you may still receive\n"
                         "notifications of mail delivery errors from other systems.\n"
                         "\n"
                         "                   The mail system\n"
                         "\n"
                         "<bob@example.test>: delivery via local: delivered to mailbox\n" +
                         dsn_head() +
                         "\n"
                         "Final-Recipient: rfc822; bob@example.test\n"
                         "Action: delivered\n"
                         "Status: 2.0.0\n"
                         "Diagnostic-Code: X-Postfix; delivery via local: delivered to mailbox\n" +
                         returned(true, false);
  EXPECT_EQ(n->content, expected);

  EXPECT_FALSE(bounce::make_notice(bounce::Kind::success, original(), {quiet}, s_, kNow));
}

// Postfix's smtp_rcpt_done() for a server without DSN: Action "relayed", the
// server's reply as Diagnostic-Code, Remote-MTA the host name, and the text
// naming the relay as trace_append() does ("delivery via H[A]:25: REPLY").
TEST_F(BounceTest, SuccessThroughSmtpSaysRelayed) {
  bounce::RecipientReport relayed;
  relayed.rcpt.address = "friend@remote.example";
  relayed.rcpt.notify = core::notify_success;
  relayed.rcpt.dsn_orcpt = "rfc822;friend@remote.example";
  relayed.result.dsn = "2.0.0";
  relayed.result.reason = "250 2.0.0 Ok: queued as SINK1";
  relayed.result.relay = "mx.remote.example[203.0.113.25]:25";
  relayed.result.remote_mta = "dns; mx.remote.example";
  relayed.result.diagnostic = "smtp; 250 2.0.0 Ok: queued as SINK1";
  relayed.result.action = "relayed";
  bounce::RecipientReport local;
  local.rcpt.address = "bob@example.test";
  local.rcpt.notify = core::notify_success;
  local.result.dsn = "2.0.0";
  local.result.reason = "delivered to mailbox";
  local.result.relay = "local";
  auto n = bounce::make_notice(bounce::Kind::success, original(), {relayed, local}, s_, kNow);
  ASSERT_TRUE(n);
  const std::string& c = n->content;
  EXPECT_NE(c.find("\n<friend@remote.example>: delivery via mx.remote.example[203.0.113.25]:25: 250\n"
                   "    2.0.0 Ok: queued as SINK1\n"),
            std::string::npos)
      << c;
  EXPECT_NE(c.find("\nFinal-Recipient: rfc822; friend@remote.example\n"
                   "Original-Recipient: rfc822;friend@remote.example\n"
                   "Action: relayed\n"
                   "Status: 2.0.0\n"
                   "Remote-MTA: dns; mx.remote.example\n"
                   "Diagnostic-Code: smtp; 250 2.0.0 Ok: queued as SINK1\n"),
            std::string::npos)
      << c;
  // Final delivery in the same report keeps "delivered".
  EXPECT_NE(c.find("\nFinal-Recipient: rfc822; bob@example.test\n"
                   "Action: delivered\n"),
            std::string::npos)
      << c;
  // The action is a success report's only: a failure stays "failed".
  bounce::RecipientReport failed = relayed;
  failed.rcpt.notify = 0;
  failed.result.dsn = "5.1.1";
  auto f = bounce::make_notice(bounce::Kind::failure, original(), {failed}, s_, kNow);
  ASSERT_TRUE(f);
  EXPECT_NE(f->content.find("\nAction: failed\n"), std::string::npos);
  EXPECT_EQ(f->content.find("relayed"), std::string::npos);
}

TEST_F(BounceTest, RetHdrsAndBounceSizeLimitReturnHeadersOnly) {
  core::Message m = original();
  m.env.ret = "HDRS";
  auto n = bounce::make_notice(bounce::Kind::failure, m, {smtp_reject()}, s_, kNow);
  ASSERT_TRUE(n);
  EXPECT_NE(n->content.find(returned(true)), std::string::npos) << n->content;

  // RET=FULL, but the message is larger than bounce_size_limit.
  m.env.ret = "FULL";
  s_.bounce_size_limit = 100;
  n = bounce::make_notice(bounce::Kind::failure, m, {smtp_reject()}, s_, kNow);
  ASSERT_TRUE(n);
  EXPECT_NE(n->content.find(returned(true)), std::string::npos) << n->content;
  EXPECT_EQ(n->content.find("hello"), std::string::npos);

  s_.bounce_size_limit = 0;  // 0: no limit
  n = bounce::make_notice(bounce::Kind::failure, m, {smtp_reject()}, s_, kNow);
  ASSERT_TRUE(n);
  EXPECT_NE(n->content.find(returned(false)), std::string::npos);
}

TEST_F(BounceTest, NoNoticeToNullSenderDoubleBounceOrUnwantedNotify) {
  EXPECT_FALSE(bounce::make_notice(bounce::Kind::failure, original(""), {smtp_reject()}, s_, kNow));
  EXPECT_FALSE(
      bounce::make_notice(bounce::Kind::failure, original("double-bounce@example.test"), {smtp_reject()}, s_, kNow));
  EXPECT_FALSE(
      bounce::make_notice(bounce::Kind::failure, original("Double-Bounce@mx.example.test"), {smtp_reject()}, s_, kNow));
  auto never = smtp_reject();
  never.rcpt.notify = core::notify_never;
  EXPECT_FALSE(bounce::make_notice(bounce::Kind::failure, original(), {never}, s_, kNow));
  auto only_delay = smtp_reject();
  only_delay.rcpt.notify = core::notify_delay;
  EXPECT_FALSE(bounce::make_notice(bounce::Kind::failure, original(), {only_delay}, s_, kNow));
  EXPECT_FALSE(bounce::make_notice(bounce::Kind::delay, original(),
                                   {deferred("a@remote.example", core::notify_failure)}, s_, kNow));

  // Mixed NOTIFY: only the recipient that asked for failures is reported.
  auto wants = smtp_reject();
  wants.rcpt.address = "x@remote.example";
  wants.rcpt.dsn_orcpt.clear();
  wants.rcpt.notify = core::notify_failure;
  auto n = bounce::make_notice(bounce::Kind::failure, original(), {never, wants}, s_, kNow);
  ASSERT_TRUE(n);
  EXPECT_NE(n->content.find("Final-Recipient: rfc822; x@remote.example\n"), std::string::npos);
  EXPECT_EQ(n->content.find("Final-Recipient: rfc822; nobody@remote.example\n"), std::string::npos);
}

TEST_F(BounceTest, PostmasterCopyFollowsNotifyClasses) {
  // Default notify_classes (resource, software): no copies at all.
  EXPECT_TRUE(bounce::make_postmaster_notices(bounce::Kind::failure, original(), {smtp_reject()}, s_, kNow).empty());
  EXPECT_TRUE(bounce::make_postmaster_notices(bounce::Kind::failure, original(""), {smtp_reject()}, s_, kNow).empty());

  s_.notify_classes = {"bounce"};
  auto v = bounce::make_postmaster_notices(bounce::Kind::failure, original(), {smtp_reject()}, s_, kNow);
  ASSERT_EQ(v.size(), 1u);
  const core::Message& pm = v[0];
  EXPECT_EQ(pm.env.sender, "double-bounce@mx.example.test");
  ASSERT_EQ(pm.env.rcpts.size(), 1u);
  EXPECT_EQ(pm.env.rcpts[0].address, "postmaster");
  // No boiler-plate: the blank line after the part headers is followed by the
  // blank line that starts the recipient entry.
  std::string expected = head("Postmaster Copy: Undelivered Mail", "postmaster@example.test", true) +
                         "\n"
                         "<nobody@remote.example>: host 127.0.0.1[127.0.0.1] said: 550 5.1.1\n"
                         "    <nobody@remote.example>: Recipient address rejected: User unknown (in reply\n"
                         "    to RCPT TO command)\n" +
                         dsn_head() +
                         "\n"
                         "Final-Recipient: rfc822; nobody@remote.example\n"
                         "Original-Recipient: rfc822;nobody@remote.example\n"
                         "Action: failed\n"
                         "Status: 5.1.1\n"
                         "Remote-MTA: dns; 127.0.0.1\n"
                         "Diagnostic-Code: smtp; 550 5.1.1 <nobody@remote.example>: Recipient address\n"
                         "    rejected: User unknown\n" +
                         returned(true);
  EXPECT_EQ(pm.content, expected);

  // Even NOTIFY=NEVER recipients are reported to the postmaster.
  auto never = smtp_reject();
  never.rcpt.notify = core::notify_never;
  EXPECT_EQ(bounce::make_postmaster_notices(bounce::Kind::failure, original(), {never}, s_, kNow).size(), 1u);
  // Mail from double-bounce never produces another notice.
  EXPECT_TRUE(bounce::make_postmaster_notices(bounce::Kind::failure, original("double-bounce@example.test"),
                                              {smtp_reject()}, s_, kNow)
                  .empty());
}

TEST_F(BounceTest, DoubleBounceForUndeliverableNullSenderMail) {
  s_.notify_classes = {"2bounce"};
  s_.double_bounce_notice_recipient = "hostmaster";
  // A bounce of <> mail to the sender is never sent; the double bounce goes
  // to $2bounce_notice_recipient with the whole message.
  EXPECT_FALSE(bounce::make_notice(bounce::Kind::failure, original(""), {smtp_reject()}, s_, kNow));
  auto v = bounce::make_postmaster_notices(bounce::Kind::failure, original(""), {smtp_reject()}, s_, kNow);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].env.sender, "double-bounce@mx.example.test");
  EXPECT_EQ(v[0].env.rcpts[0].address, "hostmaster");  // cleanup qualifies it, keeping the original
  EXPECT_NE(v[0].content.find("Subject: Postmaster Copy: Undelivered Mail\nTo: hostmaster@example.test\n"
                              "Auto-Submitted: auto-generated\n"),
            std::string::npos);
  EXPECT_NE(v[0].content.find("X-Postfix-Sender: rfc822; MAILER-DAEMON\n"), std::string::npos);
  EXPECT_NE(v[0].content.find(returned(false, true, "MAILER-DAEMON")), std::string::npos) << v[0].content;
  // 2bounce alone does not copy ordinary bounces to the postmaster.
  EXPECT_TRUE(bounce::make_postmaster_notices(bounce::Kind::failure, original(), {smtp_reject()}, s_, kNow).empty());
}

TEST_F(BounceTest, PostmasterDelayWarning) {
  s_.notify_classes = {"delay"};
  s_.delay_warning_time = 3600;
  auto v = bounce::make_postmaster_notices(bounce::Kind::delay, original(), {deferred("a@remote.example")}, s_, kNow);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].content.rfind(head("Postmaster Warning: Delayed Mail", "postmaster@example.test", true) +
                                   "\n<a@remote.example>: connect to",
                               0),
            0u)
      << v[0].content;
  EXPECT_NE(v[0].content.find("Action: delayed\n"), std::string::npos);
  EXPECT_NE(v[0].content.find(returned(true)), std::string::npos);
}

TEST_F(BounceTest, SettingsFromConfig) {
  auto c = core::Config::from_text(
      "myhostname = mx.example.test\nmydomain = example.test\nmyorigin = $mydomain\n"
      "notify_classes = Bounce, delay\ndelay_warning_time = 4\nmaximal_queue_lifetime = 2\n"
      "bounce_size_limit = 1234\n2bounce_notice_recipient = hostmaster\n");
  auto s = bounce::Settings::from(c);
  EXPECT_EQ(s.myorigin, "example.test");
  EXPECT_EQ(s.mail_name, "mxmta");
  EXPECT_EQ(s.delay_warning_time, 4 * 3600);  // default unit h
  EXPECT_EQ(s.maximal_queue_lifetime, 2 * 86400);  // default unit d
  EXPECT_EQ(s.bounce_size_limit, 1234);
  EXPECT_TRUE(s.notify("bounce"));
  EXPECT_TRUE(s.notify("delay"));
  EXPECT_FALSE(s.notify("2bounce"));
  EXPECT_EQ(s.double_bounce_notice_recipient, "hostmaster");
  EXPECT_EQ(s.double_bounce_address(), "double-bounce@mx.example.test");
}

TEST_F(BounceTest, WrapLineFollowsPostfixLineWrap) {
  using V = std::vector<std::string>;
  EXPECT_EQ(bounce::wrap_line("short text", 79, 4), V{"short text"});
  EXPECT_EQ(bounce::wrap_line("aaa bbb ccc ddd", 8, 2), (V{"aaa bbb", "  ccc", "  ddd"}));
  // A word longer than the line is kept whole.
  EXPECT_EQ(bounce::wrap_line("x " + std::string(20, 'y') + " z", 10, 4), (V{"x", "    " + std::string(20, 'y'), "    z"}));
  // Runs of blanks at a break vanish; trailing blanks are stripped, though,
  // as in Postfix, blanks past the limit at the very end leave an empty line.
  EXPECT_EQ(bounce::wrap_line("aaaa   bbbb", 6, 1), (V{"aaaa", " bbbb"}));
  EXPECT_EQ(bounce::wrap_line("aaaa  ", 79, 4), (V{"aaaa"}));
  EXPECT_EQ(bounce::wrap_line("aaaa   bbbb  ", 6, 1), (V{"aaaa", " bbbb", " "}));
  EXPECT_EQ(bounce::wrap_line("", 79, 4), V{""});
}

TEST_F(BounceTest, ControlCharactersInReasonsAreMasked) {
  auto r = smtp_reject();
  r.result.reason = "bad\rreason\x01";
  r.result.diagnostic = "smtp; 550\tx";
  auto n = bounce::make_notice(bounce::Kind::failure, original(), {r}, s_, kNow);
  ASSERT_TRUE(n);
  EXPECT_NE(n->content.find("<nobody@remote.example>: bad?reason?\n"), std::string::npos) << n->content;
  EXPECT_NE(n->content.find("Diagnostic-Code: smtp; 550?x\n"), std::string::npos);
}

// The notice as the queue manager posts it: through cleanup into incoming/.
TEST_F(BounceTest, PostedThroughCleanupWithReceivedAndMessageId) {
  char t[] = "/tmp/mxbounceXXXXXX";
  std::string root = ::mkdtemp(t);
  queue::QueueStore store(root);
  ASSERT_FALSE(store.ensure_dirs());

  auto n = bounce::make_notice(bounce::Kind::failure, original(), {smtp_reject()}, s_, kNow);
  ASSERT_TRUE(n);
  cleanup::Settings cs;
  cs.myhostname = s_.myhostname;
  cs.myorigin = s_.myorigin;
  cs.mail_name = s_.mail_name;
  cleanup::Builder b;
  ASSERT_FALSE(b.open(store));
  b.message() = *n;
  bounce::stamp_received(b.message(), b.id(), s_, kNow);
  b.add_missing_headers = true;
  auto st = b.finish(cs);
  ASSERT_TRUE(st.ok) << st.reply;
  ASSERT_FALSE(b.commit());

  core::Message q;
  auto rr = queue::read_queue_file(store.path(queue::Q::incoming, b.id()), q.env, &q.content);
  ASSERT_TRUE(rr.ok()) << rr.bad;
  EXPECT_EQ(q.env.sender, "");
  ASSERT_EQ(q.env.rcpts.size(), 1u);
  EXPECT_EQ(q.env.rcpts[0].address, "alice@example.test");

  // Header order as observed: Received, Date, From, Subject, To,
  // Auto-Submitted, MIME-Version, Content-Type, C-T-E, Message-Id.
  std::string received = "Received: by mx.example.test (Postfix)\n\tid " + b.id() +
                         "; Sat, 28 Nov 2026 06:50:26 +0000 (UTC)\n";
  EXPECT_EQ(q.content.rfind(received + "Date: Sat, 28 Nov 2026 06:50:26 +0000 (UTC)\nFrom: ", 0), 0u) << q.content;
  std::regex msgid("Content-Transfer-Encoding: 8bit\nMessage-Id: <[0-9]{14}\\." + b.id() +
                   "@mx\\.example\\.test>\n\nThis is a MIME-encapsulated message\\.\n");
  EXPECT_TRUE(std::regex_search(q.content, msgid)) << q.content;
  EXPECT_EQ(q.content.substr(q.content.size() - std::string(kBoundary).size() - 6),
            std::string("\n--") + kBoundary + "--\n");
  std::system(("rm -rf " + root).c_str());
}
