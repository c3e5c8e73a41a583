#include "smtp/protocol.hpp"

#include "core/address.hpp"
#include "core/fault.hpp"
#include "util/strings.hpp"

#include <cctype>
#include <utility>

namespace mta::smtp {
namespace {

// Length of a valid RFC 3463 status at the start of s ("5.1.1" -> 5), 0 if none.
size_t dsn_len(std::string_view s) {
  size_t i = 0;
  auto digits = [&](size_t maxn) {
    size_t n = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && n < maxn) {
      ++i;
      ++n;
    }
    return n;
  };
  if (i >= s.size() || (s[i] != '2' && s[i] != '4' && s[i] != '5')) return 0;
  ++i;
  if (i >= s.size() || s[i] != '.') return 0;
  ++i;
  if (digits(3) == 0) return 0;
  if (i >= s.size() || s[i] != '.') return 0;
  ++i;
  if (digits(3) == 0) return 0;
  if (i < s.size() && s[i] != ' ' && s[i] != '\t') return 0;
  return i;
}

bool three_digits(std::string_view line) {
  return line.size() >= 3 && std::isdigit(static_cast<unsigned char>(line[0])) &&
         std::isdigit(static_cast<unsigned char>(line[1])) && std::isdigit(static_cast<unsigned char>(line[2])) &&
         (line.size() == 3 || !std::isdigit(static_cast<unsigned char>(line[3])));
}

}  // namespace

std::string Reply::text() const { return util::join(lines, " "); }

std::string reply_dsn(int code, std::string_view line) {
  if (code == 0) return "5.5.0";  // no status: Postfix assumes a protocol error
  char cls = static_cast<char>('0' + code / 100);
  if (cls != '2' && cls != '4' && cls != '5') return "5.5.0";
  std::string_view rest = line.size() > 4 ? line.substr(4) : std::string_view{};
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  size_t n = dsn_len(rest);
  if (n > 0 && rest[0] == cls) return std::string(rest.substr(0, n));
  return std::string(1, cls) + ".0.0";
}

bool ReplyReader::feed(std::string_view raw) {
  std::string line(raw.substr(0, limit_));
  line = util::printable(line, '?');
  // Defend against endless multi-line replies: keep what fits the limit.
  if (stored_ < limit_) {
    stored_ += line.size() + 1;
    cur_.lines.push_back(line);
  }
  // Postfix: three digits then '-' continues; ' ' or end ends; anything
  // else is garbage, kept and treated as a continuation.
  if (three_digits(line)) {
    if (line.size() > 3 && line[3] == '-') return false;
    if (line.size() == 3 || line[3] == ' ') {
      cur_.code = std::stoi(line.substr(0, 3));
      cur_.dsn = reply_dsn(cur_.code, line);
      return true;
    }
  }
  malformed_.push_back(std::move(line));
  return false;
}

std::vector<std::string> ReplyReader::take_malformed() { return std::exchange(malformed_, {}); }

Reply ReplyReader::take() {
  Reply r = std::move(cur_);
  if (r.dsn.empty()) r.dsn = reply_dsn(r.code, "");
  cur_ = Reply{};
  stored_ = 0;
  return r;
}

std::string first_word(const Reply& r) {
  if (r.lines.empty()) return "";
  std::string_view l = r.lines[0];
  if (l.size() > 4)
    l.remove_prefix(4);
  else
    return "";
  auto words = util::split_any(l, " \t");
  return words.empty() ? "" : words[0];
}

Features parse_ehlo(const Reply& r) {
  Features f;
  for (size_t n = 0; n < r.lines.size(); ++n) {
    std::string_view l = r.lines[n];
    if (l.size() <= 4) continue;
    auto words = util::split_any(l.substr(4), " \t=");
    if (words.empty()) continue;
    if (n == 0) {
      f.server_name = words[0];
      continue;
    }
    const std::string& kw = words[0];
    if (util::iequals(kw, "PIPELINING"))
      f.pipelining = true;
    else if (util::iequals(kw, "8BITMIME"))
      f.eightbitmime = true;
    else if (util::iequals(kw, "DSN"))
      f.dsn = true;
    else if (util::iequals(kw, "SMTPUTF8"))
      f.smtputf8 = true;
    else if (util::iequals(kw, "STARTTLS"))
      f.starttls = true;
    else if (util::iequals(kw, "SIZE")) {
      f.size = true;
      unsigned long long v = 0;
      if (words.size() > 1 && util::parse_u64(words[1], v)) f.size_limit = v;
    }
  }
  // Postfix: SMTPUTF8 without 8BITMIME is taken to include it.
  if (f.smtputf8) f.eightbitmime = true;
  return f;
}

std::string notify_param(unsigned notify) {
  std::vector<std::string> v;
  if (notify & core::notify_never) v.push_back("NEVER");
  if (notify & core::notify_success) v.push_back("SUCCESS");
  if (notify & core::notify_failure) v.push_back("FAILURE");
  if (notify & core::notify_delay) v.push_back("DELAY");
  return util::join(v, ",");
}

bool has_8bit(std::string_view content) {
  for (unsigned char c : content)
    if (c & 0x80) return true;
  return false;
}

std::string mail_command(std::string_view sender, const MailParams& p, const Features& f) {
  std::string cmd = "MAIL FROM:<" + std::string(sender) + ">";
  if (f.size) cmd += " SIZE=" + std::to_string(p.size);
  if (f.eightbitmime) {
    if (p.body == "8BITMIME")
      cmd += " BODY=8BITMIME";
    else if (p.body == "7BIT")
      cmd += " BODY=7BIT";
  }
  if (f.dsn) {
    if (!p.envid.empty()) cmd += " ENVID=" + core::xtext_encode(p.envid);
    if (!p.ret.empty()) cmd += " RET=" + p.ret;
  }
  return cmd;
}

std::string rcpt_command(std::string_view rcpt, std::string_view orcpt, unsigned notify, const Features& f) {
  std::string cmd = "RCPT TO:<" + std::string(rcpt) + ">";
  if (f.dsn) {
    if (!orcpt.empty()) {
      // xtext-encode the address, not the type: "rfc822;a+2Bb@c".
      auto semi = orcpt.find(';');
      if (semi == std::string_view::npos)
        cmd += " ORCPT=rfc822;" + core::xtext_encode(orcpt);
      else
        cmd += " ORCPT=" + std::string(orcpt.substr(0, semi + 1)) + core::xtext_encode(orcpt.substr(semi + 1));
    }
    if (notify) cmd += " NOTIFY=" + notify_param(notify);
  }
  return cmd;
}

std::string encode_data(std::string_view content, size_t limit) {
  std::string out;
  out.reserve(content.size() + content.size() / 32 + 8);
  size_t pos = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    std::string_view line = content.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? content.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // Postfix smtp_text_out(): space_left starts at the limit; a leading
    // dot is doubled only at the start of a (logical) line and is not
    // counted; a line longer than the limit is broken with CRLF SPACE.
    size_t space_left = limit;
    if (!line.empty() && line.front() == '.' && !core::fault::active(core::fault::Id::no_dot_stuffing)) out += '.';
    std::string_view left = line;
    while (limit > 0 && left.size() > space_left) {
      out.append(left.substr(0, space_left));
      out += "\r\n ";
      left.remove_prefix(space_left);
      space_left = limit - 1;
    }
    out.append(left);
    out += "\r\n";
  }
  out += ".\r\n";
  return out;
}

}  // namespace mta::smtp
