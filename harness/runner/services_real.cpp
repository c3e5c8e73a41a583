// The services over harness/dns and harness/peer (built when both exist).
#include "dns/fake_dns.hpp"
#include "model/xml.hpp"
#include "peer/peer.hpp"
#include "runner/services.hpp"

#include <map>
#include <stdexcept>

namespace mxlab::runner {

namespace {

// Pad so the parser's line numbers are the topology file's.
std::string padded(const std::string& text, int first_line) {
  return std::string(static_cast<size_t>(first_line > 1 ? first_line - 1 : 0), '\n') + text;
}

template <class F>
auto as_parse_error(F f) -> decltype(f()) {
  try {
    return f();
  } catch (const model::ParseError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw model::ParseError(e.what());
  }
}

dns::ZoneSet zones_of(const model::Dns& d) {
  return as_parse_error([&] { return dns::parse_zone_text(padded(d.zone_text, d.zone_line), d.zone_source); });
}

peer::Spec spec_of(const model::PeerDef& p, const std::string& file) {
  peer::Spec s;
  s.name = p.name;
  s.hostname = p.hostname;
  s.esmtp = p.esmtp;
  s.rules = as_parse_error([&] { return peer::parse_rules(padded(p.rules_text, p.rules_line), file); });
  return s;
}

class RealServices : public Services {
 public:
  explicit RealServices(std::string file) : file_(std::move(file)) {}
  ~RealServices() override { stop(); }
  void start_dns(const model::Dns& d) override {
    dns_ = std::make_unique<dns::Server>(zones_of(d));
    dns_->start(d.address, static_cast<uint16_t>(d.port));
  }
  void start_peer(const model::PeerDef& p) override {
    auto peer = std::make_unique<peer::Peer>(spec_of(p, file_));
    peer->start(p.address, static_cast<uint16_t>(p.port));
    peers_[p.name] = std::move(peer);
  }
  std::vector<DnsQuery> dns_log() override {
    std::vector<DnsQuery> out;
    if (!dns_) return out;
    for (const auto& q : dns_->log()) out.push_back({q.time, q.client, q.transport, q.name, q.type, q.result, q.answers});
    return out;
  }
  std::vector<PeerMessage> peer_messages(const std::string& name) override {
    std::vector<PeerMessage> out;
    auto it = peers_.find(name);
    if (it == peers_.end()) return out;
    for (const auto& m : it->second->messages()) out.push_back({m.client, m.helo, m.mail_from, m.rcpt_to, m.data, m.time});
    return out;
  }
  std::string peer_transcripts(const std::string& name) override {
    std::string s;
    auto it = peers_.find(name);
    if (it == peers_.end()) return s;
    for (const auto& t : it->second->transcripts()) {
      s += "-- connection from " + t.client + "\n";
      for (const auto& [dir, line] : t.lines) s += std::string(1, dir) + ": " + line + "\n";
    }
    return s;
  }
  size_t peer_sessions(const std::string& name) override {
    auto it = peers_.find(name);
    return it == peers_.end() ? 0 : it->second->transcripts().size();
  }
  void stop() override {
    for (auto& [_, p] : peers_) p->stop();
    if (dns_) dns_->stop();
  }

 private:
  std::string file_;
  std::unique_ptr<dns::Server> dns_;
  std::map<std::string, std::unique_ptr<peer::Peer>> peers_;
};

}  // namespace

bool Services::available() { return true; }

std::unique_ptr<Services> Services::create(const std::string& file) { return std::make_unique<RealServices>(file); }

void Services::validate(const model::Topology& t) {
  if (t.dns.present) zones_of(t.dns);
  for (const auto& p : t.peers) spec_of(p, t.file);
}

}  // namespace mxlab::runner
