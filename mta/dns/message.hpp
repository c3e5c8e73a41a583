// NAME
//   dns/message - parse DNS replies and pick the answer for a question
// DESCRIPTION
//   c-ares carries the queries (UDP, TCP after truncation, retries, id and
//   question matching); this module reads the reply bytes it hands back. It is
//   our own parser, not ares_parse_*_reply, for two reasons:
//     - CNAME chains are followed by owner name, as a stub resolver must: a
//       record counts only when its owner is the query name or a CNAME target
//       reached from it (ares_parse_mx_reply takes any MX in the answer);
//     - the cases Postfix tells apart are visible: null MX ("MX 0 ."), a
//       CNAME with no data behind it (query the target again), malformed
//       names in the data.
//   parse_message() never reads outside the buffer, refuses compression
//   pointer loops, labels over 63 and names over 255 octets; the fuzz target
//   in dns/fuzz/ exercises it.
// STANDARDS
//   RFC 1035 section 4 (message format, compression), RFC 3596 (AAAA),
//   RFC 2181 section 10 (CNAME), RFC 7505 (null MX)
// DIAGNOSTICS
//   parse_message() returns false and a reason ("truncated resource record",
//   "compression loop", ...) for a malformed message.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mta::dns {

// RR types and classes this resolver asks for.
inline constexpr uint16_t type_a = 1;
inline constexpr uint16_t type_ns = 2;
inline constexpr uint16_t type_cname = 5;
inline constexpr uint16_t type_soa = 6;
inline constexpr uint16_t type_ptr = 12;
inline constexpr uint16_t type_mx = 15;
inline constexpr uint16_t type_txt = 16;
inline constexpr uint16_t type_aaaa = 28;
inline constexpr uint16_t class_in = 1;

// RCODEs (RFC 1035 4.1.1).
inline constexpr int rcode_noerror = 0;
inline constexpr int rcode_formerr = 1;
inline constexpr int rcode_servfail = 2;
inline constexpr int rcode_nxdomain = 3;
inline constexpr int rcode_notimp = 4;
inline constexpr int rcode_refused = 5;

// "A", "MX", ... or "TYPE65" (Postfix's dns_strtype wording).
std::string type_name(uint16_t type);

struct Question {
  std::string name;  // presentation form, no trailing dot ("" is the root)
  uint16_t type = 0;
  uint16_t cls = 0;
};

struct Rr {
  std::string name;  // owner, presentation form, no trailing dot
  uint16_t type = 0;
  uint16_t cls = 0;
  uint32_t ttl = 0;
  // Decoded data for the types we use; `raw_len` for the rest.
  std::string target;  // CNAME, PTR, NS: the name; MX: the exchange ("" = root)
  int pref = 0;        // MX preference
  std::string addr;    // A, AAAA: printable address
  size_t raw_len = 0;  // RDLENGTH
};

struct Message {
  uint16_t id = 0;
  bool qr = false, aa = false, tc = false, rd = false, ra = false;
  int opcode = 0;
  int rcode = 0;
  std::vector<Question> questions;
  std::vector<Rr> answers;
  std::vector<Rr> authority;
  size_t additional = 0;  // count only; additional records are skipped
};

// Parses a whole message. On failure returns false and sets `error`.
bool parse_message(const uint8_t* data, size_t len, Message& out, std::string& error);

// Domain-name equality: ASCII case-insensitive, a trailing dot ignored.
bool same_name(std::string_view a, std::string_view b);

// The answer to (qname, qtype) in a reply's answer section.
struct Extracted {
  std::vector<Rr> records;  // of qtype, owned by `final_name`, answer order
  std::string final_name;   // qname after following CNAMEs in the answer
  bool via_cname = false;   // at least one CNAME was followed
  bool null_mx = false;     // an MX with the root as exchange (RFC 7505)
  int invalid = 0;          // records of qtype whose data was unusable (bad host name)
};
Extracted extract_answer(const Message& m, std::string_view qname, uint16_t qtype);

// Host name syntax for names found in record data (MX exchange, CNAME and PTR
// targets): letters, digits, '-', '_', dots; labels 1..63; total <= 255.
bool valid_hostname(std::string_view name);

// "4.3.2.1.in-addr.arpa" / nibble form under "ip6.arpa"; "" for a bad address.
std::string reverse_name(std::string_view address);

}  // namespace mta::dns
