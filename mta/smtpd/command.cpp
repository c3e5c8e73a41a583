#include "smtpd/command.hpp"

#include "core/address.hpp"
#include "core/envelope.hpp"
#include "core/fault.hpp"
#include "util/strings.hpp"

#include <cctype>

namespace mta::smtpd {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

// Copies a quoted construct that starts at s[i] (the opening char already
// consumed by the caller and appended). Nested "..." inside <...> and <...>
// inside <...> are honoured, as in Postfix's smtp_quoted(). Returns false when
// the input ends before the closing character.
bool copy_quoted(std::string_view s, size_t& i, std::string& out, char last) {
  std::string stack(1, last);
  char wanted = last;
  while (i < s.size()) {
    char c = s[i++];
    out += c;
    if (c == '\\') {
      if (i >= s.size()) return false;
      out += s[i++];
    } else if (c == wanted) {
      stack.pop_back();
      if (stack.empty()) return true;
      wanted = stack.back();
    } else if (c == '"') {
      stack += '"';
      wanted = '"';
    } else if (c == '<' && wanted == '>') {
      stack += '>';
      wanted = '>';
    }
  }
  return false;
}

}  // namespace

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  for (;;) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size()) break;
    Token t;
    while (i < s.size()) {
      char c = s[i];
      if (is_space(c)) break;
      ++i;
      if (c == '<' || c == '"') {
        t.text += c;
        if (!copy_quoted(s, i, t.text, c == '<' ? '>' : '"')) t.error = true;
      } else if (c == ':') {
        t.text += c;
        // "FROM:<a>" is two tokens, as if the client had sent "FROM: <a>".
        if (util::iequals(t.text, "from:") || util::iequals(t.text, "to:")) break;
      } else if (c == '\\') {
        t.text += c;
        if (i < s.size()) t.text += s[i++];
      } else {
        t.text += c;
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::string collapse(const std::vector<Token>& tokens, size_t from) {
  std::string r;
  for (size_t i = from; i < tokens.size(); ++i) {
    if (i > from) r += ' ';
    r += tokens[i].text;
  }
  return r;
}

bool extract_address(std::string_view tok, bool allow_empty, bool strict, std::string& out) {
  out.clear();
  std::string_view text = tok;
  bool bracketed = text.size() >= 2 && text.front() == '<' && text.back() == '>';
  if (bracketed) text = text.substr(1, text.size() - 2);
  if (strict && !bracketed) return false;
  // Deprecated source route "@a,@b:user@c": RFC 5321 says accept and ignore.
  if (!text.empty() && text.front() == '@') {
    if (auto colon = text.find(':'); colon != std::string_view::npos) text = text.substr(colon + 1);
  }
  if (text.empty()) return allow_empty;

  // Walk the address once: quoted strings and domain literals may contain
  // what is forbidden elsewhere; the last unquoted '@' starts the domain.
  bool inq = false;
  size_t at = std::string_view::npos;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (inq) {
      if (c == '\\') {
        if (++i >= text.size()) return false;
      } else if (c == '"') {
        inq = false;
      } else if (c == '\r' || c == '\n') {
        return false;
      }
      continue;
    }
    if (c == '"') {
      inq = true;
      continue;
    }
    if (c == '@') {
      at = i;
      continue;
    }
    if (c == '[' && at != std::string_view::npos && i == at + 1) {
      // Domain literal: everything up to ']' must be the end of the address.
      auto close = text.find(']', i);
      if (close == std::string_view::npos || close + 1 != text.size()) return false;
      i = close;
      continue;
    }
    if (c < 0x20 || c == 0x7f || c == ' ') return false;
    if (std::string_view("()<>,;:\\[]").find(static_cast<char>(c)) != std::string_view::npos) return false;
  }
  if (inq) return false;
  if (at == std::string_view::npos) {
    out = std::string(text);
    return true;  // unqualified: resolved in the local domain later
  }
  std::string_view local = text.substr(0, at), domain = text.substr(at + 1);
  if (local.empty() || domain.empty()) return false;
  if (!core::valid_domain(domain)) return false;
  out = std::string(text);
  return true;
}

bool is_header_like(std::string_view w) {
  // Postfix is_header(): printable ASCII label, optional blanks, then ':'.
  size_t len = 0;
  bool space = false;
  for (char ch : w) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == ':') return len > 0;
    if (c == ' ' || c == '\t') {
      if (len == 0) return false;
      space = true;
      continue;
    }
    if (c >= 0x80 || c < 0x21 || c == 0x7f || space) return false;
    ++len;
  }
  return false;
}

unsigned parse_notify(std::string_view v) {
  unsigned mask = 0;
  for (auto& w : util::split_any(v, ",")) {
    if (util::iequals(w, "NEVER")) mask |= core::notify_never;
    else if (util::iequals(w, "SUCCESS")) mask |= core::notify_success;
    else if (util::iequals(w, "FAILURE")) mask |= core::notify_failure;
    else if (util::iequals(w, "DELAY")) mask |= core::notify_delay;
    else return 0;
  }
  if ((mask & core::notify_never) && (mask & ~static_cast<unsigned>(core::notify_never))) return 0;
  return mask;
}

std::string parse_mail_params(const std::vector<Token>& args, size_t from, bool dsn_enabled, MailParams& out,
                              long long& size) {
  out = MailParams{};
  bool have_envid = false;
  for (size_t n = from; n < args.size(); ++n) {
    const std::string& arg = args[n].text;
    std::string_view a = arg;
    if (util::iequals(a, "BODY=8BITMIME")) {
      out.body = "8BITMIME";
    } else if (util::iequals(a, "BODY=7BIT")) {
      out.body = "7BIT";
    } else if (util::istarts_with(a, "SIZE=")) {
      std::string_view v = a.substr(5);
      if (v.empty() || !util::is_all_digits(v)) return "501 5.5.4 Bad message size syntax";
      unsigned long long n64 = 0;
      if (!util::parse_u64(v, n64) || n64 > static_cast<unsigned long long>(INT64_MAX))
        return "552 5.3.4 Message size exceeds file system imposed limit";
      size = static_cast<long long>(n64);
    } else if (util::istarts_with(a, "RET=")) {
      if (!dsn_enabled) return "501 5.7.1 DSN support is disabled";
      std::string_view v = a.substr(4);
      if (!out.ret.empty()) return "501 5.5.4 Bad RET parameter syntax";
      if (util::iequals(v, "FULL")) out.ret = "FULL";
      else if (util::iequals(v, "HDRS")) out.ret = "HDRS";
      else return "501 5.5.4 Bad RET parameter syntax";
    } else if (util::istarts_with(a, "ENVID=")) {
      if (!dsn_enabled) return "501 5.7.1 DSN support is disabled";
      std::string dec;
      bool printable = core::xtext_decode(a.substr(6), dec);
      for (char c : dec)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) printable = false;
      if (have_envid || !printable) return "501 5.5.4 Bad ENVID parameter syntax";
      out.envid = dec;
      have_envid = true;
    } else {
      return "555 5.5.4 Unsupported option: " + util::printable(arg);
    }
  }
  return "";
}

std::string parse_rcpt_params(const std::vector<Token>& args, size_t from, bool dsn_enabled, RcptParams& out) {
  out = RcptParams{};
  for (size_t n = from; n < args.size(); ++n) {
    const std::string& arg = args[n].text;
    std::string_view a = arg;
    if (util::istarts_with(a, "NOTIFY=")) {
      if (!dsn_enabled) return "501 5.7.1 DSN support is disabled";
      if (out.notify || (out.notify = parse_notify(a.substr(7))) == 0)
        return "501 5.5.4 Error: Bad NOTIFY parameter syntax";
    } else if (util::istarts_with(a, "ORCPT=")) {
      if (!dsn_enabled) return "501 5.7.1 DSN support is disabled";
      std::string_view v = a.substr(6);
      auto semi = v.find(';');
      std::string dec;
      if (!out.orcpt.empty() || semi == std::string_view::npos || semi == 0 ||
          !core::xtext_decode(v.substr(semi + 1), dec))
        return "501 5.5.4 Error: Bad ORCPT parameter syntax";
      out.orcpt = std::string(v.substr(0, semi)) + ";" + dec;
    } else {
      return "555 5.5.4 Unsupported option: " + util::printable(arg);
    }
  }
  return "";
}

namespace {
struct MaskName {
  std::string_view name;
  unsigned bit;
};
// Postfix's ehlo_mask table order (it is also the order of the log line).
constexpr MaskName kMaskNames[] = {
    {"8BITMIME", ehlo_8bitmime},
    {"AUTH", ehlo_auth},
    {"ETRN", ehlo_etrn},
    {"PIPELINING", ehlo_pipelining},
    {"SIZE", ehlo_size},
    {"VERP", ehlo_verp},
    {"VRFY", ehlo_vrfy},
    {"XCLIENT", ehlo_xclient},
    {"XFORWARD", ehlo_xforward},
    {"STARTTLS", ehlo_starttls},
    {"ENHANCEDSTATUSCODES", ehlo_enhancedstatuscodes},
    {"DSN", ehlo_dsn},
    {"SMTPUTF8", ehlo_smtputf8},
    {"CHUNKING", ehlo_chunking},
    {"SILENT-DISCARD", ehlo_silent},
};
}  // namespace

unsigned ehlo_discard_mask(const std::vector<std::string>& words) {
  unsigned m = 0;
  for (const auto& w : words)
    for (const auto& mn : kMaskNames)
      if (util::iequals(w, mn.name)) m |= mn.bit;
  return m;
}

std::string ehlo_mask_names(unsigned mask) {
  std::string r;
  for (const auto& mn : kMaskNames) {
    if (!(mask & mn.bit)) continue;
    if (!r.empty()) r += ' ';
    r += mn.name;
  }
  return r;
}

std::vector<std::string> ehlo_lines(const std::string& myhostname, long long limit, bool vrfy_enabled,
                                    unsigned discard) {
  std::vector<std::string> v{myhostname};
  if (!(discard & ehlo_pipelining) && !core::fault::active(core::fault::Id::wrong_ehlo)) v.emplace_back("PIPELINING");
  if (!(discard & ehlo_size)) v.push_back(limit > 0 ? "SIZE " + std::to_string(limit) : "SIZE");
  if (!(discard & ehlo_vrfy) && vrfy_enabled) v.emplace_back("VRFY");
  if (!(discard & ehlo_etrn)) v.emplace_back("ETRN");
  if (!(discard & ehlo_enhancedstatuscodes)) v.emplace_back("ENHANCEDSTATUSCODES");
  if (!(discard & ehlo_8bitmime)) v.emplace_back("8BITMIME");
  if (!(discard & ehlo_dsn)) v.emplace_back("DSN");
  return v;
}

std::string strip_enhanced_code(std::string_view r) {
  // "550 5.1.1 text" -> "550 text"; class.subject.detail, 1-3 digits each.
  if (r.size() < 10 || (r[3] != ' ' && r[3] != '-')) return std::string(r);
  size_t i = 4;
  auto digits = [&](size_t max) {
    size_t b = i;
    while (i < r.size() && i - b < max && std::isdigit(static_cast<unsigned char>(r[i]))) ++i;
    return i > b;
  };
  if (!(r[i] >= '2' && r[i] <= '5') || ++i >= r.size() || r[i] != '.') return std::string(r);
  ++i;
  if (!digits(3) || i >= r.size() || r[i] != '.') return std::string(r);
  ++i;
  if (!digits(3) || i >= r.size() || r[i] != ' ') return std::string(r);
  return std::string(r.substr(0, 4)) + std::string(r.substr(i + 1));
}

}  // namespace mta::smtpd
