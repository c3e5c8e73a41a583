// Scripted peers over real loopback TCP, driven by a small blocking client.
#include "peer/peer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

using namespace mxlab::peer;

namespace {

// mkdtemp template in $TMPDIR (or /tmp).
std::string temp_dir_template(const char* prefix) {
  return (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A minimal SMTP client: send raw text, read whole (multi-line) replies.
class Client {
 public:
  explicit Client(uint16_t port, int timeout_ms = 3000) : timeout_ms_(timeout_ms) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return ok_; }
  void set_timeout(int ms) { timeout_ms_ = ms; }
  void send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      s.remove_prefix(static_cast<size_t>(n));
    }
  }
  // One reply, lines joined by '\n'; "EOF" when the peer closed, "TIMEOUT".
  std::string reply() {
    std::string text;
    for (;;) {
      auto line = read_line();
      if (line == "EOF" || line == "TIMEOUT") return text.empty() ? line : text + "\n" + line;
      text += (text.empty() ? "" : "\n") + line;
      if (line.size() < 4 || line[3] != '-') return text;
    }
  }
  std::string cmd(std::string_view c) {
    send(std::string(c) + "\r\n");
    return reply();
  }
  // True when the peer has closed (EOF within the timeout).
  bool closed() { return read_line() == "EOF"; }

 private:
  std::string read_line() {
    const double deadline = now_s() + timeout_ms_ / 1000.0;
    for (;;) {
      auto nl = buf_.find("\r\n");
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 2);
        return line;
      }
      int left = std::max(0, static_cast<int>((deadline - now_s()) * 1000));
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, left) <= 0) return "TIMEOUT";
      char b[4096];
      ssize_t n = ::recv(fd_, b, sizeof b, 0);
      if (n <= 0) return "EOF";
      buf_.append(b, static_cast<size_t>(n));
    }
  }
  int fd_ = -1;
  bool ok_ = false;
  int timeout_ms_;
  std::string buf_;
};

Spec spec_with(const std::string& rules, const std::string& hostname = "mx.remote.test") {
  Spec s;
  s.name = "remote";
  s.hostname = hostname;
  s.rules = parse_rules(rules, "test.rules");
  return s;
}

class PeerTest : public ::testing::Test {
 protected:
  void start(const std::string& rules, Spec base = Spec{}) {
    auto s = spec_with(rules);
    s.esmtp = base.esmtp;
    s.idle_timeout_ms = base.idle_timeout_ms;
    if (base.extensions != Spec{}.extensions) s.extensions = base.extensions;
    peer_ = std::make_unique<Peer>(s);
    peer_->start("127.0.0.1", 0);
  }
  ~PeerTest() override {
    if (peer_) peer_->stop();
  }
  uint16_t port() const { return peer_->port(); }
  // Sends one message over a fresh connection; returns the DOT reply.
  std::string send_message(const std::string& from, const std::vector<std::string>& to, const std::string& data) {
    Client c(port());
    if (c.reply().rfind("220", 0) != 0) return "no banner";
    c.cmd("EHLO client.test");
    c.cmd("MAIL FROM:<" + from + ">");
    for (const auto& r : to) c.cmd("RCPT TO:<" + r + ">");
    if (c.cmd("DATA").rfind("354", 0) != 0) return "no 354";
    c.send(data + ".\r\n");
    auto r = c.reply();
    c.cmd("QUIT");
    return r;
  }
  std::unique_ptr<Peer> peer_;
};

}  // namespace

TEST_F(PeerTest, DefaultAcceptsEverythingLikeAConformingServer) {
  start("");
  Client c(port());
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.reply(), "220 mx.remote.test ESMTP mxlab");
  EXPECT_EQ(c.cmd("EHLO client.test"),
            "250-mx.remote.test\n250-PIPELINING\n250-SIZE 10240000\n250-8BITMIME\n250-DSN\n250 ENHANCEDSTATUSCODES");
  EXPECT_EQ(c.cmd("MAIL FROM:<alice@client.test> BODY=8BITMIME"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<bob@remote.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  c.send("Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\n");
  EXPECT_EQ(c.reply(), "250 2.0.0 Ok: queued as SINK1");
  EXPECT_EQ(c.cmd("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(c.closed());
  auto msgs = peer_->messages();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].id, "SINK1");
  EXPECT_EQ(msgs[0].helo, "client.test");
  EXPECT_EQ(msgs[0].mail_from, "alice@client.test");
  EXPECT_EQ(msgs[0].mail_params, std::vector<std::string>{"BODY=8BITMIME"});
  EXPECT_EQ(msgs[0].rcpt_to, std::vector<std::string>{"bob@remote.test"});
  EXPECT_EQ(msgs[0].data, "Subject: hi\r\n\r\n.dot\r\nbody\r\n");
  EXPECT_EQ(msgs[0].client.rfind("127.0.0.1:", 0), 0u);
  // Give the session a moment to record its end.
  for (int i = 0; i < 100 && peer_->transcripts().at(0).end == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto ts = peer_->transcripts();
  ASSERT_EQ(ts.size(), 1u);
  const auto& l = ts[0].lines;
  ASSERT_GE(l.size(), 10u);
  EXPECT_EQ(l[0], std::make_pair('S', std::string("220 mx.remote.test ESMTP mxlab")));
  EXPECT_EQ(l[1], std::make_pair('C', std::string("EHLO client.test")));
  EXPECT_EQ(l[2], std::make_pair('S', std::string("250-mx.remote.test")));
  EXPECT_EQ(l.back(), std::make_pair('#', std::string("disconnect")));
  EXPECT_NE(std::find(l.begin(), l.end(), std::make_pair('#', std::string("message data, 27 octets"))), l.end());
  EXPECT_GT(ts[0].end, ts[0].start);
}

TEST_F(PeerTest, FourTwentyOneTwiceThenTwoTwenty) {
  start("CONNECT 421 4.3.2 try later x2; 220 mx.remote.test ESMTP ready\n");
  for (int i = 0; i < 2; ++i) {
    Client c(port());
    EXPECT_EQ(c.reply(), "421 4.3.2 try later");
    EXPECT_TRUE(c.closed());  // 421 closes the connection
  }
  Client c(port());
  EXPECT_EQ(c.reply(), "220 mx.remote.test ESMTP ready");
  EXPECT_EQ(c.cmd("HELO x"), "250 mx.remote.test");
  Client d(port());
  EXPECT_EQ(d.reply(), "220 mx.remote.test ESMTP ready");  // the last reply repeats
  EXPECT_EQ(peer_->rule_counts(), std::vector<int>{4});
}

TEST_F(PeerTest, PerRecipientReplies) {
  start("RCPT <bob@remote.test> 550 5.1.1 <bob@remote.test>: Recipient address rejected\n"
        "RCPT carol 452 4.2.2 mailbox full x1; default\n");
  Client c(port());
  c.reply();
  c.cmd("EHLO client.test");
  c.cmd("MAIL FROM:<a@client.test>");
  EXPECT_EQ(c.cmd("RCPT TO:<BOB@remote.test>"), "550 5.1.1 <bob@remote.test>: Recipient address rejected");
  EXPECT_EQ(c.cmd("RCPT TO:<carol@remote.test>"), "452 4.2.2 mailbox full");
  EXPECT_EQ(c.cmd("RCPT TO:<dave@remote.test> NOTIFY=FAILURE"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<carol@remote.test>"), "250 2.1.5 Ok");  // second attempt: default
  EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  c.send("x\r\n.\r\n");
  EXPECT_EQ(c.reply(), "250 2.0.0 Ok: queued as SINK1");
  auto m = peer_->messages();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].rcpt_to, (std::vector<std::string>{"dave@remote.test", "carol@remote.test"}));
  EXPECT_EQ(m[0].rcpt_params, (std::vector<std::string>{"NOTIFY=FAILURE", ""}));
  EXPECT_EQ(peer_->rule_counts(), (std::vector<int>{1, 2}));
}

TEST_F(PeerTest, DisconnectAtEveryPhase) {
  const char* phases[] = {"CONNECT", "EHLO", "MAIL", "RCPT", "DATA", "DOT"};
  for (const char* phase : phases) {
    SCOPED_TRACE(phase);
    start(std::string(phase) + " disconnect\n");
    Client c(port());
    std::string last;
    auto step = [&](const std::string& cmd) {
      last = c.cmd(cmd);
      return last != "EOF";
    };
    bool alive = (last = c.reply()) != "EOF";
    if (alive) alive = step("EHLO client.test");
    if (alive) alive = step("MAIL FROM:<a@b.test>");
    if (alive) alive = step("RCPT TO:<c@d.test>");
    if (alive) alive = step("DATA");
    if (alive) {
      c.send("x\r\n.\r\n");
      alive = (last = c.reply()) != "EOF";
    }
    EXPECT_FALSE(alive);
    EXPECT_EQ(last, "EOF");
    EXPECT_TRUE(peer_->messages().empty());  // before the reply: nothing accepted
    peer_->stop();
    auto ts = peer_->transcripts();
    ASSERT_EQ(ts.size(), 1u);
    EXPECT_EQ(ts[0].lines.back(), std::make_pair('#', std::string("disconnect")));
  }
}

TEST_F(PeerTest, DisconnectAfterTheReply) {
  start("DOT disconnect 250 2.0.0 Ok: queued, bye\n");
  Client c(port());
  c.reply();
  c.cmd("HELO x");
  c.cmd("MAIL FROM:<a@b.test>");
  c.cmd("RCPT TO:<c@d.test>");
  c.cmd("DATA");
  c.send("x\r\n.\r\n");
  EXPECT_EQ(c.reply(), "250 2.0.0 Ok: queued, bye");
  EXPECT_TRUE(c.closed());
  EXPECT_EQ(peer_->messages().size(), 1u);  // the 250 went out: accepted
}

TEST_F(PeerTest, StallForeverMakesTheClientTimeOut) {
  start("RCPT stall\n");
  Client c(port());
  c.reply();
  c.cmd("HELO x");
  c.cmd("MAIL FROM:<a@b.test>");
  c.set_timeout(300);
  double t0 = now_s();
  EXPECT_EQ(c.cmd("RCPT TO:<c@d.test>"), "TIMEOUT");
  EXPECT_GE(now_s() - t0, 0.29);
  c.send("QUIT\r\n");  // the client gives up
  for (int i = 0; i < 200 && peer_->transcripts().at(0).lines.back().second != "QUIT"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto ts = peer_->transcripts();
  ASSERT_EQ(ts.size(), 1u);
  auto& l = ts[0].lines;
  EXPECT_NE(std::find(l.begin(), l.end(), std::make_pair('#', std::string("stall forever"))), l.end());
  EXPECT_EQ(l.back(), std::make_pair('C', std::string("QUIT")));
}

TEST_F(PeerTest, StallForAWhileThenReply) {
  start("MAIL stall 300 451 4.3.0 slow\nRCPT delay 200\n");
  Client c(port());
  c.reply();
  c.cmd("HELO x");
  double t0 = now_s();
  EXPECT_EQ(c.cmd("MAIL FROM:<a@b.test>"), "451 4.3.0 slow");
  EXPECT_GE(now_s() - t0, 0.29);
  EXPECT_EQ(c.cmd("MAIL FROM:<a@b.test>"), "451 4.3.0 slow");  // last reply repeats
  t0 = now_s();
  EXPECT_EQ(c.cmd("RCPT TO:<c@d.test>"), "503 5.5.1 Error: need MAIL command");  // delay, then the default
  EXPECT_GE(now_s() - t0, 0.19);
}

TEST_F(PeerTest, MultiLineReplies) {
  start("EHLO 250-mx.remote.test greets you\\n250-SIZE 1000\\n250 8BITMIME\n"
        "RCPT 550-5.1.1 first line\\n550 5.1.1 second line\n");
  Client c(port());
  c.reply();
  EXPECT_EQ(c.cmd("EHLO x"), "250-mx.remote.test greets you\n250-SIZE 1000\n250 8BITMIME");
  c.cmd("MAIL FROM:<>");
  EXPECT_EQ(c.cmd("RCPT TO:<a@b>"), "550-5.1.1 first line\n550 5.1.1 second line");
}

TEST_F(PeerTest, PipelinedCommandsAreAnsweredInOrder) {
  start("RCPT two 550 5.1.1 no\n");
  Client c(port());
  c.reply();
  c.cmd("EHLO client.test");
  // One write with a whole RFC 2920 group.
  c.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<one@d.test>\r\nRCPT TO:<two@d.test>\r\nRCPT TO:<three@d.test>\r\nDATA\r\n");
  EXPECT_EQ(c.reply(), "250 2.1.0 Ok");
  EXPECT_EQ(c.reply(), "250 2.1.5 Ok");
  EXPECT_EQ(c.reply(), "550 5.1.1 no");
  EXPECT_EQ(c.reply(), "250 2.1.5 Ok");
  EXPECT_EQ(c.reply(), "354 End data with <CR><LF>.<CR><LF>");
  // Data, end of data and QUIT pipelined too.
  c.send("a\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(c.reply(), "250 2.0.0 Ok: queued as SINK1");
  EXPECT_EQ(c.reply(), "221 2.0.0 Bye");
  auto m = peer_->messages();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].rcpt_to, (std::vector<std::string>{"one@d.test", "three@d.test"}));
}

TEST_F(PeerTest, ContentMatchRawRepliesAndAnyCommand) {
  start("DOT \"X-Spam: yes\" 550 5.7.1 Message content rejected\n"
        "HELO raw 25X not a reply\n"
        "* vrfy 502 5.5.1 VRFY is off\n");
  EXPECT_EQ(send_message("a@b.test", {"c@d.test"}, "X-Spam: YES\r\n\r\nbuy\r\n"), "550 5.7.1 Message content rejected");
  EXPECT_EQ(send_message("a@b.test", {"c@d.test"}, "Subject: fine\r\n\r\nhi\r\n"), "250 2.0.0 Ok: queued as SINK2");
  EXPECT_EQ(peer_->messages().size(), 1u);
  Client c(port());
  c.reply();
  EXPECT_EQ(c.cmd("HELO x"), "25X not a reply");
  EXPECT_EQ(c.cmd("VRFY bob"), "252 2.0.0 bob");          // "*" matched the argument "bob", not "vrfy"
  EXPECT_EQ(c.cmd("NOOP vrfy me"), "502 5.5.1 VRFY is off");  // any command whose argument contains "vrfy"
}

TEST_F(PeerTest, DataKeepsBareLfAndCrAndEndsOnlyAtCrLfDotCrLf) {
  start("");
  Client c(port());
  c.reply();
  c.cmd("HELO x");
  c.cmd("MAIL FROM:<a@b.test>");
  c.cmd("RCPT TO:<c@d.test>");
  c.cmd("DATA");
  c.send("line1\nbare.\n.\nstill data\r.\r\n..stuffed\r\n");
  c.set_timeout(200);
  EXPECT_EQ(c.reply(), "TIMEOUT");  // "\n.\n" did not end the data
  c.send(".\r\n");
  c.set_timeout(3000);
  EXPECT_EQ(c.reply(), "250 2.0.0 Ok: queued as SINK1");
  auto m = peer_->messages();
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].data, "line1\nbare.\n.\nstill data\r.\r\n.stuffed\r\n");
}

TEST_F(PeerTest, IdleClientGetsTimeout421) {
  Spec base;
  base.idle_timeout_ms = 200;
  start("", base);
  Client c(port());
  c.reply();
  c.cmd("HELO x");
  EXPECT_EQ(c.reply(), "421 4.4.2 mx.remote.test Error: timeout exceeded");
  EXPECT_TRUE(c.closed());
  auto ts = peer_->transcripts();
  auto& l = ts.at(0).lines;
  EXPECT_NE(std::find(l.begin(), l.end(), std::make_pair('#', std::string("timeout"))), l.end());
}

TEST_F(PeerTest, NonEsmtpPeerAndOverlongLines) {
  Spec base;
  base.esmtp = false;
  start("", base);
  Client c(port());
  EXPECT_EQ(c.reply(), "220 mx.remote.test SMTP mxlab");
  EXPECT_EQ(c.cmd("EHLO x"), "502 5.5.2 Error: command not recognized");
  EXPECT_EQ(c.cmd("HELO x"), "250 mx.remote.test");
  EXPECT_EQ(c.cmd("NOOP " + std::string(5000, 'x')), "500 5.5.0 Error: line too long");
  EXPECT_EQ(c.cmd("NOOP"), "250 2.0.0 Ok");
}

TEST_F(PeerTest, RuleCountsSpanSessions) {
  start("MAIL 451 4.3.0 later x2; default\n");
  EXPECT_EQ(send_message("a@b.test", {"c@d.test"}, "x\r\n"), "no 354");
  EXPECT_EQ(send_message("a@b.test", {"c@d.test"}, "x\r\n"), "no 354");
  EXPECT_EQ(send_message("a@b.test", {"c@d.test"}, "x\r\n"), "250 2.0.0 Ok: queued as SINK1");
  EXPECT_EQ(peer_->rule_counts(), std::vector<int>{3});
  EXPECT_EQ(peer_->transcripts().size(), 3u);
}

TEST_F(PeerTest, DozensOfConcurrentClients) {
  start("");
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 40; ++i)
    ts.emplace_back([&, i] {
      auto r = send_message("s" + std::to_string(i) + "@b.test", {"r@d.test"}, "msg " + std::to_string(i) + "\r\n");
      if (r.rfind("250 2.0.0 Ok: queued as SINK", 0) == 0) ++ok;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 40);
  auto msgs = peer_->messages();
  ASSERT_EQ(msgs.size(), 40u);
  std::set<std::string> ids, senders;
  for (const auto& m : msgs) {
    ids.insert(m.id);
    senders.insert(m.mail_from);
  }
  EXPECT_EQ(ids.size(), 40u);
  EXPECT_EQ(senders.size(), 40u);
}

TEST_F(PeerTest, OnMessageCallbackAndBindErrors) {
  std::atomic<int> seen{0};
  auto s = spec_with("");
  Peer p(s);
  p.on_message([&](const ReceivedMessage& m) {
    if (m.rcpt_to.size() == 1) ++seen;
  });
  p.start("127.0.0.1", 0);
  Peer q(s);
  EXPECT_THROW(q.start("127.0.0.1", p.port()), std::system_error);
  EXPECT_THROW(q.start("no-such-address", 0), std::system_error);
  {
    Client c(p.port());
    c.reply();
    c.cmd("HELO x");
    c.cmd("MAIL FROM:<a@b>");
    c.cmd("RCPT TO:<c@d>");
    c.cmd("DATA");
    c.send(".\r\n");
    EXPECT_EQ(c.reply(), "250 2.0.0 Ok: queued as SINK1");
  }
  EXPECT_EQ(seen.load(), 1);
  // A session still open when the peer stops is closed and marked.
  Client idle(p.port());
  idle.reply();
  p.stop();
  EXPECT_TRUE(idle.closed());
  auto ts = p.transcripts();
  ASSERT_EQ(ts.size(), 2u);
  EXPECT_EQ(ts[1].lines.back(), std::make_pair('#', std::string("peer stopped")));
  EXPECT_GT(ts[1].end, 0);
}

TEST(SinkMainTest, PrintsAndDumpsEachMessage) {
  std::string dir_s = temp_dir_template("mxlab-sink");
  char* dir = dir_s.data();
  ASSERT_NE(::mkdtemp(dir), nullptr);
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    std::string a0 = "sink", a1 = "--listen", a2 = "127.0.0.1:0", a3 = "--rule", a4 = "RCPT nobody 550 5.1.1 no",
                a5 = "--dump", a6 = dir;
    char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), a4.data(), a5.data(), a6.data(), nullptr};
    ::_exit(sink_main(7, argv));
  }
  ::close(out[1]);
  FILE* f = ::fdopen(out[0], "r");
  char line[512] = {};
  ASSERT_NE(std::fgets(line, sizeof line, f), nullptr);
  std::string l = line;
  ASSERT_EQ(l.rfind("mxlab sink: listening on 127.0.0.1:", 0), 0u) << l;
  uint16_t port = static_cast<uint16_t>(std::atoi(l.c_str() + std::strlen("mxlab sink: listening on 127.0.0.1:")));
  {
    Client c(port);
    EXPECT_EQ(c.reply(), "220 sink.mxlab.test ESMTP mxlab");
    c.cmd("EHLO client.test");
    c.cmd("MAIL FROM:<a@client.test>");
    EXPECT_EQ(c.cmd("RCPT TO:<nobody@sink.test>"), "550 5.1.1 no");
    c.cmd("RCPT TO:<b@sink.test>");
    c.cmd("RCPT TO:<c@sink.test>");
    c.cmd("DATA");
    c.send("Subject: s\r\n\r\nbody\r\n.\r\n");
    EXPECT_EQ(c.reply(), "250 2.0.0 Ok: queued as SINK1");
    c.cmd("QUIT");
  }
  ASSERT_NE(std::fgets(line, sizeof line, f), nullptr);
  l = line;
  EXPECT_EQ(l.substr(0, l.find(" client=")),
            "SINK1 from=<a@client.test> to=<b@sink.test>,<c@sink.test> size=20 helo=client.test");
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_NE(std::fgets(line, sizeof line, f), nullptr);
  EXPECT_STREQ(line, "mxlab sink: 1 messages in 1 sessions\n");
  std::fclose(f);
  std::string file = std::string(dir) + "/SINK1.eml";
  std::ifstream in(file, std::ios::binary);
  std::stringstream body;
  body << in.rdbuf();
  EXPECT_EQ(body.str(), "X-Mail-From: a@client.test\r\nX-Rcpt-To: b@sink.test\r\nX-Rcpt-To: c@sink.test\r\n"
                        "Subject: s\r\n\r\nbody\r\n");
  std::remove(file.c_str());
  ::rmdir(dir);
}

TEST(SinkMainTest, BadRulesAreReportedWithFileAndLine) {
  std::string dir_s = temp_dir_template("mxlab-sink");
  char* dir = dir_s.data();
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string rules = std::string(dir) + "/mx.rules";
  std::ofstream(rules) << "CONNECT 220 ok\nRCPT bob hello\n";
  int err[2];
  ASSERT_EQ(::pipe(err), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(err[1], 2);
    std::string a0 = "sink", a1 = "--listen", a2 = "127.0.0.1:0", a3 = "--rules";
    char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), rules.data(), nullptr};
    ::_exit(sink_main(5, argv));
  }
  ::close(err[1]);
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = ::read(err[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(err[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 65);
  EXPECT_EQ(text, "mxlab sink: " + rules +
                      ":2: reply \"hello\" does not start with a 3-digit code (use raw for a malformed reply)\n");
  std::remove(rules.c_str());
  ::rmdir(dir);
}
