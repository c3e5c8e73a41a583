// NAME
//   smtpd/peer - the SMTP client's name, address and log form NAME[ADDR]
// SYNOPSIS
//   std::string name = smtpd::lookup_client_name(addr);   // blocking
//   smtpd::Peer p = smtpd::make_peer(addr, port, name, port_logging);
//   p.namaddr   // "localhost[127.0.0.1]"
//   p.rfc_addr  // "127.0.0.1", "IPv6:::1" (for Received:)
// DESCRIPTION
//   As Postfix's smtpd_peer.c: the client name is the address's reverse DNS
//   name (getnameinfo with NI_NAMEREQD) only when that name resolves back to
//   the same address (forward confirmation); otherwise, and for a name that
//   is not a valid host name, it is "unknown". IPv4-mapped IPv6 addresses are
//   shown as IPv4. lookup_client_name() blocks: the session runs it on the
//   blocking-I/O pool. NameResolver is the seam tests use to fake it.
// PARAMETERS
//   smtpd_peername_lookup, smtpd_client_port_logging
#pragma once
#include "core/net_addr.hpp"

#include <functional>
#include <string>

namespace mta::smtpd {

using NameResolver = std::function<std::string(const core::IpAddr&)>;

std::string lookup_client_name(const core::IpAddr& addr);

struct Peer {
  core::IpAddr ip;
  std::string addr;      // "127.0.0.1"
  std::string rfc_addr;  // "127.0.0.1" / "IPv6:::1"
  std::string name;      // "localhost" / "unknown"
  unsigned port = 0;
  std::string namaddr;   // "localhost[127.0.0.1]" (":port" with port logging)
};

Peer make_peer(const core::IpAddr& ip, unsigned port, const std::string& name, bool port_logging);

}  // namespace mta::smtpd
