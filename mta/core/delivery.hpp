// NAME
//   core/delivery - the seam between the queue manager and delivery agents
// DESCRIPTION
//   qmgr hands an agent one message and the recipients it routed to that
//   agent's transport and next hop; the agent reports exactly once, on the
//   event loop, one result per recipient. Agents: local (local(8)), smtp and
//   relay (smtp(8)), error and retry (error(8)), discard.
//   The interface is callback-based so that core stays free of Asio; agents
//   that do network I/O run coroutines behind it.
//   A fake agent (tests) implements it in a few lines.
// STANDARDS
//   RFC 3463 (enhanced status codes), RFC 3464 (Remote-MTA, Diagnostic-Code,
//   Action), RFC 3461 6.2.1 (no success report when the next hop offers DSN)
#pragma once
#include "core/envelope.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mta::core {

struct DeliveryResult {
  size_t rcpt = 0;          // index into msg->env.rcpts
  std::string dsn;          // "2.0.0", "4.4.1", "5.1.1"
  std::string reason;       // "delivered to mailbox", "host H[A] said: ... (in reply to RCPT TO command)"
  std::string relay;        // "local", "none", "mail.example.com[192.0.2.1]:25"
  std::string diagnostic;   // "smtp; 550 5.1.1 ..." or "X-Postfix; unknown user: \"x\""; empty: none
  std::string remote_mta;   // "dns; mail.example.com"; empty: none
  double conn_delay = 0;    // delays c (connection setup) and d (transmission), seconds
  double xfer_delay = 0;
  bool dead_destination = false;  // connection-level failure: suspend the next hop
  // A success's RFC 3464 Action, decided by the agent as Postfix's agents
  // decide it (dsb_update()): "relayed" when the SMTP client handed the
  // recipient to a next hop (smtp_rcpt_done(), RFC 3464 2.3.3); empty means
  // "delivered" (final delivery: local, discard). Only success reports show it.
  std::string action;
  // Delivered to a server that offered DSN: NOTIFY and ORCPT went on with
  // the RCPT, so the next hop reports success and this MTA sends no success
  // report of its own (RFC 3461 6.2.1; Postfix clears DSN_NOTIFY_SUCCESS).
  // Set only for delivered recipients.
  bool next_hop_dsn = false;
  // Postfix's conn_use: this delivery was the Nth on its SMTP connection
  // (connection cache). 0 or 1: a connection of its own; logged only when > 1.
  int conn_use = 0;
  // Final destinations, when one recipient expanded into several (aliases,
  // .forward): Postfix logs one line per destination, "to=<bob@...>,
  // orig_to=<sales@...>". Empty: the recipient itself was the destination.
  struct Leaf {
    std::string address, dsn, reason;
  };
  std::vector<Leaf> leaves;
  char kind() const { return dsn.empty() ? '4' : dsn[0]; }  // '2' sent, '4' deferred, '5' bounced
};

struct DeliveryRequest {
  std::shared_ptr<const Message> msg;
  std::string transport;               // "local", "smtp", "relay", "error" ...
  std::string nexthop;                 // from core::Router
  std::vector<size_t> rcpts;           // indexes into msg->env.rcpts
  std::vector<std::string> addresses;  // routed address of each (same order as rcpts)
  // Connection cache hints from the queue manager (Postfix's
  // DEL_REQ_FLAG_CONN_LOAD / _STORE, smtp_connection_cache_on_demand): reuse
  // a cached connection to the next hop / keep this one for the next delivery.
  bool conn_load = false;
  bool conn_store = false;
};

using DeliveryDone = std::function<void(std::vector<DeliveryResult>)>;

class DeliveryAgent {
 public:
  virtual ~DeliveryAgent() = default;
  virtual void deliver(DeliveryRequest req, DeliveryDone done) = 0;
};

// Postfix's log line for one recipient:
// "to=<r>, orig_to=<o>, relay=R, conn_use=N, delay=T, delays=a/b/c/d, dsn=X.Y.Z, status=S (TEXT)"
// (conn_use only when N > 1)
std::string delivery_log_text(const Recipient& r, const DeliveryResult& res, double delay_total, double a, double b);

}  // namespace mta::core
