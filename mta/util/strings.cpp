#include "util/strings.hpp"

#include <fmt/core.h>

#include <cctype>
#include <limits>

namespace mta::util {

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::string upper(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return r;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && iequals(s.substr(0, p.size()), p);
}

std::vector<std::string> split_any(std::string_view s, std::string_view seps) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && seps.find(s[i]) != std::string_view::npos) ++i;
    size_t b = i;
    while (i < s.size() && seps.find(s[i]) == std::string_view::npos) ++i;
    if (i > b) out.emplace_back(s.substr(b, i - b));
  }
  return out;
}

std::vector<std::string> split_list(std::string_view s) {
  // Postfix mystrtokq: separators inside {} do not split ("inline:{a=b, c=d}").
  std::vector<std::string> out;
  constexpr std::string_view seps = ", \t\r\n";
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && seps.find(s[i]) != std::string_view::npos) ++i;
    size_t b = i;
    int level = 0;
    while (i < s.size() && (level > 0 || seps.find(s[i]) == std::string_view::npos)) {
      if (s[i] == '{') ++level;
      else if (s[i] == '}' && level > 0) --level;
      ++i;
    }
    if (i > b) out.emplace_back(s.substr(b, i - b));
  }
  return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string r;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) r += sep;
    r += v[i];
  }
  return r;
}

bool is_all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool parse_u64(std::string_view s, unsigned long long& out) {
  if (!is_all_digits(s)) return false;
  unsigned long long v = 0;
  for (char c : s) {
    unsigned d = static_cast<unsigned>(c - '0');
    if (v > (std::numeric_limits<unsigned long long>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  if (from.empty()) return s;
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

std::string json_quote(std::string_view s) {
  std::string r = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': r += "\\\""; break;
      case '\\': r += "\\\\"; break;
      case '\n': r += "\\n"; break;
      case '\r': r += "\\r"; break;
      case '\t': r += "\\t"; break;
      default:
        if (c < 0x20) r += fmt::format("\\u{:04x}", c);
        else r += static_cast<char>(c);
    }
  }
  r += '"';
  return r;
}

std::string printable(std::string_view s, char repl) {
  std::string r(s);
  for (char& c : r) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = repl;
  }
  return r;
}

}  // namespace mta::util
