#include "smtp/smtp_agent.hpp"

#include "dns/resolver.hpp"
#include "dns/test_dns_server.hpp"
#include "smtp/test_smtp_server.hpp"
#include "util/log.hpp"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include "util/asio.hpp"
#pragma GCC diagnostic pop

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>

using namespace mta;
using smtp::testing::Phase;
using smtp::testing::Script;
using smtp::testing::TestSmtpServer;
using Results = std::vector<core::DeliveryResult>;

class SmtpAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/mxsmtpXXXXXX";
    dir_ = ::mkdtemp(t);
    dns_ = std::make_unique<dns::testing::TestDnsServer>(io_);
    std::ofstream(dir_ + "/resolv.conf") << dns_->resolv_conf_text(1, 1);
    resolver_ = std::make_shared<dns::Resolver>(io_, dns::ResolverOptions{dir_ + "/resolv.conf", dns_->port(), 0, 0});
    // Every test SMTP server listens on this port, each on its own 127.0.0.x.
    mx_ = std::make_unique<TestSmtpServer>(io_, "127.0.0.2");
    port_ = mx_->port();
    dns_->add("example.test", "MX", "10 mx.example.test");
    dns_->add("mx.example.test", "A", "127.0.0.2");
  }
  void TearDown() override {
    agent_.reset();
    servers_.clear();
    mx_.reset();
    resolver_.reset();
    dns_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  TestSmtpServer& server(const std::string& addr) {
    servers_.push_back(std::make_unique<TestSmtpServer>(io_, addr, port_));
    return *servers_.back();
  }

  // The client under test; `extra` main.cf lines override the defaults.
  smtp::SmtpAgent& agent(const std::string& extra = "") {
    std::string text =
        "myhostname = client.test\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
        "smtp_tcp_port = " +
        std::to_string(port_) +
        "\nsmtp_connect_timeout = 2s\nsmtp_helo_timeout = 2s\nsmtp_mail_timeout = 2s\n"
        "smtp_rcpt_timeout = 2s\nsmtp_data_init_timeout = 2s\nsmtp_data_xfer_timeout = 2s\n"
        "smtp_data_done_timeout = 2s\nsmtp_randomize_addresses = no\n" +
        extra;
    cfg_ = std::make_shared<core::Config>(core::Config::from_text(text));
    agent_ = std::make_unique<smtp::SmtpAgent>(io_, cfg_, "smtp", resolver_);
    return *agent_;
  }

  static std::shared_ptr<core::Message> message(const std::vector<std::string>& rcpts,
                                                std::string content = "Subject: test\n\nhello\n") {
    auto m = std::make_shared<core::Message>();
    m->env.id = "4A1B2C3D4E";
    m->env.sender = "alice@client.test";
    for (const auto& r : rcpts) {
      core::Recipient rc;
      rc.address = r;
      m->env.rcpts.push_back(rc);
    }
    m->content = std::move(content);
    return m;
  }

  Results deliver(std::shared_ptr<core::Message> msg, const std::string& nexthop = "example.test",
                  double* seconds = nullptr) {
    core::DeliveryRequest req;
    req.msg = msg;
    req.transport = "smtp";
    req.nexthop = nexthop;
    for (size_t i = 0; i < msg->env.rcpts.size(); ++i) {
      req.rcpts.push_back(i);
      req.addresses.push_back(msg->env.rcpts[i].address);
    }
    req.conn_load = req.conn_store = cache_;
    std::optional<Results> got;
    int calls = 0;
    auto t0 = std::chrono::steady_clock::now();
    agent_->deliver(std::move(req), [&](Results r) {
      ++calls;
      got = std::move(r);
    });
    io_.restart();
    while (!got && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30))
      io_.run_one_for(std::chrono::milliseconds(50));
    // Let the servers see what followed (QUIT ...), then make sure done was
    // not called twice.
    io_.run_for(std::chrono::milliseconds(30));
    if (seconds) *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(got.has_value()) << "no result";
    return got.value_or(Results{});
  }

  Results deliver1(const std::string& nexthop = "example.test", double* seconds = nullptr) {
    return deliver(message({"bob@example.test"}), nexthop, seconds);
  }

  std::string relay(const std::string& host, const std::string& addr) const {
    return host + "[" + addr + "]:" + std::to_string(port_);
  }

  net::io_context io_;
  std::string dir_;
  std::unique_ptr<dns::testing::TestDnsServer> dns_;
  std::shared_ptr<dns::Resolver> resolver_;
  std::unique_ptr<TestSmtpServer> mx_;
  std::vector<std::unique_ptr<TestSmtpServer>> servers_;
  uint16_t port_ = 0;
  std::shared_ptr<core::Config> cfg_;
  std::unique_ptr<smtp::SmtpAgent> agent_;
  bool cache_ = false;  // the queue manager's connection cache hints
};

// ---------------------------------------------------------------------------
// Success

TEST_F(SmtpAgentTest, DeliversWithPipeliningAndPostfixResultFields) {
  agent();
  auto r = deliver(message({"bob@example.test", "carol@example.test"}));
  ASSERT_EQ(r.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(r[i].rcpt, i);
    EXPECT_EQ(r[i].kind(), '2');
    EXPECT_EQ(r[i].dsn, "2.0.0");
    EXPECT_EQ(r[i].reason, "250 2.0.0 Ok: queued as TEST1");
    EXPECT_EQ(r[i].relay, relay("mx.example.test", "127.0.0.2"));
    EXPECT_EQ(r[i].remote_mta, "dns; mx.example.test");
    EXPECT_EQ(r[i].diagnostic, "smtp; 250 2.0.0 Ok: queued as TEST1");
    EXPECT_FALSE(r[i].dead_destination);
    EXPECT_GE(r[i].conn_delay, 0);
    EXPECT_GE(r[i].xfer_delay, 0);
  }
  ASSERT_EQ(mx_->connections(), 1) << "all recipients in one transaction";
  auto s = mx_->sessions()[0];
  ASSERT_GE(s.commands.size(), 6u);
  EXPECT_EQ(s.commands[0], "EHLO client.test");
  EXPECT_EQ(s.commands[1], "MAIL FROM:<alice@client.test> SIZE=21");
  EXPECT_EQ(s.commands[2], "RCPT TO:<bob@example.test> ORCPT=rfc822;bob@example.test");
  EXPECT_EQ(s.commands[3], "RCPT TO:<carol@example.test> ORCPT=rfc822;carol@example.test");
  EXPECT_EQ(s.commands[4], "DATA");
  EXPECT_EQ(s.commands[5], "QUIT");
  // PIPELINING: MAIL, both RCPTs and DATA arrived in one read.
  EXPECT_EQ(s.read_no[1], s.read_no[4]);
  EXPECT_NE(s.read_no[0], s.read_no[1]);
  EXPECT_EQ(s.data, "Subject: test\r\n\r\nhello\r\n");
  EXPECT_TRUE(s.quit);
  EXPECT_EQ(agent_->active(), 0u);
}

TEST_F(SmtpAgentTest, WithoutPipeliningEachCommandWaitsForItsReply) {
  mx_->script().ehlo = "250-mx.test\n250 8BITMIME";
  agent();
  auto r = deliver(message({"bob@example.test", "carol@example.test"}));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].kind(), '2');
  auto s = mx_->sessions()[0];
  ASSERT_GE(s.commands.size(), 5u);
  EXPECT_EQ(s.commands[1], "MAIL FROM:<alice@client.test>") << "no SIZE, no DSN when not offered";
  EXPECT_EQ(s.commands[2], "RCPT TO:<bob@example.test>");
  for (size_t i = 1; i + 1 < s.commands.size(); ++i) EXPECT_LT(s.read_no[i], s.read_no[i + 1]) << s.commands[i];
}

TEST_F(SmtpAgentTest, HeloWhenEhloIsRefusedOrDisabled) {
  mx_->script().ehlo = "502 5.5.2 Error: command not recognized";
  agent();
  auto r = deliver1();
  EXPECT_EQ(r[0].kind(), '2');
  auto s = mx_->sessions()[0];
  EXPECT_EQ(s.commands[0], "EHLO client.test");
  EXPECT_EQ(s.commands[1], "HELO client.test");
  EXPECT_EQ(s.commands[2], "MAIL FROM:<alice@client.test>");

  agent("smtp_never_send_ehlo = yes\nsmtp_helo_name = helo.client.test\n");
  r = deliver1();
  EXPECT_EQ(r[0].kind(), '2');
  EXPECT_EQ(mx_->sessions()[1].commands[0], "HELO helo.client.test");
}

TEST_F(SmtpAgentTest, DotStuffingCrlfAndLongLines) {
  agent("smtp_line_length_limit = 20\n");
  std::string content = "Subject: dots\n\n.leading dot\n..two\n.\nline " + std::string(30, 'x') + "\nend";
  auto r = deliver(message({"bob@example.test"}, content));
  EXPECT_EQ(r[0].kind(), '2');
  EXPECT_EQ(
      mx_->sessions()[0].data,
      "Subject: dots\r\n\r\n..leading dot\r\n...two\r\n..\r\nline xxxxxxxxxxxxxxx\r\n xxxxxxxxxxxxxxx\r\nend\r\n");
}

TEST_F(SmtpAgentTest, DsnParametersAndEightBit) {
  agent();
  auto m = message({"bob@example.test", "carol@example.test"}, "Subject: caf\xc3\xa9\n\nbody\n");
  m->env.envid = "env+1";
  m->env.ret = "HDRS";
  m->env.rcpts[0].notify = core::notify_success | core::notify_failure;
  m->env.rcpts[0].dsn_orcpt = "rfc822;Bob@Original.test";
  m->env.rcpts[1].orig = "carol-alias@example.test";
  auto r = deliver(m, "example.test");
  EXPECT_EQ(r[0].kind(), '2');
  auto s = mx_->sessions()[0];
  EXPECT_EQ(s.commands[1], "MAIL FROM:<alice@client.test> SIZE=21 BODY=8BITMIME ENVID=env+2B1 RET=HDRS");
  EXPECT_EQ(s.commands[2], "RCPT TO:<bob@example.test> ORCPT=rfc822;Bob@Original.test NOTIFY=SUCCESS,FAILURE");
  EXPECT_EQ(s.commands[3], "RCPT TO:<carol@example.test> ORCPT=rfc822;carol-alias@example.test");

  // Not offered: none of it.
  mx_->script().ehlo = "250-mx.test\n250 PIPELINING";
  r = deliver(m, "example.test");
  EXPECT_EQ(mx_->sessions()[1].commands[1], "MAIL FROM:<alice@client.test>");
  EXPECT_EQ(mx_->sessions()[1].commands[2], "RCPT TO:<bob@example.test>");
}

// Postfix smtp_rcpt_done(): every recipient an SMTP server accepted is
// "relayed"; whether the server offered DSN (and so got NOTIFY) decides who
// sends the success report (RFC 3461 6.2.1).
TEST_F(SmtpAgentTest, SuccessSaysRelayedAndWhetherTheServerOfferedDsn) {
  agent();
  auto m = message({"bob@example.test", "carol@example.test"});
  m->env.rcpts[0].notify = core::notify_success;
  auto r = deliver(m);
  ASSERT_EQ(r.size(), 2u);
  for (const auto& x : r) {
    EXPECT_EQ(x.kind(), '2');
    EXPECT_EQ(x.action, "relayed");
    EXPECT_TRUE(x.next_hop_dsn);
  }
  EXPECT_EQ(mx_->sessions()[0].commands[2], "RCPT TO:<bob@example.test> ORCPT=rfc822;bob@example.test NOTIFY=SUCCESS");

  // No DSN in the EHLO reply: NOTIFY stays here, and so does the report.
  mx_->script().ehlo = "250-mx.test\n250-PIPELINING\n250 ENHANCEDSTATUSCODES";
  r = deliver(m);
  ASSERT_EQ(r.size(), 2u);
  for (const auto& x : r) {
    EXPECT_EQ(x.kind(), '2');
    EXPECT_EQ(x.action, "relayed");
    EXPECT_FALSE(x.next_hop_dsn);
    EXPECT_EQ(x.remote_mta, "dns; mx.example.test");
    EXPECT_EQ(x.diagnostic, "smtp; 250 2.0.0 Ok: queued as TEST1");
  }
  EXPECT_EQ(mx_->sessions()[1].commands[2], "RCPT TO:<bob@example.test>");

  // HELO (no ESMTP at all): no DSN either.
  mx_->script().ehlo = "502 5.5.2 Error: command not recognized";
  r = deliver(m);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].kind(), '2');
  EXPECT_FALSE(r[0].next_hop_dsn);

  // A failed recipient is neither relayed nor reported as passed on.
  mx_->script().ehlo = Script{}.ehlo;
  mx_->script().rcpt = [](const std::string& line) -> std::string {
    return line.find("carol@") != std::string::npos ? "550 5.1.1 <carol@example.test>: User unknown" : "250 2.1.5 Ok";
  };
  r = deliver(m);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0].next_hop_dsn);
  EXPECT_EQ(r[1].kind(), '5');
  EXPECT_EQ(r[1].action, "");
  EXPECT_FALSE(r[1].next_hop_dsn);
}

TEST_F(SmtpAgentTest, NullSenderAndRoutedAddress) {
  agent();
  auto m = message({"bob@example.test"});
  m->env.sender = "";
  auto r = deliver(m, "example.test");
  EXPECT_EQ(r[0].kind(), '2');
  EXPECT_EQ(mx_->sessions()[0].commands[1], "MAIL FROM:<> SIZE=21");
}

// ---------------------------------------------------------------------------
// Replies that fail recipients or the message

TEST_F(SmtpAgentTest, RecipientRejectedOthersDelivered) {
  mx_->script().rcpt = [](const std::string& line) -> std::string {
    if (line.find("nobody@") != std::string::npos)
      return "550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown";
    if (line.find("full@") != std::string::npos) return "452 4.5.3 Error: too many recipients";
    return "250 2.1.5 Ok";
  };
  agent();
  auto r = deliver(message({"nobody@example.test", "bob@example.test", "full@example.test"}));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].dsn, "5.1.1");
  EXPECT_EQ(r[0].reason,
            "host mx.example.test[127.0.0.2] said: 550 5.1.1 <nobody@example.test>: Recipient address rejected: "
            "User unknown (in reply to RCPT TO command)");
  EXPECT_EQ(r[0].relay, relay("mx.example.test", "127.0.0.2"));
  EXPECT_EQ(r[0].remote_mta, "dns; mx.example.test");
  EXPECT_EQ(r[0].diagnostic, "smtp; 550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown");
  EXPECT_EQ(r[1].kind(), '2');
  EXPECT_EQ(r[2].dsn, "4.5.3");
  EXPECT_EQ(r[2].kind(), '4');
  EXPECT_EQ(r[2].reason,
            "host mx.example.test[127.0.0.2] said: 452 4.5.3 Error: too many recipients (in reply to RCPT TO command)");
  EXPECT_FALSE(r[2].dead_destination);
}

// Postfix smtp_chat_resp: a line without a reply code is kept and the next
// line completes the reply; with PIPELINING each such line is warned about
// (it can make a pipelined reply count for the wrong command), without it
// not.
TEST_F(SmtpAgentTest, GarbageInRepliesIsKeptAndWarnedAboutWithPipelining) {
  const std::string maillog = dir_ + "/maillog";
  struct LogTo {  // the log goes to a file for this test only, whatever fails
    log::Target saved = log::target();
    explicit LogTo(const std::string& file) { log::configure({"smtp-test", "mxmta", "client", file, false, true}); }
    ~LogTo() { log::configure(saved); }
  } log_to(maillog);
  auto read_log = [&maillog] {
    std::ifstream in(maillog);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  mx_->script().rcpt = [](const std::string&) -> std::string {
    return "25X garbage\n550-5.1.1 <bob@example.test>: no such user\n5.1.1 here\n550 5.1.1 bye";
  };
  agent();
  auto r = deliver1();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].dsn, "5.1.1");
  EXPECT_EQ(r[0].reason,
            "host mx.example.test[127.0.0.2] said: 25X garbage 550-5.1.1 <bob@example.test>: no such user 5.1.1 "
            "here 550 5.1.1 bye (in reply to RCPT TO command)");
  std::string text = read_log();
  EXPECT_NE(text.find("mxmta/smtp[" + std::to_string(::getpid()) + "]: warning: 4A1B2C3D4E: non-ESMTP response from " +
                      relay("mx.example.test", "127.0.0.2") + ": 25X garbage\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("warning: 4A1B2C3D4E: non-ESMTP response from " + relay("mx.example.test", "127.0.0.2") +
                      ": 5.1.1 here\n"),
            std::string::npos)
      << text;

  // The same server without PIPELINING: the same result, no warning.
  std::ofstream(maillog, std::ios::trunc).close();
  mx_->script().ehlo = "250-mx.test\n250-SIZE 10240000\n250 8BITMIME";
  r = deliver1();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].dsn, "5.1.1");
  text = read_log();
  EXPECT_EQ(text.find("non-ESMTP"), std::string::npos) << text;
}

TEST_F(SmtpAgentTest, MailFromRejectedBouncesAllAndResets) {
  mx_->script().mail = "550 5.7.1 <alice@client.test>: Sender address rejected: Access denied";
  agent();
  auto r = deliver(message({"bob@example.test", "carol@example.test"}));
  for (auto& x : r) {
    EXPECT_EQ(x.dsn, "5.7.1");
    EXPECT_EQ(x.reason,
              "host mx.example.test[127.0.0.2] said: 550 5.7.1 <alice@client.test>: Sender address rejected: Access "
              "denied (in reply to MAIL FROM command)");
  }
  auto cmds = mx_->sessions()[0].commands;
  EXPECT_EQ(cmds[cmds.size() - 2], "RSET");
  EXPECT_EQ(cmds.back(), "QUIT");
  EXPECT_TRUE(mx_->sessions()[0].data.empty());
}

TEST_F(SmtpAgentTest, MailFromSoftRejectionDefers) {
  mx_->script().mail = "451 4.3.0 Try again later";
  agent();
  auto r = deliver1();
  EXPECT_EQ(r[0].dsn, "4.3.0");
  EXPECT_EQ(r[0].reason,
            "host mx.example.test[127.0.0.2] said: 451 4.3.0 Try again later (in reply to MAIL FROM command)");
  EXPECT_FALSE(r[0].dead_destination) << "a message-level failure does not suspend the destination";
}

TEST_F(SmtpAgentTest, DataAndEndOfDataRejected) {
  mx_->script().data = "554 5.5.1 Error: no valid recipients";
  agent();
  auto r = deliver1();
  EXPECT_EQ(r[0].dsn, "5.5.1");
  EXPECT_EQ(r[0].reason,
            "host mx.example.test[127.0.0.2] said: 554 5.5.1 Error: no valid recipients (in reply to DATA command)");

  mx_->script().data = "354 go ahead";
  mx_->script().dot = "552 5.3.4 Message size exceeds fixed limit";
  r = deliver1();
  EXPECT_EQ(r[0].dsn, "5.3.4");
  EXPECT_EQ(r[0].reason,
            "host mx.example.test[127.0.0.2] said: 552 5.3.4 Message size exceeds fixed limit (in reply to end of DATA "
            "command)");

  // A reply out of place is a protocol error.
  mx_->script().data = "250 2.0.0 what?";
  r = deliver1();
  EXPECT_EQ(r[0].dsn, "5.5.0");
  EXPECT_EQ(r[0].reason,
            "Protocol error: host mx.example.test[127.0.0.2] said: 250 2.0.0 what? (in reply to DATA command)");
}

TEST_F(SmtpAgentTest, AllRecipientsRejectedSendsNoData) {
  mx_->script().rcpt = [](const std::string&) { return std::string("550 5.1.1 User unknown"); };
  mx_->script().data = "554 5.5.1 Error: no valid recipients";
  agent();
  auto r = deliver(message({"a@example.test", "b@example.test"}));
  for (auto& x : r) EXPECT_EQ(x.dsn, "5.1.1");
  auto cmds = mx_->sessions()[0].commands;
  EXPECT_EQ(cmds[cmds.size() - 2], "RSET");
  EXPECT_TRUE(mx_->sessions()[0].data.empty());
}

TEST_F(SmtpAgentTest, ServerSizeLimitIsRespected) {
  mx_->script().ehlo = "250-mx.test\n250-PIPELINING\n250 SIZE 10";
  agent();
  auto r = deliver1();
  EXPECT_EQ(r[0].dsn, "5.3.4");
  EXPECT_EQ(r[0].reason, "message size 21 exceeds size limit 10 of server mx.example.test[127.0.0.2]");
  auto sessions = mx_->sessions();
  for (const auto& c : sessions[0].commands) EXPECT_NE(c.rfind("MAIL", 0), 0u) << "MAIL sent anyway";
}

// ---------------------------------------------------------------------------
// Connection and session failures

TEST_F(SmtpAgentTest, ConnectionRefused) {
  dns_->add("dead.test", "MX", "10 mx.dead.test");
  dns_->add("mx.dead.test", "A", "127.0.0.5");
  agent();
  auto r = deliver1("dead.test");
  EXPECT_EQ(r[0].dsn, "4.4.1");
  EXPECT_EQ(r[0].reason, "connect to mx.dead.test[127.0.0.5]:" + std::to_string(port_) + ": Connection refused");
  EXPECT_EQ(r[0].relay, "none");
  EXPECT_TRUE(r[0].dead_destination);
  EXPECT_TRUE(r[0].remote_mta.empty());
  EXPECT_TRUE(r[0].diagnostic.empty());
}

TEST_F(SmtpAgentTest, ConnectTimeout) {
  // A listener with a full accept queue drops further SYNs: connect() hangs.
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port_);
  ::inet_pton(AF_INET, "127.0.0.6", &sa.sin_addr);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(lfd, 0), 0);
  int filler = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(filler, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  dns_->add("slowconnect.test", "A", "127.0.0.6");
  agent("smtp_connect_timeout = 1s\n");
  double secs = 0;
  auto r = deliver1("[slowconnect.test]", &secs);
  ::close(filler);
  ::close(lfd);
  EXPECT_EQ(r[0].dsn, "4.4.1");
  EXPECT_EQ(r[0].reason, "connect to slowconnect.test[127.0.0.6]:" + std::to_string(port_) + ": Connection timed out");
  EXPECT_EQ(r[0].relay, "none");
  EXPECT_GE(secs, 0.9);
  EXPECT_LT(secs, 5);
}

TEST_F(SmtpAgentTest, GreetingRefusals) {
  mx_->script().greeting = "554 5.3.2 mx.test Service unavailable";
  agent();
  auto r = deliver1();
  EXPECT_EQ(r[0].dsn, "4.3.2") << "a 5xx greeting is softened (smtp_skip_5xx_greeting)";
  EXPECT_EQ(r[0].reason,
            "host mx.example.test[127.0.0.2] refused to talk to me: 554 5.3.2 mx.test Service unavailable");
  EXPECT_EQ(r[0].relay, relay("mx.example.test", "127.0.0.2"));
  EXPECT_EQ(r[0].diagnostic, "smtp; 554 5.3.2 mx.test Service unavailable");
  EXPECT_TRUE(r[0].dead_destination);
  EXPECT_EQ(mx_->sessions()[0].commands, std::vector<std::string>{"QUIT"});

  agent("smtp_skip_5xx_greeting = no\n");
  r = deliver1();
  EXPECT_EQ(r[0].dsn, "5.3.2");
  EXPECT_EQ(r[0].kind(), '5');

  mx_->script().greeting = "421 mx.test Service not available, closing transmission channel";
  r = deliver1();
  EXPECT_EQ(r[0].dsn, "4.0.0");
  EXPECT_EQ(r[0].reason,
            "host mx.example.test[127.0.0.2] refused to talk to me: 421 mx.test Service not available, closing "
            "transmission channel");
}

TEST_F(SmtpAgentTest, LostConnectionInEachPhase) {
  struct Row {
    Phase phase;
    bool pipelining;
    std::string while_text;
  };
  const std::vector<Row> rows = {
      {Phase::greeting, true, "receiving the initial server greeting"},
      {Phase::ehlo, true, "performing the EHLO handshake"},
      {Phase::mail, true, "sending MAIL FROM"},
      {Phase::rcpt, true, "sending RCPT TO"},
      {Phase::rcpt, false, "sending RCPT TO"},
      {Phase::data, true, "sending DATA command"},
      {Phase::data, false, "sending DATA command"},
      {Phase::dot, true, "sending end of data -- message may be sent more than once"},
  };
  agent();
  for (const auto& row : rows) {
    Script sc;
    if (!row.pipelining) sc.ehlo = "250-mx.test\n250 DSN";
    sc.drop_at = row.phase;
    mx_->script() = sc;
    auto r = deliver1();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].dsn, "4.4.2") << row.while_text;
    EXPECT_EQ(r[0].reason, "lost connection with mx.example.test[127.0.0.2] while " + row.while_text);
    EXPECT_EQ(r[0].relay, relay("mx.example.test", "127.0.0.2"));
    EXPECT_TRUE(r[0].dead_destination);
  }
}

TEST_F(SmtpAgentTest, LostConnectionWhileSendingTheBody) {
  mx_->script().drop_at = Phase::body;
  mx_->script().ehlo = "250-mx.test\n250-PIPELINING\n250 SIZE";  // no limit
  agent();
  // Big enough that the write cannot complete into the socket buffers.
  std::string big = "Subject: big\n\n";
  std::string line(990, 'b');
  while (big.size() < 32u * 1024 * 1024) big += line + "\n";
  auto r = deliver(message({"bob@example.test"}, big), "example.test");
  EXPECT_EQ(r[0].dsn, "4.4.2");
  EXPECT_EQ(r[0].reason, "lost connection with mx.example.test[127.0.0.2] while sending message body");
}

TEST_F(SmtpAgentTest, TimeoutsPerPhase) {
  agent("smtp_helo_timeout = 1s\nsmtp_data_done_timeout = 1s\nsmtp_rcpt_timeout = 1s\n");
  struct Row {
    Phase phase;
    std::string while_text;
  };
  const std::vector<Row> rows = {
      {Phase::greeting, "receiving the initial server greeting"},
      {Phase::rcpt, "sending RCPT TO"},
      {Phase::dot, "sending end of data -- message may be sent more than once"},
  };
  for (const auto& row : rows) {
    Script sc;
    sc.stall_at = row.phase;
    mx_->script() = sc;
    double secs = 0;
    auto r = deliver1("example.test", &secs);
    EXPECT_EQ(r[0].dsn, "4.4.2");
    EXPECT_EQ(r[0].reason, "conversation with mx.example.test[127.0.0.2] timed out while " + row.while_text);
    EXPECT_TRUE(r[0].dead_destination);
    EXPECT_GE(secs, 0.9) << row.while_text;
    EXPECT_LT(secs, 4) << row.while_text;
  }
}

TEST_F(SmtpAgentTest, TimeoutWhileSendingTheBody) {
  mx_->script().stall_at = Phase::body;  // the server stops reading
  mx_->script().ehlo = "250-mx.test\n250-PIPELINING\n250 SIZE";
  agent("smtp_data_xfer_timeout = 1s\n");
  std::string big = "Subject: big\n\n";
  std::string line(990, 'b');
  while (big.size() < 32u * 1024 * 1024) big += line + "\n";
  auto r = deliver(message({"bob@example.test"}, big), "example.test");
  EXPECT_EQ(r[0].dsn, "4.4.2");
  EXPECT_EQ(r[0].reason, "conversation with mx.example.test[127.0.0.2] timed out while sending message body");
}

// ---------------------------------------------------------------------------
// MX failover, fallback relays, limits

TEST_F(SmtpAgentTest, FailoverToTheNextMx) {
  dns_->add("multi.test", "MX", "10 mx1.multi.test");
  dns_->add("multi.test", "MX", "20 mx2.multi.test");
  dns_->add("multi.test", "MX", "30 mx3.multi.test");
  dns_->add("mx1.multi.test", "A", "127.0.0.5");  // nothing listens: refused
  dns_->add("mx2.multi.test", "A", "127.0.0.3");
  dns_->add("mx3.multi.test", "A", "127.0.0.4");
  auto& mx2 = server("127.0.0.3");
  mx2.script().greeting = "421 4.3.2 busy";
  auto& mx3 = server("127.0.0.4");
  agent();
  auto r = deliver1("multi.test");
  EXPECT_EQ(r[0].kind(), '2');
  EXPECT_EQ(r[0].relay, relay("mx3.multi.test", "127.0.0.4"));
  EXPECT_EQ(mx2.connections(), 1);
  EXPECT_EQ(mx2.sessions()[0].commands, std::vector<std::string>{"QUIT"});
  EXPECT_EQ(mx3.connections(), 1);
}

TEST_F(SmtpAgentTest, TheLastFailureDecides) {
  dns_->add("multi.test", "MX", "10 mx1.multi.test");
  dns_->add("multi.test", "MX", "20 mx2.multi.test");
  dns_->add("mx1.multi.test", "A", "127.0.0.3");
  dns_->add("mx2.multi.test", "A", "127.0.0.5");  // refused
  server("127.0.0.3").script().greeting = "421 4.3.2 busy";
  agent();
  auto r = deliver1("multi.test");
  EXPECT_EQ(r[0].dsn, "4.4.1");
  EXPECT_EQ(r[0].reason, "connect to mx2.multi.test[127.0.0.5]:" + std::to_string(port_) + ": Connection refused");
  EXPECT_EQ(r[0].relay, "none");
}

TEST_F(SmtpAgentTest, SoftRecipientFailureTriesTheNextMx) {
  dns_->add("multi.test", "MX", "10 mx1.multi.test");
  dns_->add("multi.test", "MX", "20 mx2.multi.test");
  dns_->add("mx1.multi.test", "A", "127.0.0.3");
  dns_->add("mx2.multi.test", "A", "127.0.0.4");
  auto& mx1 = server("127.0.0.3");
  mx1.script().rcpt = [](const std::string& l) -> std::string {
    return l.find("bob@") != std::string::npos ? "450 4.2.0 <bob@multi.test>: mailbox busy" : "250 2.1.5 Ok";
  };
  mx1.script().dot = "250 2.0.0 Ok: queued as MX1";
  auto& mx2 = server("127.0.0.4");
  mx2.script().dot = "250 2.0.0 Ok: queued as MX2";
  agent();
  auto r = deliver(message({"alice@multi.test", "bob@multi.test"}), "multi.test");
  EXPECT_EQ(r[0].reason, "250 2.0.0 Ok: queued as MX1");
  EXPECT_EQ(r[1].reason, "250 2.0.0 Ok: queued as MX2");
  ASSERT_EQ(mx2.connections(), 1);
  auto cmds = mx2.sessions()[0].commands;
  EXPECT_EQ(std::count_if(cmds.begin(), cmds.end(), [](auto& c) { return c.rfind("RCPT", 0) == 0; }), 1);
}

TEST_F(SmtpAgentTest, SessionAndAddressLimits) {
  dns_->add("many.test", "MX", "10 a.many.test");
  dns_->add("many.test", "MX", "20 b.many.test");
  dns_->add("many.test", "MX", "30 c.many.test");
  dns_->add("a.many.test", "A", "127.0.0.3");
  dns_->add("b.many.test", "A", "127.0.0.4");
  dns_->add("c.many.test", "A", "127.0.0.8");
  auto busy = [](const std::string&) { return std::string("450 4.2.1 try later"); };
  auto& a = server("127.0.0.3");
  auto& b = server("127.0.0.4");
  auto& c = server("127.0.0.8");
  a.script().rcpt = b.script().rcpt = c.script().rcpt = busy;
  agent();  // smtp_mx_session_limit = 2
  auto r = deliver1("many.test");
  EXPECT_EQ(r[0].dsn, "4.2.1");
  EXPECT_EQ(r[0].relay, relay("b.many.test", "127.0.0.4")) << "the second session is the last one";
  EXPECT_EQ(c.connections(), 0);

  // Handshake failures do not count as sessions, but count as addresses.
  a.script().greeting = b.script().greeting = c.script().greeting = "421 4.3.2 busy";
  agent("smtp_mx_address_limit = 2\n");
  r = deliver1("many.test");
  EXPECT_EQ(a.connections(), 2);
  EXPECT_EQ(b.connections(), 2);
  EXPECT_EQ(c.connections(), 0);
}

TEST_F(SmtpAgentTest, SeveralDestinationsAndFallbackRelay) {
  auto& fb = server("127.0.0.3");
  fb.script().dot = "250 2.0.0 Ok: queued as FB";
  agent();
  auto r = deliver1("[127.0.0.5], [127.0.0.3]");
  EXPECT_EQ(r[0].reason, "250 2.0.0 Ok: queued as FB");
  EXPECT_EQ(r[0].relay, relay("127.0.0.3", "127.0.0.3"));

  // Unreachable destination: the fallback relay gets it.
  dns_->add("dead.test", "MX", "10 mx.dead.test");
  dns_->add("mx.dead.test", "A", "127.0.0.5");
  agent("smtp_fallback_relay = [127.0.0.3]\n");
  r = deliver1("dead.test");
  EXPECT_EQ(r[0].reason, "250 2.0.0 Ok: queued as FB");
  // Not found at all: the fallback relay too.
  r = deliver1("nosuchdomain.test");
  EXPECT_EQ(r[0].reason, "250 2.0.0 Ok: queued as FB");
  EXPECT_EQ(fb.connections(), 3);
}

TEST_F(SmtpAgentTest, BindAddress) {
  agent("smtp_bind_address = 127.0.0.7\n");
  auto r = deliver1();
  EXPECT_EQ(r[0].kind(), '2');
  EXPECT_EQ(mx_->sessions()[0].client_addr, "127.0.0.7");

  // Not one of ours: a warning and an unbound socket, unless enforced.
  agent("smtp_bind_address = 192.0.2.77\n");
  r = deliver1();
  EXPECT_EQ(r[0].kind(), '2');
  EXPECT_EQ(mx_->sessions()[1].client_addr, "127.0.0.1");
  agent("smtp_bind_address = 192.0.2.77\nsmtp_bind_address_enforce = yes\n");
  r = deliver1();
  EXPECT_EQ(r[0].dsn, "4.4.0");
  EXPECT_EQ(r[0].reason, "server configuration error");
  EXPECT_EQ(mx_->connections(), 2);
}

// ---------------------------------------------------------------------------
// DNS outcomes

TEST_F(SmtpAgentTest, DnsOutcomes) {
  agent();
  // NXDOMAIN: bounce with the A lookup's text (inet_protocols = ipv4).
  auto r = deliver1("nosuchdomain.invalid");
  EXPECT_EQ(r[0].dsn, "5.4.4");
  EXPECT_EQ(r[0].reason,
            "Host or domain name not found. Name service error for name=nosuchdomain.invalid type=A: Host not found");
  EXPECT_EQ(r[0].relay, "none");
  EXPECT_FALSE(r[0].dead_destination);

  // DNS failure: defer, and suspend the destination.
  dns_->add("broken.test", "MX", "10 mx.broken.test");
  dns_->rule("broken.test", "MX", dns::testing::Fault{dns::testing::Fault::servfail});
  r = deliver1("broken.test");
  EXPECT_EQ(r[0].dsn, "4.4.3");
  EXPECT_EQ(r[0].reason,
            "Host or domain name not found. Name service error for name=broken.test type=MX: Host not found, try "
            "again");
  EXPECT_TRUE(r[0].dead_destination);

  // Null MX.
  dns_->add("nomail.test", "MX", "0 .");
  r = deliver1("nomail.test");
  EXPECT_EQ(r[0].dsn, "5.1.0");
  EXPECT_EQ(r[0].reason, "Domain nomail.test does not accept mail (nullMX)");

  // MX host without an address.
  dns_->add("noaddr.test", "MX", "10 ghost.noaddr.test");
  r = deliver1("noaddr.test");
  EXPECT_EQ(r[0].dsn, "5.4.4");
  EXPECT_EQ(r[0].reason,
            "Host or domain name not found. Name service error for name=ghost.noaddr.test type=A: Host not found");
  agent("smtp_defer_if_no_mx_address_found = yes\n");
  EXPECT_EQ(deliver1("noaddr.test")[0].dsn, "4.4.4");
}

TEST_F(SmtpAgentTest, DnsTimeoutDefers) {
  dns_->rule("slowdns.test", "*", dns::testing::Fault{dns::testing::Fault::drop});
  agent();
  auto r = deliver1("slowdns.test");
  EXPECT_EQ(r[0].dsn, "4.4.3");
  EXPECT_EQ(r[0].reason,
            "Host or domain name not found. Name service error for name=slowdns.test type=MX: Host not found, try "
            "again");
}

TEST_F(SmtpAgentTest, NxdomainTextWithBothProtocols) {
  agent("inet_protocols = all\n");
  auto r = deliver1("nosuchdomain.invalid");
  EXPECT_EQ(r[0].dsn, "5.4.4");
  // Postfix looks up A then AAAA and reports the last failure (AAAA when
  // the kernel has IPv6, which inet_protocols = all probes).
  int s6 = ::socket(AF_INET6, SOCK_STREAM, 0);
  std::string type = s6 >= 0 ? "AAAA" : "A";
  if (s6 >= 0) ::close(s6);
  EXPECT_EQ(r[0].reason, "Host or domain name not found. Name service error for name=nosuchdomain.invalid type=" +
                             type + ": Host not found");
}

TEST_F(SmtpAgentTest, ImplicitMxBracketedHostAndLiteral) {
  dns_->add("nomx.test", "A", "127.0.0.2");
  agent();
  auto r = deliver1("nomx.test");
  EXPECT_EQ(r[0].kind(), '2');
  EXPECT_EQ(r[0].relay, relay("nomx.test", "127.0.0.2"));
  EXPECT_EQ(r[0].remote_mta, "dns; nomx.test");

  size_t before = dns_->log().size();
  r = deliver1("[mx.example.test]");
  EXPECT_EQ(r[0].relay, relay("mx.example.test", "127.0.0.2"));
  auto log = dns_->log();
  ASSERT_EQ(log.size(), before + 1);
  EXPECT_EQ(log.back().type, "A") << "no MX lookup for [host]";

  before = dns_->log().size();
  r = deliver1("[127.0.0.2]");
  EXPECT_EQ(r[0].relay, relay("127.0.0.2", "127.0.0.2"));
  EXPECT_EQ(r[0].remote_mta, "dns; 127.0.0.2");
  EXPECT_EQ(dns_->log().size(), before) << "no DNS for an address literal";

  // A numeric MX "host name" is used as the address, as Postfix does.
  dns_->add("numericmx.test", "MX", "10 127.0.0.2");
  r = deliver1("numericmx.test");
  EXPECT_EQ(r[0].relay, relay("127.0.0.2", "127.0.0.2"));

  // The port from the destination overrides smtp_tcp_port.
  r = deliver1("[127.0.0.2]:" + std::to_string(port_));
  EXPECT_EQ(r[0].kind(), '2');
}

TEST_F(SmtpAgentTest, RelayhostLookupErrorsAreConfigurationProblems) {
  agent("relayhost = [nosuchrelay.test]\n");
  auto r = deliver1("[nosuchrelay.test]");
  EXPECT_EQ(r[0].dsn, "4.3.5") << "a relayhost that does not resolve defers instead of bouncing";
  EXPECT_EQ(r[0].reason,
            "Host or domain name not found. Name service error for name=nosuchrelay.test type=A: Host not found");
}

// ---------------------------------------------------------------------------
// Loops

TEST_F(SmtpAgentTest, BestMxIsMyself) {
  dns_->add("me.test", "MX", "10 self.me.test");
  dns_->add("me.test", "MX", "20 other.me.test");
  dns_->add("self.me.test", "A", "127.0.0.1");
  dns_->add("other.me.test", "A", "127.0.0.2");
  agent("smtp_fallback_relay = [127.0.0.2]\n");
  // Loop detection is for port 25, as in Postfix; no connection is needed.
  auto r = deliver1("me.test:25");
  EXPECT_EQ(r[0].dsn, "5.4.6");
  EXPECT_EQ(r[0].reason, "mail for me.test loops back to myself");
  EXPECT_EQ(mx_->connections(), 0) << "no fallback relay when we are the MX";

  dns_->add("backup.test", "MX", "10 gone.backup.test");
  dns_->add("backup.test", "MX", "20 self.me.test");
  dns_->rule("gone.backup.test", "*", dns::testing::Fault{dns::testing::Fault::servfail});
  r = deliver1("backup.test:25");
  EXPECT_EQ(r[0].dsn, "4.4.4");
  EXPECT_EQ(r[0].reason, "unable to find primary relay for backup.test");
  EXPECT_EQ(mx_->connections(), 0);

  // Other ports: no loop detection; [127.0.0.1]:1 is refused, and this time
  // the fallback relay is used.
  r = deliver1("[127.0.0.1]:1");
  EXPECT_EQ(r[0].kind(), '2');
  EXPECT_EQ(r[0].relay, relay("127.0.0.2", "127.0.0.2"));
}

TEST_F(SmtpAgentTest, ServerAnsweringWithMyHostnameOnPort25) {
  std::unique_ptr<TestSmtpServer> s25;
  try {
    s25 = std::make_unique<TestSmtpServer>(io_, "127.0.0.9", 25);
  } catch (const std::exception&) {
    GTEST_SKIP() << "cannot listen on port 25 here";
  }
  s25->script().ehlo = "250-client.test\n250 PIPELINING";
  dns_->add("loop.test", "MX", "10 mx.loop.test");
  dns_->add("mx.loop.test", "A", "127.0.0.9");
  agent("smtp_tcp_port = 25\n");
  auto r = deliver1("loop.test");
  EXPECT_EQ(r[0].dsn, "5.4.6");
  EXPECT_EQ(r[0].reason, "mail for loop.test loops back to myself");
  EXPECT_EQ(r[0].relay, "mx.loop.test[127.0.0.9]:25");
}

// ---------------------------------------------------------------------------
// Concurrency and reload

TEST_F(SmtpAgentTest, ManyDeliveriesAtOnce) {
  agent();
  int done = 0, sent = 0;
  for (int i = 0; i < 10; ++i) {
    core::DeliveryRequest req;
    req.msg = message({"r" + std::to_string(i) + "@example.test"});
    req.transport = "smtp";
    req.nexthop = "example.test";
    req.rcpts = {0};
    req.addresses = {req.msg->env.rcpts[0].address};
    agent_->deliver(std::move(req), [&](Results r) {
      ++done;
      if (r.size() == 1 && r[0].kind() == '2') ++sent;
    });
  }
  EXPECT_EQ(agent_->active(), 10u);
  auto t0 = std::chrono::steady_clock::now();
  io_.restart();
  while (done < 10 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20))
    io_.run_one_for(std::chrono::milliseconds(50));
  EXPECT_EQ(sent, 10);
  EXPECT_EQ(mx_->connections(), 10);
  EXPECT_EQ(agent_->active(), 0u);
}

TEST_F(SmtpAgentTest, ReloadTakesNewParameters) {
  agent();
  deliver1();
  auto c = std::make_shared<core::Config>(*cfg_);
  c->set("smtp_helo_name", "reloaded.client.test");
  agent_->reload(c);
  deliver1();
  EXPECT_EQ(mx_->sessions()[1].commands[0], "EHLO reloaded.client.test");
  c = std::make_shared<core::Config>(*cfg_);
  c->set("smtp_address_preference", "ipv5");
  EXPECT_THROW(agent_->reload(c), core::ConfigError);
  deliver1();
  EXPECT_EQ(mx_->sessions()[2].commands[0], "EHLO reloaded.client.test") << "a bad reload keeps the old settings";
}

TEST_F(SmtpAgentTest, OwnResolverFromTheSystemConfiguration) {
  // The daemon's constructor: a resolver of its own from /etc/resolv.conf.
  // An address literal needs no DNS, so this works on any machine.
  auto c = std::make_shared<core::Config>(core::Config::from_text(
      "myhostname = client.test\ninet_interfaces = 127.0.0.1\nsmtp_tcp_port = " + std::to_string(port_) + "\n"));
  agent_ = std::make_unique<smtp::SmtpAgent>(io_, c, "relay");
  auto r = deliver1("[127.0.0.2]");
  EXPECT_EQ(r[0].kind(), '2');
  agent_->reload(c);
  r = deliver1("[127.0.0.2]");
  EXPECT_EQ(r[0].kind(), '2');
  EXPECT_EQ(mx_->connections(), 2);
}

// ---------------------------------------------------------------------------
// Connection cache (smtp_connection_cache_on_demand and friends)

namespace {
void run_for(net::io_context& io, std::chrono::milliseconds ms) {
  io.restart();
  io.run_for(ms);
}
}  // namespace

TEST_F(SmtpAgentTest, NoCachingUnlessAsked) {
  agent();
  deliver1();
  deliver1();
  EXPECT_EQ(mx_->connections(), 2);
  EXPECT_EQ(agent_->cached(), 0u);
  EXPECT_TRUE(mx_->sessions()[0].quit);
}

TEST_F(SmtpAgentTest, CachedConnectionIsReusedAfterAnRsetProbe) {
  agent();
  cache_ = true;
  auto r1 = deliver1();
  ASSERT_EQ(r1[0].kind(), '2');
  EXPECT_LE(r1[0].conn_use, 1);
  EXPECT_EQ(agent_->cached(), 1u);
  EXPECT_FALSE(mx_->sessions()[0].quit) << "a cached session gets no QUIT";
  auto r2 = deliver(message({"carol@example.test"}));
  ASSERT_EQ(r2[0].kind(), '2');
  EXPECT_EQ(r2[0].conn_use, 2);
  EXPECT_EQ(r2[0].relay, relay("mx.example.test", "127.0.0.2"));
  EXPECT_EQ(r2[0].reason, "250 2.0.0 Ok: queued as TEST1");
  ASSERT_EQ(mx_->connections(), 1);
  auto s = mx_->sessions()[0];
  std::vector<std::string> want{"EHLO client.test",
                                "MAIL FROM:<alice@client.test> SIZE=21",
                                "RCPT TO:<bob@example.test> ORCPT=rfc822;bob@example.test",
                                "DATA",
                                "RSET",
                                "MAIL FROM:<alice@client.test> SIZE=21",
                                "RCPT TO:<carol@example.test> ORCPT=rfc822;carol@example.test",
                                "DATA"};
  EXPECT_EQ(s.commands, want);
  EXPECT_EQ(s.data, "Subject: test\r\n\r\nhello\r\nSubject: test\r\n\r\nhello\r\n");
  // Postfix logs the reuse: "relay=..., conn_use=2, delay=...".
  core::Recipient rc;
  rc.address = "carol@example.test";
  EXPECT_NE(core::delivery_log_text(rc, r2[0], 0.5, 0, 0)
                .find("relay=" + relay("mx.example.test", "127.0.0.2") + ", conn_use=2, delay=0.5, delays=0/0/"),
            std::string::npos);
  EXPECT_EQ(core::delivery_log_text(rc, r1[0], 0.5, 0, 0).find("conn_use"), std::string::npos)
      << "a first use is not logged";
}

TEST_F(SmtpAgentTest, IdleCachedConnectionGetsQuitAfterTheCacheTimeLimit) {
  agent("smtp_connection_cache_time_limit = 1s\n");
  cache_ = true;
  deliver1();
  EXPECT_EQ(agent_->cached(), 1u);
  run_for(io_, std::chrono::milliseconds(600));
  EXPECT_EQ(agent_->cached(), 1u) << "still within the time limit";
  run_for(io_, std::chrono::milliseconds(700));
  EXPECT_EQ(agent_->cached(), 0u);
  EXPECT_TRUE(mx_->sessions()[0].quit);
  auto r = deliver1();
  EXPECT_EQ(r[0].kind(), '2');
  EXPECT_LE(r[0].conn_use, 1);
  ASSERT_EQ(mx_->connections(), 2);
  EXPECT_EQ(mx_->sessions()[1].commands[0], "EHLO client.test");
}

TEST_F(SmtpAgentTest, ReuseCountLimitEndsTheConnectionWithQuit) {
  agent("smtp_connection_reuse_count_limit = 1\n");
  cache_ = true;
  deliver1();
  auto r2 = deliver1();
  EXPECT_EQ(r2[0].conn_use, 2);
  EXPECT_EQ(agent_->cached(), 0u) << "one reuse allowed, then QUIT";
  EXPECT_TRUE(mx_->sessions()[0].quit);
  auto r3 = deliver1();
  EXPECT_LE(r3[0].conn_use, 1);
  EXPECT_EQ(mx_->connections(), 2);
}

TEST_F(SmtpAgentTest, ReuseTimeLimitCountsFromTheConnect) {
  agent("smtp_connection_reuse_time_limit = 1s\n");
  cache_ = true;
  deliver1();
  run_for(io_, std::chrono::milliseconds(1200));
  // Postfix checks the limit when a delivery ends: this one still reuses.
  auto r2 = deliver1();
  EXPECT_EQ(r2[0].conn_use, 2);
  EXPECT_EQ(agent_->cached(), 0u);
  EXPECT_TRUE(mx_->sessions()[0].quit);
  EXPECT_EQ(mx_->connections(), 1);
}

TEST_F(SmtpAgentTest, ServerThatClosedACachedConnectionGetsANewOne) {
  mx_->script().close_after_dot = true;
  agent();
  cache_ = true;
  deliver1();
  EXPECT_EQ(agent_->cached(), 1u);
  auto r = deliver1();
  ASSERT_EQ(r[0].kind(), '2') << r[0].reason;
  EXPECT_LE(r[0].conn_use, 1);
  ASSERT_EQ(mx_->connections(), 2);
  EXPECT_EQ(mx_->sessions()[1].commands[0], "EHLO client.test");
}

TEST_F(SmtpAgentTest, RejectedRsetProbeClosesTheCachedConnection) {
  mx_->script().rset = "502 5.5.2 Error: command not recognized";
  agent();
  cache_ = true;
  deliver1();
  auto r = deliver1();
  ASSERT_EQ(r[0].kind(), '2') << r[0].reason;
  EXPECT_LE(r[0].conn_use, 1);
  ASSERT_EQ(mx_->connections(), 2);
  auto s0 = mx_->sessions()[0];
  ASSERT_GE(s0.commands.size(), 2u);
  EXPECT_EQ(s0.commands[s0.commands.size() - 2], "RSET");
  EXPECT_EQ(s0.commands.back(), "QUIT");
  EXPECT_EQ(mx_->sessions()[1].commands[0], "EHLO client.test");
}

TEST_F(SmtpAgentTest, LostConnectionDuringTheRsetProbeMeansANewConnection) {
  mx_->scripts({[] {
                  Script s;
                  s.drop_at = Phase::rset;
                  return s;
                }(),
                Script{}});
  agent();
  cache_ = true;
  deliver1();
  auto r = deliver1();
  ASSERT_EQ(r[0].kind(), '2') << r[0].reason;
  EXPECT_EQ(mx_->connections(), 2);
}

TEST_F(SmtpAgentTest, CachedConnectionsAreKeptPerServerAddress) {
  dns_->add("other.test", "MX", "10 mx.other.test");
  dns_->add("mx.other.test", "A", "127.0.0.3");
  auto& other = server("127.0.0.3");
  agent();
  cache_ = true;
  deliver1("example.test");
  deliver(message({"x@other.test"}), "other.test");
  EXPECT_EQ(agent_->cached(), 2u);
  auto r = deliver(message({"y@other.test"}), "other.test");
  EXPECT_EQ(r[0].conn_use, 2);
  EXPECT_EQ(r[0].relay, relay("mx.other.test", "127.0.0.3"));
  EXPECT_EQ(mx_->connections(), 1);
  EXPECT_EQ(other.connections(), 1);
  // sessions() returns a copy: name it, or the range-for walks a destroyed temporary (ASan).
  const auto mx_sessions = mx_->sessions();
  for (const auto& c : mx_sessions[0].commands) EXPECT_NE(c, "RSET") << "example.test's session was not touched";
  EXPECT_EQ(other.sessions()[0].commands[4], "RSET");
  // A relayhost-style next hop to the same address shares the session.
  auto r4 = deliver1("[mx.example.test]");
  EXPECT_EQ(r4[0].conn_use, 2);
  EXPECT_EQ(mx_->connections(), 1);
}

TEST_F(SmtpAgentTest, FailedTransactionEndsWithRsetAndTheSessionStaysCached) {
  mx_->script().rcpt = [](const std::string&) {
    return std::string("550 5.1.1 <bob@example.test>: Recipient address rejected: User unknown");
  };
  agent();
  cache_ = true;
  auto r1 = deliver1();
  EXPECT_EQ(r1[0].kind(), '5');
  EXPECT_EQ(agent_->cached(), 1u);
  auto r2 = deliver1();
  EXPECT_EQ(r2[0].kind(), '5');
  EXPECT_EQ(r2[0].conn_use, 2);
  auto s = mx_->sessions()[0];
  std::vector<std::string> want{"EHLO client.test",
                                "MAIL FROM:<alice@client.test> SIZE=21",
                                "RCPT TO:<bob@example.test> ORCPT=rfc822;bob@example.test",
                                "DATA",
                                "RSET",
                                "RSET",
                                "MAIL FROM:<alice@client.test> SIZE=21",
                                "RCPT TO:<bob@example.test> ORCPT=rfc822;bob@example.test",
                                "DATA",
                                "RSET"};
  EXPECT_EQ(s.commands, want) << "the final RSET, then the RSET probe";
}

TEST_F(SmtpAgentTest, RefusedSessionIsNotCached) {
  mx_->script().greeting = "554 5.3.2 mx.test Service unavailable";
  agent();
  cache_ = true;
  auto r = deliver1();
  EXPECT_EQ(r[0].kind(), '4');
  EXPECT_EQ(agent_->cached(), 0u);
  mx_->script() = Script{};
  mx_->script().dot = "421 4.3.0 mx.test closing";
  r = deliver1();
  EXPECT_EQ(r[0].dsn, "4.3.0");
  EXPECT_EQ(agent_->cached(), 0u) << "a 421 means the server hangs up";
}

TEST_F(SmtpAgentTest, CacheDestinationsTurnCachingOnWithoutTheQueueManager) {
  agent("smtp_connection_cache_destinations = example.test\n");
  deliver1();
  auto r = deliver1();
  EXPECT_EQ(r[0].conn_use, 2);
  EXPECT_EQ(mx_->connections(), 1);
  // Other next hops neither use nor feed the cache.
  deliver1("[mx.example.test]");
  EXPECT_EQ(mx_->connections(), 2);
  EXPECT_TRUE(mx_->sessions()[1].quit);
  EXPECT_EQ(agent_->cached(), 1u);
}

TEST_F(SmtpAgentTest, OnDemandOffIgnoresTheQueueManagersHints) {
  agent("smtp_connection_cache_on_demand = no\n");
  cache_ = true;
  deliver1();
  deliver1();
  EXPECT_EQ(mx_->connections(), 2);
  EXPECT_EQ(agent_->cached(), 0u);
}

TEST_F(SmtpAgentTest, ReloadAndShutdownCloseCachedSessionsWithQuit) {
  agent();
  cache_ = true;
  deliver1();
  ASSERT_EQ(agent_->cached(), 1u);
  agent_->reload(cfg_);
  EXPECT_EQ(agent_->cached(), 0u);
  run_for(io_, std::chrono::milliseconds(50));
  EXPECT_TRUE(mx_->sessions()[0].quit);
  deliver1();
  ASSERT_EQ(agent_->cached(), 1u);
  agent_->stop_caching();
  EXPECT_EQ(agent_->cached(), 0u);
  deliver1();
  EXPECT_EQ(agent_->cached(), 0u) << "after stop_caching() nothing is parked";
  run_for(io_, std::chrono::milliseconds(50));
  for (const auto& s : mx_->sessions()) EXPECT_TRUE(s.quit);
}
