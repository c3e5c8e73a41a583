// NAME
//   dns/resolver - asynchronous stub resolver on the daemon's event loop
// SYNOPSIS
//   dns::Resolver r(io);                       // reads /etc/resolv.conf
//   r.lookup_mx("example.com", [](dns::Answer a) { ... });
//   r.lookup_addr("mx.example.com", AF_UNSPEC, cb);   // A then AAAA
//   r.lookup_ptr("192.0.2.1", cb);
//   r.reload();                                // re-read resolv.conf
// DESCRIPTION
//   Queries go through c-ares (UDP; TCP when a reply is truncated; query id
//   and question checked; retries and server rotation from resolv.conf).
//   c-ares runs on the caller's Asio io_context: its sockets are watched with
//   posix::stream_descriptor and served with ares_process_fd, its timeouts
//   come from ares_timeout on one steady_timer. Nothing blocks and no thread
//   is started. Replies are decoded by dns/message (our parser).
//
//   Every callback runs later on the io_context, never inside the lookup_*
//   call, exactly once per lookup (with Status::error and Why::shutdown if
//   the resolver is destroyed first).
//
//   CNAMEs are followed inside a reply; when a reply ends in a CNAME without
//   the requested data, the target is queried again, up to 10 times, as
//   Postfix's dns_lookup() does.
//
//   Outcomes are those Postfix tells apart:
//     ok        records found (for MX: also a null MX, see Answer::null_mx)
//     nxdomain  NXDOMAIN: the name does not exist (also, with
//               Why::invalid_name, a name that cannot exist: Postfix's
//               "invalid host or domain name", asked of nobody)
//     nodata    NOERROR without records of the type
//     servfail  SERVFAIL from every server
//     refused   REFUSED (or NOTIMP) from every server
//     timeout   no reply within timeout x attempts
//     error     malformed reply, FORMERR, unreachable server (see Why)
//   lookup_addr(AF_UNSPEC) asks A, then AAAA (Postfix's order for
//   inet_protocols = all) and reports as Postfix's dns_lookup_v does: ok when
//   either has addresses, else the more informative failure, the AAAA one on
//   a tie.
//
//   reload() re-reads resolv.conf for new queries; queries in flight finish
//   on the old settings.
// STANDARDS
//   RFC 1035, RFC 2181 section 10 (CNAME), RFC 3596 (AAAA), RFC 7505 (null
//   MX), RFC 2308 (NXDOMAIN vs NODATA)
// PARAMETERS
//   none from main.cf; resolv.conf(5): nameserver, options timeout attempts
//   rotate (see dns/resolv_conf)
// DIAGNOSTICS
//   describe_failure() gives Postfix's texts:
//     Host or domain name not found. Name service error for name=D type=MX:
//       Host not found, try again
//     Name service error for name=D type=MX: Malformed or unexpected name
//       server reply
// SEE ALSO
//   docs/dns.md (why c-ares), dns/message
#pragma once
#include "dns/resolv_conf.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace mta::dns {

enum class Status { ok, nxdomain, nodata, servfail, timeout, refused, error };

// Why an answer is not what its status alone says.
enum class Why {
  none,
  invalid_name,  // the name asked for is not a host name (or is an address); status nxdomain
  malformed,     // the reply could not be parsed (Postfix: retry later)
  bad_data,      // a record's data was unusable, e.g. a malformed MX host name (Postfix: DNS_INVAL)
  formerr,       // the server answered FORMERR (Postfix: non-recoverable)
  unreachable,   // every server refused the connection (ICMP unreachable)
  cname_loop,    // more than 10 CNAME hops
  shutdown,      // the resolver was destroyed before the reply came
};

struct Mx {
  int pref = 0;
  std::string host;  // no trailing dot
};

struct Answer {
  Status status = Status::error;
  Why why = Why::none;
  std::vector<Mx> mx;              // MX lookups, answer order
  std::vector<std::string> addrs;  // A/AAAA lookups: printable addresses (A first)
  std::vector<std::string> names;  // PTR lookups
  std::string canonical;           // the name the status is about (after CNAMEs)
  uint16_t qtype = 0;              // the type the status is about
  bool null_mx = false;            // MX lookups: "MX 0 ." present (RFC 7505)
  // A temporary failure (Postfix: DNS_RETRY), as opposed to "does not exist"
  // or a permanent server/data error.
  bool temporary() const;
};

const char* status_name(Status s);  // "NOERROR", "NXDOMAIN", "NODATA", "SERVFAIL", ...
// Postfix's dns_strerror() text for the outcome ("Host not found", "Host not
// found, try again", "Host found but no data record of requested type",
// "Non-recoverable error").
std::string status_text(const Answer& a);
// The reason Postfix's dns_lookup() writes for a failed lookup.
std::string describe_failure(const Answer& a);

struct ResolverOptions {
  std::string resolv_conf = "/etc/resolv.conf";
  uint16_t port = 53;  // every nameserver's port (tests run a server on a free port)
  int timeout_ms = 0;  // > 0: overrides resolv.conf's timeout (tests)
  int attempts = 0;    // > 0: overrides resolv.conf's attempts (tests)
};

class Resolver {
 public:
  using Callback = std::function<void(Answer)>;

  explicit Resolver(boost::asio::io_context& io, ResolverOptions opts = {});
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  void lookup_mx(std::string name, Callback cb);
  // family: AF_INET (A), AF_INET6 (AAAA) or AF_UNSPEC (both).
  void lookup_addr(std::string name, int family, Callback cb);
  void lookup_ptr(std::string address, Callback cb);
  // One query of any type, CNAMEs followed; records land in mx/addrs/names.
  void query(std::string name, uint16_t type, Callback cb);

  void reload();
  const ResolvConf& config() const;
  // resolv.conf problems found at the last (re)load, for the caller to log.
  const std::vector<std::string>& warnings() const;
  size_t pending() const;  // lookups not yet answered

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mta::dns
