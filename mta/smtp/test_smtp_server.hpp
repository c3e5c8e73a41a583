// NAME
//   smtp/test_smtp_server - a scriptable SMTP server for the client's unit tests
// SYNOPSIS
//   smtp::testing::TestSmtpServer srv(io, "127.0.0.2");      // free port
//   srv.script().rcpt = [](const std::string& to) {
//     return to.find("nobody") ? "250 2.1.5 Ok" : "550 5.1.1 <nobody@x>: User unknown"; };
//   ... run the client ...
//   srv.sessions()[0].commands   // "EHLO ...", "MAIL FROM:<...> SIZE=..." ...
// DESCRIPTION
//   Test code only (library mta_smtp_testing). Runs on the test's io_context.
//   Replies are given per command; a reply with '\n' is sent as a multi-line
//   reply (one CRLF-terminated line per part). A session may be dropped
//   (connection closed without a reply) or stalled (no reply ever) when a
//   phase is reached. Every session is recorded: the client's address and
//   port, each command line and the read it arrived in (to see pipelining),
//   and the message data exactly as received (dot-stuffing and CRLF kept).
// STANDARDS
//   RFC 5321 (enough of the server side for a client to talk to)
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace mta::smtp::testing {

enum class Phase { none, greeting, ehlo, helo, mail, rcpt, data, body, dot, rset, quit };

struct Script {
  std::string greeting = "220 mx.test ESMTP TestSMTP";
  std::string ehlo = "250-mx.test\n250-PIPELINING\n250-SIZE 10240000\n250-8BITMIME\n250-DSN\n250 ENHANCEDSTATUSCODES";
  std::string helo = "250 mx.test";
  std::string mail = "250 2.1.0 Ok";
  std::function<std::string(const std::string& rcpt_line)> rcpt;  // default "250 2.1.5 Ok"
  std::string data = "354 End data with <CR><LF>.<CR><LF>";
  std::string dot = "250 2.0.0 Ok: queued as TEST1";
  std::string rset = "250 2.0.0 Ok";
  std::string quit = "221 2.0.0 Bye";
  Phase drop_at = Phase::none;   // close without replying when this phase is reached
  Phase stall_at = Phase::none;  // never reply from this phase on (body: stop reading)
  bool close_after_dot = false;  // hang up right after the reply to end of data
};

struct Recorded {
  std::string client_addr;
  uint16_t client_port = 0;
  std::vector<std::string> commands;  // without CRLF
  std::vector<int> read_no;           // for each command: which read() delivered it
  std::string data;                   // DATA payload as received, up to the final ".\r\n"
  bool quit = false;
};

class TestSmtpServer {
 public:
  // port 0: a free port.
  explicit TestSmtpServer(boost::asio::io_context& io, const std::string& addr = "127.0.0.1", uint16_t port = 0);
  ~TestSmtpServer();
  TestSmtpServer(const TestSmtpServer&) = delete;
  TestSmtpServer& operator=(const TestSmtpServer&) = delete;

  uint16_t port() const;
  const std::string& address() const;
  // The script for every connection ...
  Script& script();
  // ... or one per connection (the last one repeats).
  void scripts(std::vector<Script> per_connection);
  std::vector<Recorded> sessions() const;
  int connections() const;

 private:
  struct State;
  std::shared_ptr<State> st_;
};

}  // namespace mta::smtp::testing
