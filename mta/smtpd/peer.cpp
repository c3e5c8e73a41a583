#include "smtpd/peer.hpp"

#include "core/address.hpp"
#include "util/strings.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace mta::smtpd {
namespace {

// Fills a sockaddr for getnameinfo().
socklen_t to_sockaddr(const core::IpAddr& a, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (a.family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    std::memcpy(&sin->sin_addr, a.b.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  std::memcpy(&sin6->sin6_addr, a.b.data(), 16);
  return sizeof(sockaddr_in6);
}

}  // namespace

std::string lookup_client_name(const core::IpAddr& addr0) {
  const core::IpAddr addr = addr0.unmapped();
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(addr, ss);
  char host[NI_MAXHOST] = {0};
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, nullptr, 0, NI_NAMEREQD) != 0)
    return "unknown";
  std::string name = host;
  // A "name" that is a numeric address, or not a host name at all, is
  // ignored (Postfix: "numeric hostname" / "malformed hostname").
  if (core::IpAddr::parse(name) || !core::valid_domain(name)) return "unknown";
  // Forward confirmation: the name must resolve back to the address.
  addrinfo hints{};
  hints.ai_family = addr.family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0 || !res) return "unknown";
  bool confirmed = false;
  for (addrinfo* p = res; p && !confirmed; p = p->ai_next) {
    core::IpAddr got;
    if (p->ai_family == AF_INET) {
      got.family = AF_INET;
      std::memcpy(got.b.data(), &reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr, 4);
    } else if (p->ai_family == AF_INET6) {
      got.family = AF_INET6;
      std::memcpy(got.b.data(), &reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    confirmed = got.unmapped() == addr;
  }
  ::freeaddrinfo(res);
  return confirmed ? name : "unknown";
}

Peer make_peer(const core::IpAddr& ip0, unsigned port, const std::string& name, bool port_logging) {
  Peer p;
  p.ip = ip0.unmapped();
  p.addr = p.ip.str();
  p.rfc_addr = p.ip.family == AF_INET6 ? "IPv6:" + p.addr : p.addr;
  p.name = name.empty() ? "unknown" : name;
  p.port = port;
  p.namaddr = p.name + "[" + p.addr + "]";
  if (port_logging) p.namaddr += ":" + std::to_string(port);
  return p;
}

}  // namespace mta::smtpd
