#include "model/topology.hpp"

#include "model/text.hpp"
#include "model/xml.hpp"

#include <cctype>
#include <filesystem>
#include <set>

namespace mxlab::model {

namespace fs = std::filesystem;

const ConfigFile* Host::config(const std::string& n) const {
  for (const auto& c : configs)
    if (c.name == n) return &c;
  return nullptr;
}

const Host* Topology::host(const std::string& n) const {
  for (const auto& h : hosts)
    if (iequals(h.name, n)) return &h;
  return nullptr;
}

const PeerDef* Topology::peer(const std::string& n) const {
  for (const auto& p : peers)
    if (iequals(p.name, n)) return &p;
  return nullptr;
}

const Host* Topology::host_by_address(const std::string& addr) const {
  for (const auto& h : hosts)
    for (const auto& a : h.addresses)
      if (a == addr) return &h;
  return nullptr;
}

std::vector<std::string> Topology::lab_addresses() const {
  std::vector<std::string> out;
  auto add = [&](const std::string& a) {
    for (const auto& x : out)
      if (x == a) return;
    out.push_back(a);
  };
  if (dns.present) add(dns.address);
  for (const auto& p : peers) add(p.address);
  for (const auto& c : clients) add(c.address);
  return out;
}

bool Topology::loopback_only() const {
  for (const auto& a : lab_addresses())
    if (!is_loopback_v4(a)) return false;
  for (const auto& h : hosts)
    for (const auto& a : h.addresses)
      if (!is_loopback_v4(a)) return false;
  return true;
}

namespace {

std::string resolve_near(const std::string& base_file, const std::string& p) {
  fs::path path(p);
  if (path.is_absolute()) return p;
  return (fs::path(base_file).parent_path() / path).lexically_normal().string();
}

std::vector<std::string> addresses_of(const XmlFile& x, const pugi::xml_node& n) {
  std::vector<std::string> out;
  std::string single = x.opt(n, "address");
  std::string many = x.opt(n, "addresses");
  if (!single.empty() && !many.empty()) x.fail(n, std::string("<") + n.name() + ">: give address or addresses, not both");
  for (const auto& a : split_words(single.empty() ? many : single)) {
    if (!is_ipv4(a)) x.fail(n, std::string("<") + n.name() + ">: not an IPv4 address: \"" + a + "\"");
    if (a == "127.0.0.1" || a == "0.0.0.0")
      x.fail(n, std::string("<") + n.name() + ">: " + a + " is every host's own loopback address, not a lab address");
    out.push_back(a);
  }
  if (out.empty()) x.fail(n, std::string("<") + n.name() + ">: missing attribute \"address\"");
  return out;
}

}  // namespace

Topology load_topology(const std::string& path) {
  auto xf = XmlFile::load(path);
  const XmlFile& x = *xf;
  auto root = x.root();
  if (std::string(root.name()) != "topology") x.fail(root, "root element must be <topology>, not <" + std::string(root.name()) + ">");
  x.check_attrs(root, {"name", "start"});
  Topology t;
  t.file = path;
  t.name = x.req(root, "name");
  if (auto s = x.opt(root, "start"); !s.empty()) {
    if (!parse_date(s, t.start)) x.fail(root, "<topology>: start is not a date like \"2026-11-28 06:00:00\": \"" + s + "\"");
  }
  std::set<std::string> names, addrs;
  auto claim_name = [&](const pugi::xml_node& n, const std::string& name) {
    if (!names.insert(lower(name)).second) x.fail(n, "duplicate name \"" + name + "\"");
  };
  auto claim_addr = [&](const pugi::xml_node& n, const std::string& a) {
    if (!addrs.insert(a).second) x.fail(n, "address " + a + " is used twice in this topology");
  };
  for (auto n : root.children()) {
    if (n.type() != pugi::node_element) continue;
    std::string el = n.name();
    if (el == "dns") {
      if (t.dns.present) x.fail(n, "only one <dns> per topology");
      x.check_attrs(n, {"address", "port", "zone-file"});
      t.dns.present = true;
      t.dns.line = x.line_of(n);
      auto a = addresses_of(x, n);
      if (a.size() != 1) x.fail(n, "<dns>: exactly one address");
      t.dns.address = a[0];
      claim_addr(n, t.dns.address);
      t.dns.port = static_cast<unsigned>(x.integer(n, "port", 53, 1, 65535));
      if (auto zf = x.opt(n, "zone-file"); !zf.empty()) {
        t.dns.zone_source = resolve_near(path, zf);
        try {
          t.dns.zone_text = read_file(t.dns.zone_source);
        } catch (const std::exception& e) {
          x.fail(n, std::string("<dns>: zone-file: ") + e.what());
        }
        t.dns.zone_line = 1;
        if (!trim(XmlFile::text(n)).empty()) x.fail(n, "<dns>: zone-file and inline zone text are exclusive");
      } else {
        t.dns.zone_source = path;
        t.dns.zone_text = XmlFile::text(n);
        t.dns.zone_line = x.text_line(n);
      }
    } else if (el == "host") {
      x.check_attrs(n, {"name", "address", "addresses", "role"});
      Host h;
      h.line = x.line_of(n);
      h.name = lower(x.req(n, "name"));
      claim_name(n, h.name);
      h.addresses = addresses_of(x, n);
      for (const auto& a : h.addresses) claim_addr(n, a);
      h.role = x.opt(n, "role");
      std::set<std::string> users;
      int next_uid = 1001;
      for (auto c : n.children()) {
        if (c.type() != pugi::node_element) continue;
        std::string cel = c.name();
        if (cel == "user") {
          x.check_attrs(c, {"name", "uid", "gecos"});
          User u;
          u.name = x.req(c, "name");
          for (char ch : u.name)
            if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.'))
              x.fail(c, "<user>: bad user name \"" + u.name + "\"");
          if (!users.insert(u.name).second) x.fail(c, "<user>: duplicate user \"" + u.name + "\"");
          u.uid = static_cast<int>(x.integer(c, "uid", next_uid, 1, 60000));
          next_uid = u.uid + 1;
          u.gecos = x.opt(c, "gecos", u.name);
          h.users.push_back(u);
        } else if (cel == "aliases") {
          x.check_attrs(c, {});
          h.aliases += dedent(XmlFile::text(c));
        } else if (cel == "main-cf" || cel == "master-cf" || cel == "config") {
          x.check_attrs(c, cel == "config" ? std::initializer_list<std::string_view>{"name", "file"}
                                           : std::initializer_list<std::string_view>{"file"});
          ConfigFile cf;
          cf.name = cel == "main-cf" ? "main.cf" : cel == "master-cf" ? "master.cf" : x.req(c, "name");
          if (cf.name.find('/') != std::string::npos) x.fail(c, "<config>: name is a file name, not a path");
          if (auto f = x.opt(c, "file"); !f.empty()) {
            cf.file = resolve_near(path, f);
            if (!fs::exists(cf.file)) x.fail(c, "<" + cel + ">: no such file: " + cf.file);
          }
          cf.extra = dedent(XmlFile::text(c));
          if (h.config(cf.name)) x.fail(c, "<" + cel + ">: " + cf.name + " given twice");
          h.configs.push_back(cf);
        } else {
          x.fail(c, "<host>: unknown element <" + cel + "> (expected user, aliases, main-cf, master-cf, config)");
        }
      }
      t.hosts.push_back(std::move(h));
    } else if (el == "peer") {
      x.check_attrs(n, {"name", "address", "port", "hostname", "esmtp"});
      PeerDef p;
      p.line = x.line_of(n);
      p.name = lower(x.req(n, "name"));
      claim_name(n, p.name);
      auto a = addresses_of(x, n);
      if (a.size() != 1) x.fail(n, "<peer>: exactly one address");
      p.address = a[0];
      claim_addr(n, p.address);
      p.port = static_cast<unsigned>(x.integer(n, "port", 25, 1, 65535));
      p.hostname = x.opt(n, "hostname", p.name);
      p.esmtp = x.flag(n, "esmtp", true);
      p.rules_text = XmlFile::text(n);
      p.rules_line = x.text_line(n);
      t.peers.push_back(std::move(p));
    } else if (el == "client") {
      x.check_attrs(n, {"name", "address"});
      Client c;
      c.line = x.line_of(n);
      c.name = lower(x.req(n, "name"));
      claim_name(n, c.name);
      auto a = addresses_of(x, n);
      if (a.size() != 1) x.fail(n, "<client>: exactly one address");
      c.address = a[0];
      claim_addr(n, c.address);
      t.clients.push_back(std::move(c));
    } else {
      x.fail(n, "<topology>: unknown element <" + el + "> (expected dns, host, peer, client)");
    }
  }
  if (t.hosts.empty() && t.peers.empty()) x.fail(root, "<topology>: no <host> and no <peer>: nothing to test");
  return t;
}

}  // namespace mxlab::model
