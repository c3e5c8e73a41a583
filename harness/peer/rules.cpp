// parse_rules(): the rule text of `mxlab sink` and topology files
// (docs/peers.md has the grammar and examples).
#include "common/strings.hpp"
#include "peer/peer.hpp"

#include <algorithm>
#include <stdexcept>

namespace mxlab::peer {
namespace {

struct LineError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

const char* const k_commands[] = {"CONNECT", "EHLO", "HELO", "MAIL", "RCPT",     "DATA", "DOT", "RSET", "NOOP",
                                  "QUIT",    "VRFY", "EXPN", "HELP", "STARTTLS", "AUTH", "BDAT", "ETRN", "*"};

bool is_code_start(std::string_view t) {
  if (t.size() < 3) return false;
  for (int i = 0; i < 3; ++i)
    if (t[static_cast<size_t>(i)] < '0' || t[static_cast<size_t>(i)] > '9') return false;
  return t.size() == 3 || t[3] == ' ' || t[3] == '-';
}

bool is_keyword(std::string_view t) {
  for (const char* k : {"default", "disconnect", "stall", "delay", "raw"})
    if (common::iequals(t, k)) return true;
  return false;
}

// Splits on ';' that is not escaped, keeping escapes for later.
std::vector<std::string> split_segments(std::string_view s) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      out.back() += s[i];
      out.back() += s[++i];
    } else if (s[i] == ';') {
      out.emplace_back();
    } else {
      out.back() += s[i];
    }
  }
  return out;
}

// \n -> newline, \; -> ;, \\ -> backslash; anything else stays as written.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char n = s[i + 1];
      if (n == 'n') {
        out += '\n';
        ++i;
        continue;
      }
      if (n == ';' || n == '\\') {
        out += n;
        ++i;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string_view take_word(std::string_view& s) {
  s = common::trim(s);
  size_t i = 0;
  while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
  auto w = s.substr(0, i);
  s = common::trim(s.substr(i));
  return w;
}

int parse_ms(std::string_view w, const char* what) {
  long long v = 0;
  if (!common::parse_int(w, 0, 86400000, v))
    throw LineError(std::string(what) + " needs milliseconds, got \"" + std::string(w) + "\"");
  return static_cast<int>(v);
}

void check_text(const std::string& text, bool raw) {
  if (raw) {
    if (text.empty()) throw LineError("raw needs a text");
    return;
  }
  size_t start = 0;
  for (;;) {
    size_t nl = text.find('\n', start);
    std::string_view line = std::string_view(text).substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!is_code_start(line))
      throw LineError("reply \"" + std::string(line) +
                      "\" does not start with a 3-digit code (use raw for a malformed reply)");
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
}

bool is_repeat(std::string_view w, long long& n) {
  return w.size() >= 2 && (w[0] == 'x' || w[0] == 'X') && common::parse_int(w.substr(1), 1, 1000000, n);
}

// REPLY := [default | disconnect | stall [MS|forever] | delay MS] [raw] [TEXT] [xN]
Reply parse_reply(std::string_view seg) {
  Reply r;
  seg = common::trim(seg);
  auto last_space = seg.find_last_of(" \t");
  long long n = 0;
  if (is_repeat(last_space == std::string_view::npos ? seg : seg.substr(last_space + 1), n)) {
    r.repeat = static_cast<int>(n);
    seg = last_space == std::string_view::npos ? std::string_view() : common::trim(seg.substr(0, last_space));
  }
  if (seg.empty()) throw LineError("empty reply");
  std::string_view rest = seg;
  std::string_view first = take_word(rest);
  if (common::iequals(first, "default")) {
    if (!rest.empty()) throw LineError("default takes no text");
    return r;
  }
  if (common::iequals(first, "disconnect")) {
    r.action = Reply::Action::disconnect;
  } else if (common::iequals(first, "stall")) {
    r.action = Reply::Action::stall;
    std::string_view save = rest;
    auto w = take_word(rest);
    long long ms = 0;
    if (common::iequals(w, "forever"))
      r.delay_ms = 0;
    else if (common::parse_int(w, 0, 86400000, ms))
      r.delay_ms = static_cast<int>(ms);
    else
      rest = save;  // no duration: forever
  } else if (common::iequals(first, "delay")) {
    r.delay_ms = parse_ms(take_word(rest), "delay");
  } else {
    rest = seg;
  }
  bool raw = false;
  std::string_view save = rest;
  if (common::iequals(take_word(rest), "raw"))
    raw = true;
  else
    rest = save;
  r.text = unescape(rest);
  if (!r.text.empty() || raw) check_text(r.text, raw);
  return r;
}

}  // namespace

std::vector<Rule> parse_rules(const std::string& text, const std::string& file) {
  std::vector<Rule> rules;
  int lineno = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line = common::trim(std::string_view(text).substr(pos, nl - pos));
    pos = nl + 1;
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    try {
      std::string_view rest = line;
      std::string cmd = common::upper(take_word(rest));
      if (std::find(std::begin(k_commands), std::end(k_commands), cmd) == std::end(k_commands))
        throw LineError("unknown command \"" + cmd +
                        "\" (CONNECT EHLO HELO MAIL RCPT DATA DOT RSET NOOP QUIT VRFY EXPN HELP STARTTLS AUTH BDAT "
                        "ETRN *)");
      Rule r;
      r.command = cmd;
      if (!rest.empty() && rest[0] == '"') {
        size_t i = 1;
        for (; i < rest.size() && rest[i] != '"'; ++i) {
          if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
          r.match += rest[i];
        }
        if (i >= rest.size()) throw LineError("unterminated quoted match");
        rest = common::trim(rest.substr(i + 1));
      } else if (!rest.empty()) {
        std::string_view save = rest;
        auto w = take_word(rest);
        if (is_code_start(save) || is_keyword(w))
          rest = save;
        else
          r.match = std::string(w);
      }
      if (rest.empty()) throw LineError("no reply for " + cmd);
      for (const auto& seg : split_segments(rest)) r.replies.push_back(parse_reply(seg));
      rules.push_back(std::move(r));
    } catch (const LineError& e) {
      throw std::runtime_error(file + ":" + std::to_string(lineno) + ": " + e.what());
    }
  }
  return rules;
}

}  // namespace mxlab::peer
