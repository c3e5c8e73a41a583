#include "local/local.hpp"

#include "util/asio.hpp"
#include "util/log.hpp"

#include <fmt/core.h>

namespace mta::local {

namespace detail {
struct LocalAgentState {
  net::io_context& io;
  std::shared_ptr<const core::Config> cfg;
  std::function<void(const std::string&)> on_queued;
  std::unique_ptr<Deliverer> deliverer;
  std::string fallback_transport, fallback_nexthop;
  LocalAgent::AgentLookup lookup;
  LocalAgent::LeafObserver observer;
};
}  // namespace detail

namespace {

// The state of one request between the blocking work and done().
struct Pending {
  std::shared_ptr<detail::LocalAgentState> impl;  // keeps the agent's state alive
  core::DeliveryRequest req;
  core::DeliveryDone done;
  std::vector<RcptOutcome> outs;
  size_t waiting = 0;

  void finish() {
    if (!done) return;  // a misbehaving fallback agent answered twice
    std::vector<core::DeliveryResult> results;
    for (auto& o : outs) {
      o.result = summarize(o.rcpt, o.leaves);
      const std::string& queued_rcpt = req.msg->env.rcpts.at(o.rcpt).address;
      if (o.leaves.size() > 1 || (o.leaves.size() == 1 && o.leaves[0].address != queued_rcpt))
        for (const auto& l : o.leaves) o.result.leaves.push_back({l.address, l.status.dsn, l.status.text});
      if (impl->observer)
        for (const auto& l : o.leaves) impl->observer(*req.msg, o.rcpt, l);
      results.push_back(o.result);
    }
    auto d = std::move(done);
    d(std::move(results));
  }
};

Leaf leaf_from(const std::string& address, const core::DeliveryResult& r) {
  Status st;
  st.kind = r.kind();
  st.dsn = r.dsn.empty() ? "4.0.0" : r.dsn;
  st.text = r.reason;
  return {address, std::move(st)};
}

// Hands the recipients that fell through to fallback_transport to that
// transport's agent (Postfix deliver_pass()), then completes the request.
void pass_to_fallback(const std::shared_ptr<Pending>& p) {
  std::vector<std::pair<size_t, std::string>> passes;  // outcome index, address
  for (size_t i = 0; i < p->outs.size(); ++i)
    for (const auto& a : p->outs[i].passes) passes.emplace_back(i, a);
  if (passes.empty()) return p->finish();

  p->waiting = passes.size();
  core::DeliveryAgent* agent = p->impl->lookup ? p->impl->lookup(p->impl->fallback_transport) : nullptr;
  for (const auto& [oi, address] : passes) {
    size_t idx = oi;
    std::string addr = address;
    if (!agent) {
      Status st = Status::fail("4.3.0", "mail transport unavailable");
      log::warn("local", "{}: fallback_transport {}: no such transport", p->req.msg->env.id,
                p->impl->fallback_transport);
      p->outs[idx].leaves.push_back({addr, st});
      if (--p->waiting == 0) p->finish();
      continue;
    }
    core::DeliveryRequest sub;
    sub.msg = p->req.msg;
    sub.transport = p->impl->fallback_transport;
    sub.nexthop = p->impl->fallback_nexthop;
    sub.rcpts = {p->outs[idx].rcpt};
    sub.addresses = {addr};
    agent->deliver(std::move(sub), [p, idx, addr](std::vector<core::DeliveryResult> rs) {
      if (rs.empty()) p->outs[idx].leaves.push_back({addr, Status::fail("4.3.0", "mail transport unavailable")});
      for (const auto& r : rs) p->outs[idx].leaves.push_back(leaf_from(addr, r));
      if (p->waiting > 0 && --p->waiting == 0) p->finish();
    });
  }
}

net::awaitable<void> run_request(std::shared_ptr<Pending> p) {
  std::string failure;
  try {
    // XXX: g++ 12 destroys a lambda with non-trivial captures twice when
    // the lambda is a temporary in the co_await expression (checked with a
    // standalone program and valgrind); a named job, moved in, is safe.
    auto job = [p]() {
      const core::DeliveryRequest& req = p->req;
      std::vector<RcptOutcome> v;
      for (size_t i = 0; i < req.rcpts.size(); ++i) {
        size_t r = req.rcpts[i];
        const std::string& addr = i < req.addresses.size() ? req.addresses[i] : req.msg->env.rcpts.at(r).address;
        v.push_back(p->impl->deliverer->deliver(*req.msg, r, addr, req.transport.empty() ? "local" : req.transport));
      }
      return v;
    };
    std::vector<RcptOutcome> outs = co_await util::run_blocking(std::move(job));
    p->outs = std::move(outs);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (!failure.empty()) {
    log::error("local", "{}: local delivery agent failure: {}", p->req.msg->env.id, failure);
    p->outs.clear();
    for (size_t r : p->req.rcpts) {
      RcptOutcome o;
      o.rcpt = r;
      o.leaves.push_back({p->req.msg->env.rcpts.at(r).address,
                          Status::fail("4.3.0", "local delivery agent failure: " + failure)});
      p->outs.push_back(std::move(o));
    }
    p->finish();
    co_return;
  }
  if (p->impl->on_queued)
    for (const auto& o : p->outs)
      for (const auto& id : o.queued) p->impl->on_queued(id);
  pass_to_fallback(p);
}

}  // namespace

LocalAgent::LocalAgent(boost::asio::io_context& io, std::shared_ptr<const core::Config> cfg,
                       const queue::QueueStore& store, std::function<void(const std::string& id)> on_queued)
    : LocalAgent(io, std::move(cfg), store, std::move(on_queued), std::make_shared<PasswdUserDb>()) {}

LocalAgent::LocalAgent(boost::asio::io_context& io, std::shared_ptr<const core::Config> cfg,
                       const queue::QueueStore& store, std::function<void(const std::string& id)> on_queued,
                       std::shared_ptr<const UserDb> users, FileIo* io_seam)
    : impl_(std::make_shared<detail::LocalAgentState>(detail::LocalAgentState{io, cfg, std::move(on_queued), nullptr, {}, {}, {}, {}})) {
  impl_->deliverer = std::make_unique<Deliverer>(Settings::from(*cfg), cleanup::Settings::from(*cfg),
                                                 std::make_shared<core::Router>(*cfg), store, std::move(users),
                                                 io_seam);
  auto [t, n] = core::split_transport(impl_->deliverer->settings().fallback_transport);
  impl_->fallback_transport = t;
  impl_->fallback_nexthop = n;
}

LocalAgent::~LocalAgent() = default;

void LocalAgent::set_agent_lookup(AgentLookup lookup) { impl_->lookup = std::move(lookup); }

void LocalAgent::set_leaf_observer(LeafObserver observer) { impl_->observer = std::move(observer); }

void LocalAgent::deliver(core::DeliveryRequest req, core::DeliveryDone done) {
  auto p = std::make_shared<Pending>();
  p->impl = impl_;
  p->req = std::move(req);
  p->done = std::move(done);
  util::spawn_logged(impl_->io.get_executor(), run_request(std::move(p)), "local delivery");
}

}  // namespace mta::local
