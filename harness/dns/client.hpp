// NAME
//   dns/client - a small blocking DNS client for tests and readiness checks
// DESCRIPTION
//   Sends one query to one server over UDP or TCP and returns the decoded
//   response. It is the harness's own code (plain POSIX sockets, no Asio),
//   so a test of the fake DNS server does not trust the server's codec alone:
//   the tests also query with glibc's res_nquery and dig.
//   query() does not retry over TCP on TC; the caller decides (a test wants
//   to see the TC bit).
// DIAGNOSTICS
//   std::runtime_error("dns query NAME TYPE to ADDR:PORT: REASON") on a
//   timeout, a socket error, a response with another ID, or a response that
//   does not parse.
#pragma once
#include "dns/wire.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mxlab::dns {

struct QueryOptions {
  bool tcp = false;
  int timeout_ms = 2000;
  std::optional<uint16_t> edns_udp_size;  // adds an OPT record
  bool rd = true;
  uint16_t id = 0;  // 0: a random ID
};

wire::Message query(const std::string& addr, uint16_t port, std::string_view name, uint16_t type,
                    const QueryOptions& opt = {});

// Raw exchange: sends the bytes and returns the response bytes (TCP framing
// added and removed here). An empty result means the wait timed out.
std::vector<uint8_t> exchange(const std::string& addr, uint16_t port, std::span<const uint8_t> msg, bool tcp,
                              int timeout_ms);

}  // namespace mxlab::dns
