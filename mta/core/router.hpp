// NAME
//   core/router - address classes and next hops (Postfix trivial-rewrite)
// DESCRIPTION
//   route() takes an envelope recipient and answers which class it is in and
//   which transport and next hop deliver it:
//     local    domain in $mydestination, or [IP] of $inet_interfaces /
//              $proxy_interfaces, or no domain  -> $local_transport
//     relay    domain (or a parent) in $relay_domains -> $relay_transport
//     default  anything else -> $default_transport, next hop $relayhost or the
//              domain
//   $transport_maps, when it has an entry for the address, the domain or a
//   parent domain (".example.com"), overrides transport and next hop.
//
//   Routing operators in the local part are resolved as Postfix does: for a
//   local domain, user@other@local and user%other@local (allow_percent_hack)
//   and other!user (swap_bangpath) are re-resolved as user@other; for any other
//   domain an operator left in the (dequoted) local part marks the address
//   `routed`, which reject_unauth_destination refuses unless
//   allow_untrusted_routing = yes.
// PARAMETERS
//   mydestination, inet_interfaces, proxy_interfaces, relay_domains, relayhost,
//   local_transport, relay_transport, default_transport, transport_maps,
//   allow_percent_hack, swap_bangpath, resolve_dequoted_address, myhostname
#pragma once
#include "core/config.hpp"
#include "core/maps.hpp"
#include "core/net_addr.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mta::core {

enum class AddrClass { local, relay, def };

struct Route {
  AddrClass cls = AddrClass::def;
  std::string transport;  // "local", "smtp", "relay", "error", "discard" ...
  std::string nexthop;    // "mail.example.com", "[10.0.0.1]:25", error text
  std::string address;    // the recipient after routing-operator rewrites
  std::string domain;     // its domain, lower case ("" when unqualified)
  bool routed = false;    // routing operators left for a non-local domain
};

// "transport:nexthop" -> {transport, nexthop}; either may be empty.
std::pair<std::string, std::string> split_transport(std::string_view spec);

// Addresses this host receives mail on: $inet_interfaces ("all" = every
// interface address, "loopback-only" = 127.0.0.1 and ::1) plus $proxy_interfaces.
std::vector<IpAddr> own_addresses(const Config& c);

class Router {
 public:
  explicit Router(const Config& c);
  Route route(std::string_view address) const;
  bool is_local_domain(std::string_view domain) const;
  bool is_relay_domain(std::string_view domain) const;
  const std::vector<IpAddr>& own() const { return own_; }

 private:
  Route classify(const std::string& address, const std::string& local, const std::string& domain) const;
  std::vector<std::string> mydestination_;
  std::vector<std::string> relay_domains_;
  std::vector<IpAddr> own_;
  std::string myhostname_, relayhost_, local_transport_, relay_transport_, default_transport_;
  bool percent_hack_, swap_bang_, dequote_;
  std::shared_ptr<TableList> transport_maps_;
};

}  // namespace mta::core
