// Dialogue scripts: parsing, whole-reply matching (multi-line, prefix,
// regex), raw bytes, and running a script against a real loopback server.
#include "dialog/script.hpp"
#include "dialog/session.hpp"
#include "model/xml.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>

namespace mxlab::dialog {
namespace {

class DialogTest : public ::testing::Test {
 protected:
  // A one-connection server on 127.0.0.1:<ephemeral> running `serve(fd)`.
  void serve(std::function<void(int)> fn) {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(lfd_, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(lfd_, 1), 0);
    socklen_t len = sizeof a;
    ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    server_ = std::thread([this, fn] {
      int c = ::accept(lfd_, nullptr, nullptr);
      if (c >= 0) {
        fn(c);
        ::close(c);
      }
    });
  }
  void TearDown() override {
    if (server_.joinable()) server_.join();
    if (lfd_ >= 0) ::close(lfd_);
  }
  int connect_client() {
    std::string err;
    int fd = connect_tcp("127.0.0.1", port_, "127.0.0.1", 2000, err);
    EXPECT_GE(fd, 0) << err;
    return fd;
  }
  static std::string recv_line(int fd) {
    std::string s;
    char c;
    while (::recv(fd, &c, 1, 0) == 1) {
      s += c;
      if (c == '\n') break;
    }
    return s;
  }
  static void say(int fd, const std::string& s) { ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size())); }

  int lfd_ = -1;
  unsigned port_ = 0;
  std::thread server_;
};

TEST_F(DialogTest, ParsesDirectivesWithFileLines) {
  Script s = parse_script("\n<~ 220\n-> EHLO x\n<- 250-a\n<- 250 b\n=> .\\r\\n\nclose\n", "f.xml", 10);
  ASSERT_EQ(s.directives.size(), 5u);
  EXPECT_EQ(s.directives[0].kind, Directive::Kind::expect_prefix);
  EXPECT_EQ(s.directives[0].line, 11);
  EXPECT_EQ(s.directives[2].kind, Directive::Kind::expect_exact);
  EXPECT_EQ(s.directives[2].lines, (std::vector<std::string>{"250-a", "250 b"}));
  EXPECT_EQ(s.directives[3].text, ".\r\n");
  EXPECT_EQ(s.directives[4].kind, Directive::Kind::close);
  try {
    parse_script("-> A\n<- hello\n", "f.xml", 3);
    FAIL() << "no error";
  } catch (const model::ParseError& e) {
    EXPECT_EQ(std::string(e.what()).substr(0, 8), "f.xml:4:");
  }
  EXPECT_THROW(parse_script("<~ /([a/\n", "f.xml", 1), model::ParseError);
  EXPECT_THROW(parse_script("sleep forever\n", "f.xml", 1), model::ParseError);
}

TEST_F(DialogTest, MatchesWholeReplies) {
  Reply multi{{"250-mx.example.com", "250-PIPELINING", "250 CHUNKING"}};
  std::string why;
  Script s = parse_script("<~ 250\n<~ /^250.PIPELINING$/\n<- 250 CHUNKING\n<~ /^250 8BITMIME$/\n<~ 25O\n", "f", 1);
  EXPECT_TRUE(matches(s.directives[0], multi, why));
  EXPECT_TRUE(matches(s.directives[1], multi, why));  // multiline: ^ $ at each line
  EXPECT_FALSE(matches(s.directives[2], multi, why)); // exact compares the whole reply
  EXPECT_FALSE(matches(s.directives[3], multi, why));
  EXPECT_FALSE(matches(s.directives[4], multi, why));
  Script exact = parse_script("<- 250-mx.example.com\n<- 250-PIPELINING\n<- 250 CHUNKING\n", "f", 1);
  EXPECT_TRUE(matches(exact.directives[0], multi, why));
  EXPECT_EQ(multi.code(), 250);
  bool last = false;
  EXPECT_TRUE(reply_line("354", last));
  EXPECT_TRUE(last);
  EXPECT_FALSE(reply_line("35x ok", last));
}

TEST_F(DialogTest, RunsAgainstALoopbackServerAndTracksAcceptedMail) {
  std::string got_data;
  serve([&](int c) {
    say(c, "220 mx ESMTP\r\n");
    recv_line(c);  // EHLO
    say(c, "250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
    // pipelined MAIL, RCPT, RCPT, DATA arrive in one go
    for (int i = 0; i < 4; ++i) recv_line(c);
    say(c, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no\r\n354 go\r\n");
    for (;;) {
      std::string l = recv_line(c);
      if (l.empty() || l == ".\r\n") break;
      got_data += l;
    }
    say(c, "250 2.0.0 Ok: queued as ABC\r\n");
    recv_line(c);
    say(c, "221 2.0.0 Bye\r\n");
  });
  Script s = parse_script(R"(
<~ 220
-> EHLO client.test
<~ /^250.PIPELINING$/
=> MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\n
<- 250 2.1.0 Ok
<~ 250
<~ 550
<~ 354
-> Subject: t
->
-> ..dot
-> .
<~ /queued as [A-Z]+/
-> QUIT
<- 221 2.0.0 Bye
closed
)", "f", 1);
  int fd = connect_client();
  Result r = run_script(fd, s, 3000);
  ::close(fd);
  EXPECT_TRUE(r.ok) << r.why << "\n" << r.transcript_text();
  ASSERT_EQ(r.accepted.size(), 1u);
  EXPECT_EQ(r.accepted[0].sender, "a@x.test");
  EXPECT_EQ(r.accepted[0].rcpts, std::vector<std::string>{"b@y.test"});
  EXPECT_EQ(r.accepted[0].data, "Subject: t\r\n\r\n.dot\r\n");
  EXPECT_EQ(got_data, "Subject: t\r\n\r\n..dot\r\n");
}

// A refused DATA leaves the client in command mode, and a command ending in
// a bare LF is still a command: the transaction after both is recorded.
TEST_F(DialogTest, TracksMailAfterRefusedDataAndBareLfCommands) {
  serve([&](int c) {
    say(c, "220 mx ESMTP\r\n");
    recv_line(c);  // MAIL
    say(c, "250 2.1.0 Ok\r\n");
    recv_line(c);  // DATA
    say(c, "554 5.5.1 Error: no valid recipients\r\n");
    recv_line(c);  // RCPT
    say(c, "250 2.1.5 Ok\r\n");
    recv_line(c);  // DATA
    say(c, "354 go\r\n");
    for (;;) {
      std::string l = recv_line(c);
      if (l.empty() || l == ".\r\n") break;
    }
    say(c, "250 2.0.0 Ok: queued as ABC\r\n");
  });
  Script s = parse_script(R"(
<~ 220
=> MAIL FROM:<a@x.test>\n
<~ 250
-> DATA
<~ 554
-> RCPT TO:<b@y.test>
<~ 250
-> DATA
<~ 354
=> Subject: t\r\n\r\nline\n.\nstill text\r\n.\r\n
<~ 250
)", "f", 1);
  int fd = connect_client();
  Result r = run_script(fd, s, 3000);
  ::close(fd);
  EXPECT_TRUE(r.ok) << r.why << "\n" << r.transcript_text();
  ASSERT_EQ(r.accepted.size(), 1u);
  EXPECT_EQ(r.accepted[0].sender, "a@x.test");
  EXPECT_EQ(r.accepted[0].rcpts, std::vector<std::string>{"b@y.test"});
  // only CRLF ends a line of text: the bare-LF "." did not end the message
  EXPECT_EQ(r.accepted[0].data, "Subject: t\r\n\r\nline\n.\nstill text\r\n");
}

TEST_F(DialogTest, ReportsMismatchTimeoutAndMalformedReplies) {
  serve([&](int c) {
    say(c, "220 mx ESMTP\r\n");
    recv_line(c);
    say(c, "554 5.7.1 no\r\n");
    recv_line(c);
    // then silence: the next expectation times out
    recv_line(c);
  });
  Script s = parse_script("<~ 220\n-> HELO x\n<~ 250\n", "f", 1);
  int fd = connect_client();
  Result r = run_script(fd, s, 1000);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.failed_line, 3);
  EXPECT_EQ(r.expected, "250...");
  EXPECT_EQ(r.actual, "554 5.7.1 no");
  Script s2 = parse_script("-> NOOP\n<~ 250\n", "f", 7);
  Result r2 = run_script(fd, s2, 300);
  EXPECT_FALSE(r2.ok);
  EXPECT_EQ(r2.failed_line, 8);
  EXPECT_NE(r2.actual.find("no complete reply within"), std::string::npos) << r2.actual;
  ::close(fd);
  TearDown();
  lfd_ = -1;
  serve([&](int c) { say(c, "hello there\r\n"); });
  fd = connect_client();
  Result r3 = run_script(fd, parse_script("<~ 220\n", "f", 1), 1000);
  ::close(fd);
  EXPECT_FALSE(r3.ok);
  EXPECT_NE(r3.actual.find("malformed reply line"), std::string::npos) << r3.actual;
}

TEST_F(DialogTest, ConnectRefusedIsAnError) {
  std::string err;
  EXPECT_EQ(connect_tcp("127.0.0.1", 1, "", 1000, err), -1);
  EXPECT_EQ(err, "Connection refused");
  EXPECT_EQ(connect_tcp("not-an-ip", 25, "", 1000, err), -1);
}

}  // namespace
}  // namespace mxlab::dialog
