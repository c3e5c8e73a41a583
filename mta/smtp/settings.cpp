#include "smtp/settings.hpp"

#include "core/maps.hpp"
#include "core/router.hpp"
#include "smtp/nexthop.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace mta::smtp {
namespace {

[[noreturn]] void bad(const core::Config& c, const char* name, const std::string& what) {
  throw core::ConfigError(fmt::format("{}: {}", c.where(name), what));
}

std::chrono::seconds secs(const core::Config& c, const char* name) { return std::chrono::seconds(c.get_time(name)); }

int non_negative(const core::Config& c, const char* name) {
  long long v = c.get_int(name);
  if (v < 0 || v > 1'000'000) bad(c, name, fmt::format("bad numerical configuration: {} = {}", name, v));
  return static_cast<int>(v);
}

std::optional<core::IpAddr> bind_addr(const core::Config& c, const char* name, int family) {
  std::string v(util::trim(c.get(name)));
  if (v.empty()) return std::nullopt;
  auto a = core::IpAddr::parse(v);
  if (!a || a->family != family) bad(c, name, fmt::format("bad {} parameter: {}", name, v));
  return a;
}

// inet_protocols: all | ipv4 | ipv6 | "ipv4, ipv6". "all" means IPv6 too
// only when the kernel has it (Postfix probes with a socket).
void protocols(const core::Config& c, SelectOptions& o) {
  o.ipv4 = o.ipv6 = false;
  for (const auto& p : c.get_list("inet_protocols")) {
    std::string v = util::lower(p);
    if (v == "all") {
      o.ipv4 = true;
      int s = ::socket(AF_INET6, SOCK_STREAM, 0);
      if (s >= 0) {
        o.ipv6 = true;
        ::close(s);
      }
    } else if (v == "ipv4") {
      o.ipv4 = true;
    } else if (v == "ipv6") {
      o.ipv6 = true;
    } else {
      bad(c, "inet_protocols", fmt::format("bad inet_protocols value: {}", p));
    }
  }
}

// Postfix's lower bound for a time parameter ("invalid ... parameter value 0 < 1").
std::chrono::seconds at_least_1s(const core::Config& c, const char* name) {
  long long v = c.get_time(name);
  if (v < 1) bad(c, name, fmt::format("invalid {} parameter value {} < 1", name, v));
  return std::chrono::seconds(v);
}

}  // namespace

NameList NameList::parse(const std::vector<std::string>& patterns, const std::string& where) {
  NameList l;
  for (const auto& p0 : patterns) {
    std::string_view p = p0;
    bool negate = false;
    while (!p.empty() && p.front() == '!') {
      negate = !negate;
      p.remove_prefix(1);
    }
    if (p.empty()) continue;
    if (p.front() == '/') {
      // "/file/name": its words are patterns of this list (not recursively).
      std::ifstream in{std::string(p)};
      if (!in) throw core::ConfigError(fmt::format("{}: open {}: {}", where, p, std::strerror(errno)));
      std::string line;
      while (std::getline(in, line)) {
        auto hash = line.find('#');
        if (hash != std::string::npos) line.erase(hash);
        for (const auto& w : util::split_any(line, " \t,")) {
          if (w.empty()) continue;
          Entry e;
          e.negate = negate;
          e.name = util::lower(w);
          l.entries_.push_back(std::move(e));
        }
      }
      continue;
    }
    Entry e;
    e.negate = negate;
    if (p.find(':') != std::string_view::npos && p.front() != '[') {
      try {
        e.table = std::shared_ptr<core::Table>(core::open_table(std::string(p), true));
      } catch (const std::exception& ex) {
        throw core::ConfigError(fmt::format("{}: {}", where, ex.what()));
      }
    } else {
      e.name = util::lower(p);
    }
    l.entries_.push_back(std::move(e));
  }
  return l;
}

bool NameList::match(std::string_view name) const {
  std::string key = util::lower(name);
  for (const auto& e : entries_) {
    bool hit = e.table ? e.table->lookup(key).has_value() : e.name == key;
    if (hit) return !e.negate;
  }
  return false;
}

Settings load_settings(const core::Config& c) {
  Settings s;
  s.myhostname = util::lower(c.get("myhostname"));
  s.helo_name = c.get("smtp_helo_name");
  if (s.helo_name.empty()) s.helo_name = s.myhostname;
  s.relayhost = c.get("relayhost");
  {
    std::string port = std::string(util::trim(c.get("smtp_tcp_port")));
    std::string err;
    if (!parse_port(port, s.default_port, err))
      bad(c, "smtp_tcp_port", fmt::format("bad smtp_tcp_port value: {}: {}", port, err));
  }
  s.connect_timeout = secs(c, "smtp_connect_timeout");
  s.helo_timeout = secs(c, "smtp_helo_timeout");
  s.mail_timeout = secs(c, "smtp_mail_timeout");
  s.rcpt_timeout = secs(c, "smtp_rcpt_timeout");
  s.data_init_timeout = secs(c, "smtp_data_init_timeout");
  s.data_xfer_timeout = secs(c, "smtp_data_xfer_timeout");
  s.data_done_timeout = secs(c, "smtp_data_done_timeout");
  s.rset_timeout = secs(c, "smtp_rset_timeout");
  s.quit_timeout = secs(c, "smtp_quit_timeout");
  s.skip_quit_response = c.get_bool("smtp_skip_quit_response");
  s.mx_address_limit = non_negative(c, "smtp_mx_address_limit");
  s.mx_session_limit = non_negative(c, "smtp_mx_session_limit");
  s.skip_5xx_greeting = c.get_bool("smtp_skip_5xx_greeting");
  s.never_send_ehlo = c.get_bool("smtp_never_send_ehlo");
  s.always_send_ehlo = c.get_bool("smtp_always_send_ehlo");
  s.line_length_limit = static_cast<size_t>(non_negative(c, "smtp_line_length_limit"));
  s.reply_line_limit = static_cast<size_t>(non_negative(c, "line_length_limit"));
  if (s.reply_line_limit < 512) s.reply_line_limit = 512;  // RFC 5321 4.5.3.1.5: replies up to 512
  s.fallback_relay = c.get_list("smtp_fallback_relay");
  s.bind_address = bind_addr(c, "smtp_bind_address", AF_INET);
  s.bind_address6 = bind_addr(c, "smtp_bind_address6", AF_INET6);
  s.bind_enforce = c.get_bool("smtp_bind_address_enforce");

  auto& o = s.select;
  o.randomize = c.get_bool("smtp_randomize_addresses");
  std::string pref = util::lower(c.get("smtp_address_preference"));
  if (pref == "any")
    o.preference = AddressPreference::any;
  else if (pref == "ipv4")
    o.preference = AddressPreference::ipv4;
  else if (pref == "ipv6")
    o.preference = AddressPreference::ipv6;
  else
    bad(c, "smtp_address_preference", fmt::format("bad smtp_address_preference value: {}", pref));
  o.address_limit = s.mx_address_limit;
  o.balance = c.get_bool("smtp_balance_inet_protocols");
  o.defer_if_no_mx_address = c.get_bool("smtp_defer_if_no_mx_address_found");
  protocols(c, o);
  if (!o.ipv4 && !o.ipv6) bad(c, "inet_protocols", "all network protocols are disabled");
  o.own = core::own_addresses(c);

  s.cache_on_demand = c.get_bool("smtp_connection_cache_on_demand");
  s.cache_time_limit = at_least_1s(c, "smtp_connection_cache_time_limit");
  s.reuse_time_limit = at_least_1s(c, "smtp_connection_reuse_time_limit");
  s.reuse_count_limit = non_negative(c, "smtp_connection_reuse_count_limit");
  s.cache_destinations =
      NameList::parse(c.get_list("smtp_connection_cache_destinations"), c.where("smtp_connection_cache_destinations"));

  for (const auto& m : c.get_list("smtp_host_lookup")) {
    std::string v = util::lower(m);
    if (v == "native")
      s.warnings.push_back(
          fmt::format("{}: smtp_host_lookup = native is not supported; using dns", c.where("smtp_host_lookup")));
    else if (v != "dns")
      bad(c, "smtp_host_lookup", fmt::format("bad smtp_host_lookup value: {}", m));
  }
  return s;
}

}  // namespace mta::smtp
