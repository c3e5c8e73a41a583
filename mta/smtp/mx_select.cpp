#include "smtp/mx_select.hpp"

#include "core/fault.hpp"

#include <fmt/core.h>
#include <netinet/in.h>

#include <algorithm>
#include <random>

namespace mta::smtp {
namespace {

bool is_own(const core::IpAddr& a, const std::vector<core::IpAddr>& own) {
  core::IpAddr u = a.unmapped();
  for (const auto& o : own)
    if (o.unmapped() == u) return true;
  return false;
}

bool family_enabled(const core::IpAddr& a, const SelectOptions& o) {
  return a.unmapped().family == AF_INET ? o.ipv4 : o.ipv6;
}

// dns_rr_compare_pref_{any,ipv4,ipv6}: preference first, then the family.
int family_rank(const core::IpAddr& a, AddressPreference p) {
  if (p == AddressPreference::any) return 0;
  bool v6 = a.family == AF_INET6;
  return p == AddressPreference::ipv6 ? (v6 ? 0 : 1) : (v6 ? 1 : 0);
}

void shuffle_and_sort(std::vector<ServerAddr>& v, const SelectOptions& o, const Random& rnd, bool sort) {
  if (v.size() < 2) return;
  if (o.randomize && rnd) {
    // Fisher-Yates with the injected source.
    for (size_t i = v.size() - 1; i > 0; --i) std::swap(v[i], v[rnd(i + 1)]);
  }
  if (sort)
    std::stable_sort(v.begin(), v.end(), [&](const ServerAddr& a, const ServerAddr& b) {
      if (a.pref != b.pref) return a.pref < b.pref;
      return family_rank(a.addr, o.preference) < family_rank(b.addr, o.preference);
    });
}

// smtp_balance_inet_proto(): keep both families within the address limit so
// that an IPv6-heavy MX set cannot crowd out every IPv4 address.
void balance(std::vector<ServerAddr>& v, int limit) {
  int v4 = 0, v6 = 0;
  for (const auto& a : v) (a.addr.family == AF_INET6 ? v6 : v4)++;
  if (!(v4 > 0 && v6 > 0 && v4 + v6 > limit)) return;
  int t4, t6;
  if (v6 <= limit / 2) {
    t6 = v6;
    t4 = limit - t6;
  } else if (v4 <= limit / 2) {
    t4 = v4;
    t6 = limit - t4;
  } else {
    t4 = (limit + (v.front().addr.family == AF_INET ? 1 : 0)) / 2;
    t6 = limit - t4;
  }
  std::vector<ServerAddr> out;
  for (auto& a : v) {
    int& t = a.addr.family == AF_INET6 ? t6 : t4;
    if (t > 0) {
      out.push_back(std::move(a));
      --t;
    }
  }
  v = std::move(out);
}

void add_addresses(std::vector<ServerAddr>& out, const std::string& host, int pref, const dns::Answer& a,
                   const SelectOptions& o) {
  for (const auto& s : a.addrs) {
    auto ip = core::IpAddr::parse(s);
    if (!ip || !family_enabled(*ip, o)) continue;
    out.push_back(ServerAddr{host, *ip, pref});
  }
}

}  // namespace

Random default_random() {
  auto gen = std::make_shared<std::mt19937>(std::random_device{}());
  return [gen](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(*gen); };
}

std::vector<dns::Mx> sort_mx(std::vector<dns::Mx> mx) {
  std::stable_sort(mx.begin(), mx.end(), [](const dns::Mx& a, const dns::Mx& b) { return a.pref < b.pref; });
  return mx;
}

std::string lookup_failure_dsn(const dns::Answer& a, bool had_soft) {
  if (a.temporary()) return "4.4.3";                                                                      // DNS_RETRY
  if (a.status == dns::Status::error && a.why == dns::Why::formerr) return had_soft ? "4.4.3" : "5.4.3";  // DNS_FAIL
  return had_soft ? "4.4.4" : "5.4.4";  // DNS_NOTFOUND, DNS_INVAL
}

Selection order_mx(std::string_view domain, std::vector<HostLookup> hosts, const SelectOptions& o, const Random& rnd) {
  Selection s;
  std::stable_sort(hosts.begin(), hosts.end(),
                   [](const HostLookup& a, const HostLookup& b) { return a.pref < b.pref; });
  const int best_pref = hosts.empty() ? -1 : hosts.front().pref;
  std::vector<ServerAddr> list;
  for (const auto& h : hosts) {
    if (h.answer.status == dns::Status::ok) {
      size_t before = list.size();
      add_addresses(list, h.host, h.pref, h.answer, o);
      if (list.size() > before) continue;
    }
    // Postfix keeps the last failure's text; a soft status, once seen, stays.
    bool had_soft = !s.dsn.empty() && s.dsn[0] == '4';
    s.dsn = lookup_failure_dsn(h.answer, had_soft);
    s.reason = h.answer.status == dns::Status::ok
                   ? fmt::format("Host or domain name not found. Name service error for name={} type={}: {}", h.host,
                                 o.ipv4 ? "A" : "AAAA", "Host found but no data record of requested type")
                   : dns::describe_failure(h.answer);
  }
  if (list.empty()) {
    if (o.defer_if_no_mx_address && !s.dsn.empty() && s.dsn[0] == '5') s.dsn[0] = '4';
    if (s.dsn.empty()) {
      // No MX host at all is a null MX or an empty reply, handled by the
      // caller; keep a sane status anyway.
      s.dsn = "5.4.4";
      s.reason = fmt::format("no MX host for {} has a valid address record", domain);
    }
    s.warnings.push_back(fmt::format("no MX host for {} has a valid address record", domain));
    return s;
  }
  const int best_found = list.front().pref;
  if (o.loop_detect) {
    auto self = std::find_if(list.begin(), list.end(), [&](const ServerAddr& a) { return is_own(a.addr, o.own); });
    if (self != list.end()) {
      s.found_myself = true;
      int self_pref = self->pref;
      auto cut = std::find_if(list.begin(), list.end(), [&](const ServerAddr& a) { return a.pref == self_pref; });
      list.erase(cut, list.end());
      if (list.empty()) {
        if (best_pref != best_found) {
          s.dsn = "4.4.4";
          s.reason = fmt::format("unable to find primary relay for {}", domain);
        } else {
          s.dsn = "5.4.6";
          s.reason = fmt::format("mail for {} loops back to myself", domain);
        }
        return s;
      }
    }
  }
  shuffle_and_sort(list, o, rnd, true);
  if (core::fault::active(core::fault::Id::ignore_mx_preference)) std::reverse(list.begin(), list.end());
  if (o.address_limit > 0 && o.balance) balance(list, o.address_limit);
  s.addrs = std::move(list);
  s.dsn.clear();
  s.reason.clear();
  return s;
}

Selection order_host(std::string_view host, const dns::Answer& answer, const SelectOptions& o, const Random& rnd) {
  Selection s;
  std::vector<ServerAddr> list;
  if (answer.status == dns::Status::ok) add_addresses(list, std::string(host), 0, answer, o);
  if (list.empty()) {
    s.dsn = lookup_failure_dsn(answer, false);
    s.reason = answer.status == dns::Status::ok
                   ? fmt::format("Host or domain name not found. Name service error for name={} type={}: {}", host,
                                 o.ipv6 ? "AAAA" : "A", "Host found but no data record of requested type")
                   : dns::describe_failure(answer);
    return s;
  }
  if (o.loop_detect)
    for (const auto& a : list)
      if (is_own(a.addr, o.own)) {
        s.dsn = "5.4.6";
        s.reason = fmt::format("mail for {} loops back to myself", host);
        return s;
      }
  // Postfix sorts here only when both protocols are on (it changes the order
  // of equal-preference addresses, which is all of them).
  shuffle_and_sort(list, o, rnd, o.ipv4 && o.ipv6);
  if (o.address_limit > 0 && o.balance) balance(list, o.address_limit);
  s.addrs = std::move(list);
  return s;
}

Selection order_literal(std::string_view host, const core::IpAddr& addr, const SelectOptions& o) {
  Selection s;
  if (!family_enabled(addr, o)) {
    // Postfix falls through to a DNS lookup of the numeric string, which
    // dns_lookup() refuses.
    s.dsn = "5.4.4";
    s.reason = fmt::format("Name service error for {}: invalid host or domain name", host);
    return s;
  }
  if (o.loop_detect && is_own(addr, o.own)) {
    s.dsn = "5.4.6";
    s.reason = fmt::format("mail for {} loops back to myself", host);
    return s;
  }
  s.addrs.push_back(ServerAddr{std::string(host), addr, 0});
  return s;
}

}  // namespace mta::smtp
