#include "core/master_cf.hpp"

#include "core/main_cf.hpp"
#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>
#include <netdb.h>

#include <cctype>

namespace mta::core {

std::string_view stock_master_cf() {
  return R"(# mxmta's built-in services (Postfix's stock master.cf, abridged)
smtp      inet  n       -       y       -       -       smtpd
pickup    unix  n       -       y       60      1       pickup
cleanup   unix  n       -       y       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       y       -       0       bounce
defer     unix  -       -       y       -       0       bounce
trace     unix  -       -       y       -       0       bounce
smtp      unix  -       -       y       -       -       smtp
relay     unix  -       -       y       -       -       smtp
error     unix  -       -       y       -       -       error
retry     unix  -       -       y       -       -       error
discard   unix  -       -       y       -       -       discard
local     unix  -       n       n       -       -       local
)";
}

std::vector<MasterService> parse_master_cf(std::string_view text, const std::string& file) {
  std::vector<MasterService> out;
  std::vector<std::pair<int, std::string>> logical;
  int lineno = 0;
  size_t i = 0;
  while (i <= text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    std::string_view l = text.substr(i, j - i);
    ++lineno;
    i = j + 1;
    auto t = util::trim(l);
    if (!t.empty() && t[0] != '#') {
      if (std::isspace(static_cast<unsigned char>(l[0]))) {
        if (logical.empty())
          throw ConfigError(fmt::format("{}, line {}: logical line must not start with whitespace", file, lineno));
        logical.back().second += " ";
        logical.back().second += t;
      } else {
        logical.emplace_back(lineno, std::string(t));
      }
    }
    if (j == text.size()) break;
  }
  for (auto& [ln, l] : logical) {
    auto f = util::split_any(l, " \t");
    if (f.size() < 8)
      throw ConfigError(fmt::format("{}, line {}: bad field count ({} fields, need at least 8): \"{}\"", file, ln,
                                    f.size(), l));
    MasterService s;
    s.service = f[0];
    s.type = f[1];
    static const char* types[] = {"inet", "unix", "unix-dgram", "fifo", "pass"};
    bool ok = false;
    for (auto* ty : types) ok = ok || s.type == ty;
    if (!ok) throw ConfigError(fmt::format("{}, line {}: field \"type\": bad value: \"{}\"", file, ln, s.type));
    for (int k = 2; k <= 4; ++k)
      if (f[static_cast<size_t>(k)] != "-" && f[static_cast<size_t>(k)] != "y" && f[static_cast<size_t>(k)] != "n")
        throw ConfigError(fmt::format("{}, line {}: field {}: bad value: \"{}\"", file, ln, k + 1, f[static_cast<size_t>(k)]));
    s.maxproc = f[6];
    s.command = f[7];
    s.line = ln;
    for (size_t k = 8; k < f.size(); ++k) {
      if (f[k] == "-o") {
        if (k + 1 >= f.size())
          throw ConfigError(fmt::format("{}, line {}: -o without name=value", file, ln));
        std::string nv = f[++k];
        auto eq = nv.find('=');
        if (eq == std::string::npos || eq == 0)
          throw ConfigError(fmt::format("{}, line {}: -o: need name=value: \"{}\"", file, ln, nv));
        s.overrides.emplace_back(nv.substr(0, eq), nv.substr(eq + 1));
      } else if (f[k].size() > 2 && f[k].substr(0, 2) == "-o") {
        std::string nv = f[k].substr(2);
        auto eq = nv.find('=');
        if (eq == std::string::npos || eq == 0)
          throw ConfigError(fmt::format("{}, line {}: -o: need name=value: \"{}\"", file, ln, nv));
        s.overrides.emplace_back(nv.substr(0, eq), nv.substr(eq + 1));
      } else {
        s.args.push_back(f[k]);
      }
    }
    if (s.type == "inet") {
      std::string h;
      unsigned p;
      if (!split_inet_service(s.service, h, p))
        throw ConfigError(fmt::format("{}, line {}: unknown service: \"{}\"", file, ln, s.service));
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<MasterService> load_master_cf(const std::string& dir) {
  std::string path = dir + "/master.cf", text;
  auto ec = util::read_file(path, text);
  if (ec == std::errc::no_such_file_or_directory) return parse_master_cf(stock_master_cf(), "(built-in master.cf)");
  if (ec) throw ConfigError(fmt::format("open {}: {}", path, ec.message()));
  return parse_master_cf(text, path);
}

bool split_inet_service(std::string_view s, std::string& host, unsigned& port) {
  host.clear();
  std::string_view p = s;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    host = std::string(s.substr(1, close - 1));
    p = s.substr(close + 2);
  } else if (auto colon = s.rfind(':'); colon != std::string_view::npos) {
    host = std::string(s.substr(0, colon));
    p = s.substr(colon + 1);
  }
  unsigned long long n = 0;
  if (util::parse_u64(p, n)) {
    if (n == 0 || n > 65535) return false;
    port = static_cast<unsigned>(n);
    return true;
  }
  std::string ps(p);
  if (ps == "smtp") {
    port = 25;
    return true;
  }
  if (ps == "submission") {
    port = 587;
    return true;
  }
  if (struct servent* se = ::getservbyname(ps.c_str(), "tcp")) {
    port = ntohs(static_cast<uint16_t>(se->s_port));
    return true;
  }
  return false;
}

}  // namespace mta::core
