#include "core/address.hpp"

#include "core/net_addr.hpp"
#include "util/strings.hpp"

#include <cctype>

namespace mta::core {
namespace {

bool atext(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  if (u >= 0x80) return true;  // SMTPUTF8 / 8-bit: tolerated as Postfix does
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

}  // namespace

AddressParts split_address(std::string_view a) {
  AddressParts p;
  bool inq = false;
  size_t at = std::string_view::npos;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c == '\\' && inq) {
      ++i;
      continue;
    }
    if (c == '"') inq = !inq;
    else if (c == '@' && !inq) at = i;
  }
  if (at == std::string_view::npos) {
    p.local = std::string(a);
  } else {
    p.local = std::string(a.substr(0, at));
    p.domain = std::string(a.substr(at + 1));
    p.has_at = true;
  }
  return p;
}

std::string unquote_local(std::string_view l) {
  std::string out;
  bool inq = false;
  for (size_t i = 0; i < l.size(); ++i) {
    char c = l[i];
    if (c == '"') {
      inq = !inq;
      continue;
    }
    if (c == '\\' && i + 1 < l.size()) {
      out += l[++i];
      continue;
    }
    out += c;
  }
  return out;
}

std::string quote_local(std::string_view l) {
  bool need = l.empty();
  bool prev_dot = true;
  for (size_t i = 0; i < l.size(); ++i) {
    char c = l[i];
    if (c == '.') {
      if (prev_dot || i + 1 == l.size()) need = true;
      prev_dot = true;
      continue;
    }
    prev_dot = false;
    if (!atext(c)) need = true;
  }
  if (!need) return std::string(l);
  std::string out = "\"";
  for (char c : l) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string canonical(std::string_view addr) {
  AddressParts p = split_address(addr);
  if (!p.has_at) return p.local;
  return p.local + "@" + util::lower(p.domain);
}

std::string qualify(std::string_view addr, std::string_view domain) {
  AddressParts p = split_address(addr);
  if (p.has_at || addr.empty()) return std::string(addr);
  return std::string(addr) + "@" + std::string(domain);
}

bool is_address_literal(std::string_view d) {
  if (d.size() < 3 || d.front() != '[' || d.back() != ']') return false;
  std::string_view in = d.substr(1, d.size() - 2);
  if (util::istarts_with(in, "IPv6:")) return IpAddr::parse(in.substr(5)).has_value();
  auto a = IpAddr::parse(in);
  return a && a->family == 2;  // AF_INET
}

bool valid_domain(std::string_view d) {
  if (d.empty()) return false;
  if (d.front() == '[') return is_address_literal(d);
  if (d.size() > 255) return false;
  size_t label = 0;
  char prev = '.';
  for (size_t i = 0; i < d.size(); ++i) {
    char c = d[i];
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '.') {
      if (prev == '.' || prev == '-') return false;
      label = 0;
    } else if (std::isalnum(u) || u >= 0x80 || c == '_') {
      if (++label > 63) return false;
    } else if (c == '-') {
      if (prev == '.') return false;
      ++label;
    } else {
      return false;
    }
    prev = c;
  }
  // A trailing dot is tolerated (absolute name), a trailing hyphen is not.
  return prev != '-';
}

bool valid_local_part(std::string_view l) {
  if (l.empty()) return false;
  if (l.front() == '"') {
    if (l.size() < 2 || l.back() != '"') return false;
    for (size_t i = 1; i + 1 < l.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(l[i]);
      if (c == '\\') {
        if (i + 2 >= l.size()) return false;
        ++i;
        continue;
      }
      if (c == '"' || c < 32 || c == 127) return false;
    }
    return true;
  }
  char prev = '.';
  for (char c : l) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!atext(c)) {
      return false;
    }
    prev = c;
  }
  return prev != '.';
}

bool valid_mailbox(std::string_view addr) {
  AddressParts p = split_address(addr);
  return p.has_at && valid_local_part(p.local) && valid_domain(p.domain);
}

bool is_fqdn(std::string_view d) {
  if (d.empty()) return false;
  if (d.front() == '[') return is_address_literal(d);
  if (d.back() == '.') d.remove_suffix(1);
  return d.find('.') != std::string_view::npos && valid_domain(d);
}

bool parse_path_arg(std::string_view text, PathArg& out, bool strict) {
  out = PathArg{};
  std::string_view s = util::trim(text);
  if (s.empty()) return false;
  std::string_view rest;
  if (s.front() == '<') {
    // Find the closing '>' outside quotes.
    bool inq = false;
    size_t close = std::string_view::npos;
    for (size_t i = 1; i < s.size(); ++i) {
      char c = s[i];
      if (c == '\\' && inq) {
        ++i;
        continue;
      }
      if (c == '"') inq = !inq;
      else if (c == '>' && !inq) {
        close = i;
        break;
      }
    }
    if (close == std::string_view::npos) return false;
    std::string_view inner = s.substr(1, close - 1);
    // Source route "@a,@b:user@c" (RFC 5321 4.1.2: MUST accept, SHOULD ignore).
    if (!inner.empty() && inner.front() == '@') {
      auto colon = inner.find(':');
      if (colon == std::string_view::npos) return false;
      inner = inner.substr(colon + 1);
    }
    out.addr = std::string(inner);
    out.bracketed = true;
    rest = s.substr(close + 1);
    if (!rest.empty() && rest.front() != ' ' && rest.front() != '\t') return false;
  } else {
    if (strict) return false;
    // Postfix accepts MAIL FROM:a@b without <> unless strict_rfc821_envelopes.
    size_t sp = s.find_first_of(" \t");
    out.addr = std::string(s.substr(0, sp));
    rest = sp == std::string_view::npos ? std::string_view() : s.substr(sp);
  }
  for (auto& p : util::split_any(rest, " \t")) out.params.push_back(p);
  return true;
}

bool xtext_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      if (i + 2 >= in.size()) return false;
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int a = hex(in[i + 1]), b = hex(in[i + 2]);
      if (a < 0 || b < 0) return false;
      out += static_cast<char>(a * 16 + b);
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return false;
    } else {
      out += c;
    }
  }
  return true;
}

std::string xtext_encode(std::string_view in) {
  static const char* hx = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (c < 33 || c > 126 || c == '+' || c == '=') {
      out += '+';
      out += hx[c >> 4];
      out += hx[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace mta::core
