// Boost 1.74's Asio, inlined at -O2, trips two GCC 12 false positives:
// -Wnull-dereference in scheduler::compensating_work_started() and
// -Wmismatched-new-delete on the awaitable frame's operator delete. They are
// silenced for this file only; the rest of the warning set stays on.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "smtpd/server.hpp"

#include "core/router.hpp"
#include "smtpd/session.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>

#include <chrono>

namespace mta::smtpd {

using tcp = net::ip::tcp;

namespace {

constexpr std::string_view kLog = "smtpd";

// Free function, not a member: it may resume (with operation_aborted) after
// the Server is gone, so it touches only what it holds.
net::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acc, std::shared_ptr<detail::Core> core) {
  for (;;) {
    boost::system::error_code ec;
    tcp::endpoint peer;  // filled by accept() itself
    tcp::socket s = co_await acc->async_accept(peer, net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted || !acc->is_open()) co_return;
    if (ec) {
      // EMFILE and friends: Postfix's master backs off the same way.
      log::warn(kLog, "accept connection: {}", ec.message());
      net::steady_timer t(acc->get_executor());
      t.expires_after(std::chrono::milliseconds(100));
      co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    auto ex = s.get_executor();
    util::spawn_logged(ex, detail::run_session(std::move(s), peer, core->settings, core), "smtpd session");
  }
}

void log_warnings(const detail::Settings& s) {
  for (const auto& w : s.warnings) log::warn(kLog, "{}", w);
}

}  // namespace

Server::Server(net::io_context& io, std::shared_ptr<const core::Config> cfg, const queue::QueueStore& store,
               std::function<void(const std::string& id)> on_queued)
    : io_(io), core_(std::make_shared<detail::Core>(store)) {
  core_->on_queued = std::move(on_queued);
  core_->settings = detail::Settings::make(std::move(cfg));
  log_warnings(*core_->settings);
}

Server::~Server() {
  stop_accepting();
  // Sessions still running keep the core alive; they must not call back
  // into a daemon that is going away (a message committed now is found by
  // the queue manager's next scan).
  core_->on_queued = nullptr;
  close_idle_sessions();
}

void Server::reload(std::shared_ptr<const core::Config> cfg) {
  auto s = detail::Settings::make(std::move(cfg));
  log_warnings(*s);
  core_->settings = std::move(s);
}

std::string Server::bind_one(const net::ip::address& a, unsigned port,
                             std::vector<std::shared_ptr<tcp::acceptor>>& out) {
  auto acc = std::make_shared<tcp::acceptor>(io_);
  tcp::endpoint ep(a, static_cast<unsigned short>(port));
  boost::system::error_code ec;
  acc->open(ep.protocol(), ec);
  if (!ec) acc->set_option(net::socket_base::reuse_address(true), ec);
  // "::" must not also take the IPv4 port that 0.0.0.0 gets.
  if (!ec && a.is_v6()) acc->set_option(net::ip::v6_only(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fmt::format("bind {} port {}: {}", a.to_string(), port, ec.message());
  out.push_back(std::move(acc));
  return "";
}

std::string Server::listen(const core::MasterService& svc) {
  std::string host;
  unsigned port = 0;
  if (!core::split_inet_service(svc.service, host, port))
    return fmt::format("unknown service: {}/tcp", svc.service);
  const core::Config& c = *core_->settings->cfg;
  bool v4 = false, v6 = false;
  for (const auto& p : c.get_list("inet_protocols")) {
    if (util::iequals(p, "all")) v4 = v6 = true;
    else if (util::iequals(p, "ipv4")) v4 = true;
    else if (util::iequals(p, "ipv6")) v6 = true;
  }
  if (!v4 && !v6) return "inet_protocols: no supported protocol";

  struct Want {
    net::ip::address addr;
    bool optional;  // "::" of "all", ::1 of "loopback-only": skip if the host has no IPv6
  };
  std::vector<Want> want;
  auto add_name = [&](const std::string& name) -> std::string {
    boost::system::error_code ec;
    auto a = net::ip::make_address(name, ec);
    if (!ec) {
      if ((a.is_v4() && v4) || (a.is_v6() && v6)) want.push_back({a, false});
      return "";
    }
    tcp::resolver r(io_);
    auto res = r.resolve(name, "", ec);
    if (ec) return fmt::format("host or domain name not found: {}: {}", name, ec.message());
    for (const auto& e : res) {
      auto ad = e.endpoint().address();
      if ((ad.is_v4() && v4) || (ad.is_v6() && v6)) want.push_back({ad, false});
    }
    return "";
  };
  if (!host.empty()) {
    if (auto err = add_name(host); !err.empty()) return err;
  } else {
    for (const auto& it : c.get_list("inet_interfaces")) {
      if (util::iequals(it, "all")) {
        if (v4) want.push_back({net::ip::address_v4::any(), false});
        if (v6) want.push_back({net::ip::address_v6::any(), v4});
      } else if (util::iequals(it, "loopback-only")) {
        if (v4) want.push_back({net::ip::address_v4::loopback(), false});
        if (v6) {
          bool have = false;
          for (const auto& a : core::local_addresses())
            if (a.family == AF_INET6 && a.is_loopback()) have = true;
          if (have) want.push_back({net::ip::address_v6::loopback(), v4});
        }
      } else if (auto err = add_name(it); !err.empty()) {
        return err;
      }
    }
  }
  if (want.empty()) return fmt::format("no address to bind for service {}", svc.service);

  std::vector<std::shared_ptr<tcp::acceptor>> bound;
  for (const auto& w : want) {
    std::string err = bind_one(w.addr, port, bound);
    if (err.empty()) continue;
    if (w.optional) continue;  // no IPv6 on this host: the IPv4 listener serves
    for (auto& a : bound) {
      boost::system::error_code ignore;
      a->close(ignore);
    }
    return err;
  }
  for (auto& a : bound) {
    util::spawn_logged(io_.get_executor(), accept_loop(a, core_), "smtpd accept");
    acceptors_.push_back(a);
  }
  return "";
}

void Server::stop_accepting() {
  for (auto& a : acceptors_) {
    boost::system::error_code ignore;
    a->close(ignore);
  }
  acceptors_.clear();
}

size_t Server::active_sessions() const { return core_->sessions.size(); }

void Server::set_loop_idle(std::function<bool()> idle) { core_->loop_idle = std::move(idle); }

void Server::close_idle_sessions() {
  for (const auto& c : core_->sessions) {
    c->drain = true;
    if (!c->in_data) detail::cancel_read(*c);
  }
}

std::vector<tcp::endpoint> Server::local_endpoints() const {
  std::vector<tcp::endpoint> r;
  for (const auto& a : acceptors_) {
    boost::system::error_code ec;
    auto ep = a->local_endpoint(ec);
    if (!ec) r.push_back(ep);
  }
  return r;
}

void Server::set_name_resolver(NameResolver r) { core_->resolver = std::move(r); }

}  // namespace mta::smtpd
