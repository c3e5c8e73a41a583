#include "core/net_addr.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace mta::core {

std::optional<IpAddr> IpAddr::parse(std::string_view s) {
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (s.size() > 5 && (s.substr(0, 5) == "IPv6:" || s.substr(0, 5) == "ipv6:")) s = s.substr(5);
  std::string str(s);
  IpAddr a;
  if (::inet_pton(AF_INET, str.c_str(), a.b.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (::inet_pton(AF_INET6, str.c_str(), a.b.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

std::string IpAddr::str() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  ::inet_ntop(family, b.data(), buf, sizeof buf);
  return buf;
}

IpAddr IpAddr::unmapped() const {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (family == AF_INET6 && std::memcmp(b.data(), prefix, 12) == 0) {
    IpAddr r;
    r.family = AF_INET;
    std::memcpy(r.b.data(), b.data() + 12, 4);
    return r;
  }
  return *this;
}

bool IpAddr::is_loopback() const {
  IpAddr u = unmapped();
  if (u.family == AF_INET) return u.b[0] == 127;
  static const uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(u.b.data(), one, 16) == 0;
}

std::optional<Cidr> Cidr::parse(std::string_view s) {
  std::string_view addr = s;
  int prefix = -1;
  auto slash = s.rfind('/');
  if (slash != std::string_view::npos) {
    addr = s.substr(0, slash);
    std::string_view p = s.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    prefix = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
  }
  auto a = IpAddr::parse(addr);
  if (!a) return std::nullopt;
  int max = a->family == AF_INET ? 32 : 128;
  if (prefix < 0) prefix = max;
  if (prefix > max) return std::nullopt;
  Cidr c;
  c.net = *a;
  c.prefix = prefix;
  // Mask host bits (Postfix warns and masks; we mask silently).
  for (int i = 0; i < 16; ++i) {
    int bits = prefix - i * 8;
    if (bits >= 8) continue;
    c.net.b[static_cast<size_t>(i)] &= bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
  }
  return c;
}

bool Cidr::contains(const IpAddr& a0) const {
  IpAddr a = net.family == AF_INET ? a0.unmapped() : a0;
  if (a.family != net.family) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.b.data(), net.b.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.b[static_cast<size_t>(full)] & mask) == net.b[static_cast<size_t>(full)];
}

std::string Cidr::str() const {
  if (net.family == AF_INET6) return "[" + net.str() + "]/" + std::to_string(prefix);
  return net.str() + "/" + std::to_string(prefix);
}

std::vector<IpAddr> local_addresses() {
  std::vector<IpAddr> out;
  struct ifaddrs* ifa = nullptr;
  if (::getifaddrs(&ifa) != 0) return out;
  for (auto* p = ifa; p; p = p->ifa_next) {
    if (!p->ifa_addr || !(p->ifa_flags & IFF_UP)) continue;
    IpAddr a;
    if (p->ifa_addr->sa_family == AF_INET) {
      a.family = AF_INET;
      std::memcpy(a.b.data(), &reinterpret_cast<sockaddr_in*>(p->ifa_addr)->sin_addr, 4);
    } else if (p->ifa_addr->sa_family == AF_INET6) {
      a.family = AF_INET6;
      std::memcpy(a.b.data(), &reinterpret_cast<sockaddr_in6*>(p->ifa_addr)->sin6_addr, 16);
      if (a.b[0] == 0xfe && (a.b[1] & 0xc0) == 0x80) continue;  // link-local
    } else {
      continue;
    }
    bool dup = false;
    for (auto& o : out) dup = dup || o == a;
    if (!dup) out.push_back(a);
  }
  ::freeifaddrs(ifa);
  return out;
}

std::vector<std::string> networks_for_style(const std::string& style) {
  std::vector<std::string> out;
  struct ifaddrs* ifa = nullptr;
  if (::getifaddrs(&ifa) != 0) return out;
  for (auto* p = ifa; p; p = p->ifa_next) {
    if (!p->ifa_addr || !(p->ifa_flags & IFF_UP)) continue;
    int fam = p->ifa_addr->sa_family;
    if (fam != AF_INET && fam != AF_INET6) continue;
    IpAddr a;
    a.family = fam;
    int maxbits = fam == AF_INET ? 32 : 128;
    int bits = maxbits;
    if (fam == AF_INET) {
      std::memcpy(a.b.data(), &reinterpret_cast<sockaddr_in*>(p->ifa_addr)->sin_addr, 4);
    } else {
      std::memcpy(a.b.data(), &reinterpret_cast<sockaddr_in6*>(p->ifa_addr)->sin6_addr, 16);
      if (a.b[0] == 0xfe && (a.b[1] & 0xc0) == 0x80) continue;
    }
    if (style == "subnet" && p->ifa_netmask) {
      const uint8_t* m = fam == AF_INET
                             ? reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in*>(p->ifa_netmask)->sin_addr)
                             : reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in6*>(p->ifa_netmask)->sin6_addr);
      bits = 0;
      for (int i = 0; i < maxbits / 8; ++i) bits += __builtin_popcount(m[i]);
    } else if (style == "class" && fam == AF_INET) {
      bits = a.b[0] < 128 ? 8 : a.b[0] < 192 ? 16 : 24;
    }
    Cidr c;
    c.net = a;
    c.prefix = bits;
    auto parsed = Cidr::parse(a.str() + "/" + std::to_string(bits));
    std::string s = parsed ? parsed->str() : c.str();
    bool dup = false;
    for (auto& o : out) dup = dup || o == s;
    if (!dup) out.push_back(s);
  }
  ::freeifaddrs(ifa);
  return out;
}

NetList NetList::parse(const std::vector<std::string>& items, std::vector<std::string>* bad) {
  NetList n;
  for (const auto& raw : items) {
    std::string_view s = raw;
    bool neg = false;
    if (!s.empty() && s[0] == '!') {
      neg = true;
      s.remove_prefix(1);
    }
    // [v6]/len
    std::string norm(s);
    if (!norm.empty() && norm[0] == '[') {
      auto close = norm.find(']');
      if (close != std::string::npos) norm = norm.substr(1, close - 1) + norm.substr(close + 1);
    }
    auto c = Cidr::parse(norm);
    if (!c) {
      if (bad) bad->push_back(raw);
      continue;
    }
    n.items_.push_back({*c, neg});
  }
  return n;
}

bool NetList::match(const IpAddr& a) const {
  for (const auto& it : items_)
    if (it.cidr.contains(a)) return !it.negate;
  return false;
}

}  // namespace mta::core
