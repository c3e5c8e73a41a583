// Boost 1.74's Asio, inlined at -O2, trips two GCC 12 false positives:
// -Wnull-dereference in scheduler::compensating_work_started() and
// -Wmismatched-new-delete on the awaitable frame's operator delete. They are
// silenced for this file only; the rest of the warning set stays on.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include "smtpd/session.hpp"

#include "core/address.hpp"
#include "smtpd/command.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>

#include <array>
#include <chrono>
#include <optional>

namespace mta::smtpd::detail {

using tcp = net::ip::tcp;

// What the timeout timer and the drain may touch. The timer's completion
// handler holds it by shared_ptr and checks `alive`, so it never reaches a
// finished session.
//
// $smtpd_timeout runs from the start of each read or write. Cancelling and
// re-arming a timer around every operation costs two trips through the
// event loop per operation, so one timer wait serves many: arm() only moves
// the deadline (and starts a wait when none is pending); when the wait ends
// before the deadline of the operation now in progress it waits again, and
// when no operation is in progress it stops.
struct IoGuard {
  tcp::socket* sock = nullptr;
  net::steady_timer* timer = nullptr;
  bool timed_out = false;
  bool alive = true;
  bool busy = false;           // a read or write is in progress
  bool timer_running = false;  // a wait is pending
  std::chrono::steady_clock::time_point deadline;
};

namespace {

void wait_for_deadline(const std::shared_ptr<IoGuard>& g) {
  g->timer_running = true;
  g->timer->expires_at(g->deadline);
  g->timer->async_wait([g](const boost::system::error_code& ec) {
    if (!g->alive) return;
    g->timer_running = false;
    if (ec || !g->busy) return;  // cancelled (session end), or idle: the next arm() waits again
    if (std::chrono::steady_clock::now() < g->deadline) {
      wait_for_deadline(g);  // the operation in progress started after this wait did
      return;
    }
    g->timed_out = true;
    boost::system::error_code ignore;
    g->sock->cancel(ignore);
  });
}

}  // namespace

void cancel_read(Control& c) {
  if (c.guard && c.guard->alive && c.guard->sock && c.reading) {
    boost::system::error_code ignore;
    c.guard->sock->cancel(ignore);
  }
}

namespace {

constexpr std::string_view kLog = "smtpd";
constexpr unsigned kLimit = 1;  // counts against smtpd_junk_command_limit
constexpr unsigned kLast = 2;   // must be the last of a pipelined group (RFC 2920)
constexpr long long kRecipientCeiling = 100000;  // with smtpd_recipient_limit = 0

// Postfix neuters these in the HELO name: they would break headers and logs.
constexpr std::string_view kNeuter = " <>()\\\";@";

std::string ascii_printable(std::string_view s, char repl = '?') {
  std::string r(s);
  for (char& c : r) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = repl;
  }
  return r;
}

core::IpAddr to_ip(const net::ip::address& a) {
  core::IpAddr r;
  if (a.is_v4()) {
    r.family = AF_INET;
    auto b = a.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), r.b.begin());
  } else {
    r.family = AF_INET6;
    auto b = a.to_v6().to_bytes();
    std::copy(b.begin(), b.end(), r.b.begin());
  }
  return r.unmapped();
}

std::vector<std::string> split_regexp_rules(std::string_view body) {
  // "{{/a/ x}, {/b/ y}}" or "{/a/ x}" -> "/a/ x", "/b/ y"
  std::vector<std::string> out;
  body = util::trim(body);
  if (body.size() >= 2 && body.front() == '{' && body.back() == '}') body = util::trim(body.substr(1, body.size() - 2));
  if (body.empty() || body.front() != '{') {
    if (!body.empty()) out.emplace_back(body);
    return out;
  }
  int level = 0;
  size_t start = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '{') {
      if (level++ == 0) start = i + 1;
    } else if (body[i] == '}' && level > 0) {
      if (--level == 0) out.emplace_back(util::trim(body.substr(start, i - start)));
    }
  }
  return out;
}

}  // namespace

std::string escape_for_log(std::string_view s) {
  std::string r;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\\': r += "\\\\"; break;
      case '\a': r += "\\a"; break;
      case '\b': r += "\\b"; break;
      case '\f': r += "\\f"; break;
      case '\n': r += "\\n"; break;
      case '\r': r += "\\r"; break;
      case '\t': r += "\\t"; break;
      case '\v': r += "\\v"; break;
      default:
        if (c >= 0x20 && c < 0x7f) r += ch;
        else r += fmt::format("\\{:03o}", c);
    }
  }
  return r;
}

std::shared_ptr<const Settings> Settings::make(std::shared_ptr<const core::Config> cfgp) {
  auto s = std::make_shared<Settings>();
  s->cfg = cfgp;
  const core::Config& c = *cfgp;
  s->policy = Policy::from(c);
  s->cleanup = cleanup::Settings::from(c);
  s->myhostname = c.get("myhostname");
  s->banner = c.get("smtpd_banner");
  s->mail_name = c.get("mail_name");
  s->message_size_limit = c.get_int("message_size_limit");
  s->recipient_limit = c.get_int("smtpd_recipient_limit");
  s->overshoot_limit = c.get_int("smtpd_recipient_overshoot_limit");
  long long ll = c.get_int("line_length_limit");
  // Postfix's lower bound: an SMTP command line must fit (RFC 5321 4.5.3.1).
  if (ll < 512)
    throw core::ConfigError(fmt::format("{}: invalid line_length_limit parameter value {} < 512",
                                        c.where("line_length_limit"), ll));
  s->line_limit = static_cast<size_t>(ll);
  s->timeout = c.get_time("smtpd_timeout");
  if (s->timeout <= 0) s->timeout = 1;
  s->hard_error_limit = c.get_int("smtpd_hard_error_limit");
  s->soft_error_limit = c.get_int("smtpd_soft_error_limit");
  s->error_sleep = c.get_time("smtpd_error_sleep_time");
  s->junk_limit = c.get_int("smtpd_junk_command_limit");
  s->helo_required = c.get_bool("smtpd_helo_required");
  s->vrfy_enabled = !c.get_bool("disable_vrfy_command");
  s->strict_rfc821 = c.get_bool("strict_rfc821_envelopes");
  s->peername_lookup = c.get_bool("smtpd_peername_lookup");
  s->port_logging = c.get_bool("smtpd_client_port_logging");
  s->forbid_unauth_pipelining = c.get_bool("smtpd_forbid_unauth_pipelining");
  auto bl = parse_bare_lf(c.get("smtpd_forbid_bare_newline"));
  if (!bl)
    throw core::ConfigError(fmt::format("{}: invalid smtpd_forbid_bare_newline value: \"{}\"",
                                        c.where("smtpd_forbid_bare_newline"), c.get("smtpd_forbid_bare_newline")));
  s->bare_lf = *bl;
  std::vector<std::string> bad;
  s->bare_lf_exclusions = core::NetList::parse(c.get_list("smtpd_forbid_bare_newline_exclusions"), &bad);
  for (const auto& b : bad)
    s->warnings.push_back(fmt::format("smtpd_forbid_bare_newline_exclusions: ignoring entry \"{}\": "
                                      "only addresses and networks are supported",
                                      b));
  for (const auto& b : s->policy.mynetworks_bad)
    s->warnings.push_back(
        fmt::format("mynetworks: ignoring entry \"{}\": only addresses and networks are supported", b));
  s->bare_lf_reject_code = c.get_int("smtpd_forbid_bare_newline_reject_code");
  s->discard_mask = ehlo_discard_mask(c.get_list("smtpd_discard_ehlo_keywords"));
  for (const auto& item : c.get_list("smtpd_forbidden_commands")) {
    ForbiddenCommand f;
    auto colon = item.find(':');
    if (colon == std::string::npos) {
      f.word = item;
      s->forbidden.push_back(std::move(f));
      continue;
    }
    std::string type = util::lower(item.substr(0, colon));
    if (type == "regexp" || type == "pcre") {
      // Inline regular-expression table: /pattern/flags result. Postfix
      // matches case-insensitively unless the 'i' flag toggles it.
      for (const auto& rule : split_regexp_rules(item.substr(colon + 1))) {
        if (rule.size() < 2) continue;
        char delim = rule[0];
        size_t end = 1;
        while (end < rule.size() && rule[end] != delim) end += rule[end] == '\\' ? 2 : 1;
        if (end >= rule.size()) {
          s->warnings.push_back(fmt::format("smtpd_forbidden_commands: bad regexp rule \"{}\"", rule));
          continue;
        }
        std::string pat = rule.substr(1, end - 1);
        bool icase = true;
        for (size_t k = end + 1; k < rule.size() && rule[k] != ' ' && rule[k] != '\t'; ++k)
          if (rule[k] == 'i') icase = !icase;
        auto flags = type == "pcre" ? std::regex::ECMAScript : std::regex::extended;
        if (icase) flags |= std::regex::icase;
        try {
          f.re = std::make_shared<std::regex>(pat, flags);
          s->forbidden.push_back(f);
        } catch (const std::regex_error& e) {
          s->warnings.push_back(fmt::format("smtpd_forbidden_commands: bad pattern \"{}\": {}", pat, e.what()));
        }
      }
      continue;
    }
    try {
      f.table = std::shared_ptr<core::Table>(core::open_table(item, true));
      s->forbidden.push_back(std::move(f));
    } catch (const std::exception& e) {
      s->warnings.push_back(fmt::format("smtpd_forbidden_commands: {}", e.what()));
    }
  }
  s->header_rewrite_clients = c.get_list("local_header_rewrite_clients");
  s->relay_limit_ok = has_relay_limit(s->policy);
  return s;
}

bool Settings::forbidden_command(const std::string& verb) const {
  for (const auto& f : forbidden) {
    if (!f.word.empty() && util::iequals(f.word, verb)) return true;
    if (f.re && std::regex_search(verb, *f.re)) return true;
    if (f.table && f.table->lookup(util::lower(verb))) return true;
  }
  return false;
}

namespace {

class Session;
using Handler = net::awaitable<int> (Session::*)(const std::vector<Token>&);

struct CmdDef {
  std::string_view name;
  Handler fn;
  unsigned flags;
};

class Session {
 public:
  Session(tcp::socket s, tcp::endpoint peer, std::shared_ptr<const Settings> st, std::shared_ptr<Core> core)
      : sock_(std::move(s)),
        peer_ep_(peer),
        timer_(sock_.get_executor()),
        guard_(std::make_shared<IoGuard>()),
        st_(std::move(st)),
        core_(std::move(core)),
        ctl_(std::make_shared<Control>()),
        bare_lf_(st_->bare_lf) {
    guard_->sock = &sock_;
    guard_->timer = &timer_;
    ctl_->guard = guard_;
  }
  ~Session() { guard_->alive = false; }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  net::awaitable<void> run();

  // Command handlers: 0 = success, -1 = the client made an error.
  net::awaitable<int> cmd_helo(const std::vector<Token>& t);
  net::awaitable<int> cmd_ehlo(const std::vector<Token>& t);
  net::awaitable<int> cmd_starttls(const std::vector<Token>& t);
  net::awaitable<int> cmd_auth(const std::vector<Token>& t);
  net::awaitable<int> cmd_mail(const std::vector<Token>& t);
  net::awaitable<int> cmd_rcpt(const std::vector<Token>& t);
  net::awaitable<int> cmd_data(const std::vector<Token>& t);
  net::awaitable<int> cmd_rset(const std::vector<Token>& t);
  net::awaitable<int> cmd_noop(const std::vector<Token>& t);
  net::awaitable<int> cmd_vrfy(const std::vector<Token>& t);
  net::awaitable<int> cmd_etrn(const std::vector<Token>& t);
  net::awaitable<int> cmd_quit(const std::vector<Token>& t);

 private:
  net::awaitable<void> converse(bool greeted);
  std::string finish_message(DataReceiver& rx, const std::string& received);
  net::awaitable<std::error_code> commit_message();
  void arm();
  void disarm();
  net::awaitable<bool> flush();
  net::awaitable<bool> flush_unless_pipelined();
  std::string greeting() const { return "220 " + st_->banner; }
  net::awaitable<bool> fill();
  net::awaitable<bool> read_line(Line& l, bool command);
  net::awaitable<void> reply(std::string text);
  net::awaitable<void> pause(long long seconds);
  bool input_pending();
  void slurp_available();
  net::awaitable<bool> check_pipelining(std::string_view after);

  CheckState check_state() const;
  // Postfix's queue id exists from the first accepted recipient on ("NOQUEUE"
  // before it), even when the file was taken earlier (cmd_mail()).
  std::string queue_id() const { return builder_ && announced_ ? builder_->id() : std::string(); }
  void log_verdict(const Verdict& v, std::string_view where, const CheckState& s);
  void mail_reset();
  void rcpt_reset() {
    rcpts_.clear();
    first_rcpt_.reset();
    rcpt_count_ = 0;
    overshoot_ = 0;
  }
  bool header_rewrite_allowed() const;
  std::string stats() const;

  tcp::socket sock_;
  tcp::endpoint peer_ep_;  // from accept(): no getpeername() per connection
  net::steady_timer timer_;
  std::shared_ptr<IoGuard> guard_;
  std::shared_ptr<const Settings> st_;
  std::shared_ptr<Core> core_;
  std::shared_ptr<Control> ctl_;
  Peer peer_;
  NameResolver resolver_;
  LineBuffer in_;
  std::string out_;
  // One read takes what a client sends at once, up to 16 KiB: a 10 KB
  // message in one system call instead of three.
  std::array<char, 16384> rbuf_;
  BareLf bare_lf_;
  std::string protocol_ = "SMTP";
  std::optional<std::string> helo_;
  // The mail transaction.
  std::optional<std::string> sender_;
  long long msg_size_ = 0;
  MailParams mail_params_;
  util::Timestamp arrival_{};
  std::vector<core::Recipient> rcpts_;
  std::optional<std::string> first_rcpt_;
  long long rcpt_count_ = 0, overshoot_ = 0;
  std::shared_ptr<cleanup::Builder> builder_;
  bool announced_ = false;  // "ID: client=..." logged: the id is public
  // The session.
  long long error_count_ = 0, junk_ = 0;
  bool hangup_ = false, dead_ = false, ill_pipelining_ = false;
  std::string access_denied_;
  std::string where_ = "CONNECT", reason_;
  long long data_bytes_ = 0;
  std::array<std::pair<unsigned, unsigned>, 12> counts_{};  // ok, total per table entry
  unsigned unknown_total_ = 0;
};

// Postfix's smtpd_cmd_table order; it is also the order of the counters in
// the "disconnect from" log line.
const CmdDef kCommands[] = {
    {"HELO", &Session::cmd_helo, kLimit | kLast},
    {"EHLO", &Session::cmd_ehlo, kLimit | kLast},
    {"STARTTLS", &Session::cmd_starttls, kLast},
    {"AUTH", &Session::cmd_auth, 0},
    {"MAIL", &Session::cmd_mail, 0},
    {"RCPT", &Session::cmd_rcpt, 0},
    {"DATA", &Session::cmd_data, kLast},
    {"RSET", &Session::cmd_rset, kLimit},
    {"NOOP", &Session::cmd_noop, kLimit | kLast},
    {"VRFY", &Session::cmd_vrfy, kLimit | kLast},
    {"ETRN", &Session::cmd_etrn, kLimit},
    {"QUIT", &Session::cmd_quit, 0},
};
static_assert(std::size(kCommands) == 12);

void Session::arm() {
  guard_->timed_out = false;
  guard_->busy = true;
  guard_->deadline = std::chrono::steady_clock::now() + std::chrono::seconds(st_->timeout);
  if (!guard_->timer_running) wait_for_deadline(guard_);
}

void Session::disarm() { guard_->busy = false; }

net::awaitable<bool> Session::flush() {
  if (dead_) co_return false;
  if (out_.empty()) co_return true;
  // Replies nearly always fit in the socket's send buffer: write them now
  // (the socket is non-blocking), without a trip through the event loop;
  // only what does not fit waits for the client, asynchronously.
  boost::system::error_code ec;
  size_t done = 0;
  while (done < out_.size()) {
    size_t n = sock_.write_some(net::buffer(out_.data() + done, out_.size() - done), ec);
    if (ec) break;
    done += n;
  }
  bool timed_out = false;
  if (ec == net::error::would_block || ec == net::error::try_again) {
    ec.clear();
    arm();
    co_await net::async_write(sock_, net::buffer(out_.data() + done, out_.size() - done),
                              net::redirect_error(net::use_awaitable, ec));
    disarm();
    timed_out = guard_->timed_out;
  }
  out_.clear();
  if (timed_out || ec) {
    if (reason_.empty()) reason_ = timed_out ? "timeout" : "lost connection";
    dead_ = true;
    co_return false;
  }
  co_return true;
}

// Writes the replies so far now, when no more commands are waiting, so that
// what follows overlaps the client's reading of them; with pipelined
// commands waiting, they are answered together as usual. True if written.
net::awaitable<bool> Session::flush_unless_pipelined() {
  if (in_.pending() != 0) co_return false;
  bool ok = co_await flush();
  co_return ok;
}

net::awaitable<void> Session::pause(long long seconds) {
  net::steady_timer t(sock_.get_executor());
  t.expires_after(std::chrono::seconds(seconds));
  boost::system::error_code ec;
  co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
}

net::awaitable<void> Session::reply(std::string text) {
  if (dead_) co_return;
  if (st_->discard_mask & ehlo_enhancedstatuscodes) text = strip_enhanced_code(text);
  // Postfix slows down clients that make many errors: every reply waits.
  bool delayed = false;
  if (error_count_ >= st_->soft_error_limit && st_->error_sleep > 0) {
    co_await flush();
    co_await pause(st_->error_sleep);
    delayed = true;
  }
  bool bye = text.compare(0, 3, "421") == 0;
  out_ += text;
  out_ += "\r\n";
  if (delayed) co_await flush();
  if (bye) hangup_ = true;
}

// Waits for more input. Replies are flushed first: this is the point where
// the client's pipelined input is drained.
net::awaitable<bool> Session::fill() {
  if (dead_) co_return false;
  for (;;) {
    if (ctl_->drain && !ctl_->in_data) {
      co_await reply(fmt::format("421 4.3.2 {} Service shutting down", st_->myhostname));
      co_await flush();
      dead_ = true;
      co_return false;
    }
    bool flushed = co_await flush();
    if (!flushed) co_return false;
    boost::system::error_code ec;
    ctl_->reading = true;
    arm();
    size_t n = co_await sock_.async_read_some(net::buffer(rbuf_), net::redirect_error(net::use_awaitable, ec));
    disarm();
    ctl_->reading = false;
    if (guard_->timed_out) {
      reason_ = "timeout";
      co_await reply(fmt::format("421 4.4.2 {} Error: timeout exceeded", st_->myhostname));
      co_await flush();
      dead_ = true;
      co_return false;
    }
    if (ec == net::error::operation_aborted && ctl_->drain) continue;
    if (ec) {
      if (reason_.empty()) reason_ = "lost connection";
      dead_ = true;
      co_return false;
    }
    in_.append(std::string_view(rbuf_.data(), n));
    co_return true;
  }
}

net::awaitable<bool> Session::read_line(Line& l, bool command) {
  for (;;) {
    if (in_.next(st_->line_limit, l)) {
      if (command && l.eol == Eol::none) {
        // Postfix truncates an over-long command and skips the rest.
        log::warn(kLog, "{}[{}]: request longer than {}: {}...", peer_.name, peer_.addr, st_->line_limit,
                  ascii_printable(std::string_view(l.text).substr(0, 30)));
        while (!in_.skip_line()) {
          bool more = co_await fill();
          if (!more) co_return false;
        }
        l.eol = Eol::crlf;
      }
      co_return true;
    }
    bool more = co_await fill();
    if (!more) co_return false;
  }
}

bool Session::input_pending() {
  if (in_.pending() > 0) return true;
  boost::system::error_code ec;
  return sock_.available(ec) > 0 && !ec;
}

void Session::slurp_available() {
  boost::system::error_code ec;
  size_t n = sock_.available(ec);
  if (ec || n == 0) return;
  std::array<char, 4096> buf;
  n = sock_.read_some(net::buffer(buf.data(), std::min(n, buf.size())), ec);
  if (!ec) in_.append(std::string_view(buf.data(), n));
}

// RFC 2920: a client may send ahead only after EHLO, and never past a command
// that ends a pipelined group. Returns false when the session must end.
net::awaitable<bool> Session::check_pipelining(std::string_view after) {
  if (ill_pipelining_ || !input_pending()) co_return true;
  if (in_.pending() == 0) slurp_available();
  log::info(kLog, "improper command pipelining after {} from {}: {}", after, peer_.namaddr,
            escape_for_log(in_.peek(100)));
  ill_pipelining_ = true;
  if (st_->forbid_unauth_pipelining) {
    co_await reply("554 5.5.0 Error: SMTP protocol synchronization");
    co_return false;
  }
  co_return true;
}

CheckState Session::check_state() const {
  CheckState s;
  s.client_name = peer_.name;
  s.client_addr = peer_.addr;
  s.client_ip = peer_.ip;
  s.namaddr = peer_.namaddr;
  s.helo = helo_;
  s.sender = sender_;
  s.recipient = first_rcpt_;
  s.protocol = protocol_;
  return s;
}

void Session::log_verdict(const Verdict& v, std::string_view where, const CheckState& s) {
  for (const auto& w : v.warnings) log::warn(kLog, "{}", w);
  for (const auto& w : v.reject_warnings)
    log::info(kLog, "{}", whatsup_line(queue_id(), "reject_warning", where, s, w));
  if (v.rejected()) log::info(kLog, "{}", whatsup_line(queue_id(), "reject", where, s, v.reply));
}

void Session::mail_reset() {
  msg_size_ = 0;
  sender_.reset();
  mail_params_ = MailParams{};
  // The embryonic queue file goes away with the transaction (Postfix closes
  // the cleanup stream and cleanup removes the file).
  if (builder_) builder_->discard();
  builder_.reset();
  announced_ = false;
}

bool Session::header_rewrite_allowed() const {
  for (const auto& item : st_->header_rewrite_clients) {
    if (util::iequals(item, "permit_inet_interfaces")) {
      for (const auto& a : st_->policy.router->own())
        if (a == peer_.ip) return true;
    } else if (util::iequals(item, "permit_mynetworks")) {
      if (st_->policy.mynetworks.match(peer_.ip)) return true;
    } else if (util::iequals(item, "static:all")) {
      return true;
    }
  }
  return false;
}

std::string Session::stats() const {
  std::string r;
  unsigned ok = 0, total = 0;
  auto one = [&r](std::string_view name, unsigned o, unsigned t) {
    if (o == t) r += fmt::format(" {}={}", name, t);
    else r += fmt::format(" {}={}/{}", name, o, t);
  };
  for (size_t i = 0; i < std::size(kCommands); ++i) {
    auto [o, t] = counts_[i];
    if (t == 0) continue;
    one(util::lower(kCommands[i].name), o, t);
    ok += o;
    total += t;
  }
  if (unknown_total_) one("unknown", 0, unknown_total_);
  total += unknown_total_;
  one("commands", ok, total);
  return r;
}

// ---- command handlers (Postfix smtpd.c, reply texts of reference section 4)

net::awaitable<int> Session::cmd_helo(const std::vector<Token>& t) {
  if (t.size() < 2) {
    co_await reply("501 Syntax: HELO hostname");
    co_return -1;
  }
  std::string name = collapse(t, 1);
  if (!st_->policy.delay_reject) {
    CheckState s = check_state();
    s.helo = name;
    Verdict v = check_helo(st_->policy, s);
    log_verdict(v, "HELO", s);
    if (v.rejected()) {
      co_await reply(v.reply);
      co_return -1;
    }
  }
  mail_reset();
  rcpt_reset();
  std::string h = ascii_printable(name);
  for (char& c : h)
    if (kNeuter.find(c) != std::string_view::npos) c = '?';
  helo_ = h;
  // HELO after EHLO keeps ESMTP: downgrading would break the pipelining test.
  if (protocol_ != "ESMTP") protocol_ = "SMTP";
  co_await reply("250 " + st_->myhostname);
  co_return 0;
}

net::awaitable<int> Session::cmd_ehlo(const std::vector<Token>& t) {
  if (t.size() < 2) {
    co_await reply("501 Syntax: EHLO hostname");
    co_return -1;
  }
  std::string name = collapse(t, 1);
  if (!st_->policy.delay_reject) {
    CheckState s = check_state();
    s.helo = name;
    Verdict v = check_helo(st_->policy, s);
    log_verdict(v, "EHLO", s);
    if (v.rejected()) {
      co_await reply(v.reply);
      co_return -1;
    }
  }
  mail_reset();
  rcpt_reset();
  std::string h = ascii_printable(name);
  for (char& c : h)
    if (kNeuter.find(c) != std::string_view::npos) c = '?';
  helo_ = h;
  protocol_ = "ESMTP";
  unsigned discard = st_->discard_mask;
  // Postfix logs the discard only when it still speaks enhanced codes.
  if (!(discard & ehlo_enhancedstatuscodes) && discard && !(discard & ehlo_silent) &&
      !ehlo_mask_names(discard).empty())
    log::info(kLog, "discarding EHLO keywords: {}", ehlo_mask_names(discard));
  auto lines = ehlo_lines(st_->myhostname, st_->message_size_limit, st_->vrfy_enabled, discard);
  for (size_t i = 0; i < lines.size(); ++i)
    co_await reply(fmt::format("250{}{}", i + 1 < lines.size() ? '-' : ' ', lines[i]));
  co_return 0;
}

net::awaitable<int> Session::cmd_starttls(const std::vector<Token>&) {
  co_await reply("502 5.5.1 Error: command not implemented");
  co_return -1;
}

net::awaitable<int> Session::cmd_auth(const std::vector<Token>&) {
  co_await reply("503 5.5.1 Error: authentication not enabled");
  co_return -1;
}

net::awaitable<int> Session::cmd_mail(const std::vector<Token>& t) {
  if (st_->helo_required && !helo_) {
    co_await reply("503 5.5.1 Error: send HELO/EHLO first");
    co_return -1;
  }
  if (sender_) {
    co_await reply("503 5.5.1 Error: nested MAIL command");
    co_return -1;
  }
  if (t.size() < 3 || !util::iequals(t[1].text, "from:")) {
    co_await reply("501 5.5.4 Syntax: MAIL FROM:<address>");
    co_return -1;
  }
  std::string addr;
  if (t[2].error) {
    co_await reply("501 5.1.7 Bad sender address syntax");
    co_return -1;
  }
  if (!extract_address(t[2].text, true, st_->strict_rfc821, addr)) {
    log::warn(kLog, "Illegal address syntax from {} in MAIL command: {}", peer_.namaddr,
              ascii_printable(t[2].text));
    co_await reply("501 5.1.7 Bad sender address syntax");
    co_return -1;
  }
  MailParams mp;
  // The declared size is stored before it is checked (see command.hpp).
  if (auto err = parse_mail_params(t, 3, !(st_->discard_mask & ehlo_dsn), mp, msg_size_); !err.empty()) {
    co_await reply(err);
    co_return -1;
  }
  if (st_->message_size_limit > 0 && msg_size_ > st_->message_size_limit) {
    CheckState s = check_state();
    s.sender.reset();
    std::string r = "552 5.3.4 Message size exceeds fixed limit";
    log::info(kLog, "{}", whatsup_line(queue_id(), "reject", "MAIL", s, r));
    co_await reply(r);
    co_return -1;
  }
  if (!st_->policy.delay_reject) {
    CheckState s = check_state();
    s.sender = addr;
    Verdict v = check_sender(st_->policy, s);
    log_verdict(v, "MAIL", s);
    if (v.rejected()) {
      mail_reset();
      co_await reply(v.reply);
      co_return -1;
    }
  }
  arrival_ = util::now();
  sender_ = addr;
  mail_params_ = std::move(mp);
  co_await reply("250 2.1.0 Ok");
  // A kept queue file and its id are taken now, after the 250 is sent and
  // while the client reads it and writes RCPT, instead of at RCPT while the
  // client waits (the id check is three lstat() calls). Not when more
  // commands are already here (pipelining): nothing would overlap. Without
  // a kept file the file is created at the first accepted RCPT, as before,
  // so a transaction whose recipients are all refused creates none.
  const bool early = co_await flush_unless_pipelined();
  if (early) {
    auto b = std::make_shared<cleanup::Builder>();
    if (b->open_reused(core_->store)) builder_ = std::move(b);
  }
  co_return 0;
}

net::awaitable<int> Session::cmd_rcpt(const std::vector<Token>& t) {
  if (!sender_) {
    co_await reply("503 5.5.1 Error: need MAIL command");
    co_return -1;
  }
  if (t.size() < 3 || !util::iequals(t[1].text, "to:")) {
    co_await reply("501 5.5.4 Syntax: RCPT TO:<address>");
    co_return -1;
  }
  std::string addr;
  if (t[2].error) {
    co_await reply("501 5.1.3 Bad recipient address syntax");
    co_return -1;
  }
  if (!extract_address(t[2].text, false, st_->strict_rfc821, addr)) {
    log::warn(kLog, "Illegal address syntax from {} in RCPT command: {}", peer_.namaddr,
              ascii_printable(t[2].text));
    co_await reply("501 5.1.3 Bad recipient address syntax");
    co_return -1;
  }
  RcptParams rp;
  if (auto err = parse_rcpt_params(t, 3, !(st_->discard_mask & ehlo_dsn), rp); !err.empty()) {
    co_await reply(err);
    co_return -1;
  }
  // smtpd_recipient_limit = 0 means "no limit" to Postfix, whose queue file
  // is on disk; mxmta keeps the envelope in memory, so it stops at a ceiling.
  const long long limit = st_->recipient_limit > 0 ? st_->recipient_limit : kRecipientCeiling;
  if (rcpt_count_ >= limit) {
    co_await reply("452 4.5.3 Error: too many recipients");
    // Postfix forgives a client that overshoots a little (RFC 5321 says the
    // client must try the rest later, so it is not a client error).
    if (overshoot_++ < st_->overshoot_limit) co_return 0;
    co_return -1;
  }
  CheckState s = check_state();
  s.recipient = addr;
  Verdict v = check_recipient(st_->policy, s, addr);
  log_verdict(v, "RCPT", s);
  if (v.rejected()) {
    co_await reply(v.reply);
    co_return -1;
  }
  // The queue file and its id come with the first valid recipient.
  if (!builder_) {
    auto b = std::make_shared<cleanup::Builder>();
    if (auto ec = b->open(core_->store)) {
      log::warn(kLog, "{}: create queue file: {}", peer_.namaddr, ec.message());
      co_await reply("451 4.3.0 Error: queue file write error");
      co_return -1;
    }
    builder_ = std::move(b);
  }
  // The id is public from here on; its log line waits until the 250 is sent
  // when nothing else is (nothing is logged in between).
  const bool announce = !announced_;
  announced_ = true;
  core::Recipient r;
  r.address = addr;
  r.notify = rp.notify;
  if (!rp.orcpt.empty()) {
    r.dsn_orcpt = rp.orcpt;
  } else {
    // RFC 3461 5.2.1: an MTA may add ORCPT itself: the address as received.
    std::string_view given = t[2].text;
    if (given.size() >= 2 && given.front() == '<' && given.back() == '>') given = given.substr(1, given.size() - 2);
    r.dsn_orcpt = "rfc822;" + std::string(given);
  }
  rcpts_.push_back(std::move(r));
  ++rcpt_count_;
  if (!first_rcpt_) first_rcpt_ = addr;
  co_await reply("250 2.1.5 Ok");
  if (announce) co_await flush_unless_pipelined();
  if (announce) log::info(kLog, "{}: client={}", builder_->id(), peer_.namaddr);
  co_return 0;
}

net::awaitable<int> Session::cmd_data(const std::vector<Token>& t) {
  if (rcpt_count_ == 0) {
    // With pipelining the client may send DATA before all its recipients
    // were refused: then it is not a protocol error.
    co_await reply(sender_ ? "554 5.5.1 Error: no valid recipients" : "503 5.5.1 Error: need RCPT command");
    co_return -1;
  }
  if (t.size() != 1) {
    co_await reply("501 5.5.4 Syntax: DATA");
    co_return -1;
  }
  {
    CheckState s = check_state();
    if (rcpt_count_ > 1) s.recipient.reset();
    Verdict v = check_data(st_->policy, s);
    log_verdict(v, "DATA", s);
    if (v.rejected()) {
      co_await reply(v.reply);
      co_return -1;
    }
  }
  std::string received =
      received_header(helo_.value_or(""), peer_.name, peer_.rfc_addr, st_->myhostname, st_->mail_name, protocol_,
                      builder_->id(), rcpt_count_ == 1 ? &*first_rcpt_ : nullptr, arrival_.sec);
  co_await reply("354 End data with <CR><LF>.<CR><LF>");
  where_ = "DATA content";
  ctl_->in_data = true;
  DataReceiver rx(bare_lf_, st_->message_size_limit);
  Line l;
  for (;;) {
    bool got = co_await read_line(l, false);
    if (!got) {
      data_bytes_ = rx.size() + static_cast<long long>(in_.pending());
      ctl_->in_data = false;
      mail_reset();
      rcpt_reset();
      co_return -1;
    }
    if (rx.feed(l)) break;
  }
  ctl_->in_data = false;
  where_ = "END-OF-MESSAGE";
  std::string id = builder_->id();
  // Held past mail_reset(), for publish() after the reply.
  std::shared_ptr<cleanup::Builder> queued = builder_;
  // Everything but the durable commit is synchronous. XXX: GCC 12 destroys
  // temporaries and block-scoped locals twice when a co_await sits in a
  // nested block (observed with ASan), so co_await stays at function scope
  // and never takes an argument with a non-trivial destructor but a string.
  std::string answer = finish_message(rx, received);
  std::error_code ec;
  bool commit = answer.empty();
  if (commit) ec = co_await commit_message();
  int result = -1;
  if (commit && ec) {
    log::warn(kLog, "{}: queue file commit: {}", id, ec.message());
    answer = "451 4.3.0 Error: queue file write error";
  } else if (commit) {
    result = 0;
    // A delivered message forgives earlier client errors (Postfix).
    error_count_ = 0;
    junk_ = 0;
    answer = "250 2.0.0 Ok: queued as " + id;
  }
  mail_reset();
  rcpt_reset();
  co_await reply(answer);
  // The client has its answer before anything else happens (it waits for
  // it: RFC 2920 lets nothing follow DATA unanswered).
  if (result == 0) co_await flush();
  // A reused file committed on the loop gets its name only now, off the
  // client's wait (queue::QueueWriter::publish; nothing to do otherwise).
  if (result == 0) {
    if (auto pe = queued->publish()) {
      log::warn(kLog, "{}: rename queue file: {}; it is recovered at the next start", id, pe.message());
      co_return result;
    }
  }
  // Then the queue manager hears of the message: handing it over wakes a
  // thread of the blocking pool.
  if (result == 0 && core_->on_queued) core_->on_queued(id);
  co_return result;
}

std::string Session::finish_message(DataReceiver& rx, const std::string& received) {
  const std::string& id = builder_->id();
  if (rx.too_big()) {
    log::warn(kLog, "{}: queue file size limit exceeded", id);
    return "552 5.3.4 Error: message file too big";
  }
  if (rx.bare_lf()) {
    CheckState s = check_state();
    log::info(kLog, "{}", whatsup_line(id, "reject", "END-OF-MESSAGE", s, "bare <LF> received"));
    return fmt::format("{} 5.5.2 {} Error: bare <LF> received", st_->bare_lf_reject_code, st_->myhostname);
  }
  CheckState s = check_state();
  if (rcpt_count_ > 1) s.recipient.reset();
  Verdict v = check_eod(st_->policy, s);
  log_verdict(v, "END-OF-MESSAGE", s);
  if (v.rejected()) return v.reply;
  core::Message& m = builder_->message();
  m.env.sender = *sender_;
  m.env.arrival = arrival_;
  m.env.rcpts = rcpts_;
  m.env.origin = "smtpd";
  m.env.client_name = peer_.name;
  m.env.client_addr = peer_.addr;
  m.env.helo = helo_.value_or("");
  m.env.protocol = protocol_;
  m.env.envid = mail_params_.envid.value_or("");
  m.env.ret = mail_params_.ret;
  m.env.body_type = mail_params_.body;
  m.content = received + rx.take_content();
  builder_->add_missing_headers = header_rewrite_allowed();
  cleanup::Status fs = builder_->finish(st_->cleanup);
  if (!fs.ok) {
    log::warn(kLog, "{}: {}", id, fs.text);
    return fs.reply;
  }
  return "";
}

// The durable commit (cleanup::Builder::sync), on the blocking pool, so that
// the loop serves other sessions and deliveries meanwhile; the pool also
// does the rename (publish). When the loop has nothing else to do, on the
// loop itself: no hand-off to a pool thread and back before the 250, and
// the rename of a reused file waits until the 250 is sent.
// The raw pointer is safe: while the pool runs the job it owns the
// completion handler, which owns this coroutine stack and so `keep`.
net::awaitable<std::error_code> Session::commit_message() {
  std::shared_ptr<cleanup::Builder> keep = builder_;
  cleanup::Builder* b = keep.get();
  if (core_->loop_idle && core_->loop_idle()) co_return b->sync();
  std::error_code ec = co_await util::run_blocking([b] { return b->commit(); });
  co_return ec;
}

net::awaitable<int> Session::cmd_rset(const std::vector<Token>& t) {
  if (t.size() != 1) {
    co_await reply("501 5.5.4 Syntax: RSET");
    co_return -1;
  }
  mail_reset();
  rcpt_reset();
  co_await reply("250 2.0.0 Ok");
  co_return 0;
}

net::awaitable<int> Session::cmd_noop(const std::vector<Token>&) {
  co_await reply("250 2.0.0 Ok");
  co_return 0;
}

net::awaitable<int> Session::cmd_vrfy(const std::vector<Token>& t) {
  if (!st_->vrfy_enabled) {
    co_await reply("502 5.5.1 VRFY command is disabled");
    co_return -1;
  }
  if (t.size() < 2) {
    co_await reply("501 5.5.4 Syntax: VRFY address [SMTPUTF8]");
    co_return -1;
  }
  std::string arg = collapse(t, 1), addr;
  if (!extract_address(arg, false, false, addr)) {
    log::warn(kLog, "Illegal address syntax from {} in VRFY command: {}", peer_.namaddr, ascii_printable(arg));
    co_await reply("501 5.1.3 Bad recipient address syntax");
    co_return -1;
  }
  CheckState s = check_state();
  s.recipient = addr;
  Verdict v = check_recipient(st_->policy, s, addr);
  log_verdict(v, "VRFY", s);
  if (v.rejected()) {
    co_await reply(v.reply);
    co_return -1;
  }
  // RFC 5321 3.5.3: 252 when the address is plausible but not verified.
  co_await reply("252 2.0.0 " + util::printable(arg, ' '));
  co_return 0;
}

net::awaitable<int> Session::cmd_etrn(const std::vector<Token>& t) {
  if (st_->helo_required && !helo_) {
    co_await reply("503 Error: send HELO/EHLO first");
    co_return -1;
  }
  if (sender_) {
    co_await reply("503 Error: MAIL transaction in progress");
    co_return -1;
  }
  if (t.size() != 2) {
    co_await reply("500 Syntax: ETRN domain");
    co_return -1;
  }
  std::string d = t[1].text;
  if (!d.empty() && (d.front() == '@' || d.front() == '#')) d.erase(0, 1);
  bool literal = d.size() > 2 && d.front() == '[' && core::is_address_literal(d);
  if (!literal && (d.empty() || d.front() == '[' || !core::valid_domain(d))) {
    co_await reply("501 Error: invalid parameter syntax");
    co_return -1;
  }
  // mxmta has no fast-flush service: no domain is eligible, as a Postfix
  // whose $fast_flush_domains does not list it.
  log::warn(kLog, "reject: ETRN {}... from {}", ascii_printable(d.substr(0, 100)), peer_.namaddr);
  co_await reply("459 <" + ascii_printable(d) + ">: service unavailable");
  co_return -1;
}

net::awaitable<int> Session::cmd_quit(const std::vector<Token>&) {
  co_await reply("221 2.0.0 Bye");
  co_await flush();
  co_return 0;
}

// Postfix smtpd_proto(): greeting, then the command loop. `greeted`: run()
// has sent the greeting already.
net::awaitable<void> Session::converse(bool greeted) {
  const Policy& pol = st_->policy;
  if (!greeted && input_pending()) {
    // The client spoke before our greeting (RFC 5321 4.3.1 forbids it).
    bool go = co_await check_pipelining("CONNECT");
    if (!go) co_return;
  }
  if (!pol.delay_reject) {
    CheckState s = check_state();
    Verdict v = check_client(pol, s);
    log_verdict(v, "CONNECT", s);
    if (v.rejected()) {
      access_denied_ = v.reply;
      co_await reply(v.reply);
      ++error_count_;
    }
  }
  if (access_denied_.empty() && !greeted) {
    co_await reply(greeting());
  }

  for (;;) {
    if (hangup_ || dead_) break;
    if (error_count_ >= st_->hard_error_limit) {
      reason_ = "too many errors";
      co_await reply(fmt::format("421 4.7.0 {} Error: too many errors", st_->myhostname));
      break;
    }
    Line l;
    bool got = co_await read_line(l, true);
    if (!got) break;
    if (l.eol == Eol::bare_lf && bare_lf_ == BareLf::reject) {
      CheckState s = check_state();
      log::info(kLog, "{}", whatsup_line(queue_id(), "reject", where_, s, "bare <LF> received"));
      co_await reply(
          fmt::format("{} 5.5.2 {} Error: bare <LF> received", st_->bare_lf_reject_code, st_->myhostname));
      break;
    }
    std::vector<Token> toks = tokenize(l.text);
    if (toks.empty()) {
      co_await reply("500 5.5.2 Error: bad syntax");
      ++error_count_;
      continue;
    }
    size_t idx = std::size(kCommands);
    for (size_t i = 0; i < std::size(kCommands); ++i)
      if (util::iequals(toks[0].text, kCommands[i].name)) idx = i;
    const CmdDef* cmd = idx < std::size(kCommands) ? &kCommands[idx] : nullptr;
    if (!cmd) {
      where_ = "UNKNOWN";
      // A web proxy request or a mail header sent as a command: a client
      // that is not talking SMTP (or a cross-protocol attack). Hang up.
      if (is_header_like(toks[0].text) || st_->forbidden_command(toks[0].text)) {
        log::warn(kLog, "non-SMTP command from {}: {}", peer_.namaddr,
                  ascii_printable(std::string_view(l.text).substr(0, 100)));
        co_await reply("221 2.7.0 Error: I can break rules, too. Goodbye.");
        break;
      }
    }
    if (!access_denied_.empty() && (!cmd || cmd->fn != &Session::cmd_quit)) {
      co_await reply("503 5.7.0 Error: access denied for " + peer_.namaddr);
      ++error_count_;
      continue;
    }
    if (!cmd) {
      ++unknown_total_;
      co_await reply("500 5.5.2 Error: command not recognized");
      ++error_count_;
      continue;
    }
    where_ = std::string(cmd->name);
    if (protocol_ != "ESMTP" || (cmd->flags & kLast)) {
      bool go = co_await check_pipelining(cmd->name);
      if (!go) {
        // Postfix counts the refused command ("mail=0/1 commands=1/2");
        // found by suites/smtpd/0025-unauth-pipelining.xml.
        ++counts_[idx].second;
        break;
      }
    }
    int r = co_await (this->*(cmd->fn))(toks);
    auto& c = counts_[idx];
    ++c.second;
    if (r == 0) ++c.first;
    else ++error_count_;
    if ((cmd->flags & kLimit) && junk_++ > st_->junk_limit) ++error_count_;
    if (cmd->fn == &Session::cmd_quit || dead_) break;
  }
}

net::awaitable<void> Session::run() {
  // co_await only at function scope here: see cmd_data() on GCC 12.
  core_->sessions.insert(ctl_);
  boost::system::error_code ec;
  // Non-blocking from the start: flush() writes without waiting (and Asio
  // would set it at the first asynchronous operation anyway).
  sock_.non_blocking(true, ec);
  const tcp::endpoint ep = peer_ep_;
  const bool connected = !ec && sock_.is_open();
  const core::IpAddr ip = connected ? to_ip(ep.address()) : core::IpAddr{};
  const bool lookup = connected && st_->peername_lookup;
  const bool system_lookup = !core_->resolver;
  resolver_ = core_->resolver ? core_->resolver : NameResolver(lookup_client_name);
  const NameResolver* r = &resolver_;  // see commit_message() on lifetimes
  const bool talk = connected && st_->relay_limit_ok;
  // With smtpd_delay_reject = yes (the default) nothing at connect time can
  // change the greeting. When the client's name will come at once (from
  // /etc/hosts, or no lookup at all), the greeting goes out first and the
  // name is checked and logged while the client reads it (three stat() calls
  // and a log line off its wait). A lookup that may take time (DNS) still
  // comes first, as in Postfix, whose greeting waits for it; so does a
  // client that spoke first (converse() catches it).
  const bool quick_name = !lookup || (system_lookup && core_->names.probably_known(ip));
  const bool greet_first = talk && st_->policy.delay_reject && quick_name && !input_pending();
  if (greet_first) co_await reply(greeting());
  if (greet_first) co_await flush();
  std::string name = "unknown";
  // A name that /etc/hosts alone gives needs no trip to the blocking pool.
  std::optional<std::string> known;
  if (lookup && system_lookup) known = core_->names.find(ip);
  if (known) name = *known;
  if (lookup && !known) {
    name = co_await util::run_blocking([r, ip]() -> std::string {
      try {
        return (*r)(ip);
      } catch (const std::exception&) {
        return "unknown";  // never let a lookup failure end the session
      }
    });
    if (system_lookup) core_->names.learn(ip, name);
  }
  if (connected) {
    peer_ = make_peer(ip, ep.port(), name, st_->port_logging);
    if (st_->bare_lf != BareLf::no && st_->bare_lf_exclusions.match(peer_.ip)) bare_lf_ = BareLf::no;
    // Without a relay restriction Postfix's smtpd exits at start-up: the
    // client sees the connection close without a greeting.
    if (!st_->relay_limit_ok) log::emit(log::Level::fatal, kLog, relay_limit_fatal_text());
    else log::info(kLog, "connect from {}", peer_.namaddr);
  }
  std::string failure;
  if (talk) {
    try {
      co_await converse(greet_first);
    } catch (const std::exception& e) {
      // A table that cannot be read, an allocation failure: tell the client
      // and log it, as Postfix's "Server local data error".
      failure = e.what();
    }
  }
  if (!failure.empty()) {
    log::warn(kLog, "{}: {}", peer_.namaddr, failure);
    log::info(kLog, "{}: reject: {} from {}: 421 4.3.0 {} Server local data error",
              queue_id().empty() ? "NOQUEUE" : queue_id(), where_, peer_.namaddr, st_->myhostname);
    failure = fmt::format("421 4.3.0 {} Server local data error", st_->myhostname);
  }
  if (!failure.empty()) co_await reply(failure);
  if (talk) co_await flush();
  if (talk) {
    if (!reason_.empty() && !where_.empty()) {
      if (where_ == "DATA content")
        log::info(kLog, "{} after DATA ({} bytes) from {}", reason_, data_bytes_, peer_.namaddr);
      else if (where_ != "END-OF-MESSAGE" || reason_ != "lost connection")
        log::info(kLog, "{} after {} from {}", reason_, where_, peer_.namaddr);
    }
    log::info(kLog, "disconnect from {}{}", peer_.namaddr, stats());
  }
  mail_reset();
  disarm();
  sock_.close(ec);  // sends FIN (or RST if the client left input unread), as shutdown() would
  core_->sessions.erase(ctl_);
}

}  // namespace

net::awaitable<void> run_session(tcp::socket sock, tcp::endpoint peer, std::shared_ptr<const Settings> settings,
                                 std::shared_ptr<Core> core) {
  Session s(std::move(sock), peer, std::move(settings), std::move(core));
  co_await s.run();
}

}  // namespace mta::smtpd::detail
