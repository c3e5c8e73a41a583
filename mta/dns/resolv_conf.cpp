#include "dns/resolv_conf.hpp"

#include "util/strings.hpp"

#include <arpa/inet.h>
#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mta::dns {
namespace {

constexpr size_t max_ns = 3;

bool parse_bounded(std::string_view v, int lo, int hi, int& out) {
  unsigned long long n = 0;
  if (!util::parse_u64(v, n)) return false;
  // glibc clamps rather than refuses; so do we, but 0 makes no sense.
  if (n < static_cast<unsigned long long>(lo)) return false;
  out = n > static_cast<unsigned long long>(hi) ? hi : static_cast<int>(n);
  return true;
}

}  // namespace

ResolvConf parse_resolv_conf(std::string_view text, const std::string& file, std::vector<std::string>* warnings) {
  ResolvConf rc;
  auto warn = [&](int line, const std::string& what) {
    if (warnings) warnings->push_back(fmt::format("{}, line {}: {}", file, line, what));
  };
  int lineno = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++lineno;
    // '#' and ';' start comments anywhere on the line (glibc: only at the
    // start, but a trailing comment never holds a valid token anyway).
    if (auto c = line.find_first_of("#;"); c != std::string_view::npos) line = line.substr(0, c);
    auto words = util::split_any(line, " \t\r");
    if (words.empty()) continue;
    const std::string& key = words[0];
    if (key == "nameserver") {
      if (words.size() < 2) {
        warn(lineno, "nameserver without an address");
        continue;
      }
      std::string addr = words[1];
      if (auto pct = addr.find('%'); pct != std::string::npos) addr.resize(pct);
      unsigned char buf[16];
      if (::inet_pton(AF_INET, addr.c_str(), buf) != 1 && ::inet_pton(AF_INET6, addr.c_str(), buf) != 1) {
        warn(lineno, "bad nameserver address: " + words[1]);
        continue;
      }
      if (rc.nameservers.size() >= max_ns) {
        warn(lineno, "too many nameservers, ignoring " + words[1]);
        continue;
      }
      rc.nameservers.push_back(addr);
    } else if (key == "options") {
      for (size_t i = 1; i < words.size(); ++i) {
        std::string_view o = words[i];
        if (util::istarts_with(o, "timeout:")) {
          if (!parse_bounded(o.substr(8), 1, 30, rc.timeout_sec)) warn(lineno, "bad option value: " + words[i]);
        } else if (util::istarts_with(o, "attempts:")) {
          if (!parse_bounded(o.substr(9), 1, 5, rc.attempts)) warn(lineno, "bad option value: " + words[i]);
        } else if (o == "rotate") {
          rc.rotate = true;
        }
        // ndots, edns0, single-request ... do not change what we send.
      }
    }
  }
  if (rc.nameservers.empty()) rc.nameservers.push_back("127.0.0.1");
  return rc;
}

ResolvConf read_resolv_conf(const std::string& path, std::vector<std::string>* warnings) {
  std::ifstream in(path);
  if (!in) {
    if (errno != ENOENT && warnings) warnings->push_back(fmt::format("open {}: {}", path, std::strerror(errno)));
    return parse_resolv_conf("", path, nullptr);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_resolv_conf(ss.str(), path, warnings);
}

}  // namespace mta::dns
