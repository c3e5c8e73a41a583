#include "dns/wire.hpp"

#include "common/strings.hpp"

#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>

namespace mxlab::dns::wire {
namespace {

struct TypeName {
  uint16_t type;
  const char* name;
};
// Types the lab serves plus a few a client may ask for; the rest print as
// TYPEnnn (65/HTTPS deliberately included there: resolvers probe it).
constexpr std::array<TypeName, 19> k_types{{
    {1, "A"},      {2, "NS"},     {5, "CNAME"}, {6, "SOA"},    {12, "PTR"},   {13, "HINFO"}, {15, "MX"},
    {16, "TXT"},   {28, "AAAA"},  {33, "SRV"},  {41, "OPT"},   {43, "DS"},    {46, "RRSIG"}, {47, "NSEC"},
    {48, "DNSKEY"}, {52, "TLSA"}, {251, "IXFR"}, {252, "AXFR"}, {255, "ANY"},
}};

uint16_t rd16(std::span<const uint8_t> m, size_t off) {
  return static_cast<uint16_t>((m[off] << 8) | m[off + 1]);
}
uint32_t rd32(std::span<const uint8_t> m, size_t off) {
  return (static_cast<uint32_t>(m[off]) << 24) | (static_cast<uint32_t>(m[off + 1]) << 16) |
         (static_cast<uint32_t>(m[off + 2]) << 8) | m[off + 3];
}
void need(std::span<const uint8_t> m, size_t off, size_t n, const char* what) {
  if (off > m.size() || m.size() - off < n) throw ParseError(std::string("truncated ") + what);
}

bool is_plain(unsigned char c) { return c > 0x20 && c < 0x7f; }

void append_escaped(std::string& out, unsigned char c, bool in_label) {
  // '"' is escaped in names too, so a name never looks like a quoted string.
  if ((in_label && c == '.') || c == '\\' || c == '"') {
    out += '\\';
    out += static_cast<char>(c);
  } else if (is_plain(c) || (!in_label && c == ' ')) {
    out += static_cast<char>(c);
  } else {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\%03u", static_cast<unsigned>(c));
    out += buf;
  }
}

std::string quote_txt(std::span<const uint8_t> s) {
  std::string out = "\"";
  for (uint8_t c : s) append_escaped(out, c, false);
  out += '"';
  return out;
}

void make_absolute(std::string& n) {
  if (n.size() != 1 || n[0] != '.') n += '.';
}

// Reads one name that must lie inside [off, end) of the RDATA (pointers may
// leave it, the encoded bytes may not).
std::string rdata_name(std::span<const uint8_t> m, size_t& off, size_t end) {
  std::string n = read_name(m, off);
  if (off > end) throw ParseError("name overruns RDATA");
  make_absolute(n);
  return n;
}

std::string decode_rdata(std::span<const uint8_t> m, uint16_t type, size_t off, size_t len) {
  const size_t end = off + len;
  auto exact = [&](size_t at) {
    if (at != end) throw ParseError("RDATA length does not match its content");
  };
  switch (type) {
    case t_a: {
      if (len != 4) throw ParseError("A RDATA is not 4 octets");
      char buf[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &m[off], buf, sizeof buf);
      return buf;
    }
    case t_aaaa: {
      if (len != 16) throw ParseError("AAAA RDATA is not 16 octets");
      char buf[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, &m[off], buf, sizeof buf);
      return buf;
    }
    case t_ns:
    case t_cname:
    case t_ptr: {
      size_t at = off;
      auto n = rdata_name(m, at, end);
      exact(at);
      return n;
    }
    case t_mx: {
      if (len < 3) throw ParseError("MX RDATA too short");
      size_t at = off + 2;
      auto n = rdata_name(m, at, end);
      exact(at);
      return std::to_string(rd16(m, off)) + " " + n;
    }
    case t_soa: {
      size_t at = off;
      auto mname = rdata_name(m, at, end);
      auto rname = rdata_name(m, at, end);
      if (end < at || end - at != 20) throw ParseError("SOA RDATA has a bad length");
      std::string out = mname + " " + rname;
      for (int i = 0; i < 5; ++i) out += " " + std::to_string(rd32(m, at + 4 * i));
      return out;
    }
    case t_txt: {
      if (len == 0) throw ParseError("TXT RDATA without a string");
      std::string out;
      size_t at = off;
      while (at < end) {
        size_t l = m[at];
        if (end - at - 1 < l) throw ParseError("TXT string overruns RDATA");
        if (!out.empty()) out += ' ';
        out += quote_txt(m.subspan(at + 1, l));
        at += 1 + l;
      }
      return out;
    }
    default: {
      std::string out = "\\# " + std::to_string(len);
      if (len) out += ' ';
      static const char* hex = "0123456789abcdef";
      for (size_t i = off; i < end; ++i) {
        out += hex[m[i] >> 4];
        out += hex[m[i] & 15];
      }
      return out;
    }
  }
}

// Splits a zone-file value into tokens; "quoted strings" keep their escapes
// and come back with a leading '"' so TXT can tell them from bare words.
std::vector<std::string> value_tokens(std::string_view v) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < v.size()) {
    if (v[i] == ' ' || v[i] == '\t') {
      ++i;
      continue;
    }
    std::string tok;
    if (v[i] == '"') {
      tok += '"';
      ++i;
      bool closed = false;
      while (i < v.size()) {
        if (v[i] == '\\' && i + 1 < v.size()) {
          tok += v[i];
          tok += v[i + 1];
          i += 2;
          continue;
        }
        if (v[i] == '"') {
          closed = true;
          ++i;
          break;
        }
        tok += v[i++];
      }
      if (!closed) throw std::invalid_argument("unterminated quoted string");
    } else {
      while (i < v.size() && v[i] != ' ' && v[i] != '\t') tok += v[i++];
    }
    out.push_back(std::move(tok));
  }
  return out;
}

// Resolves \X and \DDD in a character-string.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (i + 1 >= s.size()) throw std::invalid_argument("dangling backslash");
    if (i + 3 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isdigit(static_cast<unsigned char>(s[i + 2])) && std::isdigit(static_cast<unsigned char>(s[i + 3]))) {
      int v = (s[i + 1] - '0') * 100 + (s[i + 2] - '0') * 10 + (s[i + 3] - '0');
      if (v > 255) throw std::invalid_argument("escape \\DDD above 255");
      out += static_cast<char>(v);
      i += 3;
    } else if (std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      throw std::invalid_argument("escape \\DDD needs three digits");
    } else {
      out += s[++i];
    }
  }
  return out;
}

RData::Part bytes_part(std::vector<uint8_t> b) {
  RData::Part p;
  p.bytes = std::move(b);
  return p;
}
RData::Part name_part(std::string_view n) {
  try {
    split_name(n);
  } catch (const ParseError& e) {
    throw std::invalid_argument("bad name \"" + std::string(n) + "\": " + e.what());
  }
  RData::Part p;
  p.is_name = true;
  p.name = std::string(n);
  return p;
}
void put16(std::vector<uint8_t>& b, uint32_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xffff);
}
uint32_t number(std::string_view s, long long hi, const char* what) {
  long long v = 0;
  if (!common::parse_int(s, 0, hi, v)) throw std::invalid_argument(std::string("bad ") + what + " \"" + std::string(s) + "\"");
  return static_cast<uint32_t>(v);
}

}  // namespace

std::string type_name(uint16_t type) {
  for (const auto& t : k_types)
    if (t.type == type) return t.name;
  return "TYPE" + std::to_string(type);
}

std::optional<uint16_t> type_from_name(std::string_view name) {
  for (const auto& t : k_types)
    if (common::iequals(name, t.name)) return t.type;
  long long v = 0;
  if (common::istarts_with(name, "TYPE") && common::parse_int(name.substr(4), 0, 65535, v))
    return static_cast<uint16_t>(v);
  return std::nullopt;
}

std::string rcode_name(unsigned rcode) {
  static const char* names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                                "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  if (rcode < std::size(names)) return names[rcode];
  if (rcode == 16) return "BADVERS";
  return "RCODE" + std::to_string(rcode);
}

std::string escape_label(std::string_view label) {
  std::string out;
  out.reserve(label.size());
  for (char c : label) append_escaped(out, static_cast<unsigned char>(c), true);
  return out;
}

std::string read_name(std::span<const uint8_t> m, size_t& off) {
  std::string out;
  size_t pos = off;
  size_t limit = off;  // every pointer must point below the previous target
  bool jumped = false;
  int hops = 0;
  size_t wire_len = 1;  // the root's zero octet
  for (;;) {
    need(m, pos, 1, "name");
    const uint8_t len = m[pos];
    if ((len & 0xc0) == 0xc0) {
      need(m, pos, 2, "compression pointer");
      const size_t target = rd16(m, pos) & 0x3fff;
      if (target >= limit || target < 12) throw ParseError("compression pointer does not point backwards");
      if (++hops > 127) throw ParseError("too many compression pointers");
      if (!jumped) off = pos + 2;
      jumped = true;
      limit = target;
      pos = target;
      continue;
    }
    if (len & 0xc0) throw ParseError("unsupported label type");
    if (len == 0) {
      if (!jumped) off = pos + 1;
      break;
    }
    need(m, pos + 1, len, "label");
    wire_len += 1 + len;
    if (wire_len > 255) throw ParseError("name longer than 255 octets");
    if (!out.empty()) out += '.';
    for (size_t i = 0; i < len; ++i) append_escaped(out, m[pos + 1 + i], true);
    pos += 1 + len;
  }
  return out.empty() ? std::string(".") : out;
}

std::vector<std::string> split_name(std::string_view name) {
  std::vector<std::string> labels;
  if (name.empty() || name == ".") return labels;
  std::string cur;
  size_t wire_len = 1;
  bool pending = false;  // a label has been started
  auto finish = [&] {
    if (cur.empty()) throw ParseError("empty label in \"" + std::string(name) + "\"");
    if (cur.size() > 63) throw ParseError("label longer than 63 octets");
    wire_len += 1 + cur.size();
    if (wire_len > 255) throw ParseError("name longer than 255 octets");
    labels.push_back(std::move(cur));
    cur.clear();
  };
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '.') {
      finish();
      pending = false;
      continue;
    }
    pending = true;
    if (c != '\\') {
      cur += c;
      continue;
    }
    if (i + 1 >= name.size()) throw ParseError("dangling backslash in name");
    if (std::isdigit(static_cast<unsigned char>(name[i + 1]))) {
      if (i + 3 >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i + 2])) ||
          !std::isdigit(static_cast<unsigned char>(name[i + 3])))
        throw ParseError("escape \\DDD needs three digits");
      int v = (name[i + 1] - '0') * 100 + (name[i + 2] - '0') * 10 + (name[i + 3] - '0');
      if (v > 255) throw ParseError("escape \\DDD above 255");
      cur += static_cast<char>(v);
      i += 3;
    } else {
      cur += name[++i];
    }
  }
  if (pending) finish();
  return labels;
}

std::string canonical_name(std::string_view name) {
  auto labels = split_name(name);
  if (labels.empty()) return ".";
  std::string out;
  for (const auto& l : labels) {
    if (!out.empty()) out += '.';
    out += escape_label(common::lower(l));
  }
  return out;
}

Header parse_header(std::span<const uint8_t> m) {
  need(m, 0, 12, "header");
  Header h;
  h.id = rd16(m, 0);
  const uint16_t f = rd16(m, 2);
  h.qr = f & 0x8000;
  h.opcode = static_cast<uint8_t>((f >> 11) & 15);
  h.aa = f & 0x0400;
  h.tc = f & 0x0200;
  h.rd = f & 0x0100;
  h.ra = f & 0x0080;
  h.ad = f & 0x0020;
  h.cd = f & 0x0010;
  h.rcode = static_cast<uint8_t>(f & 15);
  return h;
}

Message parse(std::span<const uint8_t> m) {
  Message msg;
  msg.header = parse_header(m);
  const size_t counts[4] = {rd16(m, 4), rd16(m, 6), rd16(m, 8), rd16(m, 10)};
  // A question takes at least 5 octets and a record 11: refuse counts the
  // message cannot hold before reserving anything for them.
  if (counts[0] * 5 + (counts[1] + counts[2] + counts[3]) * 11 > m.size() - 12)
    throw ParseError("section counts exceed the message");
  size_t off = 12;
  msg.questions.reserve(counts[0]);
  for (size_t i = 0; i < counts[0]; ++i) {
    Question q;
    q.name = read_name(m, off);
    need(m, off, 4, "question");
    q.type = rd16(m, off);
    q.cls = rd16(m, off + 2);
    off += 4;
    msg.questions.push_back(std::move(q));
  }
  std::vector<RR>* sections[3] = {&msg.answers, &msg.authority, &msg.additional};
  for (int s = 0; s < 3; ++s) {
    sections[s]->reserve(counts[s + 1]);
    for (size_t i = 0; i < counts[s + 1]; ++i) {
      RR rr;
      rr.name = read_name(m, off);
      need(m, off, 10, "record");
      rr.type = rd16(m, off);
      rr.cls = rd16(m, off + 2);
      rr.ttl = rd32(m, off + 4);
      const size_t len = rd16(m, off + 8);
      off += 10;
      need(m, off, len, "RDATA");
      if (rr.type == t_opt) {
        if (s != 2) throw ParseError("OPT outside the additional section");
        if (msg.edns) throw ParseError("more than one OPT record");
        if (rr.name != ".") throw ParseError("OPT owner is not the root");
        Edns e;
        e.udp_size = rr.cls;
        e.ext_rcode = static_cast<uint8_t>(rr.ttl >> 24);
        e.version = static_cast<uint8_t>(rr.ttl >> 16);
        e.do_bit = rr.ttl & 0x8000;
        e.options.assign(m.begin() + static_cast<std::ptrdiff_t>(off), m.begin() + static_cast<std::ptrdiff_t>(off + len));
        // Options are TLVs; one that overruns the RDATA is malformed.
        for (size_t at = 0; at < len;) {
          if (len - at < 4) throw ParseError("truncated EDNS option");
          const size_t olen = rd16(m, off + at + 2);
          if (len - at - 4 < olen) throw ParseError("EDNS option overruns OPT");
          at += 4 + olen;
        }
        msg.edns = std::move(e);
      } else {
        rr.data = decode_rdata(m, rr.type, off, len);
        sections[s]->push_back(std::move(rr));
      }
      off += len;
    }
  }
  return msg;
}

RData encode_rdata(uint16_t type, std::string_view value) {
  auto tok = value_tokens(value);
  auto want = [&](size_t n, const char* form) {
    if (tok.size() != n) throw std::invalid_argument(std::string("expected ") + form);
  };
  RData rd;
  if (tok.size() >= 2 && tok[0] == "\\#") {  // RFC 3597 generic form, any type
    uint32_t len = number(tok[1], 65535, "length");
    std::string hex;
    for (size_t i = 2; i < tok.size(); ++i) hex += tok[i];
    if (hex.size() != 2 * static_cast<size_t>(len)) throw std::invalid_argument("\\# length does not match the data");
    std::vector<uint8_t> b;
    for (size_t i = 0; i < hex.size(); i += 2) {
      auto nib = [&](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        throw std::invalid_argument("bad hex digit");
      };
      b.push_back(static_cast<uint8_t>(nib(hex[i]) * 16 + nib(hex[i + 1])));
    }
    rd.parts.push_back(bytes_part(std::move(b)));
    return rd;
  }
  switch (type) {
    case t_a: {
      want(1, "an IPv4 address");
      std::vector<uint8_t> b(4);
      if (inet_pton(AF_INET, tok[0].c_str(), b.data()) != 1) throw std::invalid_argument("bad IPv4 address \"" + tok[0] + "\"");
      rd.parts.push_back(bytes_part(std::move(b)));
      break;
    }
    case t_aaaa: {
      want(1, "an IPv6 address");
      std::vector<uint8_t> b(16);
      if (inet_pton(AF_INET6, tok[0].c_str(), b.data()) != 1) throw std::invalid_argument("bad IPv6 address \"" + tok[0] + "\"");
      rd.parts.push_back(bytes_part(std::move(b)));
      break;
    }
    case t_ns:
    case t_cname:
    case t_ptr:
      want(1, "a domain name");
      rd.parts.push_back(name_part(tok[0]));
      break;
    case t_mx: {
      want(2, "PREFERENCE EXCHANGE");
      std::vector<uint8_t> b;
      put16(b, number(tok[0], 65535, "MX preference"));
      rd.parts.push_back(bytes_part(std::move(b)));
      rd.parts.push_back(name_part(tok[1]));
      break;
    }
    case t_soa: {
      want(7, "MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM");
      rd.parts.push_back(name_part(tok[0]));
      rd.parts.push_back(name_part(tok[1]));
      std::vector<uint8_t> b;
      for (int i = 2; i < 7; ++i) put32(b, number(tok[i], 4294967295LL, "SOA number"));
      rd.parts.push_back(bytes_part(std::move(b)));
      break;
    }
    case t_txt: {
      if (tok.empty()) throw std::invalid_argument("expected one or more strings");
      std::vector<uint8_t> b;
      for (const auto& t : tok) {
        std::string s = unescape(t[0] == '"' ? std::string_view(t).substr(1) : std::string_view(t));
        if (s.size() > 255) throw std::invalid_argument("TXT string longer than 255 octets");
        b.push_back(static_cast<uint8_t>(s.size()));
        b.insert(b.end(), s.begin(), s.end());
      }
      if (b.size() > 65535) throw std::invalid_argument("TXT data longer than 65535 octets");
      rd.parts.push_back(bytes_part(std::move(b)));
      break;
    }
    default:
      throw std::invalid_argument("type " + type_name(type) + " needs the generic form \\# LEN HEX");
  }
  return rd;
}

Writer::Writer(std::vector<uint8_t>& out) : out_(out) { out_.clear(); }

void Writer::u16(uint16_t v) {
  out_.push_back(static_cast<uint8_t>(v >> 8));
  out_.push_back(static_cast<uint8_t>(v));
}
void Writer::u32(uint32_t v) {
  u16(static_cast<uint16_t>(v >> 16));
  u16(static_cast<uint16_t>(v));
}
void Writer::bump(int index) {
  const size_t at = 4 + 2 * static_cast<size_t>(index);
  const uint16_t v = static_cast<uint16_t>(((out_[at] << 8) | out_[at + 1]) + 1);
  out_[at] = static_cast<uint8_t>(v >> 8);
  out_[at + 1] = static_cast<uint8_t>(v);
}

void Writer::header(const Header& h) {
  out_.clear();
  seen_.clear();
  u16(h.id);
  uint16_t f = 0;
  if (h.qr) f |= 0x8000;
  f |= static_cast<uint16_t>((h.opcode & 15) << 11);
  if (h.aa) f |= 0x0400;
  if (h.tc) f |= 0x0200;
  if (h.rd) f |= 0x0100;
  if (h.ra) f |= 0x0080;
  if (h.ad) f |= 0x0020;
  if (h.cd) f |= 0x0010;
  f |= h.rcode & 15;
  u16(f);
  for (int i = 0; i < 4; ++i) u16(0);
}

void Writer::name(std::string_view n, bool compress) {
  const auto labels = split_name(n);
  // The canonical text of the whole name; suffix i starts at starts[i].
  std::string full;
  std::vector<size_t> starts;
  starts.reserve(labels.size());
  for (const auto& l : labels) {
    if (!full.empty()) full += '.';
    starts.push_back(full.size());
    full += escape_label(l);
  }
  // Matching is case-sensitive although names are not: a pointer to the
  // client's 0x20-mixed question would otherwise change the case of the
  // zone's own names in the answer.
  for (size_t i = 0; i < labels.size(); ++i) {
    std::string_view suffix = std::string_view(full).substr(starts[i]);
    if (compress) {
      for (const auto& [s, at] : seen_)
        if (s == suffix) {
          u16(static_cast<uint16_t>(0xc000 | at));
          return;
        }
    }
    if (out_.size() < 0x4000) seen_.emplace_back(std::string(suffix), static_cast<uint16_t>(out_.size()));
    out_.push_back(static_cast<uint8_t>(labels[i].size()));
    out_.insert(out_.end(), labels[i].begin(), labels[i].end());
  }
  out_.push_back(0);
}

void Writer::question(std::string_view n, uint16_t type, uint16_t cls) {
  name(n, true);
  u16(type);
  u16(cls);
  bump(0);
}

void Writer::rr(Section s, std::string_view n, uint16_t type, uint16_t cls, uint32_t ttl, const RData& rdata) {
  name(n, true);
  u16(type);
  u16(cls);
  u32(ttl);
  const size_t len_at = out_.size();
  u16(0);
  for (const auto& p : rdata.parts) {
    if (p.is_name)
      name(p.name, true);
    else
      out_.insert(out_.end(), p.bytes.begin(), p.bytes.end());
  }
  const size_t len = out_.size() - len_at - 2;
  out_[len_at] = static_cast<uint8_t>(len >> 8);
  out_[len_at + 1] = static_cast<uint8_t>(len);
  bump(1 + static_cast<int>(s));
}

void Writer::opt(const Edns& e) {
  out_.push_back(0);
  u16(t_opt);
  u16(e.udp_size);
  u32((static_cast<uint32_t>(e.ext_rcode) << 24) | (static_cast<uint32_t>(e.version) << 16) | (e.do_bit ? 0x8000u : 0u));
  u16(static_cast<uint16_t>(e.options.size()));
  out_.insert(out_.end(), e.options.begin(), e.options.end());
  bump(3);
}

}  // namespace mxlab::dns::wire
