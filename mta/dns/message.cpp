#include "dns/message.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cctype>
#include <cstdio>

namespace mta::dns {
namespace {

constexpr size_t max_name = 255;
constexpr size_t max_label = 63;  // RFC 1035 2.3.4 (on the wire the 6-bit length enforces it)

// A bounds-checked reader over the message bytes.
class Reader {
 public:
  Reader(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  size_t pos() const { return p_; }
  bool u8(uint8_t& v) {
    if (p_ + 1 > n_) return false;
    v = d_[p_++];
    return true;
  }
  bool u16(uint16_t& v) {
    if (p_ + 2 > n_) return false;
    v = static_cast<uint16_t>((d_[p_] << 8) | d_[p_ + 1]);
    p_ += 2;
    return true;
  }
  bool u32(uint32_t& v) {
    if (p_ + 4 > n_) return false;
    v = (uint32_t{d_[p_]} << 24) | (uint32_t{d_[p_ + 1]} << 16) | (uint32_t{d_[p_ + 2]} << 8) | d_[p_ + 3];
    p_ += 4;
    return true;
  }
  bool skip(size_t k) {
    if (k > n_ - p_) return false;
    p_ += k;
    return true;
  }
  // Reads a possibly compressed name starting at the current position.
  bool name(std::string& out, std::string& err) {
    size_t end = 0;
    if (!name_at(p_, out, end, err)) return false;
    p_ = end;
    return true;
  }
  // Decodes the name at `at`; `end` is where the name ends in the stream
  // (after the first pointer, if any). Pointers must point backwards, which
  // rules out loops without a hop counter; the hop counter stays as a belt.
  bool name_at(size_t at, std::string& out, size_t& end, std::string& err) const {
    out.clear();
    size_t p = at;
    size_t wire_len = 0;
    bool jumped = false;
    int hops = 0;
    for (;;) {
      if (p >= n_) {
        err = "truncated domain name";
        return false;
      }
      uint8_t len = d_[p];
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= n_) {
          err = "truncated compression pointer";
          return false;
        }
        size_t target = (static_cast<size_t>(len & 0x3F) << 8) | d_[p + 1];
        if (!jumped) end = p + 2;
        if (target >= p || ++hops > 128) {
          err = "compression loop";
          return false;
        }
        jumped = true;
        p = target;
        continue;
      }
      if ((len & 0xC0) != 0) {
        err = "bad label type";
        return false;
      }
      if (len == 0) {
        if (!jumped) end = p + 1;
        return true;
      }
      if (p + 1 + len > n_) {
        err = "truncated label";
        return false;
      }
      wire_len += len + 1;
      if (wire_len + 1 > max_name) {
        err = "domain name too long";
        return false;
      }
      if (!out.empty()) out += '.';
      for (size_t i = 0; i < len; ++i) {
        unsigned char c = d_[p + 1 + i];
        // Presentation form as dn_expand writes it: escape what would
        // otherwise be ambiguous, so valid_hostname() sees it and refuses.
        if (c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '$') {
          out += '\\';
          out += static_cast<char>(c);
        } else if (c <= 0x20 || c >= 0x7F) {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\%03u", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
      }
      p += 1 + len;
    }
  }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t p_ = 0;
};

bool read_rr(Reader& r, Rr& rr, std::string& err) {
  if (!r.name(rr.name, err)) return false;
  uint16_t rdlen = 0;
  if (!r.u16(rr.type) || !r.u16(rr.cls) || !r.u32(rr.ttl) || !r.u16(rdlen)) {
    err = "truncated resource record";
    return false;
  }
  rr.raw_len = rdlen;
  size_t start = r.pos();
  Reader sub = r;  // reads the data; names may point anywhere before it
  switch (rr.type) {
    case type_a:
    case type_aaaa: {
      size_t want = rr.type == type_a ? 4 : 16;
      if (rdlen != want) {
        err = "bad address length";
        return false;
      }
      uint8_t b[16];
      for (size_t i = 0; i < want; ++i)
        if (!sub.u8(b[i])) {
          err = "truncated address";
          return false;
        }
      char buf[INET6_ADDRSTRLEN];
      ::inet_ntop(rr.type == type_a ? AF_INET : AF_INET6, b, buf, sizeof buf);
      rr.addr = buf;
      break;
    }
    case type_cname:
    case type_ptr:
    case type_ns:
      if (!sub.name(rr.target, err)) return false;
      if (sub.pos() > start + rdlen) {
        err = "name overruns record data";
        return false;
      }
      break;
    case type_mx: {
      uint16_t pref = 0;
      if (rdlen < 3 || !sub.u16(pref)) {
        err = "truncated MX record";
        return false;
      }
      rr.pref = pref;
      if (!sub.name(rr.target, err)) return false;
      if (sub.pos() > start + rdlen) {
        err = "name overruns record data";
        return false;
      }
      break;
    }
    default:
      break;
  }
  if (!r.skip(rdlen)) {
    err = "truncated record data";
    return false;
  }
  return true;
}

}  // namespace

std::string type_name(uint16_t type) {
  switch (type) {
    case type_a:
      return "A";
    case type_ns:
      return "NS";
    case type_cname:
      return "CNAME";
    case type_soa:
      return "SOA";
    case type_ptr:
      return "PTR";
    case type_mx:
      return "MX";
    case type_txt:
      return "TXT";
    case type_aaaa:
      return "AAAA";
    default:
      return "TYPE" + std::to_string(type);
  }
}

bool parse_message(const uint8_t* data, size_t len, Message& m, std::string& error) {
  m = Message{};
  Reader r(data, len);
  uint16_t flags = 0, qd = 0, an = 0, ns = 0, ar = 0;
  if (!r.u16(m.id) || !r.u16(flags) || !r.u16(qd) || !r.u16(an) || !r.u16(ns) || !r.u16(ar)) {
    error = "truncated header";
    return false;
  }
  m.qr = flags & 0x8000;
  m.opcode = (flags >> 11) & 0xF;
  m.aa = flags & 0x0400;
  m.tc = flags & 0x0200;
  m.rd = flags & 0x0100;
  m.ra = flags & 0x0080;
  m.rcode = flags & 0xF;
  m.additional = ar;
  for (unsigned i = 0; i < qd; ++i) {
    Question q;
    if (!r.name(q.name, error)) return false;
    if (!r.u16(q.type) || !r.u16(q.cls)) {
      error = "truncated question";
      return false;
    }
    m.questions.push_back(std::move(q));
  }
  // A truncated (TC) UDP reply may stop anywhere; c-ares retries such
  // queries over TCP, so a short answer section is simply what arrived.
  for (unsigned i = 0; i < an; ++i) {
    Rr rr;
    if (!read_rr(r, rr, error)) {
      if (m.tc) return true;
      return false;
    }
    m.answers.push_back(std::move(rr));
  }
  for (unsigned i = 0; i < ns; ++i) {
    Rr rr;
    if (!read_rr(r, rr, error)) {
      if (m.tc) return true;
      // The authority section only feeds diagnostics; keep what we have.
      error.clear();
      return true;
    }
    m.authority.push_back(std::move(rr));
  }
  return true;
}

bool same_name(std::string_view a, std::string_view b) {
  if (!a.empty() && a.back() == '.') a.remove_suffix(1);
  if (!b.empty() && b.back() == '.') b.remove_suffix(1);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

bool valid_hostname(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > max_name) return false;
  size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '-' || c == '_')) return false;
    if (++label > max_label) return false;
  }
  return label > 0;
}

Extracted extract_answer(const Message& m, std::string_view qname, uint16_t qtype) {
  Extracted x;
  x.final_name = std::string(qname);
  // Follow the chain by owner name; every step must be a CNAME owned by the
  // current name. The bound (one step per answer record) stops loops.
  for (size_t step = 0; step <= m.answers.size(); ++step) {
    bool found = false;
    for (const auto& rr : m.answers) {
      if (rr.type != qtype || rr.cls != class_in || !same_name(rr.name, x.final_name)) continue;
      if (qtype == type_mx && rr.target.empty()) {
        x.null_mx = true;
        found = true;
        continue;
      }
      if ((qtype == type_mx || qtype == type_ptr || qtype == type_cname) && !valid_hostname(rr.target)) {
        ++x.invalid;
        continue;
      }
      x.records.push_back(rr);
      found = true;
    }
    if (found || x.invalid || qtype == type_cname) return x;
    const Rr* cname = nullptr;
    for (const auto& rr : m.answers)
      if (rr.type == type_cname && rr.cls == class_in && same_name(rr.name, x.final_name)) {
        cname = &rr;
        break;
      }
    if (!cname) return x;
    if (!valid_hostname(cname->target)) {
      ++x.invalid;
      return x;
    }
    x.final_name = cname->target;
    x.via_cname = true;
  }
  return x;
}

std::string reverse_name(std::string_view address) {
  std::string a(address);
  if (a.size() > 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
  if (a.size() > 5 && (a.compare(0, 5, "ipv6:") == 0 || a.compare(0, 5, "IPv6:") == 0)) a = a.substr(5);
  unsigned char b[16];
  if (::inet_pton(AF_INET, a.c_str(), b) == 1) {
    return std::to_string(b[3]) + "." + std::to_string(b[2]) + "." + std::to_string(b[1]) + "." + std::to_string(b[0]) +
           ".in-addr.arpa";
  }
  if (::inet_pton(AF_INET6, a.c_str(), b) == 1) {
    static const char* hx = "0123456789abcdef";
    std::string out;
    for (int i = 15; i >= 0; --i) {
      out += hx[b[i] & 15];
      out += '.';
      out += hx[b[i] >> 4];
      out += '.';
    }
    return out + "ip6.arpa";
  }
  return "";
}

}  // namespace mta::dns
