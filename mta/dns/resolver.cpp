#include "dns/resolver.hpp"

#include "dns/message.hpp"
// GCC 12 reports a false -Wnull-dereference inside Asio's epoll reactor
// (scheduler::compensating_work_started) wherever a socket is used; the
// pragma covers only the Asio headers, not this file's code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include "util/asio.hpp"
#pragma GCC diagnostic pop

#include <ares.h>
#include <arpa/inet.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>

namespace mta::dns {

bool Answer::temporary() const {
  switch (status) {
    case Status::servfail:
    case Status::timeout:
    case Status::refused:
      return true;
    case Status::error:
      return why != Why::formerr && why != Why::bad_data;
    default:
      return false;
  }
}

const char* status_name(Status s) {
  switch (s) {
    case Status::ok:
      return "NOERROR";
    case Status::nxdomain:
      return "NXDOMAIN";
    case Status::nodata:
      return "NODATA";
    case Status::servfail:
      return "SERVFAIL";
    case Status::timeout:
      return "TIMEOUT";
    case Status::refused:
      return "REFUSED";
    case Status::error:
      return "ERROR";
  }
  return "ERROR";
}

std::string status_text(const Answer& a) {
  switch (a.status) {
    case Status::ok:
      return "OK";
    case Status::nxdomain:
      return "Host not found";
    case Status::nodata:
      return "Host found but no data record of requested type";
    case Status::error:
      if (a.why == Why::formerr) return "Non-recoverable error";
      return "Host not found, try again";
    default:
      return "Host not found, try again";
  }
}

std::string describe_failure(const Answer& a) {
  switch (a.why) {
    case Why::invalid_name:
      return fmt::format("Name service error for {}: invalid host or domain name", a.canonical);
    case Why::cname_loop:
      return fmt::format("Name server loop for {}", a.canonical);
    case Why::malformed:
    case Why::bad_data:
      return fmt::format("Name service error for name={} type={}: Malformed or unexpected name server reply",
                         a.canonical, type_name(a.qtype));
    default:
      return fmt::format("Host or domain name not found. Name service error for name={} type={}: {}", a.canonical,
                         type_name(a.qtype), status_text(a));
  }
}

namespace {

std::once_flag g_ares_once;

void ares_global_init() {
  std::call_once(g_ares_once, [] { ::ares_library_init(ARES_LIB_INIT_ALL); });
}

using RawDone = std::function<void(int status, std::vector<uint8_t> reply)>;

// One c-ares channel and the Asio plumbing that drives it. Several may exist
// at once: after reload() the old one finishes its queries, then goes.
class Channel : public std::enable_shared_from_this<Channel> {
 public:
  explicit Channel(net::io_context& io) : io_(io), timer_(io) {}
  ~Channel() { shutdown(); }

  bool init(const ResolvConf& rc, const ResolverOptions& o, std::string& err) {
    ares_options opts;
    std::memset(&opts, 0, sizeof opts);
    int mask = 0;
    opts.sock_state_cb = &Channel::sock_state_cb;
    opts.sock_state_cb_data = this;
    mask |= ARES_OPT_SOCK_STATE_CB;
    opts.timeout = o.timeout_ms > 0 ? o.timeout_ms : rc.timeout_sec * 1000;
    mask |= ARES_OPT_TIMEOUTMS;
    opts.tries = o.attempts > 0 ? o.attempts : rc.attempts;
    mask |= ARES_OPT_TRIES;
    // Look up exactly the names we are given: no search list, no
    // HOSTALIASES, no local domain (Postfix clears RES_DEFNAMES/RES_DNSRCH).
    // NOCHECKRESP: c-ares 1.18 otherwise swallows SERVFAIL/REFUSED/NOTIMP
    // replies, moves to the next server and, when none is left, reports
    // ECONNREFUSED, so SERVFAIL, REFUSED and an unreachable server would look
    // the same. The query id and the question are still matched (that check
    // sits where c-ares looks the query up). Such answers are asked again by
    // run() (max_sends(), as glibc); the repeat goes to the same server, not
    // the next one; timeouts and unreachable servers still fail over.
    opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_NOCHECKRESP;
    mask |= ARES_OPT_FLAGS;
    opts.ndots = 1;
    mask |= ARES_OPT_NDOTS;
    opts.domains = nullptr;
    opts.ndomains = 0;
    mask |= ARES_OPT_DOMAINS;
    static char lookups[] = "b";
    opts.lookups = lookups;
    mask |= ARES_OPT_LOOKUPS;
    opts.sortlist = nullptr;
    opts.nsort = 0;
    mask |= ARES_OPT_SORTLIST;
    mask |= rc.rotate ? ARES_OPT_ROTATE : ARES_OPT_NOROTATE;
    // Point c-ares at the same file we parsed, so that nothing it fills in
    // on its own comes from another place.
    struct stat st;
    std::string conf_path = o.resolv_conf;
    if (::stat(conf_path.c_str(), &st) == 0) {
      opts.resolvconf_path = conf_path.data();
      mask |= ARES_OPT_RESOLVCONF;
    }
    int r = ::ares_init_options(&ch_, &opts, mask);
    if (r != ARES_SUCCESS) {
      err = fmt::format("c-ares initialisation failed: {}", ::ares_strerror(r));
      ch_ = nullptr;
      return false;
    }
    std::vector<ares_addr_port_node> nodes(rc.nameservers.size());
    for (size_t i = 0; i < rc.nameservers.size(); ++i) {
      auto& n = nodes[i];
      std::memset(&n, 0, sizeof n);
      n.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
      n.udp_port = o.port;
      n.tcp_port = o.port;
      if (::inet_pton(AF_INET, rc.nameservers[i].c_str(), &n.addr.addr4) == 1) {
        n.family = AF_INET;
      } else if (::inet_pton(AF_INET6, rc.nameservers[i].c_str(), &n.addr.addr6) == 1) {
        n.family = AF_INET6;
      }
    }
    r = ::ares_set_servers_ports(ch_, nodes.empty() ? nullptr : nodes.data());
    if (r != ARES_SUCCESS) {
      err = fmt::format("c-ares server list: {}", ::ares_strerror(r));
      shutdown();
      return false;
    }
    return true;
  }

  // Sends one query; `done` is posted to the io_context with c-ares' status
  // and the raw reply (possibly empty).
  void send(const std::string& name, uint16_t type, RawDone done) {
    ++pending_;
    auto* ctx = new Pending{shared_from_this(), std::move(done)};
    ::ares_query(ch_, name.c_str(), class_in, type, &Channel::query_cb, ctx);
    rearm_timer();
  }

  size_t pending() const { return pending_; }

  // Ends every query (callbacks get ARES_EDESTRUCTION) and closes the sockets.
  void shutdown() {
    if (!ch_) return;
    ares_channel c = ch_;
    ::ares_destroy(c);
    ch_ = nullptr;
    for (auto& [fd, w] : watches_) release(*w);
    watches_.clear();
    timer_.cancel();
  }

 private:
  struct Pending {
    std::shared_ptr<Channel> self;
    RawDone done;
  };

  struct Watch {
    explicit Watch(net::io_context& io, int f) : fd(f), sd(io, f) {}
    ~Watch() {
      if (sd.is_open()) sd.release();
    }
    int fd;
    net::posix::stream_descriptor sd;
    bool want_read = false, want_write = false;
    bool waiting_read = false, waiting_write = false;
    bool alive = true;
  };

  static void release(Watch& w) {
    w.alive = false;
    // release(), not close(): the socket belongs to c-ares, which closes it
    // right after telling us to stop watching.
    if (w.sd.is_open()) w.sd.release();
  }

  static void sock_state_cb(void* data, ares_socket_t fd, int readable, int writable) {
    static_cast<Channel*>(data)->on_sock(fd, readable != 0, writable != 0);
  }

  static void query_cb(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<Pending> p(static_cast<Pending*>(arg));
    std::vector<uint8_t> reply;
    if (abuf && alen > 0) reply.assign(abuf, abuf + alen);
    Channel& c = *p->self;
    --c.pending_;
    // Never run caller code inside c-ares: it may be in ares_process_fd or
    // ares_destroy right now.
    net::post(c.io_, [done = std::move(p->done), status, reply = std::move(reply)]() mutable {
      done(status, std::move(reply));
    });
  }

  void on_sock(int fd, bool r, bool w) {
    auto it = watches_.find(fd);
    if (!r && !w) {
      if (it != watches_.end()) {
        release(*it->second);
        watches_.erase(it);
      }
      return;
    }
    std::shared_ptr<Watch> wp;
    if (it == watches_.end()) {
      wp = std::make_shared<Watch>(io_, fd);
      watches_[fd] = wp;
    } else {
      wp = it->second;
    }
    wp->want_read = r;
    wp->want_write = w;
    arm(wp);
  }

  void arm(const std::shared_ptr<Watch>& w) {
    if (!w->alive) return;
    if (w->want_read && !w->waiting_read) {
      w->waiting_read = true;
      w->sd.async_wait(net::posix::descriptor_base::wait_read,
                       [self = shared_from_this(), w](const boost::system::error_code& ec) {
                         w->waiting_read = false;
                         if (ec || !w->alive || !self->ch_) return;
                         ::ares_process_fd(self->ch_, w->fd, ARES_SOCKET_BAD);
                         self->arm(w);
                         self->rearm_timer();
                       });
    }
    if (w->want_write && !w->waiting_write) {
      w->waiting_write = true;
      w->sd.async_wait(net::posix::descriptor_base::wait_write,
                       [self = shared_from_this(), w](const boost::system::error_code& ec) {
                         w->waiting_write = false;
                         if (ec || !w->alive || !self->ch_) return;
                         ::ares_process_fd(self->ch_, ARES_SOCKET_BAD, w->fd);
                         self->arm(w);
                         self->rearm_timer();
                       });
    }
  }

  void rearm_timer() {
    if (!ch_) return;
    timeval tv;
    timeval* t = ::ares_timeout(ch_, nullptr, &tv);
    if (!t) {
      timer_.cancel();
      return;
    }
    timer_.expires_after(std::chrono::seconds(t->tv_sec) + std::chrono::microseconds(t->tv_usec));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || !self->ch_) return;
      // No descriptors: c-ares only checks its timeouts (and retries).
      ::ares_process_fd(self->ch_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      self->rearm_timer();
    });
  }

  net::io_context& io_;
  net::steady_timer timer_;
  ares_channel ch_ = nullptr;
  std::map<int, std::shared_ptr<Watch>> watches_;
  size_t pending_ = 0;
};

// Postfix's dns_lookup_v() ranking of outcomes (DNS_OK > DNS_RETRY >
// DNS_FAIL > DNS_INVAL > DNS_NOTFOUND): the better one is reported.
int rank(const Answer& a) {
  if (a.status == Status::ok) return 0;
  if (a.status == Status::nxdomain || a.status == Status::nodata) return -4;
  if (a.status == Status::error && a.why == Why::formerr) return -2;
  if (a.status == Status::error && a.why == Why::bad_data) return -3;
  return -1;
}

bool is_ip_literal(const std::string& s) {
  unsigned char b[16];
  return ::inet_pton(AF_INET, s.c_str(), b) == 1 || ::inet_pton(AF_INET6, s.c_str(), b) == 1;
}

}  // namespace

struct Resolver::Impl : std::enable_shared_from_this<Resolver::Impl> {
  Impl(net::io_context& i, ResolverOptions o) : io(i), opts(std::move(o)) {}

  net::io_context& io;
  ResolverOptions opts;
  ResolvConf conf;
  std::vector<std::string> warnings;
  std::shared_ptr<Channel> chan;
  std::vector<std::shared_ptr<Channel>> retired;
  size_t pending = 0;

  void load() {
    warnings.clear();
    conf = read_resolv_conf(opts.resolv_conf, &warnings);
    auto c = std::make_shared<Channel>(io);
    std::string err;
    if (!c->init(conf, opts, err)) {
      // Keep the working channel if there is one; without any, lookups
      // fail as temporary errors (Why::unreachable) until a reload works.
      warnings.push_back(err);
      return;
    }
    if (chan) retired.push_back(chan);
    chan = c;
    reap();
  }

  void reap() {
    for (auto it = retired.begin(); it != retired.end();) {
      if ((*it)->pending() == 0) {
        (*it)->shutdown();
        it = retired.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Posts the caller's callback and does the bookkeeping.
  static void finish(const std::weak_ptr<Impl>& wself, const Callback& cb, Answer a) {
    if (auto self = wself.lock()) {
      --self->pending;
      self->reap();
    }
    cb(std::move(a));
  }

  void fail_now(std::string name, uint16_t type, Status st, Why why, Callback cb) {
    Answer a;
    a.status = st;
    a.why = why;
    a.canonical = std::move(name);
    a.qtype = type;
    ++pending;
    net::post(io,
              [w = weak_from_this(), cb = std::move(cb), a = std::move(a)]() mutable { finish(w, cb, std::move(a)); });
  }

  // How often one question is sent before a SERVFAIL, REFUSED or NOTIMP
  // answer is final: glibc's res_send() (and so Postfix) moves on to the
  // next server and starts over for each attempt, so it asks attempts x
  // servers times. c-ares with NOCHECKRESP hands us the first such answer;
  // run() asks again until the same number of queries were sent.
  int max_sends() const {
    int attempts = opts.attempts > 0 ? opts.attempts : conf.attempts;
    int servers = conf.nameservers.empty() ? 1 : static_cast<int>(conf.nameservers.size());
    return std::max(1, attempts) * servers;
  }

  // One query with CNAME following; `cb` gets the final Answer (not posted
  // again: it already runs from a posted handler). `sent` counts the
  // queries already sent for this name (see max_sends()).
  void run(std::string name, uint16_t type, int hops, Callback cb, int sent = 0) {
    if (!chan) {
      Answer a;
      a.status = Status::error;
      a.why = Why::unreachable;
      a.canonical = name;
      a.qtype = type;
      net::post(io, [cb = std::move(cb), a = std::move(a)]() mutable { cb(std::move(a)); });
      return;
    }
    chan->send(name, type,
               [w = weak_from_this(), name, type, hops, sent, cb = std::move(cb)](int st, std::vector<uint8_t> reply) {
                 auto self = w.lock();
                 if (!self) {
                   Answer a;
                   a.status = Status::error;
                   a.why = Why::shutdown;
                   a.canonical = name;
                   a.qtype = type;
                   cb(std::move(a));
                   return;
                 }
                 bool server_failed = st == ARES_ESERVFAIL || st == ARES_EREFUSED || st == ARES_ENOTIMP;
                 if (server_failed && sent + 1 < self->max_sends()) {
                   self->run(name, type, hops, cb, sent + 1);
                   return;
                 }
                 self->on_reply(st, reply, name, type, hops, cb);
               });
  }

  void on_reply(int st, const std::vector<uint8_t>& reply, const std::string& name, uint16_t type, int hops,
                const Callback& cb) {
    Answer a;
    a.canonical = name;
    a.qtype = type;
    switch (st) {
      case ARES_SUCCESS: {
        Message m;
        std::string err;
        if (!parse_message(reply.data(), reply.size(), m, err)) {
          a.status = Status::error;
          a.why = Why::malformed;
          break;
        }
        Extracted x = extract_answer(m, name, type);
        if (x.null_mx || !x.records.empty()) {
          a.status = Status::ok;
          a.canonical = x.final_name;
          a.null_mx = x.null_mx;
          for (const auto& rr : x.records) {
            if (type == type_mx)
              a.mx.push_back(Mx{rr.pref, rr.target});
            else if (type == type_a || type == type_aaaa)
              a.addrs.push_back(rr.addr);
            else
              a.names.push_back(rr.target);
          }
        } else if (x.invalid) {
          // Postfix: DNS_INVAL, "Malformed or unexpected name server reply".
          a.status = Status::error;
          a.why = Why::bad_data;
        } else if (x.via_cname) {
          if (hops >= 10) {
            a.status = Status::nodata;
            a.why = Why::cname_loop;
            break;
          }
          // The reply stopped at a CNAME: ask for the target (Postfix
          // DNS_RECURSE). Its outcome is reported under the target's name.
          run(x.final_name, type, hops + 1, cb);
          return;
        } else {
          a.status = Status::nodata;
        }
        break;
      }
      case ARES_ENODATA:
        a.status = Status::nodata;
        break;
      case ARES_ENOTFOUND:
        a.status = Status::nxdomain;
        break;
      case ARES_ESERVFAIL:
        a.status = Status::servfail;
        break;
      case ARES_EREFUSED:
      case ARES_ENOTIMP:
        a.status = Status::refused;
        break;
      case ARES_ETIMEOUT:
        a.status = Status::timeout;
        break;
      case ARES_EFORMERR:
        a.status = Status::error;
        a.why = Why::formerr;
        break;
      case ARES_ECONNREFUSED:
        a.status = Status::error;
        a.why = Why::unreachable;
        break;
      case ARES_EBADNAME:
        a.status = Status::nxdomain;
        a.why = Why::invalid_name;
        break;
      case ARES_EDESTRUCTION:
      case ARES_ECANCELLED:
        a.status = Status::error;
        a.why = Why::shutdown;
        break;
      default:
        a.status = Status::error;
        a.why = Why::malformed;
        break;
    }
    cb(std::move(a));
  }

  void start(std::string name, uint16_t type, Callback cb) {
    ++pending;
    run(std::move(name), type, 0,
        [w = weak_from_this(), cb = std::move(cb)](Answer a) { finish(w, cb, std::move(a)); });
  }
};

Resolver::Resolver(net::io_context& io, ResolverOptions opts) : impl_(std::make_shared<Impl>(io, std::move(opts))) {
  ares_global_init();
  impl_->load();
}

Resolver::~Resolver() {
  // Every lookup still in flight gets Why::shutdown through its own posted
  // handler (the Impl is gone by then, which the handlers check).
  for (auto& c : impl_->retired) c->shutdown();
  if (impl_->chan) impl_->chan->shutdown();
}

namespace {
std::string strip_dot(std::string s) {
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}
}  // namespace

void Resolver::lookup_mx(std::string name, Callback cb) {
  name = strip_dot(std::move(name));
  // Postfix refuses addresses and malformed names before asking the DNS.
  if (is_ip_literal(name) || !valid_hostname(name))
    return impl_->fail_now(std::move(name), type_mx, Status::nxdomain, Why::invalid_name, std::move(cb));
  impl_->start(std::move(name), type_mx, std::move(cb));
}

void Resolver::lookup_addr(std::string name, int family, Callback cb) {
  name = strip_dot(std::move(name));
  uint16_t first = family == AF_INET6 ? type_aaaa : type_a;
  if (is_ip_literal(name) || !valid_hostname(name))
    return impl_->fail_now(std::move(name), first, Status::nxdomain, Why::invalid_name, std::move(cb));
  if (family == AF_INET || family == AF_INET6) return impl_->start(std::move(name), first, std::move(cb));
  struct Both {
    Answer a4, a6;
    int left = 2;
    Callback cb;
  };
  auto both = std::make_shared<Both>();
  both->cb = std::move(cb);
  auto done = [both]() {
    if (--both->left) return;
    Answer& a4 = both->a4;
    Answer& a6 = both->a6;
    if (a4.status == Status::ok || a6.status == Status::ok) {
      Answer r = a4.status == Status::ok ? a4 : a6;
      r.addrs.clear();
      for (auto& x : a4.addrs) r.addrs.push_back(x);
      for (auto& x : a6.addrs) r.addrs.push_back(x);
      both->cb(std::move(r));
      return;
    }
    // dns_lookup_v(): the last type's result unless an earlier one ranks higher.
    both->cb(rank(a6) < rank(a4) ? a4 : a6);
  };
  impl_->start(name, type_a, [both, done](Answer a) {
    both->a4 = std::move(a);
    done();
  });
  impl_->start(name, type_aaaa, [both, done](Answer a) {
    both->a6 = std::move(a);
    done();
  });
}

void Resolver::lookup_ptr(std::string address, Callback cb) {
  std::string rev = reverse_name(address);
  if (rev.empty())
    return impl_->fail_now(std::move(address), type_ptr, Status::nxdomain, Why::invalid_name, std::move(cb));
  impl_->start(std::move(rev), type_ptr, std::move(cb));
}

void Resolver::query(std::string name, uint16_t type, Callback cb) {
  name = strip_dot(std::move(name));
  impl_->start(std::move(name), type, std::move(cb));
}

void Resolver::reload() { impl_->load(); }

const ResolvConf& Resolver::config() const { return impl_->conf; }

const std::vector<std::string>& Resolver::warnings() const { return impl_->warnings; }

size_t Resolver::pending() const { return impl_->pending; }

}  // namespace mta::dns
