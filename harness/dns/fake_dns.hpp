// NAME
//   harness/dns/fake_dns - an authoritative DNS server for a topology, with
//   faults and a query log
// DESCRIPTION
//   Serves the topology's zones over UDP and TCP on one address and port,
//   authoritatively (AA set), with real wire format: name compression in
//   answers, EDNS0 OPT echoed (payload size honoured), TC set when an answer
//   does not fit, then the same answer over TCP. Names outside every zone get
//   NXDOMAIN (the lab has no route out, so nothing is forwarded). Record types:
//   A, AAAA, MX (null MX "0 ." included), CNAME (chased inside the zones), TXT,
//   PTR, plus SOA/NS for each zone apex.
//
//   Faults, per name and type ("*" for any type):
//     nxdomain nodata servfail refused   answer with that outcome
//     drop                               never answer (the client times out)
//     delay                              answer after delay_ms
//     truncate                           UDP answers have TC set and no records
//   first_n > 0 applies the fault to the first N matching queries only, then
//   answers normally ("SERVFAIL twice, then the record").
//
//   Every query is logged (QueryLog) for cases to assert on.
//
//   The server runs on its own thread with its own io_context, so a harness can
//   start it without sharing an event loop.
// STANDARDS
//   RFC 1035 (wire format, compression), RFC 6891 (EDNS0), RFC 7505 (null MX),
//   RFC 2308 (NODATA/NXDOMAIN with SOA in the authority section)
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mxlab::dns {

struct Record {
  std::string name;  // absolute or relative to the zone origin; stored lower-case, no trailing dot
  std::string type;  // "A", "AAAA", "MX", "CNAME", "TXT", "PTR"
  uint32_t ttl = 300;
  std::string value;  // zone-file form: "192.0.2.1", "10 mail.example.com.", "\"v=spf1 -all\""
};

enum class FaultKind { nxdomain, nodata, servfail, refused, drop, delay, truncate };

struct Fault {
  std::string name;
  std::string type = "*";
  FaultKind kind = FaultKind::servfail;
  int first_n = 0;  // 0: every matching query; N: only the first N
  int delay_ms = 0;
};

struct ZoneSet {
  std::vector<std::string> origins;  // zones this server is authoritative for ("example.com")
  std::vector<Record> records;
  std::vector<Fault> faults;
};

struct QueryLog {
  double time = 0;         // wall-clock seconds (as the harness sees them)
  std::string transport;   // "udp" / "tcp"
  std::string client;      // "192.168.0.2:41234"
  std::string name;        // lower-case, no trailing dot
  std::string type;        // "MX", "A", ... or "TYPE65"
  std::string result;      // "NOERROR", "NXDOMAIN", "NODATA", "SERVFAIL", "REFUSED", "DROPPED", "TRUNCATED", "FORMERR"
  int answers = 0;
};

// Zone text, one directive or record per line ('#' or ';' comments):
//   $ORIGIN example.com            (authoritative zone; records may be relative)
//   mail.example.com  A    192.168.0.25
//   example.com       MX   10 mail.example.com.
//   @                 TXT  "v=spf1 -all"
//   !fault nosuch.example MX servfail first=2
//   !fault slow.example A delay ms=3000
// Throws std::runtime_error("FILE:LINE: reason") on a malformed line.
ZoneSet parse_zone_text(std::string_view text, const std::string& file);

class Server {
 public:
  explicit Server(ZoneSet zones);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds UDP and TCP on addr:port (port 0: pick one, see port()) and starts
  // serving on a thread of its own. Throws std::system_error on bind failure.
  void start(const std::string& addr, uint16_t port);
  uint16_t port() const;
  void stop();
  std::vector<QueryLog> log() const;
  void clear_log();
  // Replace the fault list (a case may change faults between steps).
  void set_faults(std::vector<Fault> faults);
  // Called on the server's thread for every logged query, after it is in
  // log(); set it before start(). mxlab dns prints its lines this way.
  void on_query(std::function<void(const QueryLog&)> fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `mxlab dns ZONEFILE --listen ADDR:PORT [--log FILE]`: serve until SIGINT/SIGTERM,
// printing one line per query (or to FILE).
int dns_main(int argc, char** argv);

}  // namespace mxlab::dns
