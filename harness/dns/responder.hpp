// NAME
//   dns/responder - the fake DNS server's answers, without any I/O
// DESCRIPTION
//   Responder turns one query message into one response message (or into
//   silence), applying the zones and the fault list, and says how the query
//   is to be logged. The Server in fake_dns.cpp only moves bytes; keeping the
//   logic here lets tests and the fuzzer drive it directly.
//
//   Answers: authoritative (AA) from the zones; CNAMEs are chased inside the
//   data (at most 16 links; a loop stops the chain); NXDOMAIN and NODATA carry
//   the enclosing zone's SOA in the authority section with TTL
//   min(SOA TTL, SOA MINIMUM); each zone apex has a SOA and an NS record
//   unless the zone text gives them. Additional-section processing is not
//   done (as BIND's minimal-responses), so what a client needs it must ask,
//   and the query log shows it.
//
//   Over UDP an answer larger than 512 octets (or the client's EDNS0 payload
//   size, at most 4096) is replaced by a header with TC set, the question and
//   the OPT record; over TCP the full answer goes out (up to 65535 octets).
//
//   Protocol errors: a message shorter than a header is dropped (there is no
//   ID to answer to); a response (QR set) is ignored; an undecodable message
//   gets FORMERR, as does a query without exactly one question; opcodes other
//   than QUERY get NOTIMP; EDNS versions other than 0 get BADVERS; classes
//   other than IN/ANY and zone transfers (AXFR, IXFR) get REFUSED.
// STANDARDS
//   RFC 1035, RFC 2308 (negative answers), RFC 6891 (EDNS0, BADVERS),
//   RFC 7505 (null MX), RFC 2181 section 10.1 (CNAME and other data)
#pragma once
#include "dns/fake_dns.hpp"
#include "dns/wire.hpp"

#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace mxlab::dns {

class Responder {
 public:
  // Compiles the records; throws std::runtime_error("record NAME TYPE: reason")
  // for a value that does not encode.
  explicit Responder(const ZoneSet& zones);

  struct Outcome {
    bool send = false;     // false: no response at all
    bool logged = true;    // false: not a query (a response, ignored)
    int delay_ms = 0;      // send only after this long
    QueryLog log;
  };
  // Writes the response into out (reused). client is for the log only.
  Outcome respond(std::span<const uint8_t> query, bool tcp, std::string_view client, std::vector<uint8_t>& out);

  // Replaces the faults and their counts; std::invalid_argument for a bad
  // name or type.
  void set_faults(std::vector<Fault> faults);

  static constexpr size_t max_udp_payload = 4096;
  static constexpr uint16_t advertised_udp_payload = 1232;

 private:
  struct Compiled {
    uint16_t type;
    uint32_t ttl;
    wire::RData rdata;
    std::string target;  // CNAME target, canonical
  };
  struct Zone {
    std::string origin;
    const Compiled* soa = nullptr;
  };
  struct Answer {
    std::string_view owner;
    const Compiled* rr;
  };
  enum class Result { noerror, nodata, nxdomain };

  const Zone* zone_of(std::string_view name) const;
  // Fills answers_, returns the outcome and the zone whose SOA goes into the
  // authority section.
  Result resolve(std::string_view qname, std::string_view qname_as_sent, uint16_t qtype, const Zone*& soa_zone);
  bool match_fault(std::string_view name, uint16_t qtype, bool tcp, Fault& out);

  std::unordered_map<std::string, std::vector<Compiled>> names_;
  std::unordered_set<std::string> exists_;  // names with data, zone apexes, empty non-terminals
  std::vector<Zone> zones_;

  std::vector<Answer> answers_;  // scratch, reused between queries

  std::mutex faults_mu_;
  std::vector<Fault> faults_;
  std::vector<int> fault_used_;
};

}  // namespace mxlab::dns
