#include "smtpd/peer.hpp"

#include "core/address.hpp"
#include "util/strings.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace mta::smtpd {
namespace {

// Fills a sockaddr for getnameinfo().
socklen_t to_sockaddr(const core::IpAddr& a, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (a.family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    std::memcpy(&sin->sin_addr, a.b.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  std::memcpy(&sin6->sin6_addr, a.b.data(), 16);
  return sizeof(sockaddr_in6);
}

}  // namespace

std::string lookup_client_name(const core::IpAddr& addr0) {
  const core::IpAddr addr = addr0.unmapped();
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(addr, ss);
  char host[NI_MAXHOST] = {0};
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, nullptr, 0, NI_NAMEREQD) != 0)
    return "unknown";
  std::string name = host;
  // A "name" that is a numeric address, or not a host name at all, is
  // ignored (Postfix: "numeric hostname" / "malformed hostname").
  if (core::IpAddr::parse(name) || !core::valid_domain(name)) return "unknown";
  // Forward confirmation: the name must resolve back to the address.
  addrinfo hints{};
  hints.ai_family = addr.family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0 || !res) return "unknown";
  bool confirmed = false;
  for (addrinfo* p = res; p && !confirmed; p = p->ai_next) {
    core::IpAddr got;
    if (p->ai_family == AF_INET) {
      got.family = AF_INET;
      std::memcpy(got.b.data(), &reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr, 4);
    } else if (p->ai_family == AF_INET6) {
      got.family = AF_INET6;
      std::memcpy(got.b.data(), &reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    confirmed = got.unmapped() == addr;
  }
  ::freeaddrinfo(res);
  return confirmed ? name : "unknown";
}

Peer make_peer(const core::IpAddr& ip0, unsigned port, const std::string& name, bool port_logging) {
  Peer p;
  p.ip = ip0.unmapped();
  p.addr = p.ip.str();
  p.rfc_addr = p.ip.family == AF_INET6 ? "IPv6:" + p.addr : p.addr;
  p.name = name.empty() ? "unknown" : name;
  p.port = port;
  p.namaddr = p.name + "[" + p.addr + "]";
  if (port_logging) p.namaddr += ":" + std::to_string(port);
  return p;
}

}  // namespace mta::smtpd

namespace mta::smtpd {

bool HostsNameCache::FileSig::operator==(const FileSig& o) const {
  return exists == o.exists && dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
         mtime.tv_nsec == o.mtime.tv_nsec;
}

HostsNameCache::HostsNameCache(std::string etc) : etc_(std::move(etc)) {}

void HostsNameCache::refresh() {
  static const char* const kFiles[] = {"hosts", "nsswitch.conf", "host.conf"};
  bool changed = !loaded_;
  for (int i = 0; i < 3; ++i) {
    FileSig f;
    struct stat st;
    if (::stat((etc_ + "/" + kFiles[i]).c_str(), &st) == 0) {
      f.exists = true;
      f.dev = st.st_dev;
      f.ino = st.st_ino;
      f.size = st.st_size;
      f.mtime = st.st_mtim;
    }
    if (!(f == sig_[i])) changed = true;
    sig_[i] = f;
  }
  if (changed) load();
}

void HostsNameCache::load() {
  loaded_ = true;
  known_.clear();
  first_name_.clear();
  files_first_ = false;
  // nsswitch.conf: "hosts: files dns" -- files must come first and decide
  // alone when it has the answer (no "[NOTFOUND=...]"-style action after it
  // that could change that; glibc's default without the file is dns first).
  std::ifstream ns(etc_ + "/nsswitch.conf");
  std::string line;
  while (std::getline(ns, line)) {
    auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    std::istringstream in(line);
    std::string db, first, next;
    in >> db >> first >> next;
    if (db != "hosts:") continue;
    files_first_ = first == "files" && (next.empty() || next[0] != '[');
  }
  if (!files_first_) return;
  std::ifstream hosts(etc_ + "/hosts");
  while (std::getline(hosts, line)) {
    auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    std::istringstream in(line);
    std::string addr, name;
    if (!(in >> addr >> name)) continue;
    // IpAddr::parse also takes "[::1]" and "IPv6:::1"; glibc does not.
    if (addr.front() == '[' || (addr.size() > 5 && (addr.compare(0, 5, "IPv6:") == 0 || addr.compare(0, 5, "ipv6:") == 0)))
      continue;
    auto ip = core::IpAddr::parse(addr);
    if (!ip) continue;
    first_name_.emplace(ip->str(), name);  // emplace keeps the first line's name
  }
}

std::optional<std::string> HostsNameCache::find(const core::IpAddr& addr) {
  refresh();
  if (!files_first_) return std::nullopt;
  auto it = known_.find(addr.unmapped().str());
  if (it == known_.end()) return std::nullopt;
  return it->second;
}

bool HostsNameCache::probably_known(const core::IpAddr& addr) const {
  return loaded_ && files_first_ && known_.count(addr.unmapped().str()) > 0;
}

void HostsNameCache::learn(const core::IpAddr& addr, const std::string& name) {
  refresh();
  if (!files_first_) return;
  const std::string key = addr.unmapped().str();
  auto it = first_name_.find(key);
  if (it == first_name_.end() || it->second != name) return;  // not (only) from /etc/hosts
  known_[key] = name;
}

}  // namespace mta::smtpd
