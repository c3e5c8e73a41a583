// NAME
//   smtp/nexthop - the destinations of a delivery request, as smtp(8) reads them
// DESCRIPTION
//   A next hop (relayhost, a transport_maps nexthop, smtp_fallback_relay, or
//   the recipient domain) is one or more destinations separated by commas
//   and/or spaces, tried in order (Postfix 3.5+). Each is
//     domain          MX lookup, then the domain's own A/AAAA (implicit MX)
//     domain:port     the same, on another port
//     [host]          A/AAAA of host only, no MX lookup
//     [host]:port
//     [192.0.2.1]     that address ([192.0.2.1]:port too)
//     [ipv6:2001:db8::1]  also [2001:db8::1]; with :port after the bracket
//   Ports are numbers or service names ("smtp", "submission"); the default
//   is $smtp_tcp_port. An unbracketed name with more than one colon is taken
//   as an IPv6 address without a port, as Postfix's host_port() does.
// STANDARDS
//   RFC 5321 section 5.1 (MX lookup), section 4.1.3 (address literals)
// DIAGNOSTICS
//   parse_destination() returns false with a reason: "bad network port: X",
//   "unknown service: X/tcp", "missing ']'", "empty destination".
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mta::smtp {

struct Destination {
  std::string text;  // as written ("[mail.example.com]:587")
  std::string host;  // without brackets, port and "ipv6:" ("mail.example.com", "2001:db8::1")
  uint16_t port = 25;
  bool bracketed = false;  // [..]: no MX lookup
  bool numeric = false;    // host is an IP address
};

std::vector<std::string> split_destinations(std::string_view list);

// Port number for a service: digits 1..65535 or a name from services(5).
bool parse_port(std::string_view service, uint16_t& port, std::string& err);

bool parse_destination(std::string_view dest, uint16_t default_port, Destination& out, std::string& err);

}  // namespace mta::smtp
