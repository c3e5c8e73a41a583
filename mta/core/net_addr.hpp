// NAME
//   core/net_addr - IP addresses, CIDR blocks, and this host's own addresses
// DESCRIPTION
//   mynetworks and inet_interfaces take Postfix's notation: 127.0.0.0/8,
//   192.168.0.1, [::1]/128, [2001:db8::]/32, ::1. IPv4-mapped IPv6 client
//   addresses match IPv4 blocks.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mta::core {

struct IpAddr {
  int family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> b{};
  static std::optional<IpAddr> parse(std::string_view s);  // accepts [v6] too
  std::string str() const;                                  // 1.2.3.4 / ::1
  bool is_loopback() const;
  bool operator==(const IpAddr& o) const { return family == o.family && b == o.b; }
  // ::ffff:a.b.c.d -> a.b.c.d
  IpAddr unmapped() const;
};

struct Cidr {
  IpAddr net;
  int prefix = 0;
  static std::optional<Cidr> parse(std::string_view s);
  bool contains(const IpAddr& a) const;
  std::string str() const;  // Postfix style: 127.0.0.0/8, [::1]/128
};

// Addresses configured on this host's interfaces (getifaddrs).
std::vector<IpAddr> local_addresses();
// mynetworks for a mynetworks_style (host | subnet | class), Postfix notation.
std::vector<std::string> networks_for_style(const std::string& style);

// A parsed mynetworks-style list: CIDRs and addresses; "!x" excludes.
// Entries that are not addresses (host names, type:table) are reported in `bad`.
class NetList {
 public:
  NetList() = default;
  static NetList parse(const std::vector<std::string>& items, std::vector<std::string>* bad = nullptr);
  bool match(const IpAddr& a) const;
  bool empty() const { return items_.empty(); }

 private:
  struct Item {
    Cidr cidr;
    bool negate = false;
  };
  std::vector<Item> items_;
};

}  // namespace mta::core
