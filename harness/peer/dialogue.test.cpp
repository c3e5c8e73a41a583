#include "peer/dialogue.hpp"

#include <gtest/gtest.h>

using namespace mxlab::peer;

namespace {

std::string read_all(DataReader& r, std::string_view in, size_t* used = nullptr) {
  r.reset(1 << 20);
  size_t n = r.feed(in);
  if (used) *used = n;
  return r.take();
}

// Performs an action the way a session would and returns its text.
std::string act(Dialogue& d, Action a, std::optional<ReceivedMessage>* msg = nullptr) {
  auto m = d.commit(a);
  if (msg) *msg = m;
  return a.text;
}

}  // namespace

TEST(DataReaderTest, EndsOnlyAtCrLfDotCrLf) {
  DataReader r;
  size_t used = 0;
  EXPECT_EQ(read_all(r, "a\r\nb\r\n.\r\nQUIT\r\n", &used), "a\r\nb\r\n");
  EXPECT_TRUE(r.done());
  EXPECT_EQ(used, 9u);  // stops right after the terminator
  EXPECT_EQ(read_all(r, ".\r\n"), "");  // empty message
  EXPECT_TRUE(r.done());
  // Bare LF and CR are data, and "\n.\n" or "\r\n.\n" do not end it.
  read_all(r, "x\n.\ny\r\n.\nz\r.\r\n");
  EXPECT_FALSE(r.done());
  r.reset(1 << 20);
  r.feed("x\n.\ny\r\n.\nz\r.\r\n.\r\n");
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.take(), "x\n.\ny\r\n\nz\r.\r\n");  // the dot after CRLF was a stuffing dot
}

TEST(DataReaderTest, DotUnstuffing) {
  DataReader r;
  EXPECT_EQ(read_all(r, "..leading\r\n...\r\n.x\r\n.\r\n"), ".leading\r\n..\r\nx\r\n");
  EXPECT_EQ(read_all(r, ".\rX\r\n.\r\n"), "\rX\r\n");
  // Fed one byte at a time, the result is the same.
  const std::string in = "a\r\n..b\r\n\r\n.\r\n";
  r.reset(1 << 20);
  for (char c : in) r.feed(std::string_view(&c, 1));
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.take(), "a\r\n.b\r\n\r\n");
}

TEST(DataReaderTest, SizeLimitCountsButDoesNotKeep) {
  DataReader r;
  r.reset(4);
  r.feed("123456789\r\n.\r\n");
  EXPECT_TRUE(r.done());
  EXPECT_TRUE(r.too_big());
  EXPECT_EQ(r.size(), 11u);
  EXPECT_EQ(r.take(), "1234");
}

TEST(DialogueTest, ConformingDefaults) {
  Spec spec;
  spec.hostname = "mx.remote.test";
  RuleBook book({});
  Dialogue d(spec, book, "127.0.0.1:4000", "127.0.0.1");
  EXPECT_EQ(act(d, d.on_connect()), "220 mx.remote.test ESMTP mxlab");
  EXPECT_EQ(act(d, d.on_command("EHLO client.test")),
            "250-mx.remote.test\n250-PIPELINING\n250-SIZE 10240000\n250-8BITMIME\n250-DSN\n250 ENHANCEDSTATUSCODES");
  EXPECT_TRUE(d.pipelining());
  EXPECT_EQ(d.max_message_size(), 10240000u);
  EXPECT_EQ(act(d, d.on_command("RCPT TO:<x@y>")), "503 5.5.1 Error: need MAIL command");
  EXPECT_EQ(act(d, d.on_command("DATA")), "503 5.5.1 Error: need RCPT command");
  EXPECT_EQ(act(d, d.on_command("MAIL FROM:<unterminated")), "501 5.5.4 Syntax: MAIL FROM:<address>");
  EXPECT_EQ(act(d, d.on_command("mail from:<a@client.test> SIZE=100 BODY=8BITMIME")), "250 2.1.0 Ok");
  EXPECT_EQ(act(d, d.on_command("MAIL FROM:<b@client.test>")), "503 5.5.1 Error: nested MAIL command");
  EXPECT_EQ(act(d, d.on_command("DATA")), "554 5.5.1 Error: no valid recipients");
  EXPECT_EQ(act(d, d.on_command("RCPT TO:<>")), "501 5.5.4 Syntax: RCPT TO:<address>");
  EXPECT_EQ(act(d, d.on_command("RCPT TO:<r1@remote.test> NOTIFY=NEVER")), "250 2.1.5 Ok");
  EXPECT_EQ(act(d, d.on_command("RCPT TO: <r2@remote.test>")), "250 2.1.5 Ok");
  EXPECT_EQ(act(d, d.on_command("DATA")), "354 End data with <CR><LF>.<CR><LF>");
  EXPECT_TRUE(d.in_data());
  std::optional<ReceivedMessage> m;
  EXPECT_EQ(act(d, d.on_data_end("Subject: t\r\n\r\nhi\r\n", false, "SINK7"), &m), "250 2.0.0 Ok: queued as SINK7");
  EXPECT_FALSE(d.in_data());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, "SINK7");
  EXPECT_EQ(m->client, "127.0.0.1:4000");
  EXPECT_EQ(m->helo, "client.test");
  EXPECT_EQ(m->mail_from, "a@client.test");
  EXPECT_EQ(m->mail_params, (std::vector<std::string>{"SIZE=100", "BODY=8BITMIME"}));
  EXPECT_EQ(m->rcpt_to, (std::vector<std::string>{"r1@remote.test", "r2@remote.test"}));
  EXPECT_EQ(m->rcpt_params, (std::vector<std::string>{"NOTIFY=NEVER", ""}));
  EXPECT_EQ(m->data, "Subject: t\r\n\r\nhi\r\n");
  EXPECT_GT(m->time, 1.5e9);
  // The transaction is over: a new MAIL is not nested.
  EXPECT_EQ(act(d, d.on_command("MAIL FROM:<>")), "250 2.1.0 Ok");
  EXPECT_EQ(act(d, d.on_command("RSET")), "250 2.0.0 Ok");
  EXPECT_EQ(act(d, d.on_command("DATA")), "503 5.5.1 Error: need RCPT command");
  EXPECT_EQ(act(d, d.on_command("VRFY bob")), "252 2.0.0 bob");
  EXPECT_EQ(act(d, d.on_command("NOOP")), "250 2.0.0 Ok");
  EXPECT_EQ(act(d, d.on_command("STARTTLS")), "502 5.5.2 Error: command not recognized");
  EXPECT_EQ(act(d, d.on_command("")), "500 5.5.2 Error: bad syntax");
  auto quit = d.on_command("QUIT");
  EXPECT_EQ(quit.text, "221 2.0.0 Bye");
  EXPECT_TRUE(quit.close_after);
}

TEST(DialogueTest, PlainSmtpPeer) {
  Spec spec;
  spec.hostname = "old.remote.test";
  spec.esmtp = false;
  RuleBook book({});
  Dialogue d(spec, book, "c", "127.0.0.1");
  EXPECT_EQ(act(d, d.on_connect()), "220 old.remote.test SMTP mxlab");
  EXPECT_EQ(act(d, d.on_command("EHLO x")), "502 5.5.2 Error: command not recognized");
  EXPECT_EQ(act(d, d.on_command("HELO x")), "250 old.remote.test");
  EXPECT_FALSE(d.pipelining());
}

TEST(DialogueTest, RuleRepliesDecideTheEffects) {
  Spec spec;
  RuleBook book(parse_rules("RCPT bob 550 5.1.1 no\nRCPT carol 250 2.1.5 fine\nDOT 451 4.3.0 later; default\n"
                            "MAIL 421 4.3.2 going away\n",
                            "r"));
  Dialogue d(spec, book, "c", "127.0.0.1");
  act(d, d.on_connect());
  act(d, d.on_command("HELO h"));
  // MAIL gets 421 from the rule: the session closes, nothing starts.
  auto mail = d.on_command("MAIL FROM:<a@b>");
  EXPECT_EQ(mail.text, "421 4.3.2 going away");
  EXPECT_TRUE(mail.close_after);
  act(d, mail);
  EXPECT_EQ(act(d, d.on_command("RCPT TO:<x@y>")), "503 5.5.1 Error: need MAIL command");
  // A rule's 250 accepts even where the default would not (no transaction).
  EXPECT_EQ(act(d, d.on_command("RCPT TO:<carol@y>")), "250 2.1.5 fine");
}

TEST(DialogueTest, DotReplyDecidesAcceptance) {
  Spec spec;
  RuleBook book(parse_rules("DOT 451 4.3.0 later; default\nRCPT BOB 550 5.1.1 no\n", "r"));
  Dialogue d(spec, book, "c", "127.0.0.1");
  act(d, d.on_connect());
  for (int attempt = 0; attempt < 2; ++attempt) {
    act(d, d.on_command("MAIL FROM:<a@b>"));
    EXPECT_EQ(act(d, d.on_command("RCPT TO:<bob@y>")), "550 5.1.1 no");
    EXPECT_EQ(act(d, d.on_command("RCPT TO:<eve@y>")), "250 2.1.5 Ok");
    act(d, d.on_command("DATA"));
    std::optional<ReceivedMessage> m;
    auto text = act(d, d.on_data_end("x\r\n", false, "SINK" + std::to_string(attempt + 1)), &m);
    if (attempt == 0) {
      EXPECT_EQ(text, "451 4.3.0 later");
      EXPECT_FALSE(m);
    } else {
      EXPECT_EQ(text, "250 2.0.0 Ok: queued as SINK2");
      ASSERT_TRUE(m);
      EXPECT_EQ(m->rcpt_to, std::vector<std::string>{"eve@y"});
    }
  }
  EXPECT_EQ(book.counts(), (std::vector<int>{2, 2}));
}

TEST(RuleBookTest, AttemptsRepeatsAndLastReplyRepeats) {
  RuleBook book(parse_rules("CONNECT 421 4.3.2 busy x2; 220 ok\n* 250 anything\n", "r"));
  EXPECT_EQ(book.next("CONNECT", "127.0.0.1")->text, "421 4.3.2 busy");
  EXPECT_EQ(book.next("CONNECT", "127.0.0.1")->text, "421 4.3.2 busy");
  EXPECT_EQ(book.next("CONNECT", "127.0.0.1")->text, "220 ok");
  EXPECT_EQ(book.next("CONNECT", "127.0.0.1")->text, "220 ok");
  EXPECT_EQ(book.next("NOOP", "")->text, "250 anything");
  EXPECT_FALSE(book.next("DOT", "data"));  // "*" is for commands, not the end of data
  EXPECT_EQ(book.counts(), (std::vector<int>{4, 1}));
}

TEST(RuleBookTest, FirstMatchWinsCaseInsensitively) {
  RuleBook book(parse_rules("RCPT <Bob@Remote.test> 550 a\nRCPT remote.test 551 b\n", "r"));
  EXPECT_EQ(book.next("RCPT", "TO:<bob@remote.TEST>")->text, "550 a");
  EXPECT_EQ(book.next("RCPT", "TO:<carol@remote.test>")->text, "551 b");
  EXPECT_FALSE(book.next("RCPT", "TO:<carol@elsewhere.test>"));
}

TEST(ParsePathTest, Forms) {
  std::string a;
  std::vector<std::string> p;
  EXPECT_TRUE(parse_path("FROM:<a@b> SIZE=1", "FROM:", a, p));
  EXPECT_EQ(a, "a@b");
  EXPECT_EQ(p, std::vector<std::string>{"SIZE=1"});
  EXPECT_TRUE(parse_path("FROM:<>", "FROM:", a, p));
  EXPECT_EQ(a, "");
  EXPECT_TRUE(parse_path("to:<\"odd >name\"@b>", "TO:", a, p));
  EXPECT_EQ(a, "\"odd >name\"@b");
  EXPECT_TRUE(parse_path("FROM:bare@b", "FROM:", a, p));
  EXPECT_EQ(a, "bare@b");
  EXPECT_FALSE(parse_path("FROM:<a@b", "FROM:", a, p));
  EXPECT_FALSE(parse_path("FROM:<a@b>x", "FROM:", a, p));
  EXPECT_FALSE(parse_path("TO:<a@b>", "FROM:", a, p));
}
