#include "smtp/smtp_agent.hpp"

#include "core/fault.hpp"
#include "dns/resolver.hpp"
#include "smtp/nexthop.hpp"
#include "smtp/protocol.hpp"
#include "smtp/settings.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

// GCC 12 reports a false -Wnull-dereference inside Asio's epoll reactor
// (scheduler::compensating_work_started) wherever a socket is used; the
// pragma covers only the Asio headers, not this file's code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include "util/asio.hpp"
#pragma GCC diagnostic pop

#include <fmt/core.h>
#include <netinet/in.h>

#include <map>
#include <optional>
#include <set>

namespace mta::smtp {
namespace {

using util::awaitable;
using util::use_awaitable;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using std::chrono::seconds;

// PIPELINING: how much we write before reading replies (Postfix's
// PIPELINING_BUFSIZE, the VSTREAM buffer size).
constexpr size_t pipelining_bufsize = 4096;

// ---------------------------------------------------------------------------
// One TCP connection with a deadline per operation. A timer cancels the
// socket when the deadline of the operation in progress passes. Re-arming a
// timer around every operation costs two trips through the event loop each,
// so one wait serves many: arm() moves the deadline and starts a wait only
// when none is pending or the pending one ends too late; a wait that ends
// before the deadline of the operation in progress waits again, and one that
// ends with no operation in progress stops.
class Conn : public std::enable_shared_from_this<Conn> {
 public:
  explicit Conn(net::io_context& io) : sock_(io), timer_(io) {}

  struct BindResult {
    std::string warning;   // "bind 192.0.2.1: Cannot assign requested address"
    bool refused = false;  // bind failed and it is enforced: not connected
  };

  // `bind_ep`: the source address. A bind failure is a warning, or with
  // `enforce` the end of this attempt.
  awaitable<error_code> connect(tcp::endpoint ep, std::optional<tcp::endpoint> bind_ep, seconds timeout, bool enforce,
                                BindResult& bind) {
    error_code ec;
    sock_.open(ep.protocol(), ec);
    if (ec) co_return ec;
    if (bind_ep) {
      sock_.bind(*bind_ep, ec);
      if (ec) {
        bind.warning = fmt::format("bind {}: {}", bind_ep->address().to_string(), ec.message());
        if (enforce) {
          bind.refused = true;
          co_return ec;
        }
        // Postfix goes on with the socket unbound; so must we, on a fresh one.
        sock_.close(ec);
        sock_.open(ep.protocol(), ec);
        if (ec) co_return ec;
      }
    }
    sock_.non_blocking(true, ec);  // for write(); Asio sets it at connect anyway
    if (ec) co_return ec;
    arm(timeout);
    co_await sock_.async_connect(ep, net::redirect_error(use_awaitable, ec));
    co_return disarm(ec);
  }

  // The data is copied before the first suspension, so callers may pass
  // literals and short-lived strings.
  // Commands and messages usually fit in the socket's send buffer: they are
  // written at once (the socket is non-blocking), without a trip through the
  // event loop; what does not fit is written asynchronously.
  awaitable<error_code> write(std::string_view data, seconds timeout) {
    error_code ec;
    size_t done = 0;
    while (done < data.size()) {
      size_t n = sock_.write_some(net::buffer(data.data() + done, data.size() - done), ec);
      if (ec) break;
      done += n;
    }
    if (ec != net::error::would_block && ec != net::error::try_again) co_return ec;
    wbuf_.assign(data.substr(done));
    ec.clear();
    arm(timeout);
    co_await net::async_write(sock_, net::buffer(wbuf_), net::redirect_error(use_awaitable, ec));
    co_return disarm(ec);
  }

  // Reads one complete reply (all its lines). Lines over `limit` keep their
  // first `limit` bytes; the rest of such a line is skipped (Postfix
  // smtp_get with SMTP_GET_FLAG_SKIP).
  awaitable<error_code> read_reply(Reply& out, seconds timeout, size_t limit) {
    ReplyReader rr(limit);
    // Garbage lines are kept for take_malformed(), also when the reply is
    // never completed (the server stalls after them).
    auto fed = [this, &rr](std::string_view line) {
      bool done = rr.feed(line);
      for (auto& m : rr.take_malformed()) malformed_.push_back(std::move(m));
      return done;
    };
    char tmp[4096];
    for (;;) {
      while (!rbuf_.empty()) {
        size_t nl = rbuf_.find('\n');
        if (discard_) {
          if (nl == std::string::npos) {
            rbuf_.clear();
            break;
          }
          rbuf_.erase(0, nl + 1);
          discard_ = false;
          continue;
        }
        if (nl == std::string::npos) {
          if (rbuf_.size() <= limit) break;
          std::string line = rbuf_.substr(0, limit);
          rbuf_.erase(0, limit);
          discard_ = true;
          if (fed(line)) {
            out = rr.take();
            co_return error_code{};
          }
          continue;
        }
        std::string line = rbuf_.substr(0, nl);
        rbuf_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (fed(line)) {
          out = rr.take();
          co_return error_code{};
        }
      }
      error_code ec;
      arm(timeout);
      size_t n = co_await sock_.async_read_some(net::buffer(tmp), net::redirect_error(use_awaitable, ec));
      ec = disarm(ec);
      if (ec) co_return ec;
      rbuf_.append(tmp, n);
    }
  }

  void close() {
    busy_ = false;
    error_code ec;
    timer_.cancel();
    sock_.close(ec);
  }

  // The lines of the replies read so far that were no part of a valid
  // reply (Postfix smtp_chat_resp's garbage), for the caller's warning.
  std::vector<std::string> take_malformed() { return std::exchange(malformed_, {}); }

  // Nothing unread: a session may wait in the connection cache only when
  // the server said nothing beyond its last reply.
  bool idle() const { return rbuf_.empty() && !discard_; }

  // Closes an idle session politely: QUIT goes into the (empty) socket
  // buffer without waiting for it or for the reply.
  void quit_and_close() {
    error_code ec;
    if (sock_.is_open()) sock_.send(net::buffer("QUIT\r\n", 6), tcp::socket::message_flags(0), ec);
    close();
  }

 private:
  using clock = std::chrono::steady_clock;

  void arm(seconds t) {
    timed_out_ = false;
    if (t.count() <= 0) return;  // no time limit: busy_ stays false
    busy_ = true;
    deadline_ = clock::now() + t;
    if (!waiting_ || deadline_ < wait_until_) wait();
  }

  // A new wait replaces a pending one (whose handler then sees a stale
  // sequence number and does nothing).
  void wait() {
    waiting_ = true;
    wait_until_ = deadline_;
    uint64_t seq = ++wait_seq_;
    timer_.expires_at(deadline_);
    timer_.async_wait([w = weak_from_this(), seq](const error_code& ec) {
      auto self = w.lock();
      if (!self || self->wait_seq_ != seq) return;
      self->waiting_ = false;
      if (ec || !self->busy_) return;  // closed, or idle: the next arm() waits again
      if (clock::now() < self->deadline_) {
        self->wait();  // the operation in progress started after this wait did
        return;
      }
      self->timed_out_ = true;
      error_code ig;
      self->sock_.cancel(ig);
    });
  }

  error_code disarm(error_code ec) {
    busy_ = false;
    if (ec == net::error::operation_aborted && timed_out_) return net::error::timed_out;
    return ec;
  }

  tcp::socket sock_;
  net::steady_timer timer_;
  bool busy_ = false;     // an operation with a time limit is in progress
  bool waiting_ = false;  // a timer wait is pending, until wait_until_
  uint64_t wait_seq_ = 0;
  clock::time_point deadline_, wait_until_;
  bool timed_out_ = false;
  bool discard_ = false;
  std::string rbuf_;
  std::string wbuf_;
  std::vector<std::string> malformed_;
};

// Wraps a resolver call as an awaitable.
//
// GCC 12 destroys a capturing lambda twice when it is created inside a
// co_await expression (double free); so in this file closures and other
// non-trivial temporaries are made before the co_await, never in it.
using DnsStart = std::function<void(dns::Resolver::Callback)>;
awaitable<dns::Answer> await_dns(const DnsStart& start) {
  auto init = [&start](auto handler) {
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    start([h](dns::Answer a) { (*h)(std::move(a)); });
  };
  co_return co_await net::async_initiate<decltype(use_awaitable), void(dns::Answer)>(init, use_awaitable);
}

std::string error_text(const error_code& ec) {
  if (ec == net::error::timed_out) return "Connection timed out";
  return ec.message();
}

bool is_eof_like(const error_code& ec) { return ec != net::error::timed_out; }

// One SMTP session. With connection caching it outlives the delivery that
// opened it: it waits in the agent's cache for the next delivery to the same
// server address.
struct Session {
  std::shared_ptr<Conn> conn;
  std::string host, addr;
  uint16_t port = 25;
  std::string namaddr, namaddrport;
  std::string key;  // connection cache key: server address, port, source address
  Features feat;
  bool esmtp = false;
  bool best_mx = false;
  bool loop_detect = false;
  bool broken = false;     // an I/O error or timeout: no QUIT
  bool quit_sent = false;  // QUIT was written (pipelined or alone)
  // Postfix's expire_time > 0: the session may go back to the cache after
  // this delivery. Cleared by anything that makes the session unfit: a
  // refusal (site failure), a 421, a failed final RSET, a loop.
  bool cacheable = false;
  double opened = 0;  // connect time: smtp_connection_reuse_time_limit counts from here
  int uses = 0;       // deliveries on this connection, the current one included
  uint64_t park_tag = 0;
};

// What every delivery of one agent shares; replaced pieces (settings) are
// shared_ptrs so that a reload does not disturb deliveries in flight.
struct AgentState : std::enable_shared_from_this<AgentState> {
  AgentState(net::io_context& i, std::string t) : io(i), transport(std::move(t)) {}
  net::io_context& io;
  std::string transport;
  std::shared_ptr<const core::Config> cfg;
  std::shared_ptr<const Settings> settings;
  std::shared_ptr<dns::Resolver> resolver;
  bool own_resolver = false;
  Random random;
  size_t active = 0;

  // The connection cache (Postfix's scache, inside the agent): idle sessions
  // by key, oldest first, each with a timer that closes it after
  // $smtp_connection_cache_time_limit.
  struct Parked {
    std::shared_ptr<Session> sess;
    std::shared_ptr<net::steady_timer> timer;
  };
  std::multimap<std::string, Parked> cache;
  uint64_t park_seq = 0;
  bool caching = true;  // false once the agent shuts down

  void park(std::shared_ptr<Session> s, seconds idle_limit) {
    if (!caching) {
      s->conn->quit_and_close();
      return;
    }
    s->park_tag = ++park_seq;
    auto timer = std::make_shared<net::steady_timer>(io, idle_limit);
    timer->async_wait([w = weak_from_this(), key = s->key, tag = s->park_tag](const error_code& ec) {
      if (ec) return;
      auto self = w.lock();
      if (!self) return;
      auto [b, e] = self->cache.equal_range(key);
      for (auto it = b; it != e; ++it) {
        if (it->second.sess->park_tag != tag) continue;
        auto idle = it->second.sess;
        self->cache.erase(it);
        idle->conn->quit_and_close();
        return;
      }
    });
    std::string key = s->key;
    cache.emplace(std::move(key), Parked{std::move(s), std::move(timer)});
  }

  // The most recently parked session for `key`, out of the cache.
  std::shared_ptr<Session> take(const std::string& key) {
    auto [b, e] = cache.equal_range(key);
    if (b == e) return nullptr;
    auto it = std::prev(e);
    auto s = std::move(it->second.sess);
    it->second.timer->cancel();
    cache.erase(it);
    return s;
  }

  // QUIT and close every idle session (reload, shutdown).
  void close_cached() {
    auto all = std::move(cache);
    cache.clear();
    for (auto& [k, p] : all) {
      p.timer->cancel();
      p.sess->conn->quit_and_close();
    }
  }
};

enum class RState { pending, kept, done };

struct Rcpt {
  size_t index = 0;     // into msg->env.rcpts
  std::string address;  // for RCPT TO
  std::string orcpt;    // "rfc822;..."
  unsigned notify = 0;
  RState st = RState::pending;
  core::DeliveryResult result;
};

// A failure as Postfix's DSN_BUF holds it.
struct Why {
  std::string dsn;
  std::string reason;
  std::string mta;   // remote MTA host name ("" = none)
  std::string diag;  // server reply ("" = none)
  bool has() const { return !dsn.empty(); }
};

struct Phase {
  const char* desc;     // "while ..." in lost-connection texts
  const char* request;  // "(in reply to ...)"
};
constexpr Phase ph_mail{"sending MAIL FROM", "MAIL FROM command"};
constexpr Phase ph_rcpt{"sending RCPT TO", "RCPT TO command"};
constexpr Phase ph_data{"sending DATA command", "DATA command"};
constexpr Phase ph_dot{"sending end of data -- message may be sent more than once", "end of DATA command"};

class Delivery : public std::enable_shared_from_this<Delivery> {
 public:
  Delivery(std::shared_ptr<AgentState> agent, core::DeliveryRequest req, core::DeliveryDone done)
      : agent_(std::move(agent)),
        set_(agent_->settings),
        resolver_(agent_->resolver),
        req_(std::move(req)),
        done_(std::move(done)),
        svc_(agent_->transport),
        t0_(util::now_double()) {
    const auto& env = req_.msg->env;
    for (size_t i = 0; i < req_.rcpts.size(); ++i) {
      Rcpt r;
      r.index = req_.rcpts[i];
      const core::Recipient* er = r.index < env.rcpts.size() ? &env.rcpts[r.index] : nullptr;
      r.address = i < req_.addresses.size() && !req_.addresses[i].empty() ? req_.addresses[i]
                  : er                                                    ? er->address
                                                                          : std::string();
      if (er) {
        r.notify = er->notify;
        r.orcpt = !er->dsn_orcpt.empty() ? er->dsn_orcpt : "rfc822;" + (er->orig.empty() ? er->address : er->orig);
      }
      rcpts_.push_back(std::move(r));
    }
    ++agent_->active;
  }

  awaitable<void> run();

  // Every recipient not yet reported gets `w` (used when something threw).
  void fail_remaining(const Why& w) {
    final_server_ = true;
    for (auto& r : rcpts_)
      if (r.st != RState::done) r.st = RState::pending;
    bulk_fail(w, nullptr, false);
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    --agent_->active;
    std::vector<core::DeliveryResult> out;
    for (auto& r : rcpts_) {
      r.result.rcpt = r.index;
      out.push_back(std::move(r.result));
    }
    auto done = std::move(done_);
    done(std::move(out));
  }

 private:
  const std::string& id() const { return req_.msg->env.id; }
  size_t left() const {
    size_t n = 0;
    for (const auto& r : rcpts_)
      if (r.st == RState::pending) ++n;
    return n;
  }

  awaitable<Selection> resolve(const Destination& d, bool loop_detect);
  awaitable<dns::Answer> lookup_addr(const std::string& host, int family) {
    const DnsStart start = [r = resolver_, host, family](dns::Resolver::Callback cb) {
      r->lookup_addr(host, family, std::move(cb));
    };
    co_return co_await await_dns(start);
  }
  awaitable<dns::Answer> lookup_mx(const std::string& host) {
    const DnsStart start = [r = resolver_, host](dns::Resolver::Callback cb) { r->lookup_mx(host, std::move(cb)); };
    co_return co_await await_dns(start);
  }
  std::optional<tcp::endpoint> source_for(const ServerAddr& a) const;
  std::string cache_key(const ServerAddr& a, uint16_t port) const;
  awaitable<std::shared_ptr<Session>> connect(const ServerAddr& a, uint16_t port, bool loop_detect);
  awaitable<std::shared_ptr<Session>> reuse(const ServerAddr& a, uint16_t port);
  awaitable<void> cleanup(const std::shared_ptr<Session>& s);
  awaitable<bool> helo(Session& s);
  awaitable<void> xfer(Session& s);
  awaitable<void> abort_transaction(Session& s);
  awaitable<void> quit(Session& s);
  awaitable<error_code> chat(Session& s, Reply& r, seconds timeout);

  // ---- failure policy (Postfix smtp_trouble.c)
  void fill_times(core::DeliveryResult& res) const {
    res.conn_delay = setup_done_ > 0 ? setup_done_ - t0_ : 0;
    res.xfer_delay = setup_done_ > 0 && deliver_done_ >= setup_done_ ? deliver_done_ - setup_done_ : 0;
  }

  void set_result(Rcpt& r, const Why& w, const Session* s, bool dead) {
    r.st = RState::done;
    r.result.dsn = w.dsn;
    r.result.reason = w.reason;
    r.result.relay = s ? s->namaddrport : "none";
    r.result.remote_mta = w.mta.empty() ? "" : "dns; " + w.mta;
    r.result.diagnostic = w.diag.empty() ? "" : "smtp; " + w.diag;
    r.result.dead_destination = dead;
    r.result.conn_use = s ? s->uses : 0;
    fill_times(r.result);
  }

  // smtp_bulk_fail: a soft error at a server that is not the last one keeps
  // the recipients for the next; otherwise all remaining are deferred or
  // bounced. `throttle`: a connection-level problem (site/session/stream).
  void bulk_fail(const Why& w, const Session* s, bool throttle) {
    bool soft = w.dsn[0] == '4';
    if (soft && !final_server_) {
      log::info(svc_, "{}: {}", id(), w.reason);
      for (auto& r : rcpts_)
        if (r.st == RState::pending) r.st = RState::kept;
      return;
    }
    double now = util::now_double();
    if (setup_done_ == 0) setup_done_ = now;
    deliver_done_ = now;
    for (auto& r : rcpts_)
      if (r.st == RState::pending) set_result(r, w, s, soft && throttle);
  }

  void rcpt_fail(Rcpt& r, const Why& w, const Session* s) {
    if (w.dsn[0] == '4' && !final_server_) {
      log::info(svc_, "{}: {}", id(), w.reason);
      r.st = RState::kept;
      return;
    }
    // Postfix reports a recipient failure with the time so far as delay d.
    double saved = deliver_done_;
    if (deliver_done_ == 0) deliver_done_ = util::now_double();
    set_result(r, w, s, false);
    deliver_done_ = saved;
  }

  // vsmtp_fill_dsn: a reply outside 4xx/5xx where a failure is reported is
  // a protocol error.
  Why server_why(const Session& s, const Reply& r, std::string reason) const {
    Why w{r.dsn, std::move(reason), s.host, r.text()};
    if (w.dsn.empty() || (w.dsn[0] != '4' && w.dsn[0] != '5')) {
      w.reason = "Protocol error: " + w.reason;
      w.dsn = "5.5.0";
    }
    return w;
  }

  void site_fail(Session& s, const Reply& r, std::string reason) {
    s.cacheable = false;  // Postfix DONT_CACHE_THROTTLED_SESSION
    bulk_fail(server_why(s, r, std::move(reason)), &s, true);
  }
  void mesg_fail(Session& s, const Reply& r, std::string reason) {
    bulk_fail(server_why(s, r, std::move(reason)), &s, false);
  }

  // smtp_stream_except: lost connection or timeout in a phase.
  void stream_except(Session& s, const error_code& ec, const char* desc) {
    s.broken = true;
    Why w;
    w.dsn = "4.4.2";
    w.reason = is_eof_like(ec) ? fmt::format("lost connection with {} while {}", s.namaddr, desc)
                               : fmt::format("conversation with {} timed out while {}", s.namaddr, desc);
    bulk_fail(w, &s, true);
  }

  std::shared_ptr<AgentState> agent_;
  std::shared_ptr<const Settings> set_;
  std::shared_ptr<dns::Resolver> resolver_;
  core::DeliveryRequest req_;
  core::DeliveryDone done_;
  std::string svc_;
  std::vector<Rcpt> rcpts_;
  Why why_;                    // the last failure (connect, lookup)
  bool final_server_ = false;  // errors here are final (Postfix FINAL_SERVER)
  // Connection cache policy for this delivery (Postfix SMTP_MISC_FLAG_CONN_LOAD
  // / _STORE): from smtp_connection_cache_destinations or the queue manager.
  bool load_ = false, store_ = false;
  std::set<std::string> cache_used_;  // addresses served from the cache
  double t0_ = 0, setup_done_ = 0, deliver_done_ = 0;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------
// When GCC 12 inlines this coroutine's ramp into run() it reports a false
// -Wmismatched-new-delete for Asio's frame allocator (operator new and
// delete are the matching pair of awaitable_frame_base).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
awaitable<Selection> Delivery::resolve(const Destination& d, bool loop_detect) {
  const Settings& s = *set_;
  SelectOptions o = s.select;
  o.loop_detect = loop_detect;
  Random rnd = agent_->random;
  int family = o.ipv4 && o.ipv6 ? AF_UNSPEC : o.ipv4 ? AF_INET : AF_INET6;
  if (d.numeric) co_return order_literal(d.host, *core::IpAddr::parse(d.host), o);
  if (d.bracketed) {
    dns::Answer a = co_await lookup_addr(d.host, family);
    co_return order_host(d.host, a, o, rnd);
  }
  dns::Answer mx = co_await lookup_mx(d.host);
  const bool null_mx_ignored = mx.null_mx && core::fault::active(core::fault::Id::ignore_null_mx);
  if (mx.status == dns::Status::ok && !null_mx_ignored) {
    if (mx.null_mx) {
      Selection sel;
      sel.dsn = "5.1.0";
      sel.reason = fmt::format("Domain {} does not accept mail (nullMX)", d.host);
      co_return sel;
    }
    std::vector<HostLookup> hosts;
    for (const auto& m : sort_mx(mx.mx)) {
      dns::Answer a;
      if (core::IpAddr::parse(m.host)) {
        // A numeric "host name" in an MX record: Postfix uses the address.
        a.status = dns::Status::ok;
        a.canonical = m.host;
        a.addrs.push_back(m.host);
      } else {
        a = co_await lookup_addr(m.host, family);
      }
      hosts.push_back(HostLookup{m.host, m.pref, std::move(a)});
    }
    co_return order_mx(d.host, std::move(hosts), o, rnd);
  }
  if (mx.status == dns::Status::nxdomain || mx.status == dns::Status::nodata || null_mx_ignored) {
    // No MX: the domain's own addresses (RFC 5321 5.1 implicit MX).
    dns::Answer a = co_await lookup_addr(d.host, family);
    Selection sel = order_host(d.host, a, o, rnd);
    if (mx.status == dns::Status::nxdomain && !sel.dsn.empty() && sel.dsn[0] == '5' &&
        core::fault::active(core::fault::Id::nxdomain_defers))
      sel.dsn[0] = '4';
    co_return sel;
  }
  Selection sel;
  sel.dsn = mx.temporary() ? "4.4.3" : mx.why == dns::Why::formerr ? "5.4.3" : "5.4.4";
  sel.reason = dns::describe_failure(mx);
  co_return sel;
}
#pragma GCC diagnostic pop

// The source address of a connection to `a`: $smtp_bind_address(6), else, as
// Postfix, the host's only own address of that family unless it is a
// loopback one (a virtual host sends as itself).
std::optional<tcp::endpoint> Delivery::source_for(const ServerAddr& a) const {
  const Settings& s = *set_;
  const auto& configured = a.addr.family == AF_INET ? s.bind_address : s.bind_address6;
  if (configured) return tcp::endpoint(net::ip::make_address(configured->str()), 0);
  std::optional<core::IpAddr> only;
  int count = 0;
  for (const auto& o : s.select.own)
    if (o.family == a.addr.family && count++ == 0) only = o;
  if (count == 1 && !only->is_loopback()) return tcp::endpoint(net::ip::make_address(only->str()), 0);
  return std::nullopt;
}

// Postfix's endpoint label "[addr]:port", plus the source address: a
// session is reused only for the same server address and port, from the
// same address.
std::string Delivery::cache_key(const ServerAddr& a, uint16_t port) const {
  auto src = source_for(a);
  return fmt::format("[{}]:{}/{}", a.addr.str(), port, src ? src->address().to_string() : std::string());
}

awaitable<std::shared_ptr<Session>> Delivery::connect(const ServerAddr& a, uint16_t port, bool loop_detect) {
  const Settings& s = *set_;
  auto conn = std::make_shared<Conn>(agent_->io);
  auto ip = net::ip::make_address(a.addr.str());
  tcp::endpoint ep(ip, port);
  const auto& configured = a.addr.family == AF_INET ? s.bind_address : s.bind_address6;
  std::optional<tcp::endpoint> bind_ep = source_for(a);
  Conn::BindResult bind;
  error_code ec = co_await conn->connect(ep, bind_ep, s.connect_timeout, configured && s.bind_enforce, bind);
  if (!bind.warning.empty()) log::warn(svc_, "{}", bind.warning);
  if (bind.refused) {
    conn->close();
    why_ = Why{"4.4.0", "server configuration error", "", ""};
    co_return nullptr;
  }
  if (ec) {
    why_ = Why{"4.4.1", fmt::format("connect to {}[{}]:{}: {}", a.host, a.addr.str(), port, error_text(ec)), "", ""};
    conn->close();
    co_return nullptr;
  }
  auto sess = std::make_shared<Session>();
  sess->conn = conn;
  sess->host = a.host;
  sess->addr = a.addr.str();
  sess->port = port;
  sess->namaddr = fmt::format("{}[{}]", a.host, sess->addr);
  sess->namaddrport = fmt::format("{}:{}", sess->namaddr, port);
  sess->loop_detect = loop_detect;
  sess->key = cache_key(a, port);
  sess->opened = util::now_double();
  sess->uses = 1;
  sess->cacheable = store_;  // Postfix CACHE_THIS_SESSION_UNTIL(start + reuse time)
  co_return sess;
}

// Postfix smtp_reuse_addr(): a cached session to this server address, after
// an RSET probe has shown that it still works. A session that fails the
// probe is dropped (QUIT when the server still talks) and the next cached
// one is tried; none left: null, and the caller connects.
// smtp_chat_resp: one reply. Garbage lines stay in the reply (the next line
// may complete it); with PIPELINING a garbage line may make the client take
// the reply to the next command for this one (the reply to a pipelined QUIT
// for that to the final dot: mail loss), so Postfix warns about each.
awaitable<error_code> Delivery::chat(Session& s, Reply& r, seconds timeout) {
  error_code ec = co_await s.conn->read_reply(r, timeout, set_->reply_line_limit);
  auto garbage = s.conn->take_malformed();
  if (s.feat.pipelining)
    for (const auto& line : garbage)
      log::warn(svc_, "{}: non-ESMTP response from {}: {:.100}", id(), s.namaddrport, line);
  co_return ec;
}

awaitable<std::shared_ptr<Session>> Delivery::reuse(const ServerAddr& a, uint16_t port) {
  const Settings& st = *set_;
  const std::string key = cache_key(a, port);
  for (;;) {
    std::shared_ptr<Session> sess = agent_->take(key);
    if (!sess) co_return nullptr;
    Reply r;
    error_code ec = co_await sess->conn->write("RSET\r\n", st.rset_timeout);
    if (!ec) ec = co_await chat(*sess, r, st.rset_timeout);
    if (ec) {
      sess->conn->close();
      continue;
    }
    if (r.kind() != 2 || !sess->conn->idle()) {
      sess->conn->quit_and_close();
      continue;
    }
    sess->uses++;
    sess->cacheable = store_;
    sess->best_mx = false;
    cache_used_.insert(sess->addr);
    co_return sess;
  }
}

// Postfix smtp_cleanup_session(): a session that may be cached goes back to
// the cache unless it has expired (reuse time or count), which gets QUIT; a
// broken one is just closed.
awaitable<void> Delivery::cleanup(const std::shared_ptr<Session>& s) {
  const Settings& st = *set_;
  if (!s->broken && s->cacheable && !s->quit_sent) {
    bool expired = util::now_double() - s->opened > static_cast<double>(st.reuse_time_limit.count()) ||
                   (st.reuse_count_limit > 0 && s->uses - 1 >= st.reuse_count_limit);
    if (!expired && s->conn->idle()) {
      agent_->park(s, st.cache_time_limit);
      co_return;
    }
  }
  if (!s->broken && !s->quit_sent) co_await quit(*s);
  s->conn->close();
}

awaitable<bool> Delivery::helo(Session& s) {
  const Settings& st = *set_;
  Reply r;
  error_code ec = co_await chat(s, r, st.helo_timeout);
  if (ec) {
    stream_except(s, ec, "receiving the initial server greeting");
    co_return false;
  }
  if (r.kind() != 2) {
    if (r.kind() == 5 && st.skip_5xx_greeting) r.dsn[0] = '4';
    site_fail(s, r, fmt::format("host {} refused to talk to me: {}", s.namaddr, r.text()));
    co_return false;
  }
  {
    std::string_view l = r.lines.empty() ? std::string_view{} : std::string_view(r.lines[0]);
    auto words = util::split_any(l.size() > 4 ? l.substr(4) : std::string_view{}, " \t");
    for (size_t n = 0; n < words.size(); ++n) {
      if (n == 0 && util::iequals(words[0], st.myhostname)) {
        if (s.loop_detect) log::warn(svc_, "host {} greeted me with my own hostname {}", s.namaddrport, st.myhostname);
      } else if (util::iequals(words[n], "ESMTP")) {
        s.esmtp = true;
      }
    }
  }
  if (st.always_send_ehlo) s.esmtp = true;
  if (st.never_send_ehlo) s.esmtp = false;
  if (s.esmtp) {
    const std::string ehlo = "EHLO " + st.helo_name + "\r\n";
    ec = co_await s.conn->write(ehlo, st.helo_timeout);
    if (!ec) ec = co_await chat(s, r, st.helo_timeout);
    if (ec) {
      stream_except(s, ec, "performing the EHLO handshake");
      co_return false;
    }
    if (r.kind() != 2) {
      if (r.code == 421) {
        site_fail(s, r, fmt::format("host {} refused to talk to me: {}", s.namaddr, r.text()));
        co_return false;
      }
      s.esmtp = false;
    } else {
      s.feat = parse_ehlo(r);
      if (s.loop_detect && util::iequals(s.feat.server_name, st.myhostname)) {
        log::warn(svc_, "host {} replied to HELO/EHLO with my own hostname {}", s.namaddrport, st.myhostname);
        s.cacheable = false;
        bulk_fail(
            Why{s.best_mx ? "5.4.6" : "4.4.6", fmt::format("mail for {} loops back to myself", req_.nexthop), "", ""},
            &s, true);
        co_return false;
      }
    }
  }
  if (!s.esmtp) {
    s.feat = Features{};
    const std::string helo = "HELO " + st.helo_name + "\r\n";
    ec = co_await s.conn->write(helo, st.helo_timeout);
    if (!ec) ec = co_await chat(s, r, st.helo_timeout);
    if (ec) {
      stream_except(s, ec, "performing the HELO handshake");
      co_return false;
    }
    if (r.kind() != 2) {
      site_fail(s, r, fmt::format("host {} refused to talk to me: {}", s.namaddr, r.text()));
      co_return false;
    }
  }
  co_return true;
}

awaitable<void> Delivery::quit(Session& s) {
  if (s.broken || s.quit_sent) co_return;
  const Settings& st = *set_;
  s.quit_sent = true;
  error_code ec = co_await s.conn->write("QUIT\r\n", st.quit_timeout);
  if (ec || st.skip_quit_response) co_return;
  Reply r;
  co_await chat(s, r, st.quit_timeout);
}

// MAIL, all RCPTs or DATA failed: RSET, then QUIT; the recipients already
// have their results, so errors here change nothing. A session that may be
// cached gets only the RSET ("final RSET"), and stays cacheable if the
// server accepts it.
awaitable<void> Delivery::abort_transaction(Session& s) {
  const Settings& st = *set_;
  const bool quit_too = !s.cacheable;
  const char* cmds = quit_too && s.feat.pipelining ? "RSET\r\nQUIT\r\n" : "RSET\r\n";
  if (quit_too && s.feat.pipelining) s.quit_sent = true;
  error_code ec = co_await s.conn->write(cmds, st.rset_timeout);
  if (ec) {
    s.broken = true;
    co_return;
  }
  Reply r;
  ec = co_await chat(s, r, st.rset_timeout);
  if (ec) {
    s.broken = true;
    co_return;
  }
  if (r.kind() != 2) s.cacheable = false;
  if (!quit_too) co_return;
  if (!s.feat.pipelining) {
    s.quit_sent = true;
    ec = co_await s.conn->write("QUIT\r\n", st.quit_timeout);
    if (ec) co_return;
  }
  if (!st.skip_quit_response) co_await chat(s, r, st.quit_timeout);
}

awaitable<void> Delivery::xfer(Session& s) {
  const Settings& st = *set_;
  const auto& msg = *req_.msg;
  uint64_t size = msg.env.content_size > 0 ? static_cast<uint64_t>(msg.env.content_size) : msg.content.size();
  if (s.feat.size_limit > 0 && s.feat.size_limit < size) {
    // Not worth sending: bounce as Postfix does (local, no remote reply).
    bulk_fail(Why{"5.3.4",
                  fmt::format("message size {} exceeds size limit {} of server {}", size, s.feat.size_limit, s.namaddr),
                  "", ""},
              &s, false);
    co_return;  // no transaction started: cleanup() caches the session or says QUIT
  }
  setup_done_ = util::now_double();

  MailParams mp;
  mp.size = size;
  if (msg.env.body_type == "8BITMIME" || msg.env.body_type == "7BIT")
    mp.body = msg.env.body_type;
  else if (has_8bit(msg.content))
    mp.body = "8BITMIME";
  mp.ret = msg.env.ret;
  mp.envid = msg.env.envid;

  enum class Kind { mail, rcpt, data };
  struct Cmd {
    Kind kind;
    Rcpt* rcpt;
    std::string text;
  };
  std::vector<Cmd> cmds;
  cmds.push_back({Kind::mail, nullptr, mail_command(msg.env.sender, mp, s.feat)});
  for (auto& r : rcpts_)
    if (r.st == RState::pending) cmds.push_back({Kind::rcpt, &r, rcpt_command(r.address, r.orcpt, r.notify, s.feat)});
  cmds.push_back({Kind::data, nullptr, "DATA"});

  auto phase = [](Kind k) { return k == Kind::mail ? ph_mail : k == Kind::rcpt ? ph_rcpt : ph_data; };
  auto timeout = [&st](Kind k) {
    return k == Kind::mail ? st.mail_timeout : k == Kind::rcpt ? st.rcpt_timeout : st.data_init_timeout;
  };
  bool mail_rejected = false;
  bool data_accepted = false;
  int nrcpt = 0;
  auto said = [&s](const Reply& r, const Phase& p) {
    return fmt::format("host {} said: {} (in reply to {})", s.namaddr, r.text(), p.request);
  };
  auto handle = [&](Cmd& c, const Reply& r) {
    if (r.code == 421) s.cacheable = false;  // the server is closing the session
    switch (c.kind) {
      case Kind::mail:
        if (r.kind() != 2) {
          mesg_fail(s, r, said(r, ph_mail));
          mail_rejected = true;
        }
        break;
      case Kind::rcpt:
        if (mail_rejected) break;  // every recipient has its result already
        if (r.kind() == 2) {
          ++nrcpt;
        } else {
          Why w = server_why(s, r, said(r, ph_rcpt));
          if (w.dsn[0] == '5' && core::fault::active(core::fault::Id::retry_5xx)) w.dsn[0] = '4';
          rcpt_fail(*c.rcpt, w, &s);
        }
        break;
      case Kind::data:
        if (r.kind() != 3) {
          if (nrcpt > 0) mesg_fail(s, r, said(r, ph_data));
        } else {
          data_accepted = true;
        }
        break;
    }
  };

  Reply r;
  if (s.feat.pipelining) {
    // RFC 2920: the whole envelope and DATA in as few writes as fit the
    // pipelining buffer; replies are read in order afterwards.
    size_t i = 0;
    while (i < cmds.size()) {
      size_t start = i;
      std::string buf;
      while (i < cmds.size() && (buf.empty() || buf.size() + cmds[i].text.size() + 2 <= pipelining_bufsize))
        buf += cmds[i++].text + "\r\n";
      error_code ec = co_await s.conn->write(buf, timeout(cmds[start].kind));
      if (ec) {
        stream_except(s, ec, phase(cmds[start].kind).desc);
        co_return;
      }
      for (size_t k = start; k < i; ++k) {
        ec = co_await chat(s, r, timeout(cmds[k].kind));
        if (ec) {
          stream_except(s, ec, phase(cmds[k].kind).desc);
          co_return;
        }
        handle(cmds[k], r);
      }
    }
  } else {
    for (auto& c : cmds) {
      // Course corrections without pipelining: stop after a rejected MAIL,
      // and do not send DATA when no recipient was accepted.
      if (mail_rejected || (c.kind == Kind::data && nrcpt == 0)) break;
      const std::string line = c.text + "\r\n";
      error_code ec = co_await s.conn->write(line, timeout(c.kind));
      if (!ec) ec = co_await chat(s, r, timeout(c.kind));
      if (ec) {
        stream_except(s, ec, phase(c.kind).desc);
        co_return;
      }
      handle(c, r);
    }
  }
  if (!data_accepted) {
    co_await abort_transaction(s);
    co_return;
  }

  // RFC 2920: with no recipient accepted, just "." (the server already said
  // 354). With PIPELINING, QUIT goes along with the end of data.
  std::string data = nrcpt > 0 ? encode_data(msg.content, st.line_length_limit) : std::string(".\r\n");
  // A session that may go back to the cache keeps quiet after the message.
  const bool quit_after = !s.cacheable;
  if (s.feat.pipelining && quit_after) {
    data += "QUIT\r\n";
    s.quit_sent = true;
  }
  error_code ec = co_await s.conn->write(data, st.data_xfer_timeout);
  bool lost_in_data = false;
  if (ec) {
    if (ec == net::error::timed_out) {
      stream_except(s, ec, "sending message body");
      co_return;
    }
    // The server may have closed with a premature reply (552 ...): read it.
    lost_in_data = true;
  }
  ec = co_await chat(s, r, st.data_done_timeout);
  if (ec) {
    stream_except(s, ec, lost_in_data ? "sending message body" : ph_dot.desc);
    co_return;
  }
  deliver_done_ = util::now_double();
  if (r.code == 421) s.cacheable = false;
  if (nrcpt > 0) {
    if (r.kind() != 2) {
      mesg_fail(s, r, said(r, ph_dot));
    } else {
      Why ok{r.dsn, r.text(), s.host, r.text()};
      for (auto& rc : rcpts_) {
        if (rc.st != RState::pending) continue;
        set_result(rc, ok, &s, false);
        // Postfix smtp_rcpt_done(): an SMTP server took the recipient as a
        // relay would ("relayed", RFC 3464 2.3.3); when it offered DSN, the
        // NOTIFY went on with the RCPT and the success report is its job.
        rc.result.action = "relayed";
        rc.result.next_hop_dsn = s.feat.dsn;
      }
    }
  }
  if (lost_in_data) {
    s.broken = true;
    co_return;
  }
  if (!quit_after) co_return;
  if (!s.feat.pipelining) {
    s.quit_sent = true;
    ec = co_await s.conn->write("QUIT\r\n", st.quit_timeout);
    if (ec) co_return;
  }
  if (!st.skip_quit_response) co_await chat(s, r, st.quit_timeout);
}

awaitable<void> Delivery::run() {
  auto self = shared_from_this();
  const Settings& s = *set_;
  auto sites = split_destinations(req_.nexthop);
  const size_t non_fallback = sites.size();
  for (const auto& f : s.fallback_relay)
    for (auto& x : split_destinations(f)) sites.push_back(std::move(x));
  bool broke = false;
  size_t broke_at = 0;
  for (size_t i = 0; i < sites.size() && left() > 0; ++i) {
    bool final_nexthop = i + 1 == sites.size();
    Destination d;
    std::string err;
    if (!parse_destination(sites[i], s.default_port, d, err)) {
      // Postfix exits fatally here; a session must not, so defer with the
      // configuration problem spelled out.
      log::warn(svc_, "{} in server description: {}", err, sites[i]);
      why_ = Why{"4.3.5", fmt::format("server configuration error: {}", err), "", ""};
      if (final_nexthop) {
        broke = true;
        broke_at = i;
        break;
      }
      continue;
    }
    const bool loop_detect = d.port == 25;
    Selection sel = co_await resolve(d, loop_detect);
    for (const auto& w : sel.warnings) log::warn(svc_, "{}", w);
    // If we are an MX host for the destination, do not go to fallback relays.
    if (sel.found_myself) final_nexthop = true;
    if (sel.addrs.empty()) {
      why_ = Why{sel.dsn, sel.reason, "", ""};
      if (sel.is_loop()) final_nexthop = true;
    }
    const int best_pref = sel.addrs.empty() ? 0 : sel.addrs.front().pref;
    // The cache policy is decided at the first next hop that has addresses
    // (Postfix smtp_cache_policy(), SMTP_MISC_FLAG_FIRST_NEXTHOP) and holds
    // for the fallback relays too.
    if (i == 0 && !sel.addrs.empty()) {
      if (s.cache_destinations.match(d.host)) {
        load_ = store_ = true;
      } else if (s.cache_on_demand) {
        load_ = req_.conn_load;
        store_ = req_.conn_store;
      }
    }
    std::vector<ServerAddr> addrs = std::move(sel.addrs);
    // Servers this delivery already reached through the cache are not tried
    // again for a later next hop (Postfix smtp_scrub_addr_list()).
    if (load_ && !cache_used_.empty())
      std::erase_if(addrs, [this](const ServerAddr& a) { return cache_used_.count(a.addr.str()) > 0; });
    int addr_count = 0, sess_count = 0;
    // Postfix smtp_reuse_session(): cached sessions to the best MX addresses
    // before any new connection; a server used this way leaves the list, and
    // each counts as an address and a session.
    if (load_) {
      size_t k = 0;
      while (k < addrs.size() && left() > 0 && addrs[k].pref == best_pref) {
        std::shared_ptr<Session> sess = co_await reuse(addrs[k], d.port);
        if (!sess) {
          ++k;
          continue;
        }
        sess->best_mx = true;
        ++sess_count;
        addrs.erase(addrs.begin() + static_cast<std::ptrdiff_t>(k));
        if (sess_count == s.mx_session_limit || sess_count == s.mx_address_limit) addrs.clear();
        final_server_ = final_nexthop && k >= addrs.size();
        co_await xfer(*sess);
        co_await cleanup(sess);
        for (auto& r : rcpts_)
          if (r.st == RState::kept) r.st = RState::pending;
        setup_done_ = deliver_done_ = 0;
      }
      addr_count = sess_count;
    }
    for (size_t k = 0; k < addrs.size() && left() > 0; ++k) {
      bool last = k + 1 == addrs.size();
      if (++addr_count == s.mx_address_limit) last = true;
      if (core::fault::active(core::fault::Id::no_mx_failover)) last = true;
      const ServerAddr& a = addrs[k];
      // Best MX addresses were looked up in the cache above; backup MX
      // addresses are looked up here, before a new connection.
      std::shared_ptr<Session> sess;
      if (load_ && a.pref != best_pref) sess = co_await reuse(a, d.port);
      const bool reused = sess != nullptr;
      if (!sess) sess = co_await connect(a, d.port, loop_detect);
      if (!sess) {
        log::info(svc_, "{}", why_.reason);
        if (last) break;
        continue;
      }
      sess->best_mx = a.pref == best_pref;
      // Handshake failures do not count towards the session limit.
      final_server_ = final_nexthop && last;
      bool greeted = true;
      if (!reused) greeted = co_await helo(*sess);
      if (!greeted) {
        sess->cacheable = false;
      } else {
        if (++sess_count == s.mx_session_limit) last = true;
        final_server_ = final_nexthop && last;
        co_await xfer(*sess);
      }
      // smtp_cleanup_session: back to the cache, or QUIT and close; kept
      // recipients try the next server; the timing of a failed session
      // counts as set-up time for the next.
      co_await cleanup(sess);
      for (auto& r : rcpts_)
        if (r.st == RState::kept) r.st = RState::pending;
      setup_done_ = deliver_done_ = 0;
      if (last) break;
    }
    if (final_nexthop) {
      broke = true;
      broke_at = i;
      break;
    }
  }
  if (left() > 0) {
    final_server_ = true;
    if (!why_.has()) {
      why_ = Why{"4.3.0", "server unavailable or unable to receive mail", "", ""};
    } else if (why_.dsn[0] != '4') {
      // A hard lookup or loop problem with a relay host or fallback relay is
      // a configuration problem: defer rather than bounce (Postfix).
      if (broke && broke_at >= non_fallback) {
        log::warn(svc_, "smtp_fallback_relay configuration problem");
        why_.dsn = "4.3.5";
      } else if (!sites.empty() && sites[0] == s.relayhost) {
        log::warn(svc_, "relayhost configuration problem");
        why_.dsn = "4.3.5";
      }
    }
    bulk_fail(why_, nullptr, true);
  }
  finish();
}

}  // namespace

struct SmtpAgent::Impl : AgentState {
  using AgentState::AgentState;
};

// ---------------------------------------------------------------------------
SmtpAgent::SmtpAgent(net::io_context& io, std::shared_ptr<const core::Config> cfg, std::string transport_name)
    : SmtpAgent(io, std::move(cfg), std::move(transport_name), nullptr) {}

SmtpAgent::SmtpAgent(net::io_context& io, std::shared_ptr<const core::Config> cfg, std::string transport_name,
                     std::shared_ptr<dns::Resolver> resolver, Random random)
    : impl_(std::make_shared<Impl>(io, std::move(transport_name))) {
  auto st = std::make_shared<Settings>(load_settings(*cfg));
  for (const auto& w : st->warnings) log::warn(impl_->transport, "{}", w);
  impl_->cfg = std::move(cfg);
  impl_->settings = std::move(st);
  if (resolver) {
    impl_->resolver = std::move(resolver);
  } else {
    impl_->resolver = std::make_shared<dns::Resolver>(io);
    impl_->own_resolver = true;
    for (const auto& w : impl_->resolver->warnings()) log::warn(impl_->transport, "{}", w);
  }
  impl_->random = random ? std::move(random) : default_random();
}

SmtpAgent::~SmtpAgent() {
  impl_->caching = false;
  impl_->close_cached();
}

void SmtpAgent::deliver(core::DeliveryRequest req, core::DeliveryDone done) {
  if (!req.msg || req.rcpts.empty()) {
    net::post(impl_->io, [done = std::move(done)]() { done({}); });
    return;
  }
  auto d = std::make_shared<Delivery>(impl_, std::move(req), std::move(done));
  net::co_spawn(impl_->io, d->run(), [d, svc = impl_->transport](std::exception_ptr ep) {
    if (!ep) return;
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log::error(svc, "delivery failed: {}", what);
    d->fail_remaining(Why{"4.3.0", "unknown mail transport error", "", ""});
    d->finish();
  });
}

void SmtpAgent::reload(std::shared_ptr<const core::Config> cfg) {
  auto st = std::make_shared<Settings>(load_settings(*cfg));
  for (const auto& w : st->warnings) log::warn(impl_->transport, "{}", w);
  impl_->cfg = std::move(cfg);
  impl_->settings = std::move(st);
  // Cached sessions said EHLO with the old settings: start afresh, as the
  // restarted smtp and scache processes of a Postfix reload do.
  impl_->close_cached();
  if (impl_->own_resolver) {
    impl_->resolver->reload();
    for (const auto& w : impl_->resolver->warnings()) log::warn(impl_->transport, "{}", w);
  }
}

size_t SmtpAgent::active() const { return impl_->active; }

size_t SmtpAgent::cached() const { return impl_->cache.size(); }

void SmtpAgent::stop_caching() {
  impl_->caching = false;
  impl_->close_cached();
}

}  // namespace mta::smtp
