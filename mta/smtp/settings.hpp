// NAME
//   smtp/settings - the main.cf parameters smtp(8) reads, parsed once
// DESCRIPTION
//   load_settings() reads every parameter of the SMTP client from a Config
//   (at start and on reload) so that a bad value is reported at once with
//   its place, never in the middle of a delivery.
// PARAMETERS
//   myhostname, relayhost, inet_protocols, inet_interfaces, proxy_interfaces,
//   line_length_limit, smtp_helo_name, smtp_tcp_port, smtp_bind_address,
//   smtp_bind_address6, smtp_bind_address_enforce, smtp_connect_timeout,
//   smtp_helo_timeout, smtp_mail_timeout, smtp_rcpt_timeout,
//   smtp_data_init_timeout, smtp_data_xfer_timeout, smtp_data_done_timeout,
//   smtp_rset_timeout, smtp_quit_timeout, smtp_skip_quit_response,
//   smtp_mx_address_limit, smtp_mx_session_limit, smtp_randomize_addresses,
//   smtp_address_preference, smtp_balance_inet_protocols,
//   smtp_skip_5xx_greeting, smtp_defer_if_no_mx_address_found,
//   smtp_never_send_ehlo, smtp_always_send_ehlo, smtp_line_length_limit,
//   smtp_fallback_relay, smtp_host_lookup, smtp_connection_cache_on_demand,
//   smtp_connection_cache_destinations, smtp_connection_cache_time_limit,
//   smtp_connection_reuse_time_limit, smtp_connection_reuse_count_limit
// DIAGNOSTICS
//   core::ConfigError "main.cf, line 7: bad numerical configuration:
//   smtp_mx_address_limit = x" (from Config), or "main.cf, line 9: bad
//   smtp_address_preference value: ipv5", "...: bad smtp_bind_address
//   parameter: 10.0.0.300", "...: bad smtp_tcp_port value: nosuch: unknown
//   service: nosuch/tcp", "...: invalid smtp_connection_cache_time_limit
//   parameter value 0 < 1" (Postfix's lower bounds for the cache timers).
#pragma once
#include "core/config.hpp"
#include "core/net_addr.hpp"
#include "smtp/mx_select.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mta::core {
class Table;
}

namespace mta::smtp {

// A Postfix string list (match_list with string matching): names compared
// case-insensitively, "type:table" lookups, "/file/name" for names read from
// a file, "!" negating a pattern; the first pattern that matches decides.
class NameList {
 public:
  // Throws core::ConfigError for a table that cannot be opened or a file
  // that cannot be read ("where" names the parameter).
  static NameList parse(const std::vector<std::string>& patterns, const std::string& where);
  bool match(std::string_view name) const;
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    bool negate = false;
    std::string name;                    // lower case
    std::shared_ptr<core::Table> table;  // "type:table"
  };
  std::vector<Entry> entries_;
};

struct Settings {
  std::string myhostname;
  std::string helo_name;
  std::string relayhost;
  uint16_t default_port = 25;
  std::chrono::seconds connect_timeout{30}, helo_timeout{300}, mail_timeout{300}, rcpt_timeout{300},
      data_init_timeout{120}, data_xfer_timeout{180}, data_done_timeout{600}, rset_timeout{20}, quit_timeout{300};
  bool skip_quit_response = true;
  int mx_address_limit = 5;
  int mx_session_limit = 2;
  bool skip_5xx_greeting = true;
  bool never_send_ehlo = false;
  bool always_send_ehlo = true;
  size_t line_length_limit = 998;  // smtp_line_length_limit (0: none)
  size_t reply_line_limit = 2048;  // line_length_limit
  std::vector<std::string> fallback_relay;
  std::optional<core::IpAddr> bind_address, bind_address6;
  bool bind_enforce = false;
  SelectOptions select;               // randomize, preference, limits, protocols, own addresses
  // Connection cache (Postfix 2.2+ smtp(8)).
  bool cache_on_demand = true;                 // smtp_connection_cache_on_demand
  std::chrono::seconds cache_time_limit{2};    // idle time in the cache
  std::chrono::seconds reuse_time_limit{300};  // from connect, over all its deliveries
  int reuse_count_limit = 0;                   // reuses per connection (0: no limit)
  // smtp_connection_cache_destinations: caching always on for these next hops.
  NameList cache_destinations;
  std::vector<std::string> warnings;  // to log at (re)load
};

Settings load_settings(const core::Config& cfg);

}  // namespace mta::smtp
