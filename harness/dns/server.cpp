// Server: moves bytes between sockets and the Responder, on a thread of its
// own with its own io_context (see fake_dns.hpp).
#include "common/asio.hpp"
#include "dns/fake_dns.hpp"
#include "dns/responder.hpp"

#include <array>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

namespace mxlab::dns {

using net::ip::tcp;
using net::ip::udp;

namespace {

// The server's state; Server::Impl is this, named so the coroutines below
// (free functions) can take it.
struct State {
  explicit State(ZoneSet z) : zones(std::move(z)), responder(zones) { responder.set_faults(zones.faults); }

  ZoneSet zones;
  Responder responder;
  std::function<void(const QueryLog&)> on_query;

  mutable std::mutex log_mu;
  std::vector<QueryLog> log;

  std::unique_ptr<net::io_context> io;
  std::optional<udp::socket> udp_sock;
  std::optional<tcp::acceptor> acceptor;
  // Open TCP connections, so stop() can close them; weak so a finished
  // connection frees itself.
  std::list<std::weak_ptr<tcp::socket>> conns;
  std::thread thread;
  uint16_t port = 0;

  void record(const Responder::Outcome& oc) {
    if (!oc.logged) return;
    {
      std::lock_guard lock(log_mu);
      log.push_back(oc.log);
    }
    if (on_query) on_query(oc.log);
  }
};

constexpr auto tcp_idle = std::chrono::seconds(30);  // a client that goes quiet is dropped

net::awaitable<void> send_later(udp::socket& sock, udp::endpoint to, std::vector<uint8_t> bytes, int ms) {
  net::steady_timer t(sock.get_executor());
  t.expires_after(std::chrono::milliseconds(ms));
  boost::system::error_code ec;
  co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
  if (ec || !sock.is_open()) co_return;
  co_await sock.async_send_to(net::buffer(bytes), to, net::redirect_error(net::use_awaitable, ec));
}

net::awaitable<void> udp_loop(State& s) {
  // One receive buffer and one response buffer for the life of the loop.
  std::vector<uint8_t> in(65536), out;
  out.reserve(4096);
  udp::socket& sock = *s.udp_sock;
  for (;;) {
    udp::endpoint from;
    boost::system::error_code ec;
    size_t n = co_await sock.async_receive_from(net::buffer(in), from, net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted || !sock.is_open()) co_return;
    if (ec) continue;  // e.g. ICMP port unreachable from an earlier send
    auto oc = s.responder.respond({in.data(), n}, false, common::endpoint_string(from.address(), from.port()), out);
    s.record(oc);
    if (!oc.send) continue;
    if (oc.delay_ms > 0) {
      common::spawn_logged(sock.get_executor(), send_later(sock, from, out, oc.delay_ms), "dns udp delayed send");
      continue;
    }
    co_await sock.async_send_to(net::buffer(out), from, net::redirect_error(net::use_awaitable, ec));
  }
}

// Closes the socket when the connection has been idle too long.
net::awaitable<void> watchdog(std::shared_ptr<tcp::socket> sock, std::shared_ptr<net::steady_timer> deadline) {
  while (sock->is_open()) {
    boost::system::error_code ec;
    co_await deadline->async_wait(net::redirect_error(net::use_awaitable, ec));
    if (deadline->expiry() <= net::steady_timer::clock_type::now()) {
      sock->close(ec);
      co_return;
    }
  }
}

net::awaitable<void> tcp_session(State& s, std::shared_ptr<tcp::socket> sock) {
  boost::system::error_code ec;
  auto ep = sock->remote_endpoint(ec);
  const std::string client = ec ? std::string("?") : common::endpoint_string(ep.address(), ep.port());
  auto deadline = std::make_shared<net::steady_timer>(sock->get_executor());
  deadline->expires_after(tcp_idle);
  common::spawn_logged(sock->get_executor(), watchdog(sock, deadline), "dns tcp watchdog");
  std::vector<uint8_t> in, out;
  std::array<uint8_t, 2> len{};
  // Several queries per connection (RFC 7766), answered in order.
  for (;;) {
    co_await net::async_read(*sock, net::buffer(len), net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    in.resize(static_cast<size_t>(len[0] << 8 | len[1]));
    co_await net::async_read(*sock, net::buffer(in), net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    deadline->expires_after(tcp_idle);
    auto oc = s.responder.respond(in, true, client, out);
    s.record(oc);
    if (!oc.send) continue;
    if (oc.delay_ms > 0) {
      net::steady_timer t(sock->get_executor());
      t.expires_after(std::chrono::milliseconds(oc.delay_ms));
      co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
      deadline->expires_after(tcp_idle);
    }
    std::array<uint8_t, 2> olen{static_cast<uint8_t>(out.size() >> 8), static_cast<uint8_t>(out.size())};
    std::array<net::const_buffer, 2> bufs{net::buffer(olen), net::buffer(out)};
    co_await net::async_write(*sock, bufs, net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
  }
  sock->close(ec);
  deadline->cancel();
}

net::awaitable<void> accept_loop(State& s) {
  for (;;) {
    boost::system::error_code ec;
    auto sock = std::make_shared<tcp::socket>(s.acceptor->get_executor());
    co_await s.acceptor->async_accept(*sock, net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted || !s.acceptor->is_open()) co_return;
    if (ec) continue;  // EMFILE and friends: keep serving the others
    s.conns.remove_if([](const auto& w) { return w.expired(); });
    s.conns.push_back(sock);
    common::spawn_logged(s.acceptor->get_executor(), tcp_session(s, sock), "dns tcp session");
  }
}

}  // namespace

struct Server::Impl : State {
  using State::State;
};

Server::Server(ZoneSet zones) : impl_(std::make_unique<Impl>(std::move(zones))) {}

Server::~Server() { stop(); }

void Server::start(const std::string& addr, uint16_t port) {
  if (impl_->io) throw std::logic_error("mxlab::dns::Server::start: already started");
  auto& s = *impl_;
  boost::system::error_code ec;
  auto ip = net::ip::make_address(addr, ec);
  if (ec) common::throw_std_system_error(ec, "fake DNS: bad address \"" + addr + "\"");
  s.io = std::make_unique<net::io_context>(1);
  // TCP first; with port 0 the kernel's choice is then taken for UDP too (a
  // few tries in case that UDP port is in use).
  for (int attempt = 0;; ++attempt) {
    s.acceptor.emplace(*s.io);
    s.udp_sock.emplace(*s.io);
    tcp::endpoint tep(ip, port);
    s.acceptor->open(tep.protocol(), ec);
    if (!ec) s.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) s.acceptor->bind(tep, ec);
    if (!ec) s.acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      s.acceptor.reset();
      s.udp_sock.reset();
      s.io.reset();
      common::throw_std_system_error(ec, "fake DNS: bind tcp " + addr + ":" + std::to_string(port));
    }
    const uint16_t chosen = s.acceptor->local_endpoint().port();
    udp::endpoint uep(ip, chosen);
    s.udp_sock->open(uep.protocol(), ec);
    if (!ec) s.udp_sock->bind(uep, ec);
    if (!ec) {
      s.port = chosen;
      break;
    }
    s.acceptor.reset();
    s.udp_sock.reset();
    if (port != 0 || attempt >= 20) {
      s.io.reset();
      common::throw_std_system_error(ec, "fake DNS: bind udp " + addr + ":" + std::to_string(chosen));
    }
  }
  common::spawn_logged(s.io->get_executor(), udp_loop(s), "dns udp");
  common::spawn_logged(s.io->get_executor(), accept_loop(s), "dns accept");
  s.thread = std::thread([io = s.io.get()] { io->run(); });
}

uint16_t Server::port() const { return impl_->port; }

void Server::stop() {
  auto& s = *impl_;
  if (!s.io) return;
  net::post(*s.io, [&s] {
    boost::system::error_code ec;
    if (s.acceptor) s.acceptor->close(ec);
    if (s.udp_sock) s.udp_sock->close(ec);
    for (auto& w : s.conns)
      if (auto p = w.lock()) p->close(ec);
    s.io->stop();
  });
  if (s.thread.joinable()) s.thread.join();
  // Pending coroutines (delayed sends, sessions) die with the io_context;
  // the sockets they refer to must outlive it.
  s.conns.clear();
  s.acceptor.reset();
  s.udp_sock.reset();
  s.io.reset();
}

std::vector<QueryLog> Server::log() const {
  std::lock_guard lock(impl_->log_mu);
  return impl_->log;
}

void Server::clear_log() {
  std::lock_guard lock(impl_->log_mu);
  impl_->log.clear();
}

void Server::set_faults(std::vector<Fault> faults) { impl_->responder.set_faults(std::move(faults)); }

void Server::on_query(std::function<void(const QueryLog&)> fn) { impl_->on_query = std::move(fn); }

}  // namespace mxlab::dns
