#include "qmgr/qmgr.hpp"

#include "cleanup/cleanup.hpp"
#include "core/params.hpp"
#include "core/fault.hpp"
#include "core/router.hpp"
#include "core/trigger.hpp"
#include "qmgr/schedule.hpp"
#include "queue/queue_file.hpp"
#include "util/asio.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace mta::qmgr {
namespace {

constexpr const char* kSvc = "qmgr";

struct Limits {
  int concurrency = 20;
  int recipients = 50;
  int initial = 5;        // _initial_destination_concurrency
  int cohort_limit = 1;   // _destination_concurrency_failed_cohort_limit (0: never dead)
};

struct Job {
  std::string id;
  std::string transport, nexthop, dest_key;
  std::vector<size_t> rcpts;
  std::vector<std::string> addrs;
};

// One destination (transport:nexthop), as Postfix's in-core queue: its
// concurrency window starts at the initial concurrency, grows by one after
// `window` deliveries without a connection-level failure and shrinks by one
// after each such failure (Postfix's default feedback: 1/concurrency up, 1
// down, hysteresis 1). Each failure adds 1/window to fail_cohorts; at the
// failed-cohort limit the destination is dead for minimal_backoff_time. When
// nothing is queued or in flight for it and it is not dead, Postfix discards
// the queue, and so the counts start again: reset().
struct Dest {
  std::deque<Job> queue;
  int active = 0;
  int window = 0;  // 0: not started (set from Limits::initial on first use)
  double success = 0, fail_cohorts = 0;
  int64_t dead_until = 0;
  std::string dead_reason, dead_dsn;

  void reset() {
    window = 0;
    success = fail_cohorts = 0;
  }
  // A dead destination comes back after minimal_backoff_time (Postfix's
  // unthrottle timer), at the initial concurrency. Checked wherever the
  // state is used, since a wake-up may act before the next tick() did.
  void revive_if_due(int64_t now) {
    if (dead_until && dead_until <= now) {
      dead_until = 0;
      reset();
    }
  }
  // On-demand connection caching (Postfix qmgr_entry_select()): once a
  // delivery starts within a second of the previous one's end, the agent may
  // reuse cached connections (sticky) and cache its own (until deliveries
  // are neither concurrent nor back to back). Forgotten when the destination
  // has nothing queued or in flight, as Postfix discards its in-core queue.
  int64_t last_done = 0;
  bool conn_load = false, conn_store = false;
};

struct Active {
  std::shared_ptr<const core::Message> msg;  // envelope + content as read
  double arrival = 0, active_since = 0;
  int pending = 0;
  bool finalizing = false;
  std::vector<std::optional<core::DeliveryResult>> results;
  std::vector<double> dispatched;  // per recipient, for delays b
};


}  // namespace

struct Qmgr::Impl : std::enable_shared_from_this<Qmgr::Impl> {
  net::io_context& io;
  std::shared_ptr<const core::Config> cfg;
  const queue::QueueStore& store;
  Notifier notifier;
  NoticeStamper stamper;
  std::unique_ptr<core::Router> router;
  RetryPolicy policy;
  cleanup::Settings cleanup_settings;
  size_t active_limit = 20000;
  int process_limit = 100;
  std::map<std::string, Limits> limits;  // per transport, cached
  std::map<std::string, std::shared_ptr<core::DeliveryAgent>> agents;
  std::unordered_map<std::string, Active> active;
  std::map<std::string, Dest> dests;
  std::map<std::string, int> transport_active;
  std::set<std::string> ready;  // destinations with queued jobs
  int64_t last_deferred_scan = 0;
  bool stopping = false;
  bool pumping = false;
  bool incoming_backlog = false;  // scan_incoming() stopped at the active limit
  // Ids whose activation (rename into active/, read) runs on the blocking
  // pool, and the number of queue-file removals running there: file system
  // work that would otherwise hold up every SMTP session on the loop (an
  // unlink on ext4 takes as long as handling two SMTP commands). Both count
  // as in flight, so the drain at stop waits for them.
  std::unordered_set<std::string> activating;
  size_t removing = 0;
  Stats counters;

  Impl(net::io_context& i, std::shared_ptr<const core::Config> c, const queue::QueueStore& s, Notifier n)
      : io(i), cfg(std::move(c)), store(s), notifier(std::move(n)) {
    configure();
  }

  void configure() {
    router = std::make_unique<core::Router>(*cfg);
    policy.queue_run_delay = cfg->get_time("queue_run_delay");
    policy.minimal_backoff = cfg->get_time("minimal_backoff_time");
    policy.maximal_backoff = cfg->get_time("maximal_backoff_time");
    policy.maximal_lifetime = cfg->get_time("maximal_queue_lifetime");
    policy.bounce_lifetime = cfg->get_time("bounce_queue_lifetime");
    policy.delay_warning = cfg->get_time("delay_warning_time");
    active_limit = static_cast<size_t>(cfg->get_int("qmgr_message_active_limit"));
    process_limit = static_cast<int>(cfg->get_int("default_process_limit"));
    cleanup_settings = cleanup::Settings::from(*cfg);
    limits.clear();
  }

  Limits limits_for(const std::string& transport) {
    auto it = limits.find(transport);
    if (it != limits.end()) return it->second;
    Limits l;
    auto pick = [&](const std::string& suffix, const char* dflt) {
      std::string name = transport + suffix;
      return cfg->is_known(name) ? cfg->get_int(name) : cfg->get_int(dflt);
    };
    l.concurrency = static_cast<int>(pick("_destination_concurrency_limit", "default_destination_concurrency_limit"));
    l.recipients = static_cast<int>(pick("_destination_recipient_limit", "default_destination_recipient_limit"));
    l.initial = static_cast<int>(pick("_initial_destination_concurrency", "initial_destination_concurrency"));
    l.cohort_limit = static_cast<int>(
        pick("_destination_concurrency_failed_cohort_limit", "default_destination_concurrency_failed_cohort_limit"));
    if (l.concurrency <= 0) l.concurrency = 1;
    if (l.recipients <= 0) l.recipients = 1;
    if (l.initial <= 0) l.initial = 1;
    if (l.initial > l.concurrency) l.initial = l.concurrency;
    limits[transport] = l;
    return l;
  }

  // ---------------------------------------------------------------- scanning

  void recover() {
    if (core::fault::active(core::fault::Id::lose_queue_on_restart))
      for (const auto& id : store.list(queue::Q::deferred)) store.remove(queue::Q::deferred, id);
    for (const auto& id : store.list(queue::Q::active)) {
      if (auto ec = store.move(queue::Q::active, queue::Q::incoming, id, false))
        log::warn(kSvc, "{}: move active to incoming: {}", id, ec.message());
    }
    // Reused files first: one may hold an acknowledged message whose rename
    // to its id did not reach the disk.
    std::vector<std::string> lines;
    store.recover_reused(lines);
    for (const auto& l : lines) log::info(kSvc, "{}", l);
    // Temporary files in incoming/ were never acknowledged: remove them.
    std::string dir = store.dir(queue::Q::incoming);
    if (DIR* dp = ::opendir(dir.c_str())) {
      while (auto* de = ::readdir(dp)) {
        std::string n = de->d_name;
        if (n.size() > 1 && n[0] == '.' && n != ".." && !queue::is_reuse_name(n)) {
          ::unlink((dir + "/" + n).c_str());
          log::info(kSvc, "removed incomplete file incoming/{}", n);
        }
      }
      ::closedir(dp);
    }
    for (const auto& id : store.list(queue::Q::incoming)) {
      core::Envelope env;
      auto r = queue::read_queue_file(store.path(queue::Q::incoming, id), env, nullptr);
      if (!r.ec && !r.bad.empty()) quarantine(queue::Q::incoming, id, r.bad);
    }
  }

  void quarantine(queue::Q from, const std::string& id, const std::string& why) {
    log::warn(kSvc, "{}: corrupt queue file: {}; moved to corrupt/", id, why);
    if (auto ec = store.move(from, queue::Q::corrupt, id)) log::warn(kSvc, "{}: move to corrupt: {}", id, ec.message());
  }

  void scan_incoming() {
    incoming_backlog = false;
    for (const auto& id : store.list(queue::Q::incoming)) {
      if (active.size() + activating.size() >= active_limit) {
        incoming_backlog = true;  // rescan when room frees up
        break;
      }
      if (!active.count(id) && !activating.count(id)) activate(queue::Q::incoming, id);
    }
  }

  void scan_deferred(bool all) {
    int64_t now = util::now_sec();
    last_deferred_scan = now;
    for (const auto& id : store.list(queue::Q::deferred)) {
      if (active.size() + activating.size() >= active_limit) break;
      if (active.count(id) || activating.count(id)) continue;
      struct stat st;
      if (::stat(store.path(queue::Q::deferred, id).c_str(), &st) != 0) continue;
      if (all || due(static_cast<int64_t>(st.st_mtime), now)) activate(queue::Q::deferred, id);
    }
  }

  // The file system half of an activation: runs on the loop (scans) or on
  // the blocking pool (activate_async); it touches no loop state.
  struct Loaded {
    std::error_code move_ec;
    queue::ReadResult read;
    std::shared_ptr<core::Message> msg;
  };
  static Loaded load(const queue::QueueStore& store, queue::Q from, const std::string& id) {
    Loaded l;
    l.move_ec = store.move(from, queue::Q::active, id, false);
    if (l.move_ec) return l;
    l.msg = std::make_shared<core::Message>();
    l.read = queue::read_queue_file(store.path(queue::Q::active, id), l.msg->env, &l.msg->content);
    return l;
  }

  void activate(queue::Q from, const std::string& id) { activated(id, load(store, from, id)); }

  // One new message from smtpd, pickup or local: its rename and read run on
  // the pool, so the sessions on the loop do not wait for the disk.
  void activate_async(const std::string& id) {
    activating.insert(id);
    util::spawn_logged(io.get_executor(), activate_co(shared_from_this(), id), "qmgr activate");
  }

  static net::awaitable<void> activate_co(std::shared_ptr<Impl> self, std::string id) {
    auto fn = [st = self->store, id] { return load(st, queue::Q::incoming, id); };
    Loaded l = co_await util::run_blocking(std::move(fn));
    self->activating.erase(id);
    self->activated(id, std::move(l));
    self->pump();
  }

  void activated(const std::string& id, Loaded l) {
    if (auto ec = l.move_ec) {
      if (ec != std::errc::no_such_file_or_directory) log::warn(kSvc, "{}: activate: {}", id, ec.message());
      return;
    }
    auto m = std::move(l.msg);
    auto& r = l.read;
    if (r.ec) {
      if (r.ec != std::errc::no_such_file_or_directory) log::warn(kSvc, "{}: read: {}", id, r.ec.message());
      return;
    }
    if (!r.bad.empty()) {
      quarantine(queue::Q::active, id, r.bad);
      return;
    }
    if (m->env.id != id) m->env.id = id;  // renamed by hand: the file name wins
    Active a;
    a.arrival = m->env.arrival.sec + m->env.arrival.usec / 1e6;
    a.active_since = util::now_double();
    a.results.resize(m->env.rcpts.size());
    a.dispatched.resize(m->env.rcpts.size(), a.active_since);
    a.msg = m;
    log::info(kSvc, "{}: from=<{}>, size={}, nrcpt={} (queue active)", id, m->env.sender, m->env.content_size,
              m->env.rcpts.size());
    auto& slot = active[id];
    slot = std::move(a);
    if (m->env.rcpts.empty()) {
      finalize(id);
      return;
    }
    route(id);
  }

  // --------------------------------------------------------------- dispatch

  void route(const std::string& id) {
    Active& a = active[id];
    const auto& env = a.msg->env;
    std::map<std::string, Job> groups;
    std::vector<Job> jobs;
    for (size_t i = 0; i < env.rcpts.size(); ++i) {
      core::Route rt;
      try {
        rt = router->route(env.rcpts[i].address);
      } catch (const std::exception& e) {
        core::DeliveryResult res;
        res.rcpt = i;
        res.dsn = "4.3.5";
        res.reason = std::string("mail system configuration error: ") + e.what();
        res.relay = "none";
        a.results[i] = res;
        continue;
      }
      Limits l = limits_for(rt.transport);
      std::string key = rt.transport + ":" + rt.nexthop;
      if (l.recipients == 1) key += ":" + util::lower(rt.address);  // per-recipient destination
      Job& g = groups[key];
      if (g.rcpts.empty()) {
        g.id = id;
        g.transport = rt.transport;
        g.nexthop = rt.nexthop;
        g.dest_key = key;
      }
      g.rcpts.push_back(i);
      g.addrs.push_back(rt.address);
      if (static_cast<int>(g.rcpts.size()) >= l.recipients) {
        jobs.push_back(std::move(g));
        groups.erase(key);
      }
    }
    for (auto& [k, g] : groups) jobs.push_back(std::move(g));
    if (jobs.empty()) {
      finalize(id);
      return;
    }
    a.pending = static_cast<int>(jobs.size());
    for (auto& j : jobs) {
      std::string key = j.dest_key;
      dests[key].queue.push_back(std::move(j));
      ready.insert(key);
    }
    pump();
  }

  void pump() {
    if (pumping) return;  // re-entered from a synchronous completion
    pumping = true;
    int64_t now = util::now_sec();
    for (auto it = ready.begin(); it != ready.end();) {
      Dest& d = dests[*it];
      d.revive_if_due(now);
      while (!d.queue.empty()) {
        const Job& front = d.queue.front();
        if (d.dead_until > now) {
          Job j = std::move(d.queue.front());
          d.queue.pop_front();
          suspend(j, d);
          continue;
        }
        if (stopping) break;
        Limits l = limits_for(front.transport);
        if (d.window <= 0) d.window = l.initial;
        if (d.active >= d.window || transport_active[front.transport] >= process_limit) break;
        Job j = std::move(d.queue.front());
        d.queue.pop_front();
        start_job(std::move(j), d);
      }
      if (d.queue.empty()) it = ready.erase(it);
      else ++it;
    }
    pumping = false;
  }

  void suspend(const Job& j, const Dest& d) {
    std::vector<core::DeliveryResult> rs;
    for (size_t i : j.rcpts) {
      core::DeliveryResult r;
      r.rcpt = i;
      r.dsn = d.dead_dsn.empty() ? "4.4.1" : d.dead_dsn;
      r.reason = "delivery temporarily suspended: " + d.dead_reason;
      r.relay = "none";
      rs.push_back(r);
    }
    auto self = shared_from_this();
    net::post(io, [self, j, rs = std::move(rs)]() mutable { self->job_done(j, std::move(rs), "error", false); });
  }

  void start_job(Job j, Dest& d) {
    auto ait = active.find(j.id);
    if (ait == active.end()) return;
    Active& a = ait->second;
    double now = util::now_double();
    for (size_t i : j.rcpts) a.dispatched[i] = now;
    auto agent_it = agents.find(j.transport);
    if (agent_it == agents.end()) {
      std::vector<core::DeliveryResult> rs;
      for (size_t i : j.rcpts) {
        core::DeliveryResult r;
        r.rcpt = i;
        r.dsn = "4.3.0";
        r.reason = "mail transport unavailable";
        r.relay = "none";
        rs.push_back(r);
      }
      auto self = shared_from_this();
      net::post(io, [self, j, rs = std::move(rs)]() mutable { self->job_done(j, std::move(rs), "qmgr", false); });
      return;
    }
    d.active++;
    transport_active[j.transport]++;
    counters.in_flight++;
    const bool back_to_back = d.last_done > 0 && d.last_done + 1 >= util::now_sec();
    if (!d.conn_store) {
      if (back_to_back) d.conn_load = d.conn_store = true;
    } else if (d.active <= 1 && !back_to_back) {
      d.conn_store = false;
    }
    core::DeliveryRequest req;
    req.msg = a.msg;
    req.transport = j.transport;
    req.nexthop = j.nexthop;
    req.rcpts = j.rcpts;
    req.addresses = j.addrs;
    req.conn_load = d.conn_load;
    req.conn_store = d.conn_store;
    std::weak_ptr<Impl> weak = weak_from_this();
    auto agent = agent_it->second;
    agent->deliver(std::move(req), [weak, j, this_io = &io](std::vector<core::DeliveryResult> rs) {
      // Agents may complete synchronously; handle results from the loop.
      net::post(*this_io, [weak, j, rs = std::move(rs)]() mutable {
        if (auto self = weak.lock()) self->job_done(j, std::move(rs), j.transport, true);
      });
    });
  }

  void job_done(const Job& j, std::vector<core::DeliveryResult> rs, const std::string& service, bool counted) {
    Dest& d = dests[j.dest_key];
    if (counted) {
      d.active--;
      transport_active[j.transport]--;
      counters.in_flight--;
      d.last_done = util::now_sec();
      if (d.queue.empty() && d.active == 0) {
        // Postfix qmgr_queue_done(): an empty in-core queue is discarded,
        // and its back-to-back and caching state with it.
        d.last_done = 0;
        d.conn_load = d.conn_store = false;
      }
    }
    auto ait = active.find(j.id);
    if (ait == active.end()) {
      pump();
      return;
    }
    Active& a = ait->second;
    double now = util::now_double();
    std::set<size_t> seen;
    bool all_dead = !rs.empty();
    for (auto& r : rs) {
      if (r.rcpt >= a.results.size() || std::find(j.rcpts.begin(), j.rcpts.end(), r.rcpt) == j.rcpts.end()) continue;
      seen.insert(r.rcpt);
      log_result(j.id, a, r, service, now);
      if (!r.dead_destination) all_dead = false;
      a.results[r.rcpt] = r;
    }
    for (size_t i : j.rcpts) {
      if (seen.count(i)) continue;
      core::DeliveryResult r;
      r.rcpt = i;
      r.dsn = "4.3.0";
      r.reason = "delivery agent returned no result";
      r.relay = "none";
      log_result(j.id, a, r, service, now);
      a.results[i] = r;
      all_dead = false;
    }
    if (counted) {
      if (all_dead)
        throttle(d, j.transport, rs.front());
      else
        unthrottle(d, j.transport);
    }
    if (d.queue.empty() && d.active == 0 && d.dead_until == 0) d.reset();
    if (--a.pending <= 0) finalize(j.id);
    pump();
  }

  // Postfix qmgr_queue_throttle(): a connection-level failure (the agent
  // says the next hop is unreachable) is negative feedback.
  void throttle(Dest& d, const std::string& transport, const core::DeliveryResult& why) {
    d.revive_if_due(util::now_sec());
    if (d.dead_until) return;  // already dead (a delivery that was in flight)
    Limits l = limits_for(transport);
    if (d.window <= 0) d.window = l.initial;
    d.fail_cohorts += 1.0 / d.window;
    if (l.cohort_limit > 0 && d.fail_cohorts >= l.cohort_limit) {
      d.dead_until = util::now_sec() + policy.minimal_backoff;
      d.dead_reason = why.reason;
      d.dead_dsn = why.dsn;
      return;
    }
    d.success = 0;
    if (d.window > 1) d.window--;
  }

  // Postfix qmgr_queue_unthrottle(): anything else is positive feedback.
  void unthrottle(Dest& d, const std::string& transport) {
    Limits l = limits_for(transport);
    d.revive_if_due(util::now_sec());
    if (d.dead_until) {  // a delivery still in flight got through: alive again
      d.dead_until = 0;
      d.reset();
      return;
    }
    if (d.window <= 0) d.window = l.initial;
    if (d.window < l.concurrency) {
      double feedback = 1.0 / d.window;
      d.success += feedback;
      while (d.success + feedback / 2 >= 1) {
        d.window++;
        d.success -= 1;
      }
      if (d.window > l.concurrency) d.window = l.concurrency;
    }
    d.fail_cohorts = 0;
  }

  void log_result(const std::string& id, const Active& a, const core::DeliveryResult& r, const std::string& service,
                  double now) {
    const core::Recipient& rc = a.msg->env.rcpts[r.rcpt];
    double total = now - a.arrival;
    double da = a.active_since - a.arrival;
    double db = a.dispatched[r.rcpt] - a.active_since;
    if (da < 0) da = 0;
    if (db < 0) db = 0;
    if (r.leaves.empty()) {
      log::info(service, "{}: {}", id, core::delivery_log_text(rc, r, total, da, db));
    } else {
      // One line per final destination, orig_to = the recipient as queued.
      for (const auto& l : r.leaves) {
        core::Recipient leaf_rcpt;
        leaf_rcpt.address = l.address;
        leaf_rcpt.orig = rc.orig.empty() ? rc.address : rc.orig;
        core::DeliveryResult lr = r;
        lr.dsn = l.dsn;
        lr.reason = l.reason;
        log::info(service, "{}: {}", id, core::delivery_log_text(leaf_rcpt, lr, total, da, db));
      }
    }
    if (r.kind() == '2') counters.delivered++;
    else if (r.kind() == '5') counters.bounced++;
    else counters.deferred++;
  }

  // -------------------------------------------------------------- finalize

  void finalize(const std::string& id) {
    auto it = active.find(id);
    if (it == active.end() || it->second.finalizing) return;
    it->second.finalizing = true;
    util::spawn_logged(io.get_executor(), finalize_co(shared_from_this(), id), "qmgr finalize");
  }

  static net::awaitable<void> finalize_co(std::shared_ptr<Impl> self, std::string id) {
    co_await self->finalize_body(id);
  }

  net::awaitable<void> finalize_body(std::string id) {
    Active& a = active[id];
    auto msg = a.msg;
    const core::Envelope& env = msg->env;
    int64_t now = util::now_sec();
    std::vector<std::pair<core::Recipient, core::DeliveryResult>> sent, failed, later;
    for (size_t i = 0; i < env.rcpts.size(); ++i) {
      core::DeliveryResult r;
      if (a.results[i]) r = *a.results[i];
      else {
        r.rcpt = i;
        r.dsn = "4.3.0";
        r.reason = "message was not delivered";
      }
      char k = r.kind();
      if (k == '2') sent.emplace_back(env.rcpts[i], r);
      else if (k == '5') failed.emplace_back(env.rcpts[i], r);
      else later.emplace_back(env.rcpts[i], r);
    }
    bool warned = env.warned != 0;
    int64_t arrival = env.arrival.sec;
    bool expire = expired(policy, arrival, now, env.sender.empty(), env.force_expired);
    if (core::fault::active(core::fault::Id::no_expiry)) expire = env.force_expired;
    if (!later.empty() && expire) {
      log::info(kSvc, "{}: from=<{}>, status={}, returned to sender", id, env.sender,
                env.force_expired ? "force-expired" : "expired");
      for (auto& p : later) failed.push_back(p);
      later.clear();
    }
    bool warn_now = !later.empty() && warning_due(policy, arrival, now, warned);

    // Notices first: they must be queued before the original changes.
    // NOTIFY=SUCCESS is reported here unless the recipient went to an SMTP
    // server that offered DSN: the request went on with the RCPT and the
    // next hop reports (RFC 3461 6.2.1; Postfix's smtp_rcpt_done() clears
    // DSN_NOTIFY_SUCCESS). Without DSN there the report says "relayed".
    std::vector<std::pair<core::Recipient, core::DeliveryResult>> success;
    for (auto& p : sent)
      if ((p.first.notify & core::notify_success) && !p.second.next_hop_dsn) success.push_back(p);
    if (!success.empty()) co_await notify(NoticeKind::success, msg, success, now, "sender delivery status notification");
    if (core::fault::active(core::fault::Id::wrong_dsn_status))
      for (auto& p : failed) p.second.dsn = "5.0.0";
    if (core::fault::active(core::fault::Id::bounce_to_null_sender) && env.sender.empty()) {
      auto copy = std::make_shared<core::Message>(*msg);
      copy->env.sender = "MAILER-DAEMON@" + cleanup_settings.myorigin;
      msg = copy;
    }
    if (!failed.empty() && !core::fault::active(core::fault::Id::no_bounce))
      co_await notify(NoticeKind::failure, msg, failed, now, "sender non-delivery notification");
    if (warn_now) co_await notify(NoticeKind::delay, msg, later, now, "sender delay notification");

    if (!later.empty()) {
      core::Message next;
      next.env = env;
      next.content = msg->content;
      next.env.rcpts.clear();
      for (auto& [rc, r] : later) {
        core::Recipient x = rc;
        x.dsn_status = r.dsn;
        x.reason = r.reason;
        next.env.rcpts.push_back(std::move(x));
      }
      next.env.attempts++;
      next.env.next_attempt = next_attempt(policy, arrival, now);
      if (core::fault::active(core::fault::Id::skip_backoff)) next.env.next_attempt = now;
      if (warn_now) next.env.warned = now;
      std::string bytes = queue::serialize(next);
      auto when = next.env.next_attempt;
      // A named function object: GCC 12 mishandles temporaries with
      // destructors inside co_await expressions.
      auto defer_file = [this, id, bytes = std::move(bytes), when]() -> std::error_code {
        if (auto e = store.replace(queue::Q::active, id, bytes)) return e;
        // The next attempt is the mtime; set before the rename (which keeps
        // it), so a file in deferred/ always carries its schedule.
        store.set_mtime(queue::Q::active, id, when);
        return store.move(queue::Q::active, queue::Q::deferred, id, true);
      };
      auto ec = co_await util::run_blocking(std::move(defer_file));
      if (ec && ec != std::errc::no_such_file_or_directory)
        log::warn(kSvc, "{}: cannot defer: {}; the message stays in active/ until restart", id, ec.message());
    }
    active.erase(id);
    pump();
    if (incoming_backlog && active.size() < active_limit) scan_incoming();
    if (later.empty()) {
      // Done with: the unlink (or the rename that keeps the file for reuse,
      // queue/queue_store.hpp) runs on the pool (see `removing`) while the
      // loop goes on; "removed" is logged once the file is gone.
      ++removing;
      auto remove_file = [st = store, id] { return st.retire(queue::Q::active, id); };
      std::error_code ec = co_await util::run_blocking(std::move(remove_file));
      --removing;
      if (!ec || ec == std::errc::no_such_file_or_directory) log::info(kSvc, "{}: removed", id);
      else log::warn(kSvc, "{}: remove: {}", id, ec.message());
    }
  }

  net::awaitable<void> notify(NoticeKind kind, std::shared_ptr<const core::Message> original,
                              std::vector<std::pair<core::Recipient, core::DeliveryResult>> rcpts, int64_t now,
                              const char* what) {
    if (!notifier) co_return;
    NoticeRequest req;
    req.kind = kind;
    req.original = original;
    req.rcpts = std::move(rcpts);
    std::vector<core::Message> notices;
    try {
      notices = notifier(req, now);
    } catch (const std::exception& e) {
      log::error("bounce", "{}: cannot build notification: {}", original->env.id, e.what());
      co_return;
    }
    for (auto& n : notices) {
      bool to_sender = n.env.sender.empty() && !original->env.sender.empty() && n.env.rcpts.size() == 1 &&
                       n.env.rcpts[0].address == original->env.sender;
      auto newid = co_await queue_message(std::move(n));
      if (newid.empty()) continue;
      if (to_sender) log::info("bounce", "{}: {}: {}", original->env.id, what, newid);
      else log::info("bounce", "{}: postmaster {}: {}", original->env.id, what, newid);
    }
  }

  // Writes a message through cleanup; returns its id, or "" on failure.
  net::awaitable<std::string> queue_message(core::Message m) {
    auto b = std::make_shared<cleanup::Builder>();
    if (auto ec = b->open(store)) {
      log::error("bounce", "cannot create queue file: {}", ec.message());
      co_return std::string();
    }
    b->add_missing_headers = true;
    std::string id = b->id();
    m.env.id = id;
    if (stamper) stamper(m, id, util::now_sec());
    b->message() = std::move(m);
    cleanup::Status st = b->finish(cleanup_settings);
    if (!st.ok) {
      log::error("bounce", "{}: cannot queue notification: {}", id, st.text);
      co_return std::string();
    }
    auto commit = [b]() { return b->commit(); };
    auto ec = co_await util::run_blocking(std::move(commit));
    if (ec) {
      log::error("bounce", "{}: cannot commit notification: {}", id, ec.message());
      co_return std::string();
    }
    net::post(io, [w = weak_from_this(), id] {
      if (auto s = w.lock()) s->incoming_one(id);
    });
    co_return id;
  }

  void incoming_one(const std::string& id) {
    if (active.count(id) || activating.count(id)) return;
    if (active.size() + activating.size() >= active_limit) {
      incoming_backlog = true;
      return;
    }
    activate_async(id);
  }

  void tick() {
    int64_t now = util::now_sec();
    if (now - last_deferred_scan >= policy.queue_run_delay || now < last_deferred_scan) scan_deferred(false);
    scan_incoming();
    for (auto& [k, d] : dests) d.revive_if_due(now);
    pump();
  }
};

Qmgr::Qmgr(net::io_context& io, std::shared_ptr<const core::Config> cfg, const queue::QueueStore& store,
           Notifier notifier)
    : impl_(std::make_shared<Impl>(io, std::move(cfg), store, std::move(notifier))) {}

Qmgr::~Qmgr() = default;

void Qmgr::add_agent(const std::string& transport, std::shared_ptr<core::DeliveryAgent> agent) {
  impl_->agents[transport] = std::move(agent);
}

void Qmgr::set_notice_stamper(NoticeStamper stamper) { impl_->stamper = std::move(stamper); }

void Qmgr::start() {
  impl_->recover();
  impl_->scan_incoming();
  impl_->scan_deferred(false);
}

// Called by smtpd (and pickup, local) right after a commit, before the
// client has its "250 ... queued as": the activation (a rename, reading the
// file) and the first delivery run from the loop afterwards, so they do not
// delay that reply. Postfix's cleanup only triggers qmgr, too.
void Qmgr::incoming(const std::string& id) {
  net::post(impl_->io, [w = std::weak_ptr<Impl>(impl_), id] {
    if (auto self = w.lock()) self->incoming_one(id);
  });
}

void Qmgr::request(char req) {
  switch (req) {
    case core::trigger::flush:
      for (auto& [k, d] : impl_->dests) {
        d.dead_until = 0;
        d.reset();
      }
      impl_->scan_deferred(true);
      impl_->scan_incoming();
      break;
    case core::trigger::deferred:
    case core::trigger::scan_all:
      impl_->scan_deferred(false);
      impl_->scan_incoming();
      break;
    case core::trigger::incoming:
    default:
      impl_->scan_incoming();
  }
  impl_->pump();
}

void Qmgr::tick() { impl_->tick(); }

void Qmgr::reload(std::shared_ptr<const core::Config> cfg) {
  impl_->cfg = std::move(cfg);
  impl_->configure();
}

void Qmgr::stop_dispatching() { impl_->stopping = true; }

size_t Qmgr::deliveries() const { return impl_->counters.in_flight; }

Stats Qmgr::stats() const {
  Stats s = impl_->counters;
  s.active = impl_->active.size();
  s.in_flight += impl_->activating.size() + impl_->removing;
  return s;
}

}  // namespace mta::qmgr
