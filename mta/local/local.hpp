// NAME
//   local/local - the local delivery agent (Postfix local(8)) behind
//   core::DeliveryAgent
// SYNOPSIS
//   local::LocalAgent agent(io, cfg, store, [&](const std::string& id) { qmgr.incoming(id); });
//   agent.set_agent_lookup([&](const std::string& t) { return qmgr.agent(t); });  // fallback_transport
//   agent.deliver(std::move(request), [](std::vector<core::DeliveryResult> r) { ... });
// DESCRIPTION
//   deliver() takes one message and the recipients qmgr routed to the local
//   transport. All work that blocks (alias and .forward files, fsynced
//   mailbox and Maildir writes, commands that may run for command_time_limit,
//   the cleanup::Builder commit of forwarded copies) runs on the blocking
//   pool (util::run_blocking); the result comes back on the event loop:
//     - on_queued(id) once per forwarded copy or owner- list expansion that
//       is now durable in incoming/ (before done());
//     - recipients that fell through to fallback_transport are handed, one
//       request each, to the agent set_agent_lookup() returns for that
//       transport ("mail transport unavailable", 4.3.0, when there is none);
//     - done() exactly once, with one DeliveryResult per requested recipient
//       (relay "local"; see local/deliver.hpp for how a recipient's
//       destinations fold into one result and for the texts).
//   Postfix logs one line per final destination ("to=<bob@...>,
//   orig_to=<sales@...>"): set_leaf_observer() reports each of them, on the
//   loop, before done().
//
//   Settings are read from the Config once, in the constructor; a reload
//   builds a new agent. Requests in flight keep the agent's state alive.
// PARAMETERS
//   see local/deliver.hpp
// DIAGNOSTICS
//   The constructor throws core::ConfigError for refused settings (see
//   local::Settings::from). A delivery that throws (a bug) defers its
//   recipients with 4.3.0 "local delivery agent failure: WHAT" and logs it.
#pragma once
#include "core/config.hpp"
#include "core/delivery.hpp"
#include "local/deliver.hpp"
#include "local/mbox.hpp"
#include "local/users.hpp"
#include "queue/queue_store.hpp"

#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace mta::local {

namespace detail {
struct LocalAgentState;
}  // namespace detail

class LocalAgent : public core::DeliveryAgent {
 public:
  LocalAgent(boost::asio::io_context& io, std::shared_ptr<const core::Config> cfg, const queue::QueueStore& store,
             std::function<void(const std::string& id)> on_queued);
  // The seams: another user database (tests use a fake) and write path.
  LocalAgent(boost::asio::io_context& io, std::shared_ptr<const core::Config> cfg, const queue::QueueStore& store,
             std::function<void(const std::string& id)> on_queued, std::shared_ptr<const UserDb> users,
             FileIo* io_seam = nullptr);
  ~LocalAgent() override;
  LocalAgent(const LocalAgent&) = delete;
  LocalAgent& operator=(const LocalAgent&) = delete;

  void deliver(core::DeliveryRequest req, core::DeliveryDone done) override;

  // fallback_transport: which agent delivers a transport name (nullptr: none).
  using AgentLookup = std::function<core::DeliveryAgent*(const std::string& transport)>;
  void set_agent_lookup(AgentLookup lookup);

  // Every final destination of every recipient, for Postfix-style log lines.
  using LeafObserver = std::function<void(const core::Message& msg, size_t rcpt, const Leaf& leaf)>;
  void set_leaf_observer(LeafObserver observer);

 private:
  std::shared_ptr<detail::LocalAgentState> impl_;
};

}  // namespace mta::local
