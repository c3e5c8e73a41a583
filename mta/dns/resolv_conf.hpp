// NAME
//   dns/resolv_conf - read resolv.conf(5) as glibc's stub resolver does
// DESCRIPTION
//   The resolver is configured from this file only (no environment, no
//   search list: an MTA looks up the names it is given, as Postfix does with
//   RES_DEFNAMES and RES_DNSRCH off). Recognised:
//     nameserver ADDR          IPv4 or IPv6 (a "%scope" suffix is dropped);
//                              at most 3, as glibc (MAXNS)
//     options timeout:N        seconds per try, 1..30 (glibc caps at 30)
//     options attempts:N       tries per server, 1..5 (glibc caps at 5)
//     options rotate           spread queries over the servers
//   Other keywords (domain, search, sortlist, options ndots ...) are accepted
//   and ignored. With no usable nameserver line the server is 127.0.0.1, and
//   a missing file gives the defaults, both as glibc.
// STANDARDS
//   resolv.conf(5) (glibc)
// DIAGNOSTICS
//   Problems are warnings, never fatal: "FILE, line N: bad nameserver
//   address: X", "FILE, line N: bad option value: timeout:x", "FILE, line N:
//   too many nameservers, ignoring X".
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mta::dns {

struct ResolvConf {
  std::vector<std::string> nameservers;  // printable addresses, in file order
  int timeout_sec = 5;                   // glibc RES_TIMEOUT
  int attempts = 2;                      // glibc RES_DFLRETRY
  bool rotate = false;
};

ResolvConf parse_resolv_conf(std::string_view text, const std::string& file,
                             std::vector<std::string>* warnings = nullptr);
// Reads and parses a file; a missing or unreadable file gives the defaults
// (with a warning unless it is simply absent).
ResolvConf read_resolv_conf(const std::string& path, std::vector<std::string>* warnings = nullptr);

}  // namespace mta::dns
