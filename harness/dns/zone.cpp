// parse_zone_text(): the lab's zone text (see fake_dns.hpp and docs/fake-dns.md).
#include "common/strings.hpp"
#include "dns/fake_dns.hpp"
#include "dns/wire.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace mxlab::dns {
namespace {

struct LineError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Cuts a comment ('#' or ';') that is outside a quoted string.
std::string_view strip_comment(std::string_view line) {
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\\') {  // an escaped character is never a comment ("\\# 2 abcd")
      ++i;
      continue;
    }
    if (c == '"') quoted = !quoted;
    if (!quoted && (c == '#' || c == ';')) return line.substr(0, i);
  }
  return line;
}

// Takes the next whitespace-delimited token off the front of s.
std::string_view next_token(std::string_view& s) {
  s = common::trim(s);
  size_t i = 0;
  while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
  auto tok = s.substr(0, i);
  s = common::trim(s.substr(i));
  return tok;
}

bool under(std::string_view name, std::string_view origin) {
  if (origin == ".") return true;
  return name == origin ||
         (name.size() > origin.size() && name.substr(name.size() - origin.size()) == origin &&
          name[name.size() - origin.size() - 1] == '.');
}

// The name rules (docs/fake-dns.md): a trailing dot makes a name absolute;
// "@" is the origin; a name at or under the current origin is taken as
// written; any other name is relative to the current origin (RFC 1035
// master files), and without an origin every name is absolute.
std::string resolve_name(std::string_view tok, const std::string& origin) {
  if (tok == "@") {
    if (origin.empty()) throw LineError("\"@\" needs a $ORIGIN");
    return origin;
  }
  std::string canon;
  try {
    canon = wire::canonical_name(tok);
  } catch (const wire::ParseError& e) {
    throw LineError("bad name \"" + std::string(tok) + "\": " + e.what());
  }
  const bool absolute = tok.size() > 1 && tok.back() == '.' && tok[tok.size() - 2] != '\\';
  if (absolute || tok == "." || origin.empty() || under(canon, origin)) return canon;
  std::string rel = canon + "." + origin;
  try {
    return wire::canonical_name(rel);
  } catch (const wire::ParseError& e) {
    throw LineError("bad name \"" + rel + "\": " + e.what());
  }
}

std::string as_target(const std::string& canon) { return canon == "." ? canon : canon + "."; }

FaultKind fault_kind(std::string_view s) {
  static const std::pair<const char*, FaultKind> kinds[] = {
      {"nxdomain", FaultKind::nxdomain}, {"nodata", FaultKind::nodata}, {"servfail", FaultKind::servfail},
      {"refused", FaultKind::refused},   {"drop", FaultKind::drop},     {"delay", FaultKind::delay},
      {"truncate", FaultKind::truncate},
  };
  for (const auto& [n, k] : kinds)
    if (common::iequals(s, n)) return k;
  throw LineError("unknown fault \"" + std::string(s) +
                  "\" (nxdomain nodata servfail refused drop delay truncate)");
}

Fault parse_fault(std::string_view rest, const std::string& origin) {
  auto name = next_token(rest);
  auto type = next_token(rest);
  auto kind = next_token(rest);
  if (kind.empty()) throw LineError("expected !fault NAME TYPE KIND [first=N] [ms=N]");
  Fault f;
  if (name == "*" || (name.size() > 2 && name.substr(0, 2) == "*.")) {
    f.name = name == "*" ? "*" : "*." + resolve_name(name.substr(2), origin);
  } else {
    f.name = resolve_name(name, origin);
  }
  if (type == "*") {
    f.type = "*";
  } else {
    auto t = wire::type_from_name(type);
    if (!t) throw LineError("unknown record type \"" + std::string(type) + "\"");
    f.type = wire::type_name(*t);
  }
  f.kind = fault_kind(kind);
  while (!rest.empty()) {
    auto opt = next_token(rest);
    auto eq = opt.find('=');
    long long v = 0;
    if (eq == std::string_view::npos) throw LineError("expected first=N or ms=N, got \"" + std::string(opt) + "\"");
    auto key = opt.substr(0, eq), val = opt.substr(eq + 1);
    if (!common::parse_int(val, 0, 1000000000, v)) throw LineError("bad number in \"" + std::string(opt) + "\"");
    if (key == "first")
      f.first_n = static_cast<int>(v);
    else if (key == "ms" || key == "delay")
      f.delay_ms = static_cast<int>(v);
    else
      throw LineError("unknown fault option \"" + std::string(key) + "\" (first=N, ms=N)");
  }
  if (f.kind == FaultKind::delay && f.delay_ms == 0) throw LineError("a delay fault needs ms=N");
  return f;
}

// Rewrites names inside a value to absolute form and checks the value by
// encoding it.
std::string normalise_value(uint16_t type, std::string_view value, const std::string& origin) {
  std::string out;
  auto toks = common::split_ws(value);
  switch (type) {
    case wire::t_ns:
    case wire::t_cname:
    case wire::t_ptr:
      if (toks.size() != 1) throw LineError("expected one domain name");
      out = as_target(resolve_name(toks[0], origin));
      break;
    case wire::t_mx:
      if (toks.size() != 2) throw LineError("expected MX PREFERENCE EXCHANGE (null MX: 0 .)");
      out = std::string(toks[0]) + " " + as_target(resolve_name(toks[1], origin));
      break;
    case wire::t_soa:
      if (toks.size() != 7) throw LineError("expected SOA MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM");
      out = as_target(resolve_name(toks[0], origin)) + " " + as_target(resolve_name(toks[1], origin));
      for (size_t i = 2; i < 7; ++i) out += " " + std::string(toks[i]);
      break;
    default:
      out = std::string(value);
  }
  if (out.empty()) throw LineError("missing value");
  if (!(toks.size() >= 1 && toks[0] == "\\#")) {
    // Only the types the lab knows, unless the generic form is used.
    static const uint16_t known[] = {wire::t_a, wire::t_aaaa, wire::t_mx, wire::t_cname, wire::t_txt,
                                     wire::t_ptr, wire::t_ns, wire::t_soa};
    if (std::find(std::begin(known), std::end(known), type) == std::end(known))
      throw LineError("type " + wire::type_name(type) + " needs the generic form \\# LEN HEX");
  }
  try {
    wire::encode_rdata(type, out);
  } catch (const std::invalid_argument& e) {
    throw LineError(std::string(wire::type_name(type)) + " " + e.what());
  }
  return out;
}

}  // namespace

ZoneSet parse_zone_text(std::string_view text, const std::string& file) {
  ZoneSet zs;
  std::string origin;
  uint32_t default_ttl = 300;
  // Per owner name: the line of its CNAME and of its first other record.
  std::map<std::string, std::pair<int, int>> cname_lines;
  int lineno = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view raw = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++lineno;
    try {
      std::string_view line = common::trim(strip_comment(raw));
      if (line.empty()) continue;
      std::string_view rest = line;
      auto first = next_token(rest);
      if (first == "$ORIGIN") {
        auto n = next_token(rest);
        if (n.empty() || !rest.empty()) throw LineError("expected $ORIGIN NAME");
        std::string canon;
        try {
          canon = wire::canonical_name(n);
        } catch (const wire::ParseError& e) {
          throw LineError("bad name \"" + std::string(n) + "\": " + e.what());
        }
        origin = canon;
        if (std::find(zs.origins.begin(), zs.origins.end(), origin) == zs.origins.end()) zs.origins.push_back(origin);
        continue;
      }
      if (first == "$TTL") {
        long long v = 0;
        auto n = next_token(rest);
        if (!common::parse_int(n, 0, 2147483647, v) || !rest.empty()) throw LineError("expected $TTL SECONDS");
        default_ttl = static_cast<uint32_t>(v);
        continue;
      }
      if (first == "!fault") {
        zs.faults.push_back(parse_fault(rest, origin));
        continue;
      }
      if (!first.empty() && (first[0] == '$' || first[0] == '!'))
        throw LineError("unknown directive \"" + std::string(first) + "\"");
      Record r;
      r.name = resolve_name(first, origin);
      r.ttl = default_ttl;
      auto tok = next_token(rest);
      long long ttl = 0;
      if (!tok.empty() && common::parse_int(tok, 0, 2147483647, ttl)) {
        r.ttl = static_cast<uint32_t>(ttl);
        tok = next_token(rest);
      }
      if (common::iequals(tok, "IN")) tok = next_token(rest);
      if (tok.empty()) throw LineError("expected NAME [TTL] [IN] TYPE VALUE");
      auto type = wire::type_from_name(tok);
      if (!type || *type == wire::t_opt || *type == wire::t_any || *type == wire::t_axfr || *type == wire::t_ixfr)
        throw LineError("unknown record type \"" + std::string(tok) + "\"");
      r.type = wire::type_name(*type);
      if (rest.empty()) throw LineError("missing value for " + r.type);
      r.value = normalise_value(*type, rest, origin);
      auto& cl = cname_lines[r.name];
      if (*type == wire::t_cname) {
        if (cl.first) throw LineError("a second CNAME for " + r.name);
        if (cl.second) throw LineError("CNAME and other data for " + r.name + " (line " + std::to_string(cl.second) + ")");
        cl.first = lineno;
      } else {
        if (cl.first) throw LineError("CNAME and other data for " + r.name + " (line " + std::to_string(cl.first) + ")");
        if (!cl.second) cl.second = lineno;
      }
      zs.records.push_back(std::move(r));
    } catch (const LineError& e) {
      throw std::runtime_error(file + ":" + std::to_string(lineno) + ": " + e.what());
    }
  }
  return zs;
}

}  // namespace mxlab::dns
