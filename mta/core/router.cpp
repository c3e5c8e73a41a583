#include "core/router.hpp"

#include "core/address.hpp"
#include "util/strings.hpp"

namespace mta::core {

std::pair<std::string, std::string> split_transport(std::string_view spec) {
  spec = util::trim(spec);
  auto c = spec.find(':');
  if (c == std::string_view::npos) return {std::string(spec), ""};
  return {std::string(spec.substr(0, c)), std::string(spec.substr(c + 1))};
}

std::vector<IpAddr> own_addresses(const Config& c) {
  std::vector<IpAddr> out;
  auto add = [&](const IpAddr& a) {
    for (auto& o : out)
      if (o == a) return;
    out.push_back(a);
  };
  auto items = c.get_list("inet_interfaces");
  for (const auto& it : c.get_list("proxy_interfaces")) items.push_back(it);
  for (const auto& it : items) {
    if (it == "all") {
      for (auto& a : local_addresses()) add(a);
    } else if (it == "loopback-only") {
      add(*IpAddr::parse("127.0.0.1"));
      for (auto& a : local_addresses())
        if (a.family != 2 && a.is_loopback()) add(a);
    } else if (auto a = IpAddr::parse(it)) {
      add(*a);
    }
    // Host names in inet_interfaces are resolved by the daemon when it binds.
  }
  return out;
}

Router::Router(const Config& c)
    : own_(own_addresses(c)),
      myhostname_(util::lower(c.get("myhostname"))),
      relayhost_(c.get("relayhost")),
      local_transport_(c.get("local_transport")),
      relay_transport_(c.get("relay_transport")),
      default_transport_(c.get("default_transport")),
      percent_hack_(c.get_bool("allow_percent_hack")),
      swap_bang_(c.get_bool("swap_bangpath")),
      dequote_(c.get_bool("resolve_dequoted_address")) {
  for (auto& d : c.get_list("mydestination")) {
    std::string x = util::lower(d);
    if (!x.empty() && x.back() == '.') x.pop_back();
    mydestination_.push_back(x);
  }
  for (auto& d : c.get_list("relay_domains")) relay_domains_.push_back(util::lower(d));
  auto tm = c.get_list("transport_maps");
  if (!tm.empty()) transport_maps_ = std::make_shared<TableList>(TableList::open(tm, true));
}

bool Router::is_local_domain(std::string_view d0) const {
  std::string d = util::lower(d0);
  if (!d.empty() && d.back() == '.') d.pop_back();
  if (d.empty()) return true;
  if (d.front() == '[') {
    std::string lit = d.substr(1, d.size() - 2);
    if (util::istarts_with(lit, "ipv6:")) lit = lit.substr(5);
    auto a = IpAddr::parse(lit);
    if (!a) return false;
    for (auto& o : own_)
      if (o == *a) return true;
    return false;
  }
  for (auto& m : mydestination_)
    if (m == d) return true;
  return false;
}

bool Router::is_relay_domain(std::string_view d0) const {
  std::string d = util::lower(d0);
  if (!d.empty() && d.back() == '.') d.pop_back();
  for (auto& r : relay_domains_) {
    std::string_view rr = r;
    if (!rr.empty() && rr.front() == '.') rr.remove_prefix(1);  // ".example.com": subdomains only
    else if (d == rr) return true;
    if (d.size() > rr.size() && d.compare(d.size() - rr.size(), rr.size(), rr) == 0 &&
        d[d.size() - rr.size() - 1] == '.')
      return true;  // parent_domain_matches_subdomains includes relay_domains
  }
  return false;
}

Route Router::route(std::string_view address) const {
  std::string addr(address);
  for (int guard = 0; guard < 16; ++guard) {
    AddressParts p = split_address(addr);
    std::string local = p.local;
    std::string plain = dequote_ ? unquote_local(local) : local;
    if (!p.has_at) {
      // No domain: a bang path or percent hack may still name one.
      if (swap_bang_ && plain.find('!') != std::string::npos) {
        auto b = plain.find('!');
        addr = quote_local(plain.substr(b + 1)) + "@" + plain.substr(0, b);
        continue;
      }
      if (percent_hack_ && plain.find('%') != std::string::npos) {
        auto pc = plain.rfind('%');
        addr = quote_local(plain.substr(0, pc)) + "@" + plain.substr(pc + 1);
        continue;
      }
      return classify(addr, local, "");
    }
    std::string domain = util::lower(p.domain);
    if (!domain.empty() && domain.back() == '.') domain.pop_back();
    if (is_local_domain(domain)) {
      if (plain.find('@') != std::string::npos) {  // user@other@local
        addr = plain;
        continue;
      }
      if (percent_hack_ && plain.find('%') != std::string::npos) {
        auto pc = plain.rfind('%');
        addr = quote_local(plain.substr(0, pc)) + "@" + plain.substr(pc + 1);
        continue;
      }
      if (swap_bang_ && plain.find('!') != std::string::npos) {
        auto b = plain.find('!');
        addr = quote_local(plain.substr(b + 1)) + "@" + plain.substr(0, b);
        continue;
      }
    }
    return classify(local + "@" + domain, local, domain);
  }
  // Too many rewrites: treat as routed mail to nowhere.
  Route r = classify(addr, addr, "");
  r.routed = true;
  return r;
}

Route Router::classify(const std::string& address, const std::string& local, const std::string& domain) const {
  Route r;
  r.address = address;
  r.domain = domain;
  std::string spec;
  if (domain.empty() || is_local_domain(domain)) {
    r.cls = AddrClass::local;
    spec = local_transport_;
  } else if (is_relay_domain(domain)) {
    r.cls = AddrClass::relay;
    spec = relay_transport_;
  } else {
    r.cls = AddrClass::def;
    spec = default_transport_;
  }
  if (r.cls != AddrClass::local) {
    std::string plain = dequote_ ? unquote_local(local) : local;
    if (plain.find_first_of("@%!") != std::string::npos) r.routed = true;
  }
  auto [t, nh] = split_transport(spec);
  r.transport = t;
  r.nexthop = nh;
  if (r.nexthop.empty()) {
    if (r.cls == AddrClass::local) r.nexthop = myhostname_;
    else r.nexthop = relayhost_.empty() ? domain : relayhost_;
  }
  if (transport_maps_) {
    std::optional<std::string> v = transport_maps_->lookup(util::lower(address));
    if (!v && !domain.empty()) {
      v = transport_maps_->lookup(domain);
      for (size_t dot = domain.find('.'); !v && dot != std::string::npos; dot = domain.find('.', dot + 1))
        v = transport_maps_->lookup(domain.substr(dot));
    }
    if (v) {
      auto [mt, mnh] = split_transport(*v);
      if (!mt.empty()) r.transport = mt;
      if (!mnh.empty()) r.nexthop = mnh;
    }
  }
  return r;
}

}  // namespace mta::core
