// mbox and Maildir readers, MIME splitting and RFC 3464 DSN parsing, on
// the shapes Postfix writes (reference sections 6 and 7).
#include "mail/mailbox.hpp"
#include "mail/message.hpp"
#include "model/text.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace mxlab::mail {
namespace {

namespace fs = std::filesystem;

const char* kBounce =
    "Return-Path: <>\n"
    "From: Mail Delivery System <MAILER-DAEMON@example.test>\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "To: alice@example.test\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status;\n"
    "\tboundary=\"8FE96104017.1795848626/mx.example.test\"\n"
    "\n"
    "This is a MIME-encapsulated message.\n"
    "\n"
    "--8FE96104017.1795848626/mx.example.test\n"
    "Content-Description: Notification\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "This is the mail system at host mx.example.test.\n"
    "\n"
    "--8FE96104017.1795848626/mx.example.test\n"
    "Content-Description: Delivery report\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; mx.example.test\n"
    "X-Postfix-Queue-ID: 8FE96104017\n"
    "Arrival-Date: Sat, 28 Nov 2026 06:50:26 +0000 (UTC)\n"
    "\n"
    "Final-Recipient: rfc822; nobody@remote.example\n"
    "Original-Recipient: rfc822;nobody@remote.example\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "Remote-MTA: dns; 127.0.0.1\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <nobody@remote.example>: Recipient address\n"
    "    rejected: User unknown\n"
    "\n"
    "--8FE96104017.1795848626/mx.example.test\n"
    "Content-Description: Undelivered Message\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: original\n"
    "Message-Id: <orig@example.test>\n"
    "\n"
    "hello\n"
    "\n"
    "--8FE96104017.1795848626/mx.example.test--\n";

class MailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mxlab-mail-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(MailTest, MboxSplitsOnFromLinesAndKeepsQuotedFrom) {
  std::string mbox =
      "From x@example.net  Sat Nov 28 06:48:41 2026\n"
      "Return-Path: <x@example.net>\n"
      "X-Original-To: sales@example.test\n"
      "Delivered-To: alice@example.test\n"
      "Subject: one\n"
      "\n"
      ">From the start\n"
      "From inside a paragraph is not a separator\n"
      "\n"
      "From MAILER-DAEMON  Sat Nov 28 06:50:00 2026\n"
      "Return-Path: <>\n"
      "Subject: two\n"
      "\n"
      "body two\n"
      "\n";
  model::write_file(dir_ + "/alice", mbox);
  auto msgs = read_mbox(dir_ + "/alice");
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].envelope_sender, "x@example.net");
  EXPECT_EQ(msgs[0].from_line, "x@example.net  Sat Nov 28 06:48:41 2026");
  EXPECT_EQ(msgs[0].header("x-original-to").value_or(""), "sales@example.test");
  EXPECT_EQ(msgs[0].body, ">From the start\nFrom inside a paragraph is not a separator\n");
  EXPECT_EQ(msgs[1].envelope_sender, "MAILER-DAEMON");
  EXPECT_EQ(msgs[1].header("Return-Path").value_or("?"), "<>");
  EXPECT_EQ(msgs[1].body, "body two\n");
  EXPECT_TRUE(read_mbox(dir_ + "/nobody").empty());
}

TEST_F(MailTest, MaildirReadsNewAndCurInOrder) {
  fs::create_directories(dir_ + "/Maildir/new");
  fs::create_directories(dir_ + "/Maildir/cur");
  fs::create_directories(dir_ + "/Maildir/tmp");
  model::write_file(dir_ + "/Maildir/new/1795848666.V1I2M3.h", "Subject: b\n\nB\n");
  model::write_file(dir_ + "/Maildir/cur/1795848600.V1I1M3.h:2,S", "Subject: a\n\nA\n");
  model::write_file(dir_ + "/Maildir/tmp/1795848700.V1I9M3.h", "Subject: partial\n\n");
  auto msgs = read_maildir(dir_ + "/Maildir");
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].header("Subject").value_or(""), "a");
  EXPECT_EQ(msgs[1].header("Subject").value_or(""), "b");
  EXPECT_TRUE(read_maildir(dir_ + "/none").empty());
}

TEST_F(MailTest, HeadersUnfoldAndParametersParse) {
  Message m = parse_message("Subject: a\r\n  folded\r\nX-A: 1\r\n\r\nbody\r\n");
  EXPECT_EQ(m.header("subject").value_or(""), "a folded");
  EXPECT_EQ(m.body, "body\r\n");
  EXPECT_EQ(header_param("multipart/report; report-type=delivery-status; boundary=\"a b\"", "boundary"), "a b");
  EXPECT_EQ(header_param("text/plain; charset=utf-8", "charset"), "utf-8");
  EXPECT_EQ(header_param("text/plain; xcharset=1", "charset"), "");
  EXPECT_EQ(media_type(" Multipart/Report ; x=y"), "multipart/report");
}

TEST_F(MailTest, ParsesPostfixBounceAsRfc3464) {
  Message m = parse_message(kBounce);
  Dsn d;
  std::string why;
  ASSERT_TRUE(parse_dsn(m, d, why)) << why;
  EXPECT_EQ(d.message_fields["reporting-mta"], "dns; mx.example.test");
  ASSERT_EQ(d.recipients.size(), 1u);
  const auto& r = d.recipients[0];
  EXPECT_EQ(r.final_recipient, "nobody@remote.example");
  EXPECT_EQ(r.original_recipient, "nobody@remote.example");
  EXPECT_EQ(r.action, "failed");
  EXPECT_EQ(r.status, "5.1.1");
  EXPECT_EQ(r.remote_mta, "127.0.0.1");
  EXPECT_EQ(r.diagnostic_code, "smtp; 550 5.1.1 <nobody@remote.example>: Recipient address rejected: User unknown");
  ASSERT_TRUE(d.returned.has_value());
  EXPECT_EQ(d.returned->header("Message-Id").value_or(""), "<orig@example.test>");
  EXPECT_NE(d.human_text.find("This is the mail system"), std::string::npos);
}

TEST_F(MailTest, RejectsWhatIsNotADsn) {
  Dsn d;
  std::string why;
  EXPECT_FALSE(parse_dsn(parse_message("Subject: x\n\nhi\n"), d, why));
  EXPECT_NE(why.find("not a multipart/report"), std::string::npos);
  std::string no_status = kBounce;
  no_status = model::replace_all(no_status, "message/delivery-status", "text/plain");
  EXPECT_FALSE(parse_dsn(parse_message(no_status), d, why));
  EXPECT_EQ(why, "no message/delivery-status part");
  std::string no_action = model::replace_all(kBounce, "Action: failed\n", "");
  Dsn d2;
  EXPECT_FALSE(parse_dsn(parse_message(no_action), d2, why));
  EXPECT_NE(why.find("lacks Final-Recipient, Action or Status"), std::string::npos);
}

}  // namespace
}  // namespace mxlab::mail
