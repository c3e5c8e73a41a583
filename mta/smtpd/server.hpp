// NAME
//   smtpd/server - the SMTP server of mxmta (Postfix smtpd(8), receiving half)
// SYNOPSIS
//   smtpd::Server srv(io, cfg, store, [&](const std::string& id) { wake_qmgr(id); });
//   if (auto err = srv.listen(service); !err.empty()) log::fatal("master", "{}", err);
//   ...
//   srv.reload(new_cfg);            // later sessions use the new main.cf
//   srv.stop_accepting();           // drain:
//   srv.close_idle_sessions();      //   421 to every session not inside DATA
//   while (srv.active_sessions()) ... run the loop ...
// DESCRIPTION
//   One coroutine per connection on the caller's single-threaded io_context.
//   A session greets with "220 $smtpd_banner", speaks SMTP/ESMTP with
//   PIPELINING, SIZE, VRFY, ETRN, ENHANCEDSTATUSCODES, 8BITMIME and DSN, applies
//   the access policy of smtpd/check.hpp, and hands each accepted message to
//   cleanup::Builder: the queue file is opened (and the queue id assigned) at
//   the first accepted RCPT, written at the end of DATA, and committed (fsync,
//   rename) on the blocking-I/O pool. Only then does the client get
//   "250 2.0.0 Ok: queued as ID", and on_queued(ID) runs on the loop.
//   Every reply text is Postfix 3.7's (reference section 4); log lines are
//   Postfix's (connect from, ID: client=, NOQUEUE: reject: ..., disconnect
//   from ... commands=N/M).
//
//   listen() binds one master.cf inet service: "host:port" on that address
//   only; a bare port ("smtp", "2525") on every $inet_interfaces address
//   ("all": 0.0.0.0 and ::, "loopback-only": 127.0.0.1 and ::1 when this host
//   has it, or the listed addresses/names), filtered by $inet_protocols.
// STANDARDS
//   RFC 5321 (SMTP), RFC 1870 (SIZE), RFC 2920 (PIPELINING), RFC 2034 and
//   RFC 3463 (enhanced status codes), RFC 6152 (8BITMIME), RFC 3461 (DSN),
//   RFC 1985 (ETRN)
// PARAMETERS
//   smtpd_banner, myhostname, mail_name, inet_interfaces, inet_protocols,
//   message_size_limit, smtpd_recipient_limit, smtpd_recipient_overshoot_limit,
//   line_length_limit, smtpd_timeout, smtpd_hard_error_limit,
//   smtpd_soft_error_limit, smtpd_error_sleep_time, smtpd_junk_command_limit,
//   smtpd_helo_required, disable_vrfy_command, strict_rfc821_envelopes,
//   smtpd_discard_ehlo_keywords, smtpd_forbidden_commands,
//   smtpd_forbid_unauth_pipelining, smtpd_forbid_bare_newline (+ _exclusions,
//   _reject_code), smtpd_peername_lookup, smtpd_client_port_logging,
//   local_header_rewrite_clients, and those of smtpd/check.hpp and cleanup.
// DIAGNOSTICS
//   The constructor and reload() throw core::ConfigError for a bad parameter
//   value ("main.cf, line 12: bad numerical configuration: ..."). listen()
//   returns Postfix-like text ("bind 127.0.0.1 port 25: Address already in
//   use") and binds nothing on failure. Sessions never exit the process: a
//   configuration problem found while talking gets "451 4.3.5 Server
//   configuration error" and a warning in the log.
// SEE ALSO
//   smtpd/check.hpp (policy), smtpd/command.hpp (parsing), smtpd/data.hpp
//   (DATA), docs/smtpd.md
#pragma once
#include "core/config.hpp"
#include "core/master_cf.hpp"
#include "queue/queue_store.hpp"
#include "smtpd/peer.hpp"
#include "util/asio.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mta::smtpd {

namespace detail {
struct Core;
struct Settings;
}  // namespace detail

class Server {
 public:
  // cfg: main.cf with this master.cf service's -o overrides applied.
  // on_queued(id) runs on the loop after every durable commit.
  Server(net::io_context& io, std::shared_ptr<const core::Config> cfg, const queue::QueueStore& store,
         std::function<void(const std::string& id)> on_queued);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Returns "" on success, else Postfix-like error text.
  std::string listen(const core::MasterService& svc);
  void reload(std::shared_ptr<const core::Config> cfg);  // new sessions use the new configuration
  void stop_accepting();
  size_t active_sessions() const;
  // For a drain: sessions not inside DATA get "421 4.3.2 HOST Service
  // shutting down" and are closed; a session inside DATA finishes its
  // message and gets the 421 at its next command.
  void close_idle_sessions();

  // Where the listeners are bound (tests, status output).
  std::vector<net::ip::tcp::endpoint> local_endpoints() const;
  // Test seam: replaces the reverse/forward DNS lookup of client names.
  void set_name_resolver(NameResolver r);
  // `idle` tells whether the loop has nothing to do but serve one session
  // (the daemon: one session in all listeners, no delivery running). Then
  // that session's commit runs on the loop instead of the blocking pool:
  // nothing would have run meanwhile, and the 250 is not delayed by two
  // thread hand-offs (about 60 us a message). Unset: always the pool.
  void set_loop_idle(std::function<bool()> idle);

 private:
  std::string bind_one(const net::ip::address& a, unsigned port,
                       std::vector<std::shared_ptr<net::ip::tcp::acceptor>>& out);

  net::io_context& io_;
  std::shared_ptr<detail::Core> core_;
  std::vector<std::shared_ptr<net::ip::tcp::acceptor>> acceptors_;
};

}  // namespace mta::smtpd
