// NAME
//   smtp/smtp_agent - the SMTP client: Postfix smtp(8) for the smtp and relay
//   transports
// SYNOPSIS
//   smtp::SmtpAgent smtp(io, cfg, "smtp");
//   smtp.deliver(std::move(request), [](std::vector<core::DeliveryResult> r) { ... });
//   smtp.reload(new_cfg);
// DESCRIPTION
//   deliver() takes one message and the recipients that the queue manager
//   routed to one next hop, and reports one result per recipient, once, on
//   the event loop. Many deliveries may run at once (concurrency limits are
//   the queue manager's); each is a coroutine on the daemon's io_context.
//
//   Next hop (see smtp/nexthop): one or more destinations, then
//   $smtp_fallback_relay. Per destination: DNS (MX, or A/AAAA for [host]),
//   address order (smtp/mx_select), then for each address up to
//   $smtp_mx_address_limit addresses and $smtp_mx_session_limit sessions:
//     connect (from $smtp_bind_address / $smtp_bind_address6; with a single
//       non-loopback own address of that family, from that one, as Postfix)
//     greeting: 2xx, else "host H[A] refused to talk to me: REPLY" (a 5xx
//       greeting softened to 4.x.x when smtp_skip_5xx_greeting = yes)
//     EHLO $smtp_helo_name (HELO when the greeting lacks ESMTP and
//       smtp_always_send_ehlo = no, when smtp_never_send_ehlo = yes, or
//       after a non-421 EHLO rejection); an EHLO reply naming $myhostname
//       on port 25: "mail for NEXTHOP loops back to myself" (5.4.6 at the best
//       MX, else 4.4.6)
//     MAIL FROM (SIZE=, BODY=8BITMIME/7BIT, RET=, ENVID= as offered), one
//       RCPT TO per recipient (ORCPT=, NOTIFY= with DSN), DATA; sent as one
//       batch with PIPELINING; the message with CRLF, dot-stuffing and
//       lines broken at $smtp_line_length_limit; then QUIT (not waiting for
//       its reply: smtp_skip_quit_response = yes), unless the session goes
//       to the connection cache.
//   Error policy (Postfix smtp_trouble.c): a soft failure moves on to the next
//   address unless this is the last server (then the recipients are
//   deferred); a hard failure bounces at once; failures before the first
//   session are reported after every destination has been tried, the last
//   failure deciding. A failed connection, greeting, handshake or I/O marks
//   the result dead_destination so the queue manager suspends the next hop.
//
//   Texts (Postfix 3.7):
//     connect to H[A]:25: Connection refused                    4.4.1, relay=none
//     host H[A] refused to talk to me: 554 5.3.2 ...            4.3.2 (softened)
//     host H[A] said: 550 5.1.1 <r>: ... (in reply to RCPT TO command)
//       ... (in reply to MAIL FROM command | DATA command | end of DATA command)
//     lost connection with H[A] while receiving the initial server greeting
//     conversation with H[A] timed out while sending message body  4.4.2
//     Host or domain name not found. Name service error for name=D type=MX:
//       Host not found, try again                               4.4.3
//     Domain D does not accept mail (nullMX)                    5.1.0
//     mail for D loops back to myself                           5.4.6
//     unable to find primary relay for D                        4.4.4
//   A delivered recipient gets reason = the server's reply to the message
//   ("250 2.0.0 Ok: queued as X"), relay = "H[A]:port", remote_mta =
//   "dns; H", diagnostic = "smtp; REPLY", the connection set-up and
//   transmission times, action = "relayed" (RFC 3464 2.3.3, as Postfix's
//   smtp_rcpt_done()) and next_hop_dsn = whether the server offered DSN, so
//   that NOTIFY and ORCPT went on with the RCPT (RFC 3461 6.2.1: the queue
//   manager then sends no success report).
//
//   Connection cache (Postfix 2.2+, smtp_connection_cache_on_demand): when the
//   request says so (core::DeliveryRequest::conn_store, set by the queue
//   manager for a destination with back-to-back or concurrent deliveries) or
//   the next hop is in $smtp_connection_cache_destinations, a session that
//   ends well is not closed but parked, without QUIT, under its server
//   address, port and source address, for $smtp_connection_cache_time_limit
//   (then QUIT). A delivery that may load from the cache (conn_load) tries
//   the cached sessions to the best MX addresses first, then for each backup
//   address, before connecting; a cached session must pass an RSET probe
//   (else it is dropped and the next one or a new connection is used). A
//   session is used for at most $smtp_connection_reuse_time_limit from its
//   connect and $smtp_connection_reuse_count_limit reuses (0: no limit), then
//   gets QUIT. A refusal, a 421, a lost connection, a failed final RSET or a
//   loop keeps a session out of the cache. The result's conn_use says which
//   use of its connection a delivery was (logged "conn_use=N" when N > 1).
//
//   The delivery status lines ("ID: to=<r>, relay=..., status=sent (...)")
//   are left to the caller, which has the queue delays (core::
//   delivery_log_text); this agent logs what Postfix's smtp(8) logs besides:
//   skipped servers, loops, "no MX host for D has a valid address record".
// STANDARDS
//   RFC 5321, RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 3461 (DSN), RFC 2920
//   (PIPELINING), RFC 7505 (null MX), RFC 3463 (enhanced status codes)
// PARAMETERS
//   see smtp/settings.hpp; the resolver reads /etc/resolv.conf (dns/resolver)
// SEE ALSO
//   docs/smtp-client.md, smtp/mx_select, smtp/protocol, dns/resolver
#pragma once
#include "core/config.hpp"
#include "core/delivery.hpp"
#include "smtp/mx_select.hpp"

#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace mta::dns {
class Resolver;
}

namespace mta::smtp {

class SmtpAgent : public core::DeliveryAgent {
 public:
  // Reads its parameters from cfg (throws core::ConfigError for a bad value)
  // and makes its own resolver from /etc/resolv.conf.
  SmtpAgent(boost::asio::io_context& io, std::shared_ptr<const core::Config> cfg, std::string transport_name);
  // With a given resolver (shared between agents, or pointing at a test
  // server) and, for tests, a fixed random source for the address order.
  SmtpAgent(boost::asio::io_context& io, std::shared_ptr<const core::Config> cfg, std::string transport_name,
            std::shared_ptr<dns::Resolver> resolver, Random random = {});
  ~SmtpAgent() override;
  SmtpAgent(const SmtpAgent&) = delete;
  SmtpAgent& operator=(const SmtpAgent&) = delete;

  void deliver(core::DeliveryRequest req, core::DeliveryDone done) override;
  // New parameters for deliveries that start from now on (throws
  // core::ConfigError and keeps the old ones on a bad value); an agent that
  // made its own resolver re-reads resolv.conf.
  void reload(std::shared_ptr<const core::Config> cfg);
  size_t active() const;  // deliveries in progress
  size_t cached() const;  // idle sessions in the connection cache
  // Shutdown: QUIT and close the cached sessions; sessions that finish
  // later are closed instead of cached.
  void stop_caching();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mta::smtp
