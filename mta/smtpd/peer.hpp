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
//
//   HostsNameCache remembers names that come from /etc/hosts, so that a
//   client such as 127.0.0.1 costs no trip to the blocking pool (and no two
//   reads of /etc/hosts) per connection. A name is cached only when the
//   lookup cannot have used anything but /etc/hosts: nsswitch.conf's hosts
//   line starts with "files" (no [action] after it), the address is listed
//   in /etc/hosts, and the answer is the canonical name of its first line.
//   Every find() checks that /etc/hosts, /etc/nsswitch.conf and
//   /etc/host.conf are unchanged (inode, size, mtime); a change empties the
//   cache. Names from DNS are never cached: they have TTLs, and the lookups
//   are part of what a lab observes. (Not seen: a HOSTALIASES environment
//   variable, which glibc applies to single-label names.)
// PARAMETERS
//   smtpd_peername_lookup, smtpd_client_port_logging
#pragma once
#include "core/net_addr.hpp"

#include <ctime>
#include <functional>
#include <map>
#include <optional>
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

class HostsNameCache {
 public:
  // etc: where hosts, nsswitch.conf and host.conf are ("/etc"; tests use a
  // temporary directory).
  explicit HostsNameCache(std::string etc = "/etc");
  // The client name of addr when it is known to come from /etc/hosts;
  // nullopt: look it up (lookup_client_name) and learn() the answer.
  std::optional<std::string> find(const core::IpAddr& addr);
  // Whether find() would answer from the cache, if the files have not
  // changed since the last find() or learn(): no system call.
  bool probably_known(const core::IpAddr& addr) const;
  // Remembers a looked-up name if /etc/hosts alone explains it.
  void learn(const core::IpAddr& addr, const std::string& name);

 private:
  struct FileSig {
    bool exists = false;
    unsigned long long dev = 0, ino = 0;
    long long size = 0;
    timespec mtime{};
    bool operator==(const FileSig& o) const;
  };
  void refresh();  // a few stat()s; re-reads the files when one changed
  void load();

  std::string etc_;
  FileSig sig_[3];  // hosts, nsswitch.conf, host.conf
  bool loaded_ = false;
  bool files_first_ = false;
  std::map<std::string, std::string> first_name_;  // address -> canonical name of its first line
  std::map<std::string, std::string> known_;       // address -> name, confirmed by a lookup
};

}  // namespace mta::smtpd
