// NAME
//   model/topology - a lab topology: hosts, fake DNS, scripted peers, clients
// DESCRIPTION
//   Parsed from fixtures/topologies/*.xml (docs/topology.md):
//     <topology name="seed-intranet" start="2026-11-28 06:00:00">
//       <dns address="192.168.0.53">zone text (harness/dns format)</dns>
//       <host name="mail.example.com" address="192.168.0.25" role="inbound">
//         <user name="alice"/> <aliases>postmaster: root</aliases>
//         <main-cf>extra main.cf lines</main-cf>
//       </host>
//       <peer name="mx.outside.test" address="203.0.113.25">rule text</peer>
//       <client name="outside" address="203.0.113.7"/>
//     </topology>
//   Hosts run an MTA through the adapter, each in its own network, mount
//   and UTS namespaces; the DNS, peers and clients live in the lab's own
//   network namespace. The zone and rule texts are kept as text with the
//   file line they start on; harness/dns and harness/peer parse them
//   (runner::validate_lab_texts) so their errors carry this file's lines.
// DIAGNOSTICS
//   load_topology throws ParseError("FILE:LINE: reason").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mxlab::model {

struct User {
  std::string name;
  int uid = 0;
  std::string gecos;
};

struct ConfigFile {
  std::string name;      // "main.cf", "master.cf", ...
  std::string file;      // replaces the adapter's role template (resolved path), or empty
  std::string extra;     // lines appended after the adapter's own
};

struct Host {
  std::string name;                    // FQDN; also the UTS hostname
  std::vector<std::string> addresses;  // first = where clients connect by default
  std::string role;                    // adapter role ("inbound"), may be empty
  std::vector<ConfigFile> configs;
  std::vector<User> users;
  std::string aliases;                 // /etc/aliases text
  int line = 0;
  const ConfigFile* config(const std::string& name) const;
};

struct Dns {
  bool present = false;
  std::string address;
  unsigned port = 53;
  std::string zone_text;
  std::string zone_source;  // file the text came from (the topology or a zone file)
  int zone_line = 1;        // line of zone_text's first line in zone_source
  int line = 0;
};

struct PeerDef {
  std::string name;
  std::string hostname;
  std::string address;
  unsigned port = 25;
  bool esmtp = true;
  std::string rules_text;
  int rules_line = 1;
  int line = 0;
};

struct Client {
  std::string name;
  std::string address;
  int line = 0;
};

struct Topology {
  std::string name;
  std::string file;
  int64_t start = 0;  // epoch of the lab clock at the start; 0 = real time
  Dns dns;
  std::vector<Host> hosts;
  std::vector<PeerDef> peers;
  std::vector<Client> clients;

  const Host* host(const std::string& name) const;
  const PeerDef* peer(const std::string& name) const;
  // The host owning an address, or nullptr.
  const Host* host_by_address(const std::string& addr) const;
  // Addresses of the lab's own namespace: DNS, peers, clients (in that order).
  std::vector<std::string> lab_addresses() const;
  // Every address is in 127.0.0.0/8.
  bool loopback_only() const;
};

Topology load_topology(const std::string& path);

}  // namespace mxlab::model
