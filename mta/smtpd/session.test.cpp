// Session tests: a real Server on a loopback port, driven byte-exactly by a
// blocking client in the test thread while the io_context runs in a second
// thread; the queue is a temporary directory and queue files are read back.
// See session.cpp: Boost 1.74 Asio false positives under GCC 12.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "smtpd/server.hpp"

#include "core/envelope.hpp"
#include "queue/queue_file.hpp"
#include "smtpd/session.hpp"
#include "util/log.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <future>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

using namespace mta;
using namespace std::chrono_literals;

namespace {

const char* kMain =
    "myhostname = mx.example.test\n"
    "mydomain = example.test\n"
    "mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain\n"
    "inet_interfaces = loopback-only\n"
    "mynetworks = 127.0.0.0/8\n"
    "local_recipient_maps = inline:{alice=x, bob=x}\n"
    "alias_maps =\n"
    "local_header_rewrite_clients =\n"
    "smtpd_error_sleep_time = 0\n";

unsigned free_port() {
  net::io_context tmp;
  net::ip::tcp::acceptor a(tmp, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

// A blocking SMTP client that sees exactly the bytes the server sends.
class Client {
 public:
  // rcvbuf > 0: a small receive buffer, so that the server's replies back up.
  explicit Client(unsigned port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  bool ok() const { return ok_; }
  void send(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      s.remove_prefix(static_cast<size_t>(n));
    }
  }
  // One line without CRLF; "<EOF>" when the server closed first.
  std::string line() {
    for (;;) {
      auto p = buf_.find("\r\n");
      if (p != std::string::npos) {
        std::string l = buf_.substr(0, p);
        buf_.erase(0, p + 2);
        return l;
      }
      char b[4096];
      ssize_t n = ::recv(fd_, b, sizeof b, 0);
      if (n <= 0) return buf_.empty() ? "<EOF>" : std::exchange(buf_, "") + "<EOF>";
      buf_.append(b, static_cast<size_t>(n));
    }
  }
  // A whole (possibly multi-line) reply; lines joined with CRLF.
  std::string reply() {
    std::string out;
    for (;;) {
      std::string l = line();
      out += l;
      if (l.size() < 4 || l[3] != '-') return out;
      out += "\r\n";
    }
  }
  std::string cmd(std::string_view c) {
    send(std::string(c) + "\r\n");
    return reply();
  }
  // True when the server has closed the connection (after what was read).
  bool closed() {
    if (!buf_.empty()) return false;
    char b;
    return ::recv(fd_, &b, 1, 0) == 0;
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }

 private:
  int fd_ = -1;
  bool ok_ = false;
  std::string buf_;
};

std::string read_file(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> dir_entries(const std::string& d) {
  std::vector<std::string> r;
  if (DIR* dp = ::opendir(d.c_str())) {
    while (dirent* e = ::readdir(dp))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") r.emplace_back(e->d_name);
    ::closedir(dp);
  }
  return r;
}

std::string queued_id(const std::string& reply) {
  const std::string pfx = "250 2.0.0 Ok: queued as ";
  return reply.rfind(pfx, 0) == 0 ? reply.substr(pfx.size()) : std::string();
}

}  // namespace

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    char t[] = "/tmp/mxsmtpdXXXXXX";
    ASSERT_NE(::mkdtemp(t), nullptr);
    root_ = t;
    store_ = std::make_unique<queue::QueueStore>(root_ + "/queue");
    ASSERT_FALSE(store_->ensure_dirs());
    log_ = root_ + "/maillog";
    log::configure({"smtpd-test", "mxmta", "mx", log_, false, true});
  }
  void TearDown() override {
    stop();
    log::configure({"smtpd-test", "mxmta", "mx", "", true, false});
    std::string cmd = "rm -rf '" + root_ + "'";
    (void)std::system(cmd.c_str());
  }

  void start(const std::string& extra = "", smtpd::NameResolver r = nullptr) {
    auto cfg = std::make_shared<core::Config>(core::Config::from_text(std::string(kMain) + extra));
    server_ = std::make_unique<smtpd::Server>(io_, cfg, *store_, [this](const std::string& id) {
      std::lock_guard lk(mu_);
      queued_.push_back(id);
      // What the queue manager finds when it hears of the message.
      named_when_queued_.push_back(util::exists(store_->path(queue::Q::incoming, id)));
    });
    server_->set_name_resolver(r ? r : [](const core::IpAddr&) { return std::string("localhost"); });
    port_ = free_port();
    core::MasterService svc;
    svc.service = "127.0.0.1:" + std::to_string(port_);
    svc.type = "inet";
    svc.command = "smtpd";
    ASSERT_EQ(server_->listen(svc), "");
    io_.restart();  // a test may stop() and start() again
    thread_ = std::thread([this] {
      auto work = net::make_work_guard(io_);
      io_.run();
    });
  }

  void stop() {
    if (!thread_.joinable()) return;
    io_.stop();
    thread_.join();
    server_.reset();
  }

  template <class F>
  auto on_loop(F f) {
    std::promise<decltype(f())> p;
    net::post(io_, [&] { p.set_value(f()); });
    return p.get_future().get();
  }

  // Waits until the log has `s` (the server logs on its own thread).
  bool log_has(const std::string& s, std::chrono::milliseconds wait = 3000ms) {
    auto end = std::chrono::steady_clock::now() + wait;
    for (;;) {
      if (read_file(log_).find(s) != std::string::npos) return true;
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(10ms);
    }
  }
  std::string log_text() { return read_file(log_); }

  std::vector<std::string> queued() {
    std::lock_guard lk(mu_);
    return queued_;
  }

  core::Message read_queued(const std::string& id) {
    core::Message m;
    auto r = queue::read_queue_file(store_->path(queue::Q::incoming, id), m.env, &m.content);
    EXPECT_TRUE(r.ok()) << id << ": " << r.bad << r.ec.message();
    return m;
  }

  // Greeting + EHLO, ready for MAIL.
  void hello(Client& c, const std::string& ehlo = "EHLO client.example.net") {
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
    std::string r = c.cmd(ehlo);
    ASSERT_EQ(r.substr(0, 3), "250");
  }

  // A complete transaction; returns the queue id (empty on failure).
  std::string send_message(Client& c, const std::string& from, const std::vector<std::string>& to,
                           const std::string& body) {
    EXPECT_EQ(c.cmd("MAIL FROM:<" + from + ">"), "250 2.1.0 Ok");
    for (const auto& r : to) EXPECT_EQ(c.cmd("RCPT TO:<" + r + ">"), "250 2.1.5 Ok");
    EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
    c.send(body);
    return queued_id(c.reply());
  }

  // A delivered message's file, kept for the next one (QueueStore::retire);
  // the caller has enabled reuse.
  void keep_one_file() {
    queue::QueueWriter w;
    ASSERT_FALSE(queue::QueueWriter::create(*store_, queue::Q::incoming, w));
    core::Message old;
    old.env.id = w.id();
    old.env.sender = "old@example.net";
    old.content = "old\n";
    ASSERT_FALSE(w.write(queue::serialize(old)));
    ASSERT_FALSE(w.commit());
    ASSERT_FALSE(store_->move(queue::Q::incoming, queue::Q::active, w.id(), false));
    ASSERT_FALSE(store_->retire(queue::Q::active, w.id()));
  }

  // Waits until `pred` holds on the server's loop.
  template <class P>
  bool eventually(P pred, std::chrono::milliseconds wait = 3000ms) {
    auto end = std::chrono::steady_clock::now() + wait;
    while (!on_loop(pred)) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

  std::string root_, log_;
  std::unique_ptr<queue::QueueStore> store_;
  net::io_context io_;
  std::unique_ptr<smtpd::Server> server_;
  std::thread thread_;
  unsigned port_ = 0;
  std::mutex mu_;
  std::vector<std::string> queued_;
  std::vector<bool> named_when_queued_;
};

TEST_F(SessionTest, GreetingHeloAndEhloReplies) {
  start();
  Client c(port_);
  ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  EXPECT_EQ(c.cmd("HELO"), "501 Syntax: HELO hostname");
  EXPECT_EQ(c.cmd("EHLO"), "501 Syntax: EHLO hostname");
  EXPECT_EQ(c.cmd("HELO client.example.net"), "250 mx.example.test");
  EXPECT_EQ(c.cmd("EHLO client.example.net"),
            "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
            "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 DSN");
  EXPECT_EQ(c.cmd("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(c.closed());
  EXPECT_TRUE(log_has("mxmta/smtpd["));
  EXPECT_TRUE(log_has("connect from localhost[127.0.0.1]"));
  EXPECT_TRUE(log_has("disconnect from localhost[127.0.0.1] helo=1/2 ehlo=1/2 quit=1 commands=3/5"));
}

TEST_F(SessionTest, EhloFeaturesFollowConfiguration) {
  start("message_size_limit = 0\ndisable_vrfy_command = yes\nsmtpd_discard_ehlo_keywords = etrn, dsn\n");
  Client c(port_);
  ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  EXPECT_EQ(c.cmd("EHLO x.example"),
            "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME");
  EXPECT_EQ(c.cmd("VRFY alice"), "502 5.5.1 VRFY command is disabled");
  EXPECT_EQ(c.cmd("MAIL FROM:<a@x.test> RET=FULL"), "501 5.7.1 DSN support is disabled");
  EXPECT_TRUE(log_has("discarding EHLO keywords: ETRN DSN"));
}

TEST_F(SessionTest, DiscardedEnhancedStatusCodesAreStrippedFromReplies) {
  start("smtpd_discard_ehlo_keywords = enhancedstatuscodes pipelining\n");
  Client c(port_);
  ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  EXPECT_EQ(c.cmd("EHLO x.example"), "250-mx.example.test\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
                                     "250-8BITMIME\r\n250 DSN");
  EXPECT_EQ(c.cmd("NOOP"), "250 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<a@b.test>"), "503 Error: need MAIL command");
}

TEST_F(SessionTest, OneMessageIsQueuedDurablyWithPostfixHeaders) {
  start();
  Client c(port_);
  hello(c);
  std::string id = send_message(c, "x@example.net", {"alice@example.test"},
                                "Subject: hi\r\n\r\nline 1\r\n..dot line\r\n.\r\n");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(c.cmd("QUIT"), "221 2.0.0 Bye");
  EXPECT_EQ(queued(), std::vector<std::string>{id});
  core::Message m = read_queued(id);
  EXPECT_EQ(m.env.sender, "x@example.net");
  ASSERT_EQ(m.env.rcpts.size(), 1u);
  EXPECT_EQ(m.env.rcpts[0].address, "alice@example.test");
  EXPECT_EQ(m.env.rcpts[0].dsn_orcpt, "rfc822;alice@example.test");
  EXPECT_EQ(m.env.rcpts[0].notify, 0u);
  EXPECT_EQ(m.env.client_name, "localhost");
  EXPECT_EQ(m.env.client_addr, "127.0.0.1");
  EXPECT_EQ(m.env.helo, "client.example.net");
  EXPECT_EQ(m.env.protocol, "ESMTP");
  std::regex want("Received: from client\\.example\\.net \\(localhost \\[127\\.0\\.0\\.1\\]\\)\n"
                  "\tby mx\\.example\\.test \\(mxmta\\) with ESMTP id " +
                  id +
                  "\n"
                  "\tfor <alice@example\\.test>; [A-Z][a-z]{2}, \\d{1,2} [A-Z][a-z]{2} \\d{4} "
                  "\\d\\d:\\d\\d:\\d\\d \\+0000 \\(UTC\\)\n"
                  "Subject: hi\n\nline 1\n\\.dot line\n");
  EXPECT_TRUE(std::regex_match(m.content, want)) << m.content;
  EXPECT_TRUE(log_has(id + ": client=localhost[127.0.0.1]"));
  EXPECT_TRUE(log_has("disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"));
  // Nothing is left behind in the queue but the message.
  EXPECT_EQ(dir_entries(store_->dir(queue::Q::incoming)), std::vector<std::string>{id});
}

// The daemon's loop-idle probe (Server::set_loop_idle): with it the commit
// runs on the loop and a reused queue file is renamed to its id after the
// 250; without it, on the pool. Either way the message is complete under
// its id before the queue manager hears of it, and nothing else is left.
TEST_F(SessionTest, ReusedQueueFileIsNamedBeforeTheQueueManagerHearsOfIt) {
  store_->enable_reuse(4);  // batches of one: a retired file is ready at once
  for (bool idle : {true, false}) {
    SCOPED_TRACE(idle ? "commit on the loop" : "commit on the pool");
    ASSERT_NO_FATAL_FAILURE(keep_one_file());
    ASSERT_EQ(store_->reuse_stats().ready, 1u);
    start();
    std::atomic<int> asked{0};
    on_loop([&] {
      if (idle) server_->set_loop_idle([&] { return ++asked > 0; });
      return 0;
    });
    Client c(port_);
    hello(c);
    std::string id = send_message(c, "x@example.net", {"alice@example.test"}, "Subject: r\r\n\r\nreused\r\n.\r\n");
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(c.cmd("QUIT"), "221 2.0.0 Bye");
    EXPECT_EQ(asked.load(), idle ? 1 : 0);
    EXPECT_EQ(store_->reuse_stats().ready, 0u) << "the kept file was not taken";
    {
      std::lock_guard lk(mu_);
      ASSERT_EQ(queued_, std::vector<std::string>{id});
      EXPECT_EQ(named_when_queued_, std::vector<bool>{true}) << "the queue manager heard of it before its rename";
    }
    core::Message m = read_queued(id);
    EXPECT_EQ(m.env.sender, "x@example.net");
    EXPECT_NE(m.content.find("\nreused\n"), std::string::npos) << m.content;
    EXPECT_EQ(dir_entries(store_->dir(queue::Q::incoming)), std::vector<std::string>{id});
    stop();
    ASSERT_FALSE(store_->remove(queue::Q::incoming, id));
    std::lock_guard lk(mu_);
    queued_.clear();
    named_when_queued_.clear();
  }
}

// A kept queue file is taken once MAIL is answered, while the client writes
// RCPT; its id stays private until a recipient is accepted (NOQUEUE in the
// rejects before), and a transaction that ends without one gives it back.
TEST_F(SessionTest, KeptQueueFileIsTakenAfterMailAndItsIdIsPublicFromTheFirstRecipient) {
  store_->enable_reuse(4);
  ASSERT_NO_FATAL_FAILURE(keep_one_file());
  start("mynetworks = 192.0.2.0/24\n");
  Client c(port_);
  hello(c);
  auto ready = [this] { return store_->reuse_stats().ready; };
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_TRUE(eventually([&] { return ready() == 0; })) << "not taken after MAIL";
  EXPECT_EQ(c.cmd("RCPT TO:<victim@elsewhere.example>"), "454 4.7.1 <victim@elsewhere.example>: Relay access denied");
  EXPECT_TRUE(log_has("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 454 4.7.1 <victim@elsewhere.example>"));
  EXPECT_EQ(log_text().find(": client=localhost[127.0.0.1]"), std::string::npos);
  EXPECT_EQ(c.cmd("RSET"), "250 2.0.0 Ok");
  EXPECT_TRUE(eventually([&] { return ready() == 1; })) << "not given back at RSET";

  // Pipelined: MAIL, RCPT and DATA in one write; the file comes with RCPT.
  c.send("MAIL FROM:<x@example.net>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
  EXPECT_EQ(c.reply(), "250 2.1.0 Ok");
  EXPECT_EQ(c.reply(), "250 2.1.5 Ok");
  EXPECT_EQ(c.reply(), "354 End data with <CR><LF>.<CR><LF>");
  c.send("Subject: p\r\n\r\npipelined\r\n.\r\n");
  std::string id = queued_id(c.reply());
  ASSERT_FALSE(id.empty());
  EXPECT_TRUE(log_has(id + ": client=localhost[127.0.0.1]"));
  EXPECT_EQ(ready(), 0u);

  // One command at a time: the id of the file taken after MAIL is logged at
  // the first accepted recipient, and rejects after it carry the id.
  ASSERT_NO_FATAL_FAILURE(keep_one_file());
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_TRUE(eventually([&] { return ready() == 0; })) << "not taken after MAIL";
  EXPECT_EQ(c.cmd("RCPT TO:<v2@elsewhere.example>"), "454 4.7.1 <v2@elsewhere.example>: Relay access denied");
  EXPECT_EQ(c.cmd("RCPT TO:<bob@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<v3@elsewhere.example>"), "454 4.7.1 <v3@elsewhere.example>: Relay access denied");
  EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  c.send("Subject: s\r\n\r\nsequential\r\n.\r\n");
  std::string id2 = queued_id(c.reply());
  ASSERT_FALSE(id2.empty());
  EXPECT_TRUE(log_has("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 454 4.7.1 <v2@elsewhere.example>"));
  EXPECT_TRUE(log_has(id2 + ": client=localhost[127.0.0.1]"));
  EXPECT_TRUE(log_has(id2 + ": reject: RCPT from localhost[127.0.0.1]: 454 4.7.1 <v3@elsewhere.example>"));
  EXPECT_NE(read_queued(id2).content.find("\nsequential\n"), std::string::npos);
  EXPECT_EQ(c.cmd("QUIT"), "221 2.0.0 Bye");
}

TEST_F(SessionTest, SeveralRecipientsAndDsnParameters) {
  start();
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=env+2B1"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Alice+40Example.TEST"),
            "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<bob@example.test> NOTIFY=NEVER"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  c.send("Subject: two\r\n\r\nbody\r\n.\r\n");
  std::string id = queued_id(c.reply());
  ASSERT_FALSE(id.empty());
  core::Message m = read_queued(id);
  EXPECT_EQ(m.env.envid, "env+1");
  EXPECT_EQ(m.env.ret, "HDRS");
  EXPECT_EQ(m.env.body_type, "8BITMIME");
  ASSERT_EQ(m.env.rcpts.size(), 2u);
  EXPECT_EQ(m.env.rcpts[0].dsn_orcpt, "rfc822;Alice@Example.TEST");
  EXPECT_EQ(m.env.rcpts[0].notify, unsigned(core::notify_success | core::notify_failure));
  EXPECT_EQ(m.env.rcpts[1].notify, unsigned(core::notify_never));
  // No "for <...>" with more than one recipient.
  std::regex want("Received: from client\\.example\\.net \\(localhost \\[127\\.0\\.0\\.1\\]\\)\n"
                  "\tby mx\\.example\\.test \\(mxmta\\) with ESMTP id " +
                  id + ";\n\t[A-Z][a-z]{2}, [^\n]+\\(UTC\\)\nSubject: two\n\nbody\n");
  EXPECT_TRUE(std::regex_match(m.content, want)) << m.content;
}

TEST_F(SessionTest, HeloSessionIsSmtpAndMissingHeadersForLocalClients) {
  start("local_header_rewrite_clients = permit_mynetworks\n");
  Client c(port_);
  hello(c, "HELO client.example.net");
  std::string id = send_message(c, "x@example.net", {"bob@example.test"}, "Subject: s\r\n\r\nb\r\n.\r\n");
  ASSERT_FALSE(id.empty());
  core::Message m = read_queued(id);
  EXPECT_EQ(m.env.protocol, "SMTP");
  EXPECT_NE(m.content.find(" with SMTP id " + id + "\n"), std::string::npos) << m.content;
  EXPECT_NE(m.content.find("\nSubject: s\nMessage-Id: <"), std::string::npos) << m.content;
  EXPECT_NE(m.content.find("\nFrom: x@example.net\n\nb\n"), std::string::npos) << m.content;
}

TEST_F(SessionTest, OrderingErrors) {
  start();
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test>"), "503 5.5.1 Error: need MAIL command");
  EXPECT_EQ(c.cmd("DATA"), "503 5.5.1 Error: need RCPT command");
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "503 5.5.1 Error: nested MAIL command");
  EXPECT_EQ(c.cmd("DATA"), "554 5.5.1 Error: no valid recipients");
  EXPECT_EQ(c.cmd("RCPT TO:<nosuch@example.test>"),
            "550 5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown in local recipient table");
  EXPECT_EQ(c.cmd("DATA"), "554 5.5.1 Error: no valid recipients");
  EXPECT_EQ(c.cmd("ETRN example.test"), "503 Error: MAIL transaction in progress");
  EXPECT_EQ(c.cmd("RSET"), "250 2.0.0 Ok");
  EXPECT_EQ(c.cmd("RSET x"), "501 5.5.4 Syntax: RSET");
  EXPECT_EQ(c.cmd("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(log_has("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <nosuch@example.test>: Recipient "
                      "address rejected: User unknown in local recipient table; from=<x@example.net> "
                      "to=<nosuch@example.test> proto=ESMTP helo=<client.example.net>"));
  EXPECT_TRUE(log_has("disconnect from localhost[127.0.0.1] ehlo=1 mail=1/2 rcpt=0/2 data=0/3 rset=1/2 etrn=0/1 "
                      "quit=1 commands=4/12"));
}

TEST_F(SessionTest, HeloRequired) {
  start("smtpd_helo_required = yes\n");
  Client c(port_);
  ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "503 5.5.1 Error: send HELO/EHLO first");
  EXPECT_EQ(c.cmd("ETRN example.test"), "503 Error: send HELO/EHLO first");
  EXPECT_EQ(c.cmd("HELO c.example"), "250 mx.example.test");
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
}

TEST_F(SessionTest, SyntaxErrors) {
  start();
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL"), "501 5.5.4 Syntax: MAIL FROM:<address>");
  EXPECT_EQ(c.cmd("MAIL FROM:"), "501 5.5.4 Syntax: MAIL FROM:<address>");
  EXPECT_EQ(c.cmd("MAIL TO:<a@b.test>"), "501 5.5.4 Syntax: MAIL FROM:<address>");
  EXPECT_EQ(c.cmd("MAIL FROM:<a b@c>"), "501 5.1.7 Bad sender address syntax");
  EXPECT_EQ(c.cmd("MAIL FROM:<unbalanced"), "501 5.1.7 Bad sender address syntax");
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net> FOO=BAR"), "555 5.5.4 Unsupported option: FOO=BAR");
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net> SIZE=abc"), "501 5.5.4 Bad message size syntax");
  EXPECT_EQ(c.cmd("MAIL FROM:x@example.net"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT"), "501 5.5.4 Syntax: RCPT TO:<address>");
  EXPECT_EQ(c.cmd("RCPT TO:"), "501 5.5.4 Syntax: RCPT TO:<address>");
  EXPECT_EQ(c.cmd("RCPT TO:<>"), "501 5.1.3 Bad recipient address syntax");
  EXPECT_EQ(c.cmd("RCPT TO:<bad address>"), "501 5.1.3 Bad recipient address syntax");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test> NOTIFY=MAYBE"), "501 5.5.4 Error: Bad NOTIFY parameter syntax");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test> FOO"), "555 5.5.4 Unsupported option: FOO");
  EXPECT_EQ(c.cmd("DATA x"), "554 5.5.1 Error: no valid recipients");
  EXPECT_EQ(c.cmd(""), "500 5.5.2 Error: bad syntax");
  EXPECT_TRUE(log_has("warning: Illegal address syntax from localhost[127.0.0.1] in MAIL command: <a b@c>"));
  EXPECT_TRUE(log_has("warning: Illegal address syntax from localhost[127.0.0.1] in RCPT command: <bad address>"));
}

TEST_F(SessionTest, StickyRejectedSize) {
  start("message_size_limit = 1000\n");
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net> SIZE=999999"), "552 5.3.4 Message size exceeds fixed limit");
  // Postfix 3.7 quirk: the rejected size sticks until RSET.
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "552 5.3.4 Message size exceeds fixed limit");
  EXPECT_EQ(c.cmd("RSET"), "250 2.0.0 Ok");
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_TRUE(log_has("NOQUEUE: reject: MAIL from localhost[127.0.0.1]: 552 5.3.4 Message size exceeds fixed "
                      "limit; proto=ESMTP helo=<client.example.net>"));
}

TEST_F(SessionTest, SimpleCommands) {
  start();
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("NOOP"), "250 2.0.0 Ok");
  EXPECT_EQ(c.cmd("NOOP anything"), "250 2.0.0 Ok");
  EXPECT_EQ(c.cmd("HELP"), "500 5.5.2 Error: command not recognized");
  EXPECT_EQ(c.cmd("EXPN staff"), "500 5.5.2 Error: command not recognized");
  EXPECT_EQ(c.cmd("STARTTLS"), "502 5.5.1 Error: command not implemented");
  EXPECT_EQ(c.cmd("AUTH PLAIN AGFsaWNlAHg="), "503 5.5.1 Error: authentication not enabled");
  EXPECT_EQ(c.cmd("VRFY alice"), "252 2.0.0 alice");
  EXPECT_EQ(c.cmd("VRFY <alice@example.test>"), "252 2.0.0 <alice@example.test>");
  EXPECT_EQ(c.cmd("VRFY nosuch@example.test"),
            "550 5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown in local recipient table");
  EXPECT_EQ(c.cmd("VRFY"), "501 5.5.4 Syntax: VRFY address [SMTPUTF8]");
  EXPECT_EQ(c.cmd("ETRN example.test"), "459 <example.test>: service unavailable");
  EXPECT_EQ(c.cmd("ETRN"), "500 Syntax: ETRN domain");
  EXPECT_EQ(c.cmd("ETRN bad..domain"), "501 Error: invalid parameter syntax");
  EXPECT_EQ(c.cmd("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(log_has("warning: reject: ETRN example.test... from localhost[127.0.0.1]"));
  EXPECT_TRUE(log_has("starttls=0/1 auth=0/1 noop=2 vrfy=2/4 etrn=0/3 quit=1 unknown=0/2 commands=6/15"));
}

TEST_F(SessionTest, RelayDeniedWithStockAndStrictRestrictions) {
  start("mynetworks = 192.0.2.0/24\n");
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<victim@elsewhere.example>"), "454 4.7.1 <victim@elsewhere.example>: Relay access denied");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_TRUE(log_has("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 454 4.7.1 <victim@elsewhere.example>: Relay "
                      "access denied; from=<x@example.net> to=<victim@elsewhere.example> proto=ESMTP "
                      "helo=<client.example.net>"));
  // After the queue id is assigned, rejects carry it instead of NOQUEUE.
  EXPECT_EQ(c.cmd("RCPT TO:<v2@elsewhere.example>"), "454 4.7.1 <v2@elsewhere.example>: Relay access denied");
  EXPECT_TRUE(log_has(": reject: RCPT from localhost[127.0.0.1]: 454 4.7.1 <v2@elsewhere.example>"));
  EXPECT_EQ(log_text().find("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 454 4.7.1 <v2@"), std::string::npos);
  stop();
  start("mynetworks = 192.0.2.0/24\nsmtpd_relay_restrictions = permit_mynetworks reject_unauth_destination\n");
  Client d(port_);
  hello(d, "HELO client.example.net");
  EXPECT_EQ(d.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(d.cmd("RCPT TO:<victim@elsewhere.example>"), "554 5.7.1 <victim@elsewhere.example>: Relay access denied");
  EXPECT_TRUE(log_has("proto=SMTP helo=<client.example.net>"));
}

TEST_F(SessionTest, MynetworksMayRelay) {
  start();
  Client c(port_);
  hello(c);
  std::string id = send_message(c, "x@example.test", {"someone@elsewhere.example"}, "s\r\n.\r\n");
  EXPECT_FALSE(id.empty());
}

TEST_F(SessionTest, ErrorTransportAndConfigurationErrors) {
  start("local_transport = error:local delivery is disabled\nsmtpd_recipient_restrictions = frobnicate\n");
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<u@[127.0.0.1]>"), "451 4.3.5 Server configuration error");
  EXPECT_TRUE(log_has("warning: unknown smtpd restriction: \"frobnicate\""));
  EXPECT_TRUE(log_has("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 451 4.3.5 Server configuration error; "
                      "from=<x@example.net> to=<u@[127.0.0.1]> proto=ESMTP helo=<client.example.net>"));
  stop();
  start("local_transport = error:local delivery is disabled\n");
  Client d(port_);
  hello(d);
  EXPECT_EQ(d.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(d.cmd("RCPT TO:<u@[127.0.0.1]>"),
            "550 5.1.1 <u@[127.0.0.1]>: Recipient address rejected: local delivery is disabled");
}

TEST_F(SessionTest, NoRelayRestrictionMeansNoService) {
  start("smtpd_relay_restrictions =\n");
  Client c(port_);
  EXPECT_EQ(c.reply(), "<EOF>");
  EXPECT_TRUE(log_has("fatal: in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at "
                      "least one working instance of: reject_unauth_destination, defer_unauth_destination, reject, "
                      "defer, defer_if_permit or check_relay_domains"));
  EXPECT_EQ(on_loop([this] { return server_->active_sessions(); }), 0u);
}

TEST_F(SessionTest, ClientRejectedWithoutDelayReject) {
  start("smtpd_delay_reject = no\nsmtpd_client_restrictions = reject\n");
  Client c(port_);
  EXPECT_EQ(c.reply(), "554 5.7.1 <localhost[127.0.0.1]>: Client host rejected: Access denied");
  EXPECT_EQ(c.cmd("HELO x.example"), "503 5.7.0 Error: access denied for localhost[127.0.0.1]");
  EXPECT_EQ(c.cmd("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(log_has("NOQUEUE: reject: CONNECT from localhost[127.0.0.1]: 554 5.7.1 <localhost[127.0.0.1]>: "
                      "Client host rejected: Access denied; proto=SMTP"));
}

TEST_F(SessionTest, HeloAndSenderRejectedWithoutDelayReject) {
  start("smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n"
        "smtpd_sender_restrictions = reject_non_fqdn_sender\n");
  Client c(port_);
  ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  EXPECT_EQ(c.cmd("HELO localhost"), "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname");
  EXPECT_EQ(c.cmd("EHLO client.example.net").substr(0, 4), "250-");
  EXPECT_EQ(c.cmd("MAIL FROM:<bob>"), "504 5.5.2 <bob>: Sender address rejected: need fully-qualified address");
  EXPECT_EQ(c.cmd("MAIL FROM:<bob@example.test>"), "250 2.1.0 Ok");
  EXPECT_TRUE(log_has("NOQUEUE: reject: HELO from localhost[127.0.0.1]: 504 5.5.2 <localhost>: Helo command "
                      "rejected: need fully-qualified hostname; proto=SMTP helo=<localhost>"));
  EXPECT_TRUE(log_has("NOQUEUE: reject: MAIL from localhost[127.0.0.1]: 504 5.5.2 <bob>: Sender address rejected: "
                      "need fully-qualified address; from=<bob> proto=ESMTP helo=<client.example.net>"));
}

TEST_F(SessionTest, DataAndEndOfDataRestrictions) {
  start("smtpd_data_restrictions = permit_mynetworks\nsmtpd_end_of_data_restrictions = defer\n");
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  c.send("x\r\n.\r\n");
  EXPECT_EQ(c.reply(), "450 4.3.2 <END-OF-MESSAGE>: End-of-data rejected: Try again later");
  EXPECT_TRUE(queued().empty());
  EXPECT_TRUE(log_has(": reject: END-OF-MESSAGE from localhost[127.0.0.1]: 450 4.3.2 <END-OF-MESSAGE>: "
                      "End-of-data rejected: Try again later; from=<x@example.net> to=<alice@example.test>"));
  stop();
  start("smtpd_data_restrictions = reject\n");
  Client d(port_);
  hello(d);
  EXPECT_EQ(d.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(d.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(d.cmd("DATA"), "554 5.7.1 <DATA>: Data command rejected: Access denied");
  EXPECT_EQ(d.cmd("RSET"), "250 2.0.0 Ok");
  EXPECT_TRUE(dir_entries(store_->dir(queue::Q::incoming)).empty());
}

TEST_F(SessionTest, RecipientLimit) {
  start("smtpd_recipient_limit = 2\nsmtpd_recipient_overshoot_limit = 1\n");
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<bob@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<postmaster@example.test>"), "452 4.5.3 Error: too many recipients");
  EXPECT_EQ(c.cmd("RCPT TO:<postmaster@example.test>"), "452 4.5.3 Error: too many recipients");
  EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  c.send("x\r\n.\r\n");
  std::string id = queued_id(c.reply());
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(read_queued(id).env.rcpts.size(), 2u);
  EXPECT_EQ(c.cmd("QUIT"), "221 2.0.0 Bye");
  // The first overshoot is not a client error, the second is.
  EXPECT_TRUE(log_has("rcpt=3/4"));
}

TEST_F(SessionTest, MessageTooBigDuringData) {
  start("message_size_limit = 100\n");
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  c.send(std::string(60, 'a') + "\r\n" + std::string(60, 'b') + "\r\n.\r\n");
  EXPECT_EQ(c.reply(), "552 5.3.4 Error: message file too big");
  EXPECT_EQ(c.cmd("NOOP"), "250 2.0.0 Ok");  // the session goes on
  EXPECT_TRUE(queued().empty());
  EXPECT_TRUE(dir_entries(store_->dir(queue::Q::incoming)).empty());
  EXPECT_TRUE(log_has(": queue file size limit exceeded"));
}

TEST_F(SessionTest, IdleTimeout) {
  start("smtpd_timeout = 1\n");
  Client c(port_);
  hello(c);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.reply(), "421 4.4.2 mx.example.test Error: timeout exceeded");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);
  EXPECT_TRUE(c.closed());
  EXPECT_TRUE(log_has("timeout after EHLO from localhost[127.0.0.1]"));
  EXPECT_TRUE(log_has("disconnect from localhost[127.0.0.1] ehlo=1 commands=1"));
}

// The limit runs from the start of each read: a client that keeps talking
// within it is not cut off, however long the session lasts.
TEST_F(SessionTest, TimeoutRunsFromEachRead) {
  start("smtpd_timeout = 1\n");
  Client c(port_);
  hello(c);
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(600ms);
    EXPECT_EQ(c.cmd("NOOP"), "250 2.0.0 Ok") << i;
  }
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.reply(), "421 4.4.2 mx.example.test Error: timeout exceeded");
  auto idle = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(idle, 900ms);
  EXPECT_LE(idle, 1900ms);
}

// Replies are written at once while they fit in the socket buffer, then wait
// for the client to read: none is lost or reordered. (Long rejected
// recipients make 5 MB of replies, more than loopback buffers hold.)
TEST_F(SessionTest, RepliesBeyondTheSocketBufferWaitForTheClient) {
  start("smtpd_hard_error_limit = 100000\nsmtpd_soft_error_limit = 100000\n");
  Client c(port_, 4096);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  const int n = 14000;  // replies under 512 bytes (longer ones are cut)
  auto rcpt = [](int i) { return "u" + std::to_string(i) + std::string(300, 'x') + "@example.test"; };
  std::thread sender([&c, &rcpt] {
    std::string batch;
    for (int i = 0; i < n; ++i) batch += "RCPT TO:<" + rcpt(i) + ">\r\n";
    c.send(batch);
  });
  std::this_thread::sleep_for(1000ms);  // the server's writes back up meanwhile
  int ok = 0;
  std::string bad;
  for (int i = 0; i < n; ++i) {
    std::string r = c.reply();
    bool good = r == "550 5.1.1 <" + rcpt(i) + ">: Recipient address rejected: User unknown in local recipient table";
    ok += good;
    if (!good && bad.empty()) bad = std::to_string(i) + ": " + r;
  }
  EXPECT_EQ(bad, "");
  sender.join();
  EXPECT_EQ(ok, n);
  EXPECT_EQ(c.cmd("RSET"), "250 2.0.0 Ok");
}

TEST_F(SessionTest, TimeoutInsideDataLosesTheMessage) {
  start("smtpd_timeout = 1\n");
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  c.send("Subject: partial\r\n");
  EXPECT_EQ(c.reply(), "421 4.4.2 mx.example.test Error: timeout exceeded");
  EXPECT_TRUE(log_has("timeout after DATA (18 bytes) from localhost[127.0.0.1]"));
  EXPECT_TRUE(queued().empty());
  EXPECT_TRUE(dir_entries(store_->dir(queue::Q::incoming)).empty());
}

TEST_F(SessionTest, LostConnectionInsideData) {
  start();
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  c.send("Subject: x\r\n\r\nhalf");
  c.shutdown_write();
  EXPECT_TRUE(log_has("lost connection after DATA (18 bytes) from localhost[127.0.0.1]"));
  EXPECT_TRUE(log_has("disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4"));
  EXPECT_TRUE(queued().empty());
  EXPECT_TRUE(dir_entries(store_->dir(queue::Q::incoming)).empty());
}

TEST_F(SessionTest, HardErrorLimit) {
  start("smtpd_hard_error_limit = 3\n");
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("BOGUS1"), "500 5.5.2 Error: command not recognized");
  EXPECT_EQ(c.cmd("BOGUS2"), "500 5.5.2 Error: command not recognized");
  EXPECT_EQ(c.cmd("RCPT TO:<a@b.test>"), "503 5.5.1 Error: need MAIL command");
  EXPECT_EQ(c.reply(), "421 4.7.0 mx.example.test Error: too many errors");
  EXPECT_TRUE(c.closed());
  EXPECT_TRUE(log_has("too many errors after RCPT from localhost[127.0.0.1]"));
}

TEST_F(SessionTest, SoftErrorLimitSlowsDown) {
  start("smtpd_soft_error_limit = 1\nsmtpd_error_sleep_time = 1\n");
  Client c(port_);
  hello(c);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.cmd("BOGUS"), "500 5.5.2 Error: command not recognized");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 900ms);
  t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(c.cmd("NOOP"), "250 2.0.0 Ok");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 900ms);
}

TEST_F(SessionTest, JunkCommandLimit) {
  start("smtpd_junk_command_limit = 2\nsmtpd_hard_error_limit = 1\n");
  Client c(port_);
  ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(c.cmd("NOOP"), "250 2.0.0 Ok") << i;
  // The fourth junk command was one too many: that counts as an error.
  EXPECT_EQ(c.cmd("NOOP"), "421 4.7.0 mx.example.test Error: too many errors");
}

TEST_F(SessionTest, PipelinedBatchIsAnsweredInOrder) {
  start();
  Client c(port_);
  ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  ASSERT_EQ(c.cmd("EHLO client.example.net").substr(0, 4), "250-");
  c.send(
      "MAIL FROM:<x@example.net>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nosuch@example.test>\r\n"
      "RCPT TO:<bob@example.test>\r\nDATA\r\n");
  EXPECT_EQ(c.reply(), "250 2.1.0 Ok");
  EXPECT_EQ(c.reply(), "250 2.1.5 Ok");
  EXPECT_EQ(c.reply(),
            "550 5.1.1 <nosuch@example.test>: Recipient address rejected: User unknown in local recipient table");
  EXPECT_EQ(c.reply(), "250 2.1.5 Ok");
  EXPECT_EQ(c.reply(), "354 End data with <CR><LF>.<CR><LF>");
  c.send("Subject: p\r\n\r\nx\r\n.\r\nRSET\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
  std::string id1 = queued_id(c.reply());
  EXPECT_FALSE(id1.empty());
  EXPECT_EQ(c.reply(), "250 2.0.0 Ok");
  EXPECT_EQ(c.reply(), "250 2.1.0 Ok");
  EXPECT_EQ(c.reply(), "250 2.1.5 Ok");
  EXPECT_EQ(c.reply(), "354 End data with <CR><LF>.<CR><LF>");
  c.send("y\r\n.\r\nQUIT\r\n");
  std::string id2 = queued_id(c.reply());
  EXPECT_FALSE(id2.empty());
  EXPECT_EQ(c.reply(), "221 2.0.0 Bye");
  EXPECT_EQ(queued().size(), 2u);
  EXPECT_EQ(read_queued(id2).env.sender, "");
  // Pipelining after EHLO is allowed: nothing was logged.
  EXPECT_TRUE(log_has("disconnect from"));
  EXPECT_EQ(log_text().find("improper command pipelining"), std::string::npos);
}

TEST_F(SessionTest, ImproperPipeliningIsLogged) {
  start();
  Client c(port_);
  ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  c.send("EHLO client.example.net\r\nMAIL FROM:<x@example.net>\r\n");
  EXPECT_EQ(c.reply().substr(0, 4), "250-");
  EXPECT_EQ(c.reply(), "250 2.1.0 Ok");
  EXPECT_TRUE(log_has("improper command pipelining after EHLO from localhost[127.0.0.1]: MAIL "
                      "FROM:<x@example.net>\\r\\n"));
}

TEST_F(SessionTest, PipeliningAfterHeloIsImproper) {
  start();
  Client c(port_);
  ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  EXPECT_EQ(c.cmd("HELO client.example.net"), "250 mx.example.test");
  c.send("MAIL FROM:<x@example.net>\r\nRCPT TO:<alice@example.test>\r\n");
  EXPECT_EQ(c.reply(), "250 2.1.0 Ok");
  EXPECT_EQ(c.reply(), "250 2.1.5 Ok");
  EXPECT_TRUE(log_has("improper command pipelining after MAIL from localhost[127.0.0.1]: RCPT "
                      "TO:<alice@example.test>\\r\\n"));
}

TEST_F(SessionTest, ForbidUnauthPipelining) {
  start("smtpd_forbid_unauth_pipelining = yes\n");
  Client c(port_);
  ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  EXPECT_EQ(c.cmd("HELO client.example.net"), "250 mx.example.test");
  c.send("MAIL FROM:<x@example.net>\r\nRCPT TO:<alice@example.test>\r\n");
  EXPECT_EQ(c.reply(), "554 5.5.0 Error: SMTP protocol synchronization");
  EXPECT_TRUE(c.closed());
  // The refused MAIL counts as a failed command, as in Postfix.
  EXPECT_TRUE(log_has("disconnect from localhost[127.0.0.1] helo=1 mail=0/1 commands=1/2"));
}

TEST_F(SessionTest, TalkingBeforeTheGreeting) {
  // A slow name lookup keeps the greeting back while the client talks.
  start("smtpd_forbid_unauth_pipelining = yes\n", [](const core::IpAddr&) {
    std::this_thread::sleep_for(300ms);
    return std::string("localhost");
  });
  Client c(port_);
  c.send("EHLO client.example.net\r\n");
  EXPECT_EQ(c.reply(), "554 5.5.0 Error: SMTP protocol synchronization");
  EXPECT_TRUE(log_has("improper command pipelining after CONNECT from localhost[127.0.0.1]: EHLO "
                      "client.example.net\\r\\n"));
}

// Without a name to look up, the greeting goes out at the accept and the
// name is logged after it; a client that talked before the accept is still
// caught before any greeting.
TEST_F(SessionTest, GreetingAtTheAcceptStillCatchesEarlyTalkers) {
  start("smtpd_peername_lookup = no\nsmtpd_forbid_unauth_pipelining = yes\n");
  {
    Client c(port_);
    ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
    EXPECT_TRUE(log_has("connect from unknown[127.0.0.1]"));
    EXPECT_EQ(c.cmd("QUIT"), "221 2.0.0 Bye");
  }
  // The loop sleeps while a client connects and talks: its words are there
  // when the connection is accepted.
  std::thread busy([this] {
    on_loop([] {
      std::this_thread::sleep_for(300ms);
      return 0;
    });
  });
  std::this_thread::sleep_for(50ms);
  Client d(port_);
  d.send("EHLO client.example.net\r\n");
  busy.join();
  EXPECT_EQ(d.reply(), "554 5.5.0 Error: SMTP protocol synchronization");
  EXPECT_TRUE(log_has("improper command pipelining after CONNECT from unknown[127.0.0.1]: EHLO "
                      "client.example.net\\r\\n"));
}

TEST_F(SessionTest, NonSmtpCommandsHangUp) {
  start();
  for (std::string bad : {"From: someone@example.net", "GET / HTTP/1.0", "CONNECT mx.example.test:25 HTTP/1.1",
                          "POST /x HTTP/1.1", "123 go", "<script>"}) {
    Client c(port_);
    ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
    EXPECT_EQ(c.cmd(bad), "221 2.7.0 Error: I can break rules, too. Goodbye.") << bad;
    EXPECT_TRUE(c.closed()) << bad;
    EXPECT_TRUE(log_has("warning: non-SMTP command from localhost[127.0.0.1]: " + bad)) << bad;
  }
  Client c(port_);
  ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  EXPECT_EQ(c.cmd("help"), "500 5.5.2 Error: command not recognized");
}

TEST_F(SessionTest, OverlongCommandIsTruncated) {
  start();
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("NOOP " + std::string(5000, 'x')), "250 2.0.0 Ok");
  EXPECT_EQ(c.cmd("NOOP"), "250 2.0.0 Ok");
  EXPECT_TRUE(log_has("warning: localhost[127.0.0.1]: request longer than 2048: NOOP xxxxxxxxxxxxxxxxxxxxxxxxx..."));
}

TEST_F(SessionTest, LongContentLinesAndLineEndings) {
  start();
  Client c(port_);
  hello(c);
  std::string longline(6000, 'L');
  std::string id = send_message(c, "x@example.net", {"alice@example.test"},
                                "A: 1\r\n\r\n" + longline + "\r\nbare\nlf\r\n..\r\n.\r\n");
  ASSERT_FALSE(id.empty());
  std::string content = read_queued(id).content;
  EXPECT_NE(content.find("\nA: 1\n\n" + longline + "\nbare\nlf\n.\n"), std::string::npos);
  EXPECT_EQ(content.find('\r'), std::string::npos);
}

// ---- SMTP smuggling: every end-of-data variant under normalize

struct WireSmuggleCase {
  const char* name;
  std::string eod;
};

class SessionSmuggleTest : public SessionTest, public ::testing::WithParamInterface<WireSmuggleCase> {};

TEST_P(SessionSmuggleTest, NormalizeQueuesExactlyOneMessage) {
  // 127.0.0.1 is in $mynetworks, the default exclusion list: empty it.
  start("smtpd_forbid_bare_newline_exclusions =\n");
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  c.send("Subject: smuggle\r\n\r\ntext" + GetParam().eod +
         "MAIL FROM:<evil@x.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled body\r\n\r\n.\r\nQUIT\r\n");
  std::string id = queued_id(c.reply());
  ASSERT_FALSE(id.empty()) << GetParam().name;
  EXPECT_EQ(c.reply(), "221 2.0.0 Bye") << GetParam().name;
  EXPECT_EQ(queued().size(), 1u) << GetParam().name;
  std::string content = read_queued(id).content;
  EXPECT_NE(content.find("MAIL FROM:<evil@x.test>"), std::string::npos) << GetParam().name << content;
  EXPECT_NE(content.find("smuggled body"), std::string::npos) << GetParam().name;
  EXPECT_EQ(read_queued(id).env.rcpts.size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Variants, SessionSmuggleTest,
    ::testing::Values(WireSmuggleCase{"LfDotLf", "\n.\n"}, WireSmuggleCase{"CrDotCr", "\r.\r"},
                      WireSmuggleCase{"CrlfDotLf", "\r\n.\n"}, WireSmuggleCase{"LfDotCrlf", "\n.\r\n"},
                      WireSmuggleCase{"CrDotCrlf", "\r.\r\n"}, WireSmuggleCase{"CrlfDotCr", "\r\n.\r"},
                      WireSmuggleCase{"NulBeforeDot", std::string("\r\n\0.\r\n", 6)},
                      WireSmuggleCase{"NulAfterDot", std::string("\r\n.\0\r\n", 6)},
                      WireSmuggleCase{"CrCrlfDotLf", "\r\r\n.\n"}, WireSmuggleCase{"LfDotLfCr", "\n.\n\r"},
                      WireSmuggleCase{"CrlfDotCrCrlf", "\r\n.\r\r\n.\n"}),
    [](const auto& tpi) { return std::string(tpi.param.name); });

TEST_F(SessionTest, BareNewlineNoModeIsTheOldBehaviour) {
  start("smtpd_forbid_bare_newline = no\n");
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  c.send("text\n.\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nsmuggled\r\n.\r\nQUIT\r\n");
  EXPECT_FALSE(queued_id(c.reply()).empty());
  EXPECT_EQ(c.reply(), "250 2.1.0 Ok");
  EXPECT_EQ(c.reply(), "250 2.1.5 Ok");
  EXPECT_EQ(c.reply(), "354 End data with <CR><LF>.<CR><LF>");
  EXPECT_FALSE(queued_id(c.reply()).empty());
  EXPECT_EQ(queued().size(), 2u);
}

TEST_F(SessionTest, BareNewlineCommandsAcceptedUnderNormalize) {
  start();
  Client c(port_);
  ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  c.send("HELO client.example.net\n");
  EXPECT_EQ(c.reply(), "250 mx.example.test");
  c.send("NOOP\n");
  EXPECT_EQ(c.reply(), "250 2.0.0 Ok");
}

TEST_F(SessionTest, BareNewlineRejectMode) {
  start("smtpd_forbid_bare_newline = reject\nmynetworks = 192.0.2.0/24\nsmtpd_relay_restrictions = "
        "reject_unauth_destination\n");
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  c.send("Subject: x\r\n\r\nbare\nline\r\n.\r\n");
  EXPECT_EQ(c.reply(), "550 5.5.2 mx.example.test Error: bare <LF> received");
  EXPECT_TRUE(queued().empty());
  EXPECT_TRUE(log_has(": reject: END-OF-MESSAGE from localhost[127.0.0.1]: bare <LF> received; from=<x@example.net> "
                      "to=<alice@example.test> proto=ESMTP helo=<client.example.net>"));
  // A command with a bare LF is refused and the session ends.
  c.send("NOOP\n");
  EXPECT_EQ(c.reply(), "550 5.5.2 mx.example.test Error: bare <LF> received");
  EXPECT_TRUE(c.closed());
}

TEST_F(SessionTest, BareNewlineExclusions) {
  start("smtpd_forbid_bare_newline = reject\nsmtpd_forbid_bare_newline_exclusions = 127.0.0.0/8\n");
  Client c(port_);
  hello(c);
  c.send("NOOP\n");
  EXPECT_EQ(c.reply(), "250 2.0.0 Ok");
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  c.send("old client\n.\n");
  EXPECT_FALSE(queued_id(c.reply()).empty());
}

TEST_F(SessionTest, RsetAndQuitDiscardTheQueueFile) {
  start();
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(dir_entries(store_->dir(queue::Q::incoming)).size(), 1u);  // the embryonic file
  EXPECT_EQ(c.cmd("RSET"), "250 2.0.0 Ok");
  EXPECT_TRUE(dir_entries(store_->dir(queue::Q::incoming)).empty());
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(c.cmd("QUIT"), "221 2.0.0 Bye");
  EXPECT_TRUE(c.closed());
  EXPECT_TRUE(log_has("disconnect from"));
  EXPECT_TRUE(dir_entries(store_->dir(queue::Q::incoming)).empty());
  EXPECT_TRUE(queued().empty());
}

TEST_F(SessionTest, DrainClosesIdleSessionsAndLetsDataFinish) {
  start();
  Client idle(port_);
  hello(idle);
  Client busy(port_);
  hello(busy);
  EXPECT_EQ(busy.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(busy.cmd("RCPT TO:<alice@example.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(busy.cmd("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  busy.send("Subject: in flight\r\n");
  std::this_thread::sleep_for(100ms);  // the server is now inside DATA
  EXPECT_EQ(on_loop([this] { return server_->active_sessions(); }), 2u);
  on_loop([this] {
    server_->stop_accepting();
    server_->close_idle_sessions();
    return 0;
  });
  EXPECT_EQ(idle.reply(), "421 4.3.2 mx.example.test Service shutting down");
  EXPECT_TRUE(idle.closed());
  busy.send("\r\nbody\r\n.\r\n");
  EXPECT_FALSE(queued_id(busy.reply()).empty());
  EXPECT_EQ(busy.reply(), "421 4.3.2 mx.example.test Service shutting down");
  EXPECT_TRUE(busy.closed());
  EXPECT_EQ(queued().size(), 1u);
  for (int i = 0; i < 100 && on_loop([this] { return server_->active_sessions(); }) > 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(on_loop([this] { return server_->active_sessions(); }), 0u);
  Client late(port_);
  EXPECT_FALSE(late.ok());
}

TEST_F(SessionTest, ReloadAppliesToNewSessions) {
  start();
  Client before(port_);
  ASSERT_EQ(before.reply(), "220 mx.example.test ESMTP mxmta");
  auto cfg = std::make_shared<core::Config>(core::Config::from_text(std::string(kMain) + "smtpd_banner = $myhostname ESMTP lab\n"));
  on_loop([&] {
    server_->reload(cfg);
    return 0;
  });
  Client after(port_);
  EXPECT_EQ(after.reply(), "220 mx.example.test ESMTP lab");
  EXPECT_EQ(before.cmd("HELO a.example"), "250 mx.example.test");
}

TEST_F(SessionTest, ListenReportsBindErrors) {
  start();
  core::MasterService svc;
  svc.service = "127.0.0.1:" + std::to_string(port_);
  EXPECT_EQ(on_loop([&] { return server_->listen(svc); }),
            "bind 127.0.0.1 port " + std::to_string(port_) + ": Address already in use");
  svc.service = "127.0.0.1:nosuchservice";
  EXPECT_EQ(on_loop([&] { return server_->listen(svc); }), "unknown service: 127.0.0.1:nosuchservice/tcp");
  auto eps = on_loop([this] { return server_->local_endpoints(); });
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].port(), port_);
}

TEST_F(SessionTest, ListenOnInterfaces) {
  start();
  unsigned p = free_port();
  core::MasterService svc;
  svc.service = std::to_string(p);  // a bare port: every $inet_interfaces address (loopback-only)
  EXPECT_EQ(on_loop([&] { return server_->listen(svc); }), "");
  Client c(p);
  EXPECT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  auto eps = on_loop([this] { return server_->local_endpoints(); });
  EXPECT_GE(eps.size(), 2u);
}

TEST_F(SessionTest, UnknownClientName) {
  start("", [](const core::IpAddr&) { return std::string("unknown"); });
  Client c(port_);
  hello(c);
  std::string id = send_message(c, "x@example.net", {"alice@example.test"}, "b\r\n.\r\n");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(read_queued(id).content.rfind("Received: from client.example.net (unknown [127.0.0.1])\n", 0), 0u);
  EXPECT_TRUE(log_has("connect from unknown[127.0.0.1]"));
}

TEST_F(SessionTest, RealReverseLookupIsForwardConfirmed) {
  start("smtpd_client_port_logging = yes\n");
  on_loop([this] {
    server_->set_name_resolver(nullptr);  // back to getnameinfo + getaddrinfo
    return 0;
  });
  std::string expect = smtpd::lookup_client_name(*core::IpAddr::parse("127.0.0.1"));
  Client c(port_);
  ASSERT_EQ(c.reply(), "220 mx.example.test ESMTP mxmta");
  EXPECT_TRUE(log_has("connect from " + expect + "[127.0.0.1]:"));
}

TEST_F(SessionTest, Ipv6Client) {
  bool have_v6 = false;
  for (const auto& a : core::local_addresses())
    if (a.family == AF_INET6 && a.is_loopback()) have_v6 = true;
  if (!have_v6) GTEST_SKIP() << "no ::1 on this host";
  start("mynetworks = 127.0.0.0/8 [::1]/128\n");
  unsigned p = free_port();
  core::MasterService svc;
  svc.service = "[::1]:" + std::to_string(p);
  ASSERT_EQ(on_loop([&] { return server_->listen(svc); }), "");
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<uint16_t>(p));
  a.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  auto say = [fd](const std::string& l) { (void)::send(fd, l.data(), l.size(), MSG_NOSIGNAL); };
  say("EHLO v6.example\r\nMAIL FROM:<x@example.net>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
  std::this_thread::sleep_for(200ms);
  say("hi\r\n.\r\nQUIT\r\n");
  std::string got;
  char b[4096];
  ssize_t n;
  while ((n = ::recv(fd, b, sizeof b, 0)) > 0) got.append(b, static_cast<size_t>(n));
  ::close(fd);
  auto pos = got.find("250 2.0.0 Ok: queued as ");
  ASSERT_NE(pos, std::string::npos) << got;
  std::string id = got.substr(pos + 24, got.find("\r\n", pos) - pos - 24);
  EXPECT_EQ(read_queued(id).content.rfind("Received: from v6.example (localhost [IPv6:::1])\n", 0), 0u);
  EXPECT_EQ(read_queued(id).env.client_addr, "::1");
  EXPECT_TRUE(log_has("connect from localhost[::1]"));
}

TEST_F(SessionTest, StrictRfc821Envelopes) {
  start("strict_rfc821_envelopes = yes\n");
  Client c(port_);
  hello(c);
  EXPECT_EQ(c.cmd("MAIL FROM:x@example.net"), "501 5.1.7 Bad sender address syntax");
  EXPECT_EQ(c.cmd("MAIL FROM:<x@example.net>"), "250 2.1.0 Ok");
  EXPECT_EQ(c.cmd("RCPT TO:alice@example.test"), "501 5.1.3 Bad recipient address syntax");
  EXPECT_EQ(c.cmd("RCPT TO: <alice@example.test>"), "250 2.1.5 Ok");
}

TEST_F(SessionTest, PeerAndLogHelpers) {
  auto p = smtpd::make_peer(*core::IpAddr::parse("::1"), 2525, "", false);
  EXPECT_EQ(p.namaddr, "unknown[::1]");
  EXPECT_EQ(p.rfc_addr, "IPv6:::1");
  auto q = smtpd::make_peer(*core::IpAddr::parse("::ffff:192.0.2.9"), 25, "h.example", true);
  EXPECT_EQ(q.namaddr, "h.example[192.0.2.9]:25");
  EXPECT_EQ(smtpd::detail::escape_for_log(std::string("A\r\n\\\x01", 5)), "A\\r\\n\\\\\\001");
}
