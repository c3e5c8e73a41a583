#include "smtp/protocol.hpp"

#include <gtest/gtest.h>

using namespace mta;
using namespace mta::smtp;

namespace {
Reply read(std::initializer_list<const char*> lines, size_t limit = 2048) {
  ReplyReader rr(limit);
  for (const char* l : lines)
    if (rr.feed(l)) return rr.take();
  ADD_FAILURE() << "reply not complete";
  return rr.take();
}
}  // namespace

TEST(ProtocolTest, RepliesAndTheirStatus) {
  auto r = read({"550 5.1.1 <nobody@remote.example>: Recipient address rejected: User unknown"});
  EXPECT_EQ(r.code, 550);
  EXPECT_EQ(r.dsn, "5.1.1");
  EXPECT_EQ(r.text(), "550 5.1.1 <nobody@remote.example>: Recipient address rejected: User unknown");
  // Without an enhanced code the status is derived from the reply code.
  EXPECT_EQ(read({"452 Too many recipients"}).dsn, "4.0.0");
  EXPECT_EQ(read({"250 Ok"}).dsn, "2.0.0");
  // A code whose class does not match the reply class is not used.
  EXPECT_EQ(read({"550 4.1.1 inconsistent"}).dsn, "5.0.0");
  // 3xx and odd classes: Postfix assumes a protocol error.
  EXPECT_EQ(read({"354 go ahead"}).dsn, "5.5.0");
  EXPECT_EQ(read({"250"}).code, 250);
}

TEST(ProtocolTest, MultiLineRepliesAreJoinedAndCleaned) {
  auto r = read({"554-mx.example rejects", "554-policy text", "554 5.7.1 go away"});
  EXPECT_EQ(r.code, 554);
  EXPECT_EQ(r.dsn, "5.7.1");
  EXPECT_EQ(r.text(), "554-mx.example rejects 554-policy text 554 5.7.1 go away");
  auto g = read({"garbage line", "220 ok"});
  EXPECT_EQ(g.code, 220);
  auto c = read({std::string("250 ok\x01\x7f").c_str()});
  EXPECT_EQ(c.text(), "250 ok??");
  auto l = read({std::string(3000, '5').insert(3, " ").c_str()}, 600);
  EXPECT_EQ(l.lines[0].size(), 600u);
}

TEST(ProtocolTest, GarbageLinesAreKeptAndReported) {
  // Postfix smtp_chat_resp: a line without "ddd", "ddd " or "ddd-" does not
  // end the reply; it stays in the text and the next line may end it.
  ReplyReader rr;
  EXPECT_FALSE(rr.feed("25X garbage"));
  EXPECT_FALSE(rr.feed("550-5.1.1 first"));
  EXPECT_FALSE(rr.feed("5.1.1 no code"));
  EXPECT_FALSE(rr.feed("250garbage"));
  EXPECT_FALSE(rr.feed("2500 four digits"));
  EXPECT_TRUE(rr.feed("554 5.5.1 Error: no valid recipients"));
  EXPECT_EQ(rr.take_malformed(),
            (std::vector<std::string>{"25X garbage", "5.1.1 no code", "250garbage", "2500 four digits"}));
  EXPECT_TRUE(rr.take_malformed().empty()) << "taken once";
  auto r = rr.take();
  EXPECT_EQ(r.code, 554);
  EXPECT_EQ(r.dsn, "5.5.1");
  EXPECT_EQ(r.text(),
            "25X garbage 550-5.1.1 first 5.1.1 no code 250garbage 2500 four digits 554 5.5.1 Error: no valid "
            "recipients");
  // Well-formed replies report nothing.
  EXPECT_FALSE(rr.feed("250-a"));
  EXPECT_TRUE(rr.feed("250"));
  EXPECT_TRUE(rr.take_malformed().empty());
  EXPECT_EQ(rr.take().text(), "250-a 250");
}

TEST(ProtocolTest, EhloFeatures) {
  auto r = read({"250-mx.example.com Hello", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN",
                 "250-STARTTLS", "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"});
  auto f = parse_ehlo(r);
  EXPECT_EQ(f.server_name, "mx.example.com");
  EXPECT_TRUE(f.pipelining);
  EXPECT_TRUE(f.size);
  EXPECT_EQ(f.size_limit, 10240000u);
  EXPECT_TRUE(f.eightbitmime);
  EXPECT_TRUE(f.dsn);
  EXPECT_TRUE(f.smtputf8);
  EXPECT_TRUE(f.starttls);
  auto bare = parse_ehlo(read({"250-x", "250 size"}));
  EXPECT_TRUE(bare.size);
  EXPECT_EQ(bare.size_limit, 0u);
  EXPECT_FALSE(bare.pipelining);
  EXPECT_EQ(first_word(read({"220 mx.test ESMTP Postfix"})), "mx.test");
}

TEST(ProtocolTest, MailAndRcptParameters) {
  Features none;
  Features all;
  all.size = all.eightbitmime = all.dsn = true;
  MailParams p{1234, "8BITMIME", "HDRS", "id+1=x"};
  EXPECT_EQ(mail_command("alice@example.com", p, none), "MAIL FROM:<alice@example.com>");
  EXPECT_EQ(mail_command("alice@example.com", p, all),
            "MAIL FROM:<alice@example.com> SIZE=1234 BODY=8BITMIME ENVID=id+2B1+3Dx RET=HDRS");
  EXPECT_EQ(mail_command("", MailParams{10, "", "", ""}, all), "MAIL FROM:<> SIZE=10");
  EXPECT_EQ(rcpt_command("bob@example.com", "rfc822;bob@example.com", 0, none), "RCPT TO:<bob@example.com>");
  EXPECT_EQ(
      rcpt_command("bob@example.com", "rfc822;b+o=b@example.com", core::notify_success | core::notify_failure, all),
      "RCPT TO:<bob@example.com> ORCPT=rfc822;b+2Bo+3Db@example.com NOTIFY=SUCCESS,FAILURE");
  EXPECT_EQ(notify_param(core::notify_never), "NEVER");
  EXPECT_EQ(notify_param(core::notify_delay | core::notify_failure | core::notify_success), "SUCCESS,FAILURE,DELAY");
  EXPECT_TRUE(has_8bit("caf\xc3\xa9"));
  EXPECT_FALSE(has_8bit("plain"));
}

TEST(ProtocolTest, DataIsDotStuffedWithCrlf) {
  EXPECT_EQ(encode_data("Subject: x\n\n.hidden\n..two\nend", 998),
            "Subject: x\r\n\r\n..hidden\r\n...two\r\nend\r\n.\r\n");
  EXPECT_EQ(encode_data("", 998), ".\r\n");
  EXPECT_EQ(encode_data("crlf\r\nalready\r\n", 998), "crlf\r\nalready\r\n.\r\n");
  EXPECT_EQ(encode_data(".\n", 998), "..\r\n.\r\n");
}

TEST(ProtocolTest, LongLinesAreBrokenAsPostfixDoes) {
  // Limit 10: a line of exactly 10 stays; 11 becomes 10 + CRLF SPACE + 1;
  // continuation pieces hold limit-1 characters after the space.
  EXPECT_EQ(encode_data("0123456789\n", 10), "0123456789\r\n.\r\n");
  EXPECT_EQ(encode_data("0123456789A\n", 10), "0123456789\r\n A\r\n.\r\n");
  EXPECT_EQ(encode_data("0123456789ABCDEFGHIJ\n", 10), "0123456789\r\n ABCDEFGHI\r\n J\r\n.\r\n");
  // The doubled leading dot is not counted.
  EXPECT_EQ(encode_data(".123456789\n", 10), "..123456789\r\n.\r\n");
  // 0: no limit.
  EXPECT_EQ(encode_data(std::string(2000, 'x'), 0), std::string(2000, 'x') + "\r\n.\r\n");
}
