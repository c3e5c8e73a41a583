// NAME
//   core/master_cf - services from master.cf
// DESCRIPTION
//   master.cf as Postfix reads it: comments, continuation lines (leading
//   whitespace), eight columns
//     service type private unpriv chroot wakeup maxproc command [args...]
//   mxmta runs every `inet` service whose command is smtpd: the service field
//   is a port ("smtp", "2525") bound on $inet_interfaces, or "host:port"
//   ("127.0.0.1:2525") bound on that address only; "-o name=value" arguments
//   override main.cf for that service. `unix` services name delivery
//   transports (relay -> smtp, local -> local ...). Every other line of Postfix's
//   stock master.cf is accepted and ignored.
// DIAGNOSTICS
//   "FILE, line N: reason" as ConfigError.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mta::core {

struct MasterService {
  std::string service;  // "smtp", "127.0.0.1:2525", "relay"
  std::string type;     // inet unix unix-dgram fifo pass
  std::string maxproc;
  std::string command;  // smtpd, smtp, local, error, pickup ...
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> overrides;  // -o name=value
  int line = 0;
};

std::vector<MasterService> parse_master_cf(std::string_view text, const std::string& file);
// DIR/master.cf; a missing file gives Postfix's stock services (smtp inet smtpd ...).
std::vector<MasterService> load_master_cf(const std::string& config_dir);
// The stock master.cf text mxmta assumes when there is none.
std::string_view stock_master_cf();

// "127.0.0.1:2525" -> host "127.0.0.1", port 2525; "smtp" -> "", 25;
// "[::1]:25" -> "::1", 25. Returns false for an unknown service name.
bool split_inet_service(std::string_view service, std::string& host, unsigned& port);

}  // namespace mta::core
