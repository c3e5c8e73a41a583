// NAME
//   smtp/mx_select - which server addresses to try, in which order (pure)
// SYNOPSIS
//   Selection s = order_mx("example.com", hosts, opts, rnd);   // after MX lookup
//   Selection s = order_host("mail.example.com", answer, opts, rnd);
//   Selection s = order_literal("192.0.2.1", ip, opts);
// DESCRIPTION
//   Postfix smtp_addr.c, without I/O: the caller did the DNS lookups (the MX
//   records, then A/AAAA of each MX host in preference order) and passes the
//   answers in.
//
//   order_mx (smtp_domain_addr): MX hosts sorted by preference; their
//   addresses in that order; lookup failures of single hosts are ignored as
//   long as some host has an address ("a soft error dominates hard ones"
//   decides the status when none has). With no address at all: warning "no
//   MX host for D has a valid address record", the last lookup failure as
//   reason (soft when smtp_defer_if_no_mx_address_found = yes). If one of
//   our own addresses is among them (loop detection, port 25 only), it and
//   every address at its preference or worse are dropped; if nothing is
//   left: "mail for D loops back to myself" (5.4.6) when we are the best MX,
//   else "unable to find primary relay for D" (4.4.4). Then the addresses
//   are shuffled (smtp_randomize_addresses) and stably sorted by preference
//   and smtp_address_preference, so equal preferences come in random order,
//   and IPv4/IPv6 are balanced within smtp_mx_address_limit
//   (smtp_balance_inet_protocols).
//
//   order_host (smtp_host_addr): a [host], or a domain without MX records
//   (implicit MX): the host's addresses at preference 0; any of ours is a
//   loop: "mail for H loops back to myself" (5.4.6).
//
//   The random source is a parameter so that tests can fix the order.
// STANDARDS
//   RFC 5321 section 5.1 (MX preference, equal preferences randomised,
//   implicit MX), RFC 7505 (null MX is handled by the caller)
// PARAMETERS
//   smtp_randomize_addresses, smtp_address_preference, smtp_mx_address_limit,
//   smtp_balance_inet_protocols, smtp_defer_if_no_mx_address_found,
//   inet_interfaces and proxy_interfaces (own addresses), inet_protocols
#pragma once
#include "core/net_addr.hpp"
#include "dns/resolver.hpp"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mta::smtp {

enum class AddressPreference { any, ipv4, ipv6 };

struct ServerAddr {
  std::string host;  // the MX host name (or the domain, or the literal)
  core::IpAddr addr;
  int pref = 0;
};

// The A/AAAA lookup of one MX host.
struct HostLookup {
  std::string host;
  int pref = 0;
  dns::Answer answer;
};

struct SelectOptions {
  bool randomize = true;                                  // smtp_randomize_addresses
  AddressPreference preference = AddressPreference::any;  // smtp_address_preference
  int address_limit = 5;                                  // smtp_mx_address_limit (0: none)
  bool balance = true;                                    // smtp_balance_inet_protocols
  bool loop_detect = true;                                // only when the port is 25
  bool defer_if_no_mx_address = false;                    // smtp_defer_if_no_mx_address_found
  bool ipv4 = true, ipv6 = true;                          // inet_protocols
  std::vector<core::IpAddr> own;                          // inet_interfaces + proxy_interfaces
};

struct Selection {
  std::vector<ServerAddr> addrs;      // in the order to try; empty: see dsn/reason
  bool found_myself = false;          // one of our addresses was among the MX hosts
  std::string dsn;                    // "5.4.6", "4.4.3" ... when addrs is empty
  std::string reason;                 // Postfix's text for it
  std::vector<std::string> warnings;  // to log
  bool is_loop() const { return dsn.size() == 5 && dsn.compare(1, 4, ".4.6") == 0; }
};

using Random = std::function<size_t(size_t n)>;  // uniform in [0, n)
Random default_random();

// MX records sorted by preference, equal preferences kept in reply order.
std::vector<dns::Mx> sort_mx(std::vector<dns::Mx> mx);

Selection order_mx(std::string_view domain, std::vector<HostLookup> hosts, const SelectOptions& o, const Random& rnd);
Selection order_host(std::string_view host, const dns::Answer& answer, const SelectOptions& o, const Random& rnd);
Selection order_literal(std::string_view host, const core::IpAddr& addr, const SelectOptions& o);

// The DSN status Postfix's smtp_addr_one() gives a failed host lookup,
// given whether a soft status was seen before ("4.4.3", "5.4.4" ...).
std::string lookup_failure_dsn(const dns::Answer& a, bool had_soft);

}  // namespace mta::smtp
