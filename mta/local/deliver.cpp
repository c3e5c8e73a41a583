#include "local/deliver.hpp"

#include "core/address.hpp"
#include "core/aliases.hpp"
#include "core/fault.hpp"
#include "core/headers.hpp"
#include "core/main_cf.hpp"
#include "local/command.hpp"
#include "local/expand.hpp"
#include "local/maildir.hpp"
#include "local/privs.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fmt/core.h>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>

namespace mta::local {

namespace {

constexpr const char* kService = "local";
constexpr int kMaxLevel = 100;

unsigned name_mask(const core::Config& c, std::string_view param,
                   std::initializer_list<std::pair<std::string_view, unsigned>> names) {
  unsigned m = 0;
  for (const auto& w : c.get_list(param)) {
    bool ok = false;
    for (const auto& [n, bit] : names)
      if (util::iequals(w, n)) {
        m |= bit;
        ok = true;
      }
    if (!ok)
      throw core::ConfigError(fmt::format("{}: unknown {} value \"{}\" in \"{}\"", c.where(param), param, w, c.get(param)));
  }
  return m;
}

std::string raw(const core::Config& c, std::string_view name) { return c.raw(name).value_or(""); }

bool ends_with_slash(const std::string& s) { return !s.empty() && s.back() == '/'; }

// Postfix split_addr(): the extension starts at the first delimiter
// character, except for owner-* and *-request names when
// owner_request_special is set.
std::optional<std::string> split_extension(std::string& user, const std::string& delims, bool ownreq) {
  if (delims.empty() || user.empty()) return std::nullopt;
  if (ownreq && (util::istarts_with(user, "owner-") ||
                 (user.size() > 8 && util::iequals(std::string_view(user).substr(user.size() - 8), "-request"))))
    return std::nullopt;
  size_t p = user.find_first_of(delims);
  if (p == std::string::npos) return std::nullopt;
  std::string ext = user.substr(p + 1);
  user.resize(p);
  return ext;
}

}  // namespace

// ---------------------------------------------------------------- settings

Settings Settings::from(const core::Config& c) {
  Settings s;
  s.alias_maps = c.get_list("alias_maps");
  s.myorigin = c.get("myorigin");
  s.myhostname = c.get("myhostname");
  s.mail_name = c.get("mail_name");
  s.recipient_delimiter = c.get("recipient_delimiter");
  // forward_path, luser_relay, mailbox_command and command_execution_directory
  // are expanded per recipient with local(8)'s own names ($user, $home ...),
  // not as main.cf values: Postfix reads them raw.
  s.forward_path = raw(c, "forward_path");
  s.luser_relay = raw(c, "luser_relay");
  s.mailbox_command = raw(c, "mailbox_command");
  s.exec_directory = raw(c, "command_execution_directory");
  s.fallback_transport = c.get("fallback_transport");
  s.home_mailbox = c.get("home_mailbox");
  s.mail_spool_directory = c.get("mail_spool_directory");
  s.allow_commands =
      name_mask(c, "allow_mail_to_commands", {{"alias", exp_alias}, {"forward", exp_forward}, {"include", exp_include}});
  s.allow_files =
      name_mask(c, "allow_mail_to_files", {{"alias", exp_alias}, {"forward", exp_forward}, {"include", exp_include}});
  s.delivered_hdr = name_mask(c, "prepend_delivered_header",
                              {{"command", hdr_command}, {"file", hdr_file}, {"forward", hdr_forward}});
  s.dup_filter_limit = c.get_int("duplicate_filter_limit");
  s.command_time_limit = c.get_time("command_time_limit");
  s.mailbox_size_limit = c.get_int("mailbox_size_limit");
  long long msg_limit = c.get_int("message_size_limit");
  if (s.mailbox_size_limit > 0 && msg_limit > 0 && s.mailbox_size_limit < msg_limit)
    throw core::ConfigError(fmt::format("{}: main.cf configuration error: mailbox_size_limit is smaller than message_size_limit",
                                        c.where("mailbox_size_limit")));
  if (!parse_lock_methods(c.get("mailbox_delivery_lock"), s.mailbox_locks))
    throw core::ConfigError(fmt::format("{}: unknown mailbox_delivery_lock value in \"{}\"", c.where("mailbox_delivery_lock"),
                                        c.get("mailbox_delivery_lock")));
  if (s.mailbox_locks == 0)
    throw core::ConfigError("parameter mailbox_delivery_lock specifies no applicable mailbox locking method");
  s.lock_attempts = static_cast<int>(c.get_int("deliver_lock_attempts"));
  if (s.lock_attempts < 1) s.lock_attempts = 1;
  s.lock_delay = static_cast<int>(c.get_time("deliver_lock_delay"));
  s.stale_lock_time = c.get_time("stale_lock_time");
  s.owner_request_special = c.get_bool("owner_request_special");
  s.expand_owner_alias = c.get_bool("expand_owner_alias");
  s.strict_mailbox_ownership = c.get_bool("strict_mailbox_ownership");
  s.local_command_shell = c.get("local_command_shell");
  s.export_environment = c.get_list("export_environment");
  // The filters are character sets, not values to expand.
  s.command_filter = raw(c, "command_expansion_filter");
  s.forward_filter = raw(c, "forward_expansion_filter");
  s.exec_dir_filter = raw(c, "execution_directory_expansion_filter");
  s.default_privs = c.get("default_privs");
  s.maildir_hostname = local::maildir_hostname();
  return s;
}

// ---------------------------------------------------------------- summary

core::DeliveryResult summarize(size_t rcpt, const std::vector<Leaf>& leaves) {
  core::DeliveryResult r;
  r.rcpt = rcpt;
  r.relay = "local";
  const Leaf* first_defer = nullptr;
  const Leaf* first_bounce = nullptr;
  std::vector<std::string> texts;
  for (const auto& l : leaves) {
    if (l.status.kind == '4' && !first_defer) first_defer = &l;
    if (l.status.kind == '5' && !first_bounce) first_bounce = &l;
    if (l.status.kind == '2' && std::find(texts.begin(), texts.end(), l.status.text) == texts.end())
      texts.push_back(l.status.text);
  }
  if (const Leaf* l = first_defer ? first_defer : first_bounce) {
    r.dsn = l->status.dsn;
    r.reason = l->status.text;
    // No diagnostic of a remote MTA: the bounce notice writes its own
    // "Diagnostic-Code: X-$mail_name; TEXT", as Postfix's bounce(8) does
    // for a DSN without a diagnostic type.
    return r;
  }
  r.dsn = "2.0.0";
  // Nothing to do at all (every destination was a duplicate): done.
  r.reason = texts.empty() ? std::string("alias expanded") : util::join(texts, "; ");
  return r;
}

// ---------------------------------------------------------------- alias maps

struct Deliverer::AliasMap {
  std::string spec;
  std::string file;  // the file whose owner gives the rights; "" = root
  bool needs_file = false;  // hash-type: a missing .db is an error, not "no alias"
  std::unique_ptr<core::Table> table;
};

namespace {

struct AliasHit {
  bool found = false;
  bool error = false;
  std::string value;
  uid_t owner = 0;
};

}  // namespace

// ---------------------------------------------------------------- the switch

struct Deliverer::Impl {
  // Per-message, per-recipient attributes, passed by value down the
  // recursion so that no level can undo another's changes (Postfix's
  // DELIVER_ATTR discipline).
  struct Attr {
    int level = 0;
    std::string sender;
    std::string owner;
    std::string delivered;
    unsigned exp_type = 0;
    std::string exp_from;
    std::string address;    // current recipient
    std::string orig_addr;  // X-Original-To; "" after an owner- alias
    std::string orcpt;
    unsigned notify = 0;
    bool dsn_reset = false;  // owner- alias: ENVID and RET are not propagated
    bool no_expand = false;  // "\user"
    std::string local, domain, user;
    std::optional<std::string> extension;
  };
  struct Usr {
    bool set = false;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string home, shell;
  };
  struct FwdRcpt {
    std::string address, orig, orcpt;
    unsigned notify = 0;
  };
  struct FwdGroup {
    std::string delivered, sender;
    bool dsn_reset = false;
    std::vector<FwdRcpt> rcpts;
  };

  Deliverer& d;
  const core::Message& msg;
  std::string transport;
  std::string content_view;
  RcptOutcome out;
  std::unordered_set<std::string> dup;
  std::set<std::string> loop_info;
  std::vector<FwdGroup> fwd;
  std::string queued_address;  // the queue recipient, as qmgr has it (forward leaves)
  int64_t now = util::now_sec();

  Impl(Deliverer& dd, const core::Message& m, std::string t) : d(dd), msg(m), transport(std::move(t)) {
    auto hb = core::split_headers(m.content);
    for (const auto& f : hb.fields)
      if (util::iequals(f.name, "Delivered-To")) loop_info.insert(util::lower(f.value()));
  }

  const Settings& s() const { return d.s_; }

  // Postfix been_here(): true when `key` was seen; remembers at most
  // duplicate_filter_limit keys (0 = no limit), case-folded.
  bool been_here(const std::string& key) {
    std::string k = util::lower(key);
    if (dup.count(k)) return true;
    if (s().dup_filter_limit <= 0 || static_cast<long long>(dup.size()) < s().dup_filter_limit) dup.insert(k);
    return false;
  }
  bool been_here_check(const std::string& key) const { return dup.count(util::lower(key)) != 0; }

  // Results: 0 = done (delivered or bounced), 1 = try again later.
  int report(const Attr& a, Status st) {
    int r = st.kind == '4' ? 1 : 0;
    out.leaves.push_back({a.address, std::move(st)});
    return r;
  }
  int sent(const Attr& a, std::string text) { return report(a, Status::sent(std::move(text))); }
  int bounce(const Attr& a, std::string_view dsn, std::string text) {
    // bounce_append() accepts only 5.X.Y codes; anything else becomes 5.0.0.
    std::string code = !dsn.empty() && dsn[0] == '5' ? std::string(dsn) : "5.0.0";
    return report(a, Status{'5', code, std::move(text)});
  }
  int defer(const Attr& a, std::string_view dsn, std::string text) {
    std::string code = !dsn.empty() && dsn[0] == '4' ? std::string(dsn) : "4.0.0";
    return report(a, Status{'4', code, std::move(text)});
  }
  int status_of(const Attr& a, Status st) {
    if (st.kind == '4') return defer(a, st.dsn, std::move(st.text));
    if (st.kind == '5') return bounce(a, st.dsn, std::move(st.text));
    return report(a, std::move(st));
  }

  std::optional<std::string> attr_value(const Attr& a, const Usr& u, std::string_view name) const {
    if (name == "user") return a.user;
    if (name == "home") return u.set && !u.home.empty() ? std::optional<std::string>(u.home) : std::nullopt;
    if (name == "shell") return u.set && !u.shell.empty() ? std::optional<std::string>(u.shell) : std::nullopt;
    if (name == "domain") return a.domain.empty() ? std::nullopt : std::optional<std::string>(a.domain);
    if (name == "local" || name == "mailbox") return a.local;
    if (name == "recipient") return a.address;
    if (name == "extension") return a.extension;
    if (name == "recipient_delimiter") {
      if (!a.extension || a.local.size() <= a.user.size()) return std::nullopt;
      return std::string(1, a.local[a.user.size()]);
    }
    return std::nullopt;
  }
  Expansion expand(const Attr& a, const Usr& u, std::string_view pattern, std::string_view filter) const {
    return local_expand(pattern, [&](std::string_view n) { return attr_value(a, u, n); }, filter);
  }

  CopyAttrs copy_attrs(const Attr& a) const { return {a.sender, a.orig_addr, a.delivered}; }

  bool lookup_user(std::string_view name, UserInfo& ui, int& err) const {
    err = d.users_->find_name(name, ui);
    return err == 0;
  }
  static Usr usr_from(const UserInfo& ui) { return {true, ui.uid, ui.gid, ui.home, ui.shell}; }

  // Commands and files never run as root: default_privs instead.
  bool default_rights(Usr& u, const Attr& a, int& status) {
    if (u.uid != 0 && u.gid != 0) return true;
    UserInfo ui;
    int err = d.users_->find_name(s().default_privs, ui);
    if (err != 0 || ui.uid == 0 || ui.gid == 0) {
      log::warn(kService, "unknown or privileged default_privs user: {}", s().default_privs);
      status = defer(a, "4.3.5", "mail system configuration error");
      return false;
    }
    if (u.uid == 0) u.uid = ui.uid;
    if (u.gid == 0) u.gid = ui.gid;
    return true;
  }

  AliasHit alias_lookup(const std::string& name) {
    std::lock_guard lk(d.tables_mu_);
    AliasHit hit;
    for (auto& m : d.maps_) {
      try {
        if (m->needs_file && !util::exists(m->file)) {
          log::warn(kService, "{}: alias database {} is missing (run newaliases)", m->spec, m->file);
          hit.error = true;
          return hit;
        }
        if (!m->table) m->table = core::open_table(m->spec, false);
        if (auto v = m->table->lookup(name)) {
          hit.found = true;
          hit.value = *v;
          struct stat st;
          hit.owner = (!m->file.empty() && ::stat(m->file.c_str(), &st) == 0) ? st.st_uid : 0;
          return hit;
        }
      } catch (const std::exception& e) {
        log::warn(kService, "{}: {}", m->spec, e.what());
        m->table.reset();
        hit.error = true;
        return hit;
      }
    }
    return hit;
  }

  // ------------------------------------------------------------ recipient

  int deliver_recipient(Attr a, Usr u) {
    a.level++;
    if (a.level > kMaxLevel) {
      log::warn(kService, "{}: recipient nesting limit exceeded for {}", msg.env.id, a.address);
      return bounce(a, "5.4.6", "recipient nesting limit exceeded");
    }
    if (been_here(fmt::format("recipient {} {}", a.level, a.address))) return 0;
    if (loop_info.count(util::lower(a.address)))
      return bounce(a, "5.4.6", fmt::format("mail forwarding loop for {}", a.address));
    if (a.delivered.empty()) a.delivered = a.address;
    auto parts = core::split_address(a.address);
    a.local = util::lower(core::unquote_local(parts.local));
    a.domain = util::lower(parts.domain);
    a.user = a.local;
    a.extension = split_extension(a.user, s().recipient_delimiter, s().owner_request_special);
    if (a.extension && a.extension->find('/') != std::string::npos) {
      log::warn(kService, "{}: address with illegal extension: {}", msg.env.id, a.local);
      a.extension.reset();
      a.local = a.user;
    }
    if (a.user.empty()) return bounce(a, "5.1.3", fmt::format("null username in \"{}\"", a.address));
    return deliver_switch(std::move(a), std::move(u));
  }

  int deliver_switch(Attr a, Usr u) {
    a.level++;
    int status = 0;
    if (a.no_expand) {
      if (auto r = deliver_mailbox(a, u)) return *r;
      return deliver_unknown(a, u);
    }
    if (auto r = deliver_alias(a, u, a.local)) return *r;
    if (a.extension)
      if (auto r = deliver_alias(a, u, a.user)) return *r;
    // Mail for another local user found through an owner- alias or a
    // .forward goes out as a new message, so that it has its own queue file
    // status (Postfix recipient.c).
    if (!a.owner.empty() && !util::iequals(a.owner, a.user)) return deliver_indirect(a);
    if (a.exp_type == exp_include) return deliver_indirect(a);

    UserInfo ui;
    int err = 0;
    if (lookup_user(a.user, ui, err)) {
      struct stat st;
      if (::stat(ui.home.c_str(), &st) != 0)
        return defer(a, "4.3.0", fmt::format("cannot access home directory {}: {}", ui.home, std::strerror(errno)));
    } else if (err != ENOENT) {
      log::warn(kService, "error looking up passwd info for {}: {}", a.user, std::strerror(err));
      return defer(a, "4.0.0", "user lookup error");
    }
    if (auto r = deliver_dotforward(a, u)) return *r;
    if (auto r = deliver_mailbox(a, u)) return *r;
    status = deliver_unknown(a, u);
    return status;
  }

  // ------------------------------------------------------------ aliases

  std::optional<int> deliver_alias(Attr a, Usr u, const std::string& name) {
    a.level++;
    // An alias that lists its own name: deliver to the user instead.
    if (!a.exp_from.empty() && util::iequals(a.exp_from, name)) return std::nullopt;
    if (a.level > kMaxLevel) {
      log::warn(kService, "alias database loop for {}", name);
      return bounce(a, "5.4.6", fmt::format("alias database loop for {}", name));
    }
    a.exp_from = name;
    AliasHit hit = alias_lookup(name);
    if (hit.error) return defer(a, "4.3.0", "alias database unavailable");
    if (!hit.found) return std::nullopt;

    a.exp_type = exp_alias;
    // Rights for |command and /file: the database owner, or default_privs
    // when root owns it (usr reset; the command/file code substitutes).
    if (hit.owner == 0) {
      u = Usr{};
    } else {
      UserInfo ui;
      if (d.users_->find_uid(hit.owner, ui) != 0) {
        log::warn(kService, "cannot find alias database owner for uid {}", static_cast<long>(hit.owner));
        return defer(a, "4.3.0", "cannot find alias database owner");
      }
      u = usr_from(ui);
    }
    if (s().owner_request_special) {
      AliasHit own = alias_lookup("owner-" + name);
      if (own.error) return defer(a, "4.3.0", "alias database unavailable");
      if (own.found) {
        std::string who = s().expand_owner_alias ? own.value : "owner-" + name;
        if (s().expand_owner_alias) {
          auto targets = core::parse_alias_value(own.value);
          if (!targets.empty()) who = targets.front().text;
        }
        a.sender = a.owner = core::qualify(who, s().myorigin);
        // A list is a new message: its DSN parameters are not the sender's.
        a.dsn_reset = true;
        a.orcpt.clear();
        a.orig_addr.clear();
      } else {
        a.owner.clear();
      }
    } else {
      a.owner.clear();
    }
    a.notify = strip_success(a.notify);
    int count = 0;
    auto targets = core::parse_alias_value(hit.value);
    if (targets.size() > 1 && core::fault::active(core::fault::Id::drop_alias_member)) targets.pop_back();
    int status = deliver_tokens(a, u, targets, count);
    if (count < 1) {
      log::warn(kService, "no recipient in alias lookup result for {}", name);
      return defer(a, "4.3.0", "alias database unavailable");
    }
    return status;
  }

  static unsigned strip_success(unsigned n) {
    if (n == core::notify_success) return core::notify_never;
    return n & ~static_cast<unsigned>(core::notify_success);
  }

  int deliver_tokens(const Attr& a, const Usr& u, const std::vector<core::AliasTarget>& targets, int& count) {
    int status = 0;
    for (const auto& t : targets) {
      ++count;
      status |= deliver_token(a, u, t);
    }
    return status;
  }

  int deliver_token(const Attr& a, const Usr& u, const core::AliasTarget& t) {
    switch (t.kind) {
      case core::AliasTargetKind::file:
        if (t.text[0] == '~') {
          if (t.text.size() < 2 || t.text[1] != '/')
            return bounce(a, "5.3.5", fmt::format("bad home directory syntax for: {}", t.text));
          if (!u.set || u.home.empty()) return bounce(a, "5.3.5", fmt::format("unknown home directory for: {}", t.text));
          if (u.home == "/") return deliver_file(a, u, t.text.substr(1));
          return deliver_file(a, u, u.home + t.text.substr(1));
        }
        return deliver_file(a, u, t.text);
      case core::AliasTargetKind::command:
        if ((s().allow_commands & a.exp_type) == 0) return bounce(a, "5.7.1", "mail to command is restricted");
        return deliver_command(a, u, t.text);
      case core::AliasTargetKind::include:
        return deliver_include(a, u, t.text);
      case core::AliasTargetKind::address:
        break;
    }
    return deliver_resolve(a, u, t.text, t.no_expand);
  }

  int deliver_resolve(Attr a, Usr u, const std::string& addr0, bool no_expand) {
    a.level++;
    std::string addr(util::trim(addr0));
    auto parts = core::split_address(addr);
    if (addr.empty() || parts.local.empty() || (parts.has_at && parts.domain.empty()))
      return bounce(a, "5.1.3", fmt::format("bad recipient address syntax: {}", addr));
    // Canonicalise as cleanup does (append_at_myorigin), then route as the
    // queue manager would.
    if (!parts.has_at) addr = core::qualify(addr, s().myorigin);
    core::Route route;
    {
      std::lock_guard lk(d.tables_mu_);
      route = d.router_->route(addr);
    }
    a.address = route.address;
    a.no_expand = no_expand;
    if (route.transport == transport) return deliver_recipient(a, u);
    return deliver_indirect(a);
  }

  int deliver_indirect(const Attr& a) {
    if (been_here("indirect " + a.address)) return 0;
    FwdGroup* g = nullptr;
    for (auto& x : fwd)
      if (x.delivered == a.delivered && x.sender == a.sender) g = &x;
    if (!g) {
      fwd.push_back({a.delivered, a.sender, a.dsn_reset, {}});
      g = &fwd.back();
    }
    // No leaf yet: forward_finish() reports one per forwarded message.
    g->rcpts.push_back({a.address, a.orig_addr, a.orcpt, a.notify});
    return 0;
  }

  // ------------------------------------------------------------ .forward

  std::optional<int> deliver_dotforward(Attr a, Usr u) {
    a.level++;
    if (util::trim(s().forward_path).empty()) return std::nullopt;
    UserInfo ui;
    int err = 0;
    if (!lookup_user(a.user, ui, err)) return std::nullopt;
    u = usr_from(ui);
    a.exp_type = exp_forward;
    a.owner = a.user;

    std::string path;
    struct stat st;
    bool found_file = false;
    for (const auto& item : util::split_list(s().forward_path)) {
      Expansion e = expand(a, u, item, s().forward_filter);
      if (e.error || e.undefined) continue;
      if (::lstat(e.text.c_str(), &st) == 0) {
        path = e.text;
        found_file = true;
        break;
      }
    }
    if (!found_file) return std::nullopt;

    bool forward_found = false;
    int status = 0;
    if (!been_here("forward " + path)) {
      a.exp_from = a.local;
      if (!S_ISREG(st.st_mode)) {
        log::warn(kService, "file {} is not a regular file", path);
      } else if (st.st_uid != 0 && st.st_uid != u.uid) {
        log::warn(kService, "file {} has bad owner uid {}", path, static_cast<long>(st.st_uid));
      } else if (st.st_mode & S_IWOTH) {
        log::warn(kService, "file {} is world writable", path);
      } else {
        std::string text;
        int rerr = read_as(u, path, text);
        if (rerr != 0) {
          log::warn(kService, "cannot open file {}: {}", path, std::strerror(rerr));
        } else {
          a.notify = strip_success(a.notify);
          int count = 0;
          status = deliver_tokens(a, u, core::parse_forward_file(text), count);
          if (count > 0) {
            forward_found = true;
            been_here("forward-done " + path);
          }
        }
      }
    } else if (been_here_check("forward-done " + path)) {
      forward_found = true;
    }
    if (!forward_found) return std::nullopt;
    return status;
  }

  // Reads a file with the rights of `u` (root reads for root-owned aliases).
  int read_as(const Usr& u, const std::string& path, std::string& out_text) {
    Status st = run_as(u.set ? u.uid : ::geteuid(), u.set ? u.gid : ::getegid(), [&]() -> Status {
      std::string t;
      if (auto ec = util::read_file(path, t)) return Status::fail("4.3.0", std::to_string(ec.value()));
      return Status::sent(std::move(t));
    });
    if (!st.ok()) {
      unsigned long long e = 0;
      return util::parse_u64(st.text, e) ? static_cast<int>(e) : EIO;
    }
    out_text = std::move(st.text);
    return 0;
  }

  // ------------------------------------------------------------ :include:

  int deliver_include(Attr a, Usr u, const std::string& path) {
    a.level++;
    if (a.level > kMaxLevel) {
      log::warn(kService, ":include: nesting limit exceeded for {}", path);
      return bounce(a, "5.4.6", ":include: nesting limit exceeded");
    }
    if (been_here(fmt::format("include {} {}", static_cast<long>(u.uid), path))) return 0;
    a.exp_from = a.local;
    if (path.empty() || path[0] != '/') {
      log::warn(kService, ":include:{} uses a relative path", path);
      return bounce(a, "5.3.5", "mail system configuration error");
    }
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      log::warn(kService, "unable to lookup :include: file {}: {}", path, std::strerror(errno));
      return bounce(a, "5.3.5", "mail system configuration error");
    }
    if (!S_ISREG(st.st_mode)) {
      log::warn(kService, ":include: file {} is not a regular file", path);
      return bounce(a, "5.3.5", "mail system configuration error");
    }
    if (st.st_mode & S_IWOTH) {
      log::warn(kService, ":include: file {} is world writable", path);
      return bounce(a, "5.3.5", "mail system configuration error");
    }
    a.exp_type = exp_include;
    // A non-root include file listed in a root-owned alias lends its owner's
    // rights, never the default account's.
    if (!u.set || u.uid == 0) {
      UserInfo ui;
      if (d.users_->find_uid(st.st_uid, ui) != 0) {
        log::warn(kService, "{}: cannot find :include: file owner username", path);
        return defer(a, "4.3.5", "mail system configuration error");
      }
      if (ui.uid != 0) u = usr_from(ui);
    }
    if (a.owner.empty()) a.owner = a.address;
    std::string text;
    if (int rerr = read_as(u, path, text)) {
      log::warn(kService, "cannot open include file {}: {}", path, std::strerror(rerr));
      return bounce(a, "5.3.5", "mail system configuration error");
    }
    int count = 0;
    return deliver_tokens(a, u, core::parse_forward_file(text), count);
  }

  // ------------------------------------------------------------ mailbox

  std::optional<int> deliver_mailbox(Attr a, Usr u) {
    a.level++;
    if (been_here("mailbox " + a.local)) return 0;
    UserInfo ui;
    int err = 0;
    if (!lookup_user(a.user, ui, err)) {
      if (err == ENOENT) return std::nullopt;
      log::warn(kService, "error looking up passwd info for {}: {}", a.user, std::strerror(err));
      return defer(a, "4.0.0", "user lookup error");
    }
    u = usr_from(ui);
    if (!util::trim(s().mailbox_command).empty()) {
      Expansion e = expand(a, u, s().mailbox_command, s().command_filter);
      if (e.error) {
        log::warn(kService, "bad parameter value syntax for mailbox_command: {}", s().mailbox_command);
        return defer(a, "4.3.5", "mail system configuration error");
      }
      return deliver_command(a, u, e.text);
    }
    if (!s().home_mailbox.empty() && ends_with_slash(s().home_mailbox))
      return deliver_maildir(a, u, u.home + "/" + s().home_mailbox, true);
    if (ends_with_slash(s().mail_spool_directory))
      return deliver_maildir(a, u, s().mail_spool_directory + a.user + "/", false);
    return deliver_mailbox_file(a, u);
  }

  MboxOptions mbox_options() const {
    MboxOptions o;
    o.locks = s().mailbox_locks;
    o.lock_attempts = s().lock_attempts;
    o.lock_delay = s().lock_delay;
    o.stale_lock_time = s().stale_lock_time;
    o.size_limit = s().mailbox_size_limit;
    return o;
  }

  FileIo& io() const { return d.io_ ? *d.io_ : system_io(); }

  int deliver_mailbox_file(const Attr& a, const Usr& u) {
    bool home = !s().home_mailbox.empty();
    std::string mailbox = home ? u.home + "/" + s().home_mailbox : s().mail_spool_directory + "/" + a.user;
    unsigned flags = copy_mbox;
    if (!(s().delivered_hdr & hdr_file)) flags &= ~copy_delivered;
    std::string bytes = mail_copy(msg.content, copy_attrs(a), flags, now);
    MboxOptions o = mbox_options();
    o.require_regular = true;
    if (s().strict_mailbox_ownership) o.owner_must_be = u.uid;
    Status st;
    if (home) {
      // In the user's home directory, everything happens with the user's
      // rights, so that the user's own links cannot fool root.
      st = run_as(u.uid, u.gid, [&] { return mbox_append(mailbox, bytes, o, io()); });
    } else {
      o.chown_uid = u.uid;
      o.chown_gid = u.gid;
      st = mbox_append(mailbox, bytes, o, io());
    }
    if (st.ok()) return sent(a, "delivered to mailbox");
    return status_of(a, Status::fail(st.dsn, fmt::format("cannot update mailbox {} for user {}. {}", mailbox, a.user, st.text)));
  }

  int deliver_maildir(const Attr& a, const Usr& u, std::string dir, bool as_user) {
    if (!ends_with_slash(dir)) dir += '/';
    unsigned flags = copy_maildir;
    if (!(s().delivered_hdr & hdr_file)) flags &= ~copy_delivered;
    std::string bytes = mail_copy(msg.content, copy_attrs(a), flags, now);
    MaildirOptions o;
    o.hostname = s().maildir_hostname;
    o.size_limit = s().mailbox_size_limit;
    Status st;
    if (as_user) {
      st = run_as(u.uid, u.gid, [&] { return maildir_deliver(dir, bytes, o, io()); });
    } else {
      o.chown_uid = u.uid;
      o.chown_gid = u.gid;
      st = maildir_deliver(dir, bytes, o, io());
    }
    if (st.ok()) return sent(a, "delivered to maildir");
    if (st.text.find("Permission denied") != std::string::npos)
      log::warn(kService, "maildir access problem for UID/GID={}/{}: {}", static_cast<long>(u.uid),
                static_cast<long>(u.gid), st.text);
    return status_of(a, Status::fail(st.dsn, "maildir delivery failed: " + st.text));
  }

  // ------------------------------------------------------------ files

  int deliver_file(Attr a, Usr u, const std::string& path) {
    a.level++;
    if (been_here(fmt::format("file {} {}", static_cast<long>(u.uid), path))) return 0;
    if ((s().allow_files & a.exp_type) == 0) return bounce(a, "5.7.1", "mail to file is restricted");
    int status = 0;
    if (!default_rights(u, a, status)) return status;
    if (ends_with_slash(path)) return deliver_maildir(a, u, path, true);
    unsigned flags = copy_mbox;
    if (!(s().delivered_hdr & hdr_file)) flags &= ~copy_delivered;
    std::string bytes = mail_copy(msg.content, copy_attrs(a), flags, now);
    MboxOptions o = mbox_options();
    o.dotlock_may_fail = true;
    o.refuse_executable = true;
    Status st = run_as(u.uid, u.gid, [&] { return mbox_append(path, bytes, o, io()); });
    if (st.ok()) return sent(a, "delivered to file: " + path);
    return status_of(a, Status::fail(st.dsn, fmt::format("cannot append message to destination file {}: {}", path, st.text)));
  }

  // ------------------------------------------------------------ commands

  int deliver_command(Attr a, Usr u, const std::string& command) {
    a.level++;
    if (been_here(fmt::format("command {}:{} {}", a.user, static_cast<long>(u.uid), command))) return 0;
    int status = 0;
    if (!default_rights(u, a, status)) return status;

    CommandSpec c;
    c.command = command;
    c.shell = s().local_command_shell;
    c.uid = u.uid;
    c.gid = u.gid;
    c.time_limit = s().command_time_limit;
    c.export_names = s().export_environment;
    auto add = [&](const char* k, const std::string& v) {
      std::string f = v;
      for (char& ch : f)
        if (s().command_filter.find(ch) == std::string::npos) ch = '_';
      c.env.emplace_back(k, f);
    };
    if (!u.home.empty()) add("HOME", u.home);
    add("LOGNAME", a.user);
    add("USER", a.user);
    add("SENDER", a.sender);
    add("RECIPIENT", a.address);
    add("LOCAL", a.local);
    if (!u.shell.empty()) add("SHELL", u.shell);
    if (!a.domain.empty()) add("DOMAIN", a.domain);
    if (a.extension) add("EXTENSION", *a.extension);
    if (!a.orig_addr.empty()) add("ORIGINAL_RECIPIENT", a.orig_addr);
    if (!msg.env.client_name.empty()) add("CLIENT_HOSTNAME", msg.env.client_name);
    if (!msg.env.client_addr.empty()) add("CLIENT_ADDRESS", msg.env.client_addr);
    if (!msg.env.helo.empty()) add("CLIENT_HELO", msg.env.helo);
    if (!msg.env.protocol.empty()) add("CLIENT_PROTOCOL", msg.env.protocol);

    Expansion cwd = expand(a, u, s().exec_directory, s().exec_dir_filter);
    if (cwd.error) {
      log::warn(kService, "bad parameter value syntax for command_execution_directory: {}", s().exec_directory);
      return defer(a, "4.3.5", "mail system configuration error");
    }
    c.cwd = cwd.text;

    unsigned flags = copy_command;
    if (!(s().delivered_hdr & hdr_command)) flags &= ~copy_delivered;
    Status st = run_command(c, mail_copy(msg.content, copy_attrs(a), flags, now));
    if (st.ok()) return sent(a, "delivered to command: " + command);
    return status_of(a, std::move(st));
  }

  // ------------------------------------------------------------ unknown

  int deliver_unknown(Attr a, Usr u) {
    a.level++;
    if (been_here("deliver_unknown " + a.local)) return 0;
    if (!s().fallback_transport.empty()) {
      out.passes.push_back(a.address);
      return 0;
    }
    if (!util::trim(s().luser_relay).empty()) {
      Expansion e = expand(a, u, s().luser_relay, "");
      return deliver_resolve(a, u, e.text, false);
    }
    if (util::iequals(a.user, "mailer-daemon") || util::iequals(a.user, "postmaster")) {
      log::warn(kService, "required alias not found: {}", a.user);
      return sent(a, "discarded");
    }
    return bounce(a, "5.1.1", fmt::format("unknown user: \"{}\"", a.user));
  }

  // ------------------------------------------------------------ forwarding

  // Postfix forward_finish(): one new message per (Delivered-To, sender)
  // pair, each reported once for the queue recipient as it was before any
  // expansion ("to=<list@...>, ... (forwarded as ID)"), not per address in
  // it. On cancel the recipient is tried again as a whole: nothing is
  // queued, and the addresses never tried are not reported.
  void forward_finish(bool cancel) {
    if (cancel) return;
    for (auto& g : fwd) out.leaves.push_back({queued_address, forward_send(g)});
  }

  Status forward_send(const FwdGroup& g) {
    cleanup::Builder b;
    if (auto ec = b.open(d.store_)) return Status::fail("4.3.0", "unable to forward message: " + ec.message());
    core::Message& m = b.message();
    m.env.arrival = util::now();
    m.env.sender = g.sender;
    m.env.origin = "local";
    m.env.protocol = msg.env.protocol;
    m.env.client_name = msg.env.client_name;
    m.env.client_addr = msg.env.client_addr;
    m.env.helo = msg.env.helo;
    if (!g.dsn_reset) {
      m.env.envid = msg.env.envid;
      m.env.ret = msg.env.ret;
    }
    m.env.body_type = msg.env.body_type;
    for (const auto& r : g.rcpts) {
      core::Recipient rc;
      rc.address = r.address;
      if (!r.orig.empty() && !util::iequals(r.orig, r.address)) rc.orig = r.orig;
      rc.dsn_orcpt = r.orcpt;
      rc.notify = r.notify;
      m.env.rcpts.push_back(std::move(rc));
    }
    std::string head = fmt::format("Received: by {} ({})\n\tid {}; {}\n", s().myhostname, s().mail_name, b.id(),
                                   util::rfc5322_date(m.env.arrival.sec));
    if (s().delivered_hdr & hdr_forward) head += "Delivered-To: " + util::lower(g.delivered) + "\n";
    m.content = head + msg.content;
    cleanup::Status cs = b.finish(d.cs_);
    if (!cs.ok) {
      b.discard();
      return Status::fail(cs.dsn, cs.text);
    }
    if (auto ec = b.commit()) {
      b.discard();
      return Status::fail("4.3.0", "unable to forward message: " + ec.message());
    }
    out.queued.push_back(b.id());
    return Status::sent("forwarded as " + b.id());
  }
};

// ---------------------------------------------------------------- Deliverer

Deliverer::Deliverer(Settings s, cleanup::Settings cs, std::shared_ptr<core::Router> router,
                     const queue::QueueStore& store, std::shared_ptr<const UserDb> users, FileIo* io)
    : s_(std::move(s)), cs_(std::move(cs)), router_(std::move(router)), store_(store), users_(std::move(users)), io_(io) {
  for (const auto& spec : s_.alias_maps) {
    auto m = std::make_unique<AliasMap>();
    m->spec = spec;
    std::string sp = spec;
    if (sp.rfind("proxy:", 0) == 0) sp = sp.substr(6);
    auto [type, name] = core::split_transport(sp);
    if (type == "hash" || type == "btree" || type == "lmdb" || type == "cdb") {
      m->file = core::hash_db_path(name);
      m->needs_file = true;
    } else if (type == "texthash") {
      m->file = name;
      m->needs_file = true;
    }
    maps_.push_back(std::move(m));
  }
}

Deliverer::~Deliverer() = default;

RcptOutcome Deliverer::deliver(const core::Message& msg, size_t rcpt, const std::string& address,
                               const std::string& transport) {
  Impl im(*this, msg, transport);
  const core::Recipient& r = msg.env.rcpts.at(rcpt);
  im.queued_address = r.address;
  Impl::Attr a;
  a.sender = msg.env.sender;
  a.address = address;
  a.orig_addr = r.orig.empty() ? r.address : r.orig;
  a.orcpt = r.dsn_orcpt;
  a.notify = r.notify;
  int status = im.deliver_recipient(a, Impl::Usr{});
  im.forward_finish(status != 0);
  im.out.rcpt = rcpt;
  im.out.result = summarize(rcpt, im.out.leaves);
  return std::move(im.out);
}

}  // namespace mta::local
