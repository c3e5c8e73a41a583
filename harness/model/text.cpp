#include "model/text.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <regex>
#include <stdexcept>

namespace mxlab::model {

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return r;
}

bool iequals(std::string_view a, std::string_view b) { return a.size() == b.size() && lower(a) == lower(b); }

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool icontains(std::string_view hay, std::string_view needle) {
  return lower(hay).find(lower(needle)) != std::string::npos;
}

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    auto nl = s.find('\n', pos);
    std::string_view line = nl == std::string_view::npos ? s.substr(pos) : s.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.emplace_back(line);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
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

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  if (from.empty()) return s;
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

bool parse_duration(std::string_view s, int64_t& seconds) {
  s = trim(s);
  if (s.empty()) return false;
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] < '0' || s[i] > '9') return false;
    int64_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      n = n * 10 + (s[i] - '0');
      if (n > 100000000000LL) return false;
      ++i;
    }
    int64_t unit = 1;
    if (i < s.size()) {
      switch (s[i]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        case 'w': unit = 7 * 86400; break;
        default: return false;
      }
      ++i;
    } else if (total != 0) {
      return false;  // "1h30" is ambiguous: every part after the first needs a unit
    }
    total += n * unit;
  }
  seconds = total;
  return true;
}

bool parse_date(std::string_view s, int64_t& epoch) {
  std::string t(trim(s));
  if (!t.empty() && (t.back() == 'Z' || t.back() == 'z')) t.pop_back();
  if (t.size() > 4 && t.substr(t.size() - 4) == " UTC") t.resize(t.size() - 4);
  for (auto& c : t)
    if (c == 'T') c = ' ';
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char tail = 0;
  int n = std::sscanf(t.c_str(), "%4d-%2d-%2d %2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &tail);
  if (n == 7 || n < 3 || n == 4) return false;
  if (n == 3 && t.size() != 10) return false;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return false;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  epoch = static_cast<int64_t>(timegm(&tm));
  return true;
}

std::string format_date(int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

bool unescape(std::string_view s, std::string& out, std::string& error) {
  out.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i >= s.size()) {
      error = "backslash at end of line";
      return false;
    }
    switch (s[i]) {
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case '0': out += '\0'; break;
      case '\\': out += '\\'; break;
      case 'x': {
        auto hex = [](char c) -> int {
          if (c >= '0' && c <= '9') return c - '0';
          if (c >= 'a' && c <= 'f') return c - 'a' + 10;
          if (c >= 'A' && c <= 'F') return c - 'A' + 10;
          return -1;
        };
        int a = i + 1 < s.size() ? hex(s[i + 1]) : -1;
        int b = i + 2 < s.size() ? hex(s[i + 2]) : -1;
        if (a < 0 || b < 0) {
          error = "\\x needs two hex digits";
          return false;
        }
        out += static_cast<char>(a * 16 + b);
        i += 2;
        break;
      }
      default:
        error = std::string("unknown escape \\") + s[i];
        return false;
    }
  }
  return true;
}

std::string escape(std::string_view s) {
  std::string r;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (c == '\r') r += "\\r";
    else if (c == '\n') r += "\\n";
    else if (c == '\t') r += "\\t";
    else if (c == '\\') r += "\\\\";
    else if (c < 0x20 || c == 0x7f) {
      r += "\\x";
      r += hex[c >> 4];
      r += hex[c & 15];
    } else r += static_cast<char>(c);
  }
  return r;
}

bool glob_match(const std::string& pattern, const std::string& text) {
  return fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

bool is_ipv4(std::string_view s) {
  in_addr a{};
  std::string t(s);
  return inet_pton(AF_INET, t.c_str(), &a) == 1;
}

std::string template_body(std::string_view raw) {
  auto lines = split_lines(raw);
  size_t first = 0, last = lines.size();
  if (first < last && lines[first].empty()) ++first;
  if (last > first && trim(lines[last - 1]).empty() && !raw.empty() && raw.back() != '\n') --last;
  std::string out;
  for (size_t i = first; i < last; ++i) out += lines[i] + "\n";
  return out;
}

namespace {

// One template line as an anchored regex: literal parts escaped, {{RE}} as is.
std::string line_regex(std::string_view line, std::string& error) {
  static const std::string specials = "\\^$.|?*+()[]{}";
  std::string re;
  size_t i = 0;
  while (i < line.size()) {
    if (line.substr(i, 2) == "{{") {
      auto close = line.find("}}", i + 2);
      if (close == std::string_view::npos) {
        error = "\"{{\" without \"}}\"";
        return {};
      }
      // "{{[0-9]{2}}}": the RE ends before the last two braces of a run.
      while (close + 2 < line.size() && line[close + 2] == '}') ++close;
      re += "(?:" + std::string(line.substr(i + 2, close - i - 2)) + ")";
      i = close + 2;
      continue;
    }
    if (specials.find(line[i]) != std::string::npos) re += '\\';
    re += line[i++];
  }
  return re;
}

}  // namespace

std::string check_template(std::string_view tmpl) {
  int n = 0;
  for (const auto& l : split_lines(tmpl)) {
    ++n;
    std::string error;
    std::string re = line_regex(l, error);
    if (!error.empty()) return "template line " + std::to_string(n) + ": " + error;
    try {
      std::regex r(re, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return "template line " + std::to_string(n) + ": bad regular expression: " + e.what();
    }
  }
  return {};
}

bool match_template(std::string_view tmpl, std::string_view text, std::string& why) {
  auto want = split_lines(tmpl);
  auto have = split_lines(text);
  for (size_t i = 0; i < want.size() || i < have.size(); ++i) {
    std::string n = "line " + std::to_string(i + 1);
    if (i >= have.size()) {
      why = n + ": missing, expected \"" + want[i] + "\"";
      return false;
    }
    if (i >= want.size()) {
      why = n + ": unexpected \"" + have[i] + "\"";
      return false;
    }
    std::string error;
    std::string re = line_regex(want[i], error);
    if (!error.empty()) throw std::regex_error(std::regex_constants::error_brace);
    if (!std::regex_match(have[i], std::regex(re, std::regex::ECMAScript))) {
      why = n + ": \"" + have[i] + "\" does not match \"" + want[i] + "\"";
      return false;
    }
  }
  return true;
}

bool is_loopback_v4(std::string_view s) { return is_ipv4(s) && starts_with(s, "127."); }

std::string read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      throw std::runtime_error(path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

void write_file(const std::string& path, std::string_view data, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      throw std::runtime_error(path + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) throw std::runtime_error(path + ": " + std::strerror(errno));
}

}  // namespace mxlab::model
