// Built when harness/dns or harness/peer is not in the source tree: the
// runner still works for topologies without a fake DNS and without peers,
// and says plainly why the others cannot run.
#include "runner/services.hpp"

#include <stdexcept>

namespace mxlab::runner {

namespace {

const char* kWhy = "this mxlab was built without harness/dns and harness/peer (fake DNS and scripted peers)";

class AbsentServices : public Services {
 public:
  void start_dns(const model::Dns&) override { throw std::runtime_error(kWhy); }
  void start_peer(const model::PeerDef&) override { throw std::runtime_error(kWhy); }
  std::vector<DnsQuery> dns_log() override { return {}; }
  std::vector<PeerMessage> peer_messages(const std::string&) override { return {}; }
  std::string peer_transcripts(const std::string&) override { return {}; }
  size_t peer_sessions(const std::string&) override { return 0; }
  void stop() override {}
};

}  // namespace

bool Services::available() { return false; }
std::unique_ptr<Services> Services::create(const std::string&) { return std::make_unique<AbsentServices>(); }
void Services::validate(const model::Topology&) {}

}  // namespace mxlab::runner
