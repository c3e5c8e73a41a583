#include "smtp/test_smtp_server.hpp"

// GCC 12: false -Wnull-dereference inside Asio's epoll reactor; see smtp_agent.cpp.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include "util/asio.hpp"
#pragma GCC diagnostic pop

#include <cctype>

namespace mta::smtp::testing {
namespace {

using util::awaitable;
using util::use_awaitable;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

std::string upper_verb(const std::string& line) {
  std::string v;
  for (char c : line) {
    if (c == ' ' || c == ':') break;
    v += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return v;
}

}  // namespace

struct TestSmtpServer::State : std::enable_shared_from_this<TestSmtpServer::State> {
  State(net::io_context& i, std::string a) : io(i), addr(std::move(a)), acceptor(i) {}
  net::io_context& io;
  std::string addr;
  tcp::acceptor acceptor;
  std::vector<Script> scripts{Script{}};
  std::vector<std::shared_ptr<Recorded>> recs;
  std::vector<std::shared_ptr<tcp::socket>> socks;
  bool stopped = false;

  // One connection: a line reader over the socket that counts reads.
  struct Conn {
    std::shared_ptr<tcp::socket> s;
    std::string buf;
    int reads = 0;
    int last_read = 0;
  };

  static awaitable<bool> read_line(Conn& c, std::string& line) {
    for (;;) {
      auto nl = c.buf.find('\n');
      if (nl != std::string::npos) {
        line = c.buf.substr(0, nl);
        c.buf.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        co_return true;
      }
      char tmp[4096];
      error_code ec;
      size_t n = co_await c.s->async_read_some(net::buffer(tmp), net::redirect_error(use_awaitable, ec));
      if (ec) co_return false;
      c.buf.append(tmp, n);
      c.last_read = ++c.reads;
    }
  }

  static awaitable<bool> reply(Conn& c, const std::string& text) {
    std::string out;
    size_t p = 0;
    while (p <= text.size()) {
      size_t nl = text.find('\n', p);
      out += text.substr(p, nl == std::string::npos ? std::string::npos : nl - p) + "\r\n";
      if (nl == std::string::npos) break;
      p = nl + 1;
    }
    error_code ec;
    co_await net::async_write(*c.s, net::buffer(out), net::redirect_error(use_awaitable, ec));
    co_return !ec;
  }

  // Stalls until the client gives up (reads and ignores everything).
  static awaitable<void> stall(Conn& c) {
    std::string line;
    while (co_await read_line(c, line)) {
    }
  }

  // Stops reading altogether, so that the client's writes block.
  awaitable<void> freeze() {
    net::steady_timer t(io, std::chrono::hours(1));
    error_code ec;
    co_await t.async_wait(net::redirect_error(use_awaitable, ec));
  }

  awaitable<void> session(std::shared_ptr<tcp::socket> sock, Script sc, std::shared_ptr<Recorded> rec) {
    auto self = shared_from_this();
    Conn c;
    c.s = std::move(sock);
    auto close = [&c]() {
      error_code ig;
      c.s->close(ig);
    };
    if (sc.drop_at == Phase::greeting) co_return close();
    if (sc.stall_at == Phase::greeting) co_return co_await stall(c);
    if (!co_await reply(c, sc.greeting)) co_return;
    std::string line;
    bool stalled = false;
    bool mail_ok = false;
    int rcpt_ok = 0;
    while (co_await read_line(c, line)) {
      rec->commands.push_back(line);
      rec->read_no.push_back(c.last_read);
      if (stalled) continue;
      std::string verb = upper_verb(line);
      Phase ph = verb == "EHLO"   ? Phase::ehlo
                 : verb == "HELO" ? Phase::helo
                 : verb == "MAIL" ? Phase::mail
                 : verb == "RCPT" ? Phase::rcpt
                 : verb == "DATA" ? Phase::data
                 : verb == "RSET" ? Phase::rset
                 : verb == "QUIT" ? Phase::quit
                                  : Phase::none;
      if (ph != Phase::none && sc.drop_at == ph) co_return close();
      if (ph != Phase::none && sc.stall_at == ph) {
        stalled = true;
        continue;
      }
      std::string r;
      switch (ph) {
        case Phase::ehlo:
          r = sc.ehlo;
          break;
        case Phase::helo:
          r = sc.helo;
          break;
        case Phase::mail:
          r = sc.mail;
          mail_ok = !r.empty() && r[0] == '2';
          rcpt_ok = 0;
          break;
        case Phase::rcpt:
          r = !mail_ok ? "503 5.5.1 Error: need MAIL command" : sc.rcpt ? sc.rcpt(line) : "250 2.1.5 Ok";
          if (!r.empty() && r[0] == '2') ++rcpt_ok;
          break;
        case Phase::quit:
          rec->quit = true;
          co_await reply(c, sc.quit);
          co_return close();
        case Phase::data: {
          // As Postfix's smtpd answers DATA out of sequence (unless the
          // script wants something else than the usual 354).
          r = sc.data;
          if (!r.empty() && r[0] == '3') {
            if (!mail_ok)
              r = "503 5.5.1 Error: need RCPT command";
            else if (rcpt_ok == 0)
              r = "554 5.5.1 Error: no valid recipients";
          }
          if (!co_await reply(c, r)) co_return;
          if (r.empty() || r[0] != '3') continue;
          // Message data until a line with a single dot.
          bool first = true;
          for (;;) {
            std::string dl;
            if (!co_await read_line(c, dl)) co_return;
            if (first && sc.drop_at == Phase::body) co_return close();
            if (first && sc.stall_at == Phase::body) co_return co_await freeze();
            first = false;
            if (dl == ".") break;
            rec->data += dl + "\r\n";
          }
          if (sc.drop_at == Phase::dot) co_return close();
          if (sc.stall_at == Phase::dot) {
            stalled = true;
            continue;
          }
          r = sc.dot;
          if (sc.close_after_dot) {
            co_await reply(c, r);
            co_return close();
          }
          break;
        }
        case Phase::rset:
          mail_ok = false;
          r = sc.rset;
          break;
        default:
          r = verb == "NOOP" ? "250 2.0.0 Ok" : "502 5.5.2 Error: command not recognized";
          break;
      }
      if (!co_await reply(c, r)) co_return;
    }
  }

  awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      error_code ec;
      auto s = std::make_shared<tcp::socket>(co_await acceptor.async_accept(net::redirect_error(use_awaitable, ec)));
      if (ec || stopped) co_return;
      auto rec = std::make_shared<Recorded>();
      auto ep = s->remote_endpoint(ec);
      if (!ec) {
        rec->client_addr = ep.address().to_string();
        rec->client_port = ep.port();
      }
      size_t n = recs.size();
      recs.push_back(rec);
      socks.push_back(s);
      Script sc = scripts[std::min(n, scripts.size() - 1)];
      net::co_spawn(io, session(s, std::move(sc), rec), net::detached);
    }
  }
};

TestSmtpServer::TestSmtpServer(net::io_context& io, const std::string& addr, uint16_t port)
    : st_(std::make_shared<State>(io, addr)) {
  auto ip = net::ip::make_address(addr);
  st_->acceptor.open(ip.is_v4() ? tcp::v4() : tcp::v6());
  st_->acceptor.set_option(net::socket_base::reuse_address(true));
  st_->acceptor.bind({ip, port});
  st_->acceptor.listen();
  net::co_spawn(io, st_->accept_loop(), net::detached);
}

TestSmtpServer::~TestSmtpServer() {
  st_->stopped = true;
  error_code ec;
  st_->acceptor.close(ec);
  for (auto& s : st_->socks) s->close(ec);
}

uint16_t TestSmtpServer::port() const { return st_->acceptor.local_endpoint().port(); }
const std::string& TestSmtpServer::address() const { return st_->addr; }
Script& TestSmtpServer::script() { return st_->scripts.front(); }
void TestSmtpServer::scripts(std::vector<Script> per_connection) {
  if (!per_connection.empty()) st_->scripts = std::move(per_connection);
}
std::vector<Recorded> TestSmtpServer::sessions() const {
  std::vector<Recorded> out;
  for (const auto& r : st_->recs) out.push_back(*r);
  return out;
}
int TestSmtpServer::connections() const { return static_cast<int>(st_->recs.size()); }

}  // namespace mta::smtp::testing
