#include "smtp/nexthop.hpp"

#include "core/net_addr.hpp"
#include "util/strings.hpp"

#include <arpa/inet.h>
#include <netdb.h>

namespace mta::smtp {

std::vector<std::string> split_destinations(std::string_view list) { return util::split_any(list, ", \t\r\n"); }

bool parse_port(std::string_view service, uint16_t& port, std::string& err) {
  if (service.empty()) {
    err = "empty port";
    return false;
  }
  if (util::is_all_digits(service)) {
    unsigned long long n = 0;
    if (!util::parse_u64(service, n) || n == 0 || n > 65535) {
      err = "bad network port: " + std::string(service);
      return false;
    }
    port = static_cast<uint16_t>(n);
    return true;
  }
  // services(5) lookups are local file reads; Postfix does the same.
  std::string s(service);
  struct servent se, *res = nullptr;
  char buf[1024];
  if (::getservbyname_r(s.c_str(), "tcp", &se, buf, sizeof buf, &res) != 0 || !res) {
    // The two names mail needs, in case /etc/services is missing.
    if (s == "smtp") {
      port = 25;
      return true;
    }
    if (s == "submission") {
      port = 587;
      return true;
    }
    err = "unknown service: " + s + "/tcp";
    return false;
  }
  port = ntohs(static_cast<uint16_t>(res->s_port));
  return true;
}

bool parse_destination(std::string_view dest, uint16_t default_port, Destination& out, std::string& err) {
  out = Destination{};
  dest = util::trim(dest);
  out.text = std::string(dest);
  out.port = default_port;
  if (dest.empty()) {
    err = "empty destination";
    return false;
  }
  std::string_view host, port;
  if (dest.front() == '[') {
    auto close = dest.find(']');
    if (close == std::string_view::npos) {
      err = "missing ']' in destination: " + std::string(dest);
      return false;
    }
    host = dest.substr(1, close - 1);
    std::string_view rest = dest.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        err = "garbage after ']' in destination: " + std::string(dest);
        return false;
      }
      port = rest.substr(1);
      if (port.empty()) {
        err = "missing port after ':' in destination: " + std::string(dest);
        return false;
      }
    }
    out.bracketed = true;
    if (util::istarts_with(host, "ipv6:")) host.remove_prefix(5);
  } else {
    auto first = dest.find(':');
    if (first != std::string_view::npos && first == dest.rfind(':')) {
      host = dest.substr(0, first);
      port = dest.substr(first + 1);
      if (port.empty()) {
        err = "missing port after ':' in destination: " + std::string(dest);
        return false;
      }
    } else {
      host = dest;  // no colon, or a bare IPv6 address
    }
  }
  if (host.empty()) {
    err = "empty host in destination: " + std::string(dest);
    return false;
  }
  if (!port.empty() && !parse_port(port, out.port, err)) return false;
  std::string h(host);
  if (!h.empty() && h.back() == '.' && !out.bracketed) h.pop_back();
  out.numeric = core::IpAddr::parse(h).has_value();
  out.host = out.numeric ? h : util::lower(h);
  return true;
}

}  // namespace mta::smtp
