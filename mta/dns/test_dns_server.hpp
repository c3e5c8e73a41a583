// NAME
//   dns/test_dns_server - a small authoritative DNS server for unit tests
// SYNOPSIS
//   net::io_context io;
//   dns::testing::TestDnsServer srv(io);             // 127.0.0.1, free port
//   srv.add("example.com", "MX", "10 mx.example.com");
//   srv.add("mx.example.com", "A", "192.0.2.25");
//   srv.rule("slow.example", "*", {dns::testing::Fault::drop});
//   // resolver: ResolverOptions{.resolv_conf = file with srv.resolv_conf_text(),
//   //                           .port = srv.port()}
// DESCRIPTION
//   Test code only (library mta_dns_testing, linked by the dns and smtp unit
//   tests). It runs on the test's own io_context, UDP and TCP on one port,
//   and has its own wire encoder, written apart from dns/message so that a
//   bug in the resolver's parser is not mirrored here.
//   Names with records of other types get NODATA, unknown names NXDOMAIN.
//   A CNAME is answered with the chain and, unless no_chase() was set for the
//   name, the target's records. Faults per name and type ("*" = any), for
//   every query or only the first N:
//     nxdomain nodata servfail refused formerr   that outcome
//     drop        never answer
//     truncate    UDP replies have TC set and no records; TCP answers fully
//     bad_id      first a reply with the wrong query id, then the real one
//     bad_question first a reply for another question, then the real one
//     garbage     a reply whose answer section is cut short (TC clear)
//   delay_ms postpones the reply (any fault but drop).
// STANDARDS
//   RFC 1035 (wire format), RFC 7505 (null MX)
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace mta::dns::testing {

struct Fault {
  enum Kind { none, nxdomain, nodata, servfail, refused, formerr, drop, truncate, bad_id, bad_question, garbage };
  Kind kind = none;
  int first_n = 0;   // 0: every matching query; N: the first N only
  int delay_ms = 0;  // postpone the reply
};

struct QueryRecord {
  std::string transport;  // "udp" / "tcp"
  std::string name;       // lower case
  std::string type;       // "MX", "A", ...
};

class TestDnsServer {
 public:
  // port 0: a free one (the same number for UDP and TCP).
  explicit TestDnsServer(boost::asio::io_context& io, const std::string& addr = "127.0.0.1", uint16_t port = 0);
  ~TestDnsServer();
  TestDnsServer(const TestDnsServer&) = delete;
  TestDnsServer& operator=(const TestDnsServer&) = delete;

  uint16_t port() const;
  const std::string& address() const;
  // type: A AAAA MX CNAME PTR; value in zone-file form ("10 mx.example.com",
  // "0 ." for a null MX). Throws std::invalid_argument on a bad value.
  void add(const std::string& name, const std::string& type, const std::string& value);
  void rule(const std::string& name, const std::string& type, Fault f);
  void no_chase(const std::string& name);  // answer this CNAME without its target
  void clear();                            // records, rules and the log

  std::vector<QueryRecord> log() const;
  int queries(const std::string& transport) const;
  // "nameserver ADDR\noptions timeout:1 attempts:1\n"
  std::string resolv_conf_text(int timeout = 1, int attempts = 1) const;

 private:
  struct State;
  std::shared_ptr<State> st_;
};

}  // namespace mta::dns::testing
