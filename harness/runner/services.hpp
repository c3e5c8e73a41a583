// NAME
//   runner/services - the lab's fake DNS and scripted peers, as the runner sees them
// DESCRIPTION
//   A narrow seam over harness/dns (mxlab::dns::Server) and harness/peer
//   (mxlab::peer::Peer): start them on the lab's addresses inside the
//   topology's network namespace, and read back the DNS query log, the
//   messages and the transcripts of each peer. The zone and rule texts of
//   a topology are parsed by those modules with padding, so that their
//   "FILE:LINE" errors point at the topology file's own lines.
//   When this mxlab is built without harness/dns and harness/peer (their
//   sources are absent from the tree), available() is false and a
//   topology with a <dns> or <peer> cannot run: the case is reported as an
//   error with that reason, never as passed.
// DIAGNOSTICS
//   validate() throws model::ParseError("FILE:LINE: reason").
#pragma once
#include "model/topology.hpp"

#include <memory>
#include <string>
#include <vector>

namespace mxlab::runner {

struct DnsQuery {
  double time = 0;
  std::string client, transport, name, type, result;
  int answers = 0;
};

struct PeerMessage {
  std::string client, helo, mail_from;
  std::vector<std::string> rcpt_to;
  std::string data;
  double time = 0;
};

class Services {
 public:
  virtual ~Services() = default;
  virtual void start_dns(const model::Dns& dns) = 0;
  virtual void start_peer(const model::PeerDef& peer) = 0;
  virtual std::vector<DnsQuery> dns_log() = 0;
  virtual std::vector<PeerMessage> peer_messages(const std::string& name) = 0;
  virtual std::string peer_transcripts(const std::string& name) = 0;
  // SMTP sessions (connections) the peer has had so far: one per attempt of an MTA.
  virtual size_t peer_sessions(const std::string& name) = 0;
  virtual void stop() = 0;

  static bool available();
  static std::unique_ptr<Services> create(const std::string& topology_file);
  // Parse every zone and rule text of the topology (no server started).
  static void validate(const model::Topology& t);
};

}  // namespace mxlab::runner
