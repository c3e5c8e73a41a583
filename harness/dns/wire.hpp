// NAME
//   dns/wire - the harness's own DNS message codec
// DESCRIPTION
//   parse() decodes a whole message: header, questions, the three record
//   sections and the EDNS0 OPT pseudo-record. It never reads outside the
//   buffer; compression pointers must point strictly backwards (that alone
//   rules out loops) and are also capped in number; a name longer than 255
//   octets, a label type other than 00/11, a section count larger than the
//   message, an RDATA that overruns its RDLENGTH, or a second OPT record throw
//   ParseError. Bytes after the last counted record are ignored, as most
//   servers do.
//
//   Names are text: labels joined by '.', no trailing dot, the root is ".".
//   Octets that are not printable ASCII, and '.' and '\' inside a label, are
//   written as \DDD / \. / \\ (RFC 1035 master-file escapes), so any wire
//   name survives text and back. Case is kept as on the wire; compare names
//   with iequals or after lower().
//
//   Record data is decoded to zone-file form: "192.0.2.1", "10 mx.example.",
//   "\"v=spf1 -all\"", "ns. host. 1 3600 600 86400 60"; names inside RDATA end
//   with '.'. Unknown types use RFC 3597's "\# LEN HEX".
//
//   Writer builds a message into a caller's buffer, compressing owner names
//   and the names inside NS, CNAME, SOA, MX and PTR data (the types RFC 3597
//   allows to be compressed). Only suffixes at offsets below 0x4000 are
//   pointed to, and only when they match case and all, so the zone's own
//   spelling survives a client's 0x20-randomised question.
// STANDARDS
//   RFC 1035 sections 3.1, 4.1 and 4.1.4 (wire format, compression), RFC 3597
//   (unknown types), RFC 6891 (EDNS0 OPT), RFC 7505 (null MX "0 .")
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mxlab::dns::wire {

enum Type : uint16_t {
  t_a = 1, t_ns = 2, t_cname = 5, t_soa = 6, t_ptr = 12, t_mx = 15, t_txt = 16, t_aaaa = 28,
  t_opt = 41, t_ixfr = 251, t_axfr = 252, t_any = 255,
};
enum Rcode : uint8_t { noerror = 0, formerr = 1, servfail = 2, nxdomain = 3, notimp = 4, refused = 5 };
constexpr uint16_t class_in = 1;
constexpr uint16_t class_any = 255;

// "MX", "A" ...; other values "TYPE65" (RFC 3597 section 5).
std::string type_name(uint16_t type);
// Accepts the mnemonics type_name() produces and "TYPEnnn", any case.
std::optional<uint16_t> type_from_name(std::string_view name);
std::string rcode_name(unsigned rcode);

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Header {
  uint16_t id = 0;
  bool qr = false;
  uint8_t opcode = 0;
  bool aa = false, tc = false, rd = false, ra = false, ad = false, cd = false;
  uint8_t rcode = 0;  // the low 4 bits; EDNS extends it
};

struct Question {
  std::string name;
  uint16_t type = 0;
  uint16_t cls = class_in;
};

struct RR {
  std::string name;
  uint16_t type = 0;
  uint16_t cls = class_in;
  uint32_t ttl = 0;
  std::string data;  // zone-file form, see above
};

struct Edns {
  uint16_t udp_size = 512;
  uint8_t ext_rcode = 0;
  uint8_t version = 0;
  bool do_bit = false;
  std::vector<uint8_t> options;  // raw option TLVs, not interpreted
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<RR> answers, authority, additional;  // OPT is not in additional, it is edns
  std::optional<Edns> edns;
};

Message parse(std::span<const uint8_t> msg);
// Only the fixed 12-octet header; throws ParseError when shorter.
Header parse_header(std::span<const uint8_t> msg);
// Reads a (possibly compressed) name at off and advances off past it.
std::string read_name(std::span<const uint8_t> msg, size_t& off);

// Text name -> labels. Accepts escapes, an optional trailing dot, "." and ""
// for the root. Throws ParseError for an empty label, a label over 63 octets
// or a name over 255 octets on the wire.
std::vector<std::string> split_name(std::string_view name);
// Canonical form for comparisons: lower-case ASCII, no trailing dot, escapes
// kept as written ("." for the root).
std::string canonical_name(std::string_view name);
// Escapes one label's octets for text.
std::string escape_label(std::string_view label);

// Record data ready for the Writer: octets, with the names that may be
// compressed kept apart.
struct RData {
  struct Part {
    bool is_name = false;
    std::string name;            // when is_name
    std::vector<uint8_t> bytes;  // otherwise
  };
  std::vector<Part> parts;
};
// Zone-file value -> RData for the given type; names in it are absolute (a
// trailing dot is optional). Throws std::invalid_argument with a reason.
RData encode_rdata(uint16_t type, std::string_view value);

enum class Section { answer, authority, additional };

class Writer {
 public:
  // out is cleared and reused (no allocation once it has grown).
  explicit Writer(std::vector<uint8_t>& out);
  void header(const Header& h);  // section counts are kept by the writer
  void question(std::string_view name, uint16_t type, uint16_t cls);
  void rr(Section s, std::string_view name, uint16_t type, uint16_t cls, uint32_t ttl, const RData& rdata);
  void opt(const Edns& e);  // into the additional section
  size_t size() const { return out_.size(); }

 private:
  void name(std::string_view n, bool compress);
  void u16(uint16_t v);
  void u32(uint32_t v);
  void bump(int index);
  std::vector<uint8_t>& out_;
  // Suffixes written so far (escaped text, case kept) and their offsets. Messages are
  // small, so a linear scan beats a map and allocates less.
  std::vector<std::pair<std::string, uint16_t>> seen_;
};

}  // namespace mxlab::dns::wire
