#include "smtp/mx_select.hpp"

#include "dns/message.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace mta;
using namespace mta::smtp;

namespace {

dns::Answer ok(std::vector<std::string> addrs) {
  dns::Answer a;
  a.status = dns::Status::ok;
  a.addrs = std::move(addrs);
  return a;
}

dns::Answer fail(dns::Status st, const std::string& name, uint16_t qtype = dns::type_aaaa) {
  dns::Answer a;
  a.status = st;
  a.canonical = name;
  a.qtype = qtype;
  return a;
}

core::IpAddr ip(const char* s) { return *core::IpAddr::parse(s); }

SelectOptions opts() {
  SelectOptions o;
  o.randomize = false;
  o.own = {ip("127.0.0.1"), ip("192.0.2.99")};
  return o;
}

std::vector<std::string> order(const Selection& s) {
  std::vector<std::string> v;
  for (const auto& a : s.addrs) v.push_back(a.host + "/" + a.addr.str() + "/" + std::to_string(a.pref));
  return v;
}

Random always(size_t k) {
  return [k](size_t n) { return k % n; };
}

}  // namespace

// One row per situation Postfix's smtp_domain_addr() tells apart.
TEST(MxSelectTest, DomainTable) {
  struct Row {
    const char* what;
    std::vector<HostLookup> hosts;
    std::vector<std::string> want;  // host/addr/pref in order
    std::string dsn, reason;
    bool found_myself;
  };
  const std::vector<Row> rows = {
      {"sorted by preference, reply order kept for equal ones without randomising",
       {{"mx20.example", 20, ok({"192.0.2.20"})},
        {"mx10b.example", 10, ok({"192.0.2.11", "192.0.2.12"})},
        {"mx10a.example", 10, ok({"192.0.2.10"})}},
       {"mx10b.example/192.0.2.11/10", "mx10b.example/192.0.2.12/10", "mx10a.example/192.0.2.10/10",
        "mx20.example/192.0.2.20/20"},
       "",
       "",
       false},
      {"a host without addresses is skipped while another has some",
       {{"gone.example", 10, fail(dns::Status::nxdomain, "gone.example")}, {"mx.example", 20, ok({"192.0.2.2"})}},
       {"mx.example/192.0.2.2/20"},
       "",
       "",
       false},
      {"we are the best MX: loop",
       {{"me.example", 10, ok({"192.0.2.99"})}, {"backup.example", 20, ok({"192.0.2.20"})}},
       {},
       "5.4.6",
       "mail for example.com loops back to myself",
       true},
      {"we are a backup MX: only better MX hosts remain",
       {{"primary.example", 10, ok({"192.0.2.10"})},
        {"me.example", 20, ok({"192.0.2.99"})},
        {"peer.example", 20, ok({"192.0.2.21"})},
        {"worse.example", 30, ok({"192.0.2.30"})}},
       {"primary.example/192.0.2.10/10"},
       "",
       "",
       true},
      {"we are a backup MX and the primary has no address",
       {{"primary.example", 10, fail(dns::Status::servfail, "primary.example")},
        {"me.example", 20, ok({"192.0.2.99"})}},
       {},
       "4.4.4",
       "unable to find primary relay for example.com",
       true},
      {"no MX host resolves, all not found: hard, last host's text",
       {{"a.example", 10, fail(dns::Status::nxdomain, "a.example")},
        {"b.example", 20, fail(dns::Status::nodata, "b.example")}},
       {},
       "5.4.4",
       "Host or domain name not found. Name service error for name=b.example type=AAAA: Host found but no data "
       "record of requested type",
       false},
      {"a soft failure dominates later hard ones",
       {{"a.example", 10, fail(dns::Status::timeout, "a.example")},
        {"b.example", 20, fail(dns::Status::nxdomain, "b.example")}},
       {},
       "4.4.4",
       "Host or domain name not found. Name service error for name=b.example type=AAAA: Host not found",
       false},
      {"only temporary failures",
       {{"a.example", 10, fail(dns::Status::servfail, "a.example", dns::type_a)}},
       {},
       "4.4.3",
       "Host or domain name not found. Name service error for name=a.example type=A: Host not found, try again",
       false},
  };
  for (const auto& r : rows) {
    auto s = order_mx("example.com", r.hosts, opts(), nullptr);
    EXPECT_EQ(order(s), r.want) << r.what;
    EXPECT_EQ(s.dsn, r.dsn) << r.what;
    EXPECT_EQ(s.reason, r.reason) << r.what;
    EXPECT_EQ(s.found_myself, r.found_myself) << r.what;
  }
}

TEST(MxSelectTest, NoValidAddressWarnsAndCanDefer) {
  std::vector<HostLookup> hosts = {{"a.example", 10, fail(dns::Status::nxdomain, "a.example")}};
  auto s = order_mx("example.com", hosts, opts(), nullptr);
  EXPECT_EQ(s.dsn, "5.4.4");
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_EQ(s.warnings[0], "no MX host for example.com has a valid address record");
  auto o = opts();
  o.defer_if_no_mx_address = true;
  EXPECT_EQ(order_mx("example.com", hosts, o, nullptr).dsn, "4.4.4");
}

TEST(MxSelectTest, EqualPreferencesAreShuffledWithTheInjectedSource) {
  std::vector<HostLookup> hosts = {{"a", 10, ok({"192.0.2.1"})},
                                   {"b", 10, ok({"192.0.2.2"})},
                                   {"c", 10, ok({"192.0.2.3"})},
                                   {"z", 5, ok({"192.0.2.26"})}};
  auto o = opts();
  o.randomize = true;
  // Addresses in MX order are [z a b c]; Fisher-Yates with j = 1 % n gives
  // [z b c a]; the stable sort keeps z first and the shuffled order of the
  // equal ones.
  auto s = order_mx("example.com", hosts, o, always(1));
  std::vector<std::string> hostsorder;
  for (auto& a : s.addrs) hostsorder.push_back(a.host);
  EXPECT_EQ(hostsorder, (std::vector<std::string>{"z", "b", "c", "a"}));
  // Every permutation of the equal ones is reachable: count over sources.
  std::set<std::vector<std::string>> seen;
  for (size_t k = 0; k < 6; ++k) {
    auto t = order_mx("example.com", hosts, o, always(k));
    std::vector<std::string> v;
    for (auto& a : t.addrs) v.push_back(a.host);
    EXPECT_EQ(v.front(), "z");
    seen.insert(v);
  }
  EXPECT_GE(seen.size(), 2u);
  // The default source is random, not a constant.
  std::set<std::string> firsts;
  auto rnd = default_random();
  std::vector<HostLookup> eq;
  for (int i = 0; i < 8; ++i) eq.push_back({"h" + std::to_string(i), 10, ok({"192.0.2." + std::to_string(i + 1)})});
  for (int i = 0; i < 30; ++i) firsts.insert(order_mx("example.com", eq, o, rnd).addrs.front().host);
  EXPECT_GT(firsts.size(), 1u);
}

TEST(MxSelectTest, AddressPreferenceAndProtocols) {
  std::vector<HostLookup> hosts = {{"mx", 10, ok({"192.0.2.1", "2001:db8::1", "192.0.2.2", "2001:db8::2"})}};
  auto o = opts();
  o.preference = AddressPreference::ipv6;
  auto s = order_mx("example.com", hosts, o, nullptr);
  EXPECT_EQ(order(s),
            (std::vector<std::string>{"mx/2001:db8::1/10", "mx/2001:db8::2/10", "mx/192.0.2.1/10", "mx/192.0.2.2/10"}));
  o.preference = AddressPreference::ipv4;
  s = order_mx("example.com", hosts, o, nullptr);
  EXPECT_EQ(s.addrs.front().addr.str(), "192.0.2.1");
  o.preference = AddressPreference::any;
  o.ipv6 = false;
  s = order_mx("example.com", hosts, o, nullptr);
  EXPECT_EQ(order(s), (std::vector<std::string>{"mx/192.0.2.1/10", "mx/192.0.2.2/10"}));
}

TEST(MxSelectTest, BalancesFamiliesWithinTheAddressLimit) {
  // Six IPv6 then two IPv4 addresses, limit 5: without balancing every IPv4
  // address would fall beyond the limit.
  std::vector<HostLookup> hosts = {
      {"v6", 10, ok({"2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4", "2001:db8::5", "2001:db8::6"})},
      {"v4", 20, ok({"192.0.2.1", "192.0.2.2"})}};
  auto o = opts();
  o.address_limit = 5;
  auto s = order_mx("example.com", hosts, o, nullptr);
  EXPECT_EQ(order(s), (std::vector<std::string>{"v6/2001:db8::1/10", "v6/2001:db8::2/10", "v6/2001:db8::3/10",
                                                "v4/192.0.2.1/20", "v4/192.0.2.2/20"}));
  o.balance = false;
  EXPECT_EQ(order_mx("example.com", hosts, o, nullptr).addrs.size(), 8u);
}

TEST(MxSelectTest, HostAndLiteral) {
  auto o = opts();
  auto s = order_host("mail.example.com", ok({"192.0.2.5", "192.0.2.6"}), o, nullptr);
  EXPECT_EQ(order(s), (std::vector<std::string>{"mail.example.com/192.0.2.5/0", "mail.example.com/192.0.2.6/0"}));
  s = order_host("self.example.com", ok({"192.0.2.5", "192.0.2.99"}), o, nullptr);
  EXPECT_TRUE(s.addrs.empty());
  EXPECT_EQ(s.dsn, "5.4.6");
  EXPECT_EQ(s.reason, "mail for self.example.com loops back to myself");
  EXPECT_TRUE(s.is_loop());
  o.loop_detect = false;  // not port 25: Postfix does not check
  EXPECT_EQ(order_host("self.example.com", ok({"192.0.2.99"}), o, nullptr).addrs.size(), 1u);
  o.loop_detect = true;

  s = order_host("nosuchdomain.invalid", fail(dns::Status::nxdomain, "nosuchdomain.invalid", dns::type_a), o, nullptr);
  EXPECT_EQ(s.dsn, "5.4.4");
  EXPECT_EQ(s.reason,
            "Host or domain name not found. Name service error for name=nosuchdomain.invalid type=A: Host not found");
  s = order_host("flaky.example", fail(dns::Status::timeout, "flaky.example", dns::type_a), o, nullptr);
  EXPECT_EQ(s.dsn, "4.4.3");

  s = order_literal("192.0.2.7", ip("192.0.2.7"), o);
  EXPECT_EQ(order(s), std::vector<std::string>{"192.0.2.7/192.0.2.7/0"});
  s = order_literal("127.0.0.1", ip("127.0.0.1"), o);
  EXPECT_EQ(s.dsn, "5.4.6");
  EXPECT_EQ(s.reason, "mail for 127.0.0.1 loops back to myself");
  o.ipv6 = false;
  s = order_literal("2001:db8::7", ip("2001:db8::7"), o);
  EXPECT_EQ(s.dsn, "5.4.4");
  EXPECT_EQ(s.reason, "Name service error for 2001:db8::7: invalid host or domain name");
}

TEST(MxSelectTest, SortMxIsStable) {
  auto v = sort_mx({{20, "c"}, {10, "a"}, {20, "d"}, {10, "b"}});
  EXPECT_EQ(v[0].host, "a");
  EXPECT_EQ(v[1].host, "b");
  EXPECT_EQ(v[2].host, "c");
  EXPECT_EQ(v[3].host, "d");
}
