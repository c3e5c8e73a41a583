// mxlab dns ZONEFILE --listen ADDR:PORT [--log FILE]
#include "common/signals.hpp"
#include "common/strings.hpp"
#include "dns/fake_dns.hpp"

#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <system_error>

namespace mxlab::dns {
namespace {

int usage() {
  std::fprintf(stderr, "usage: mxlab dns ZONEFILE --listen ADDR:PORT [--log FILE]\n");
  return 64;  // EX_USAGE
}

}  // namespace

int dns_main(int argc, char** argv) {
  // argv[0] is the subcommand ("dns"), as in mxmta's multi-call convention.
  std::string zone_file, listen, log_file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--listen" || a == "--log") && i + 1 < argc) {
      (a == "--listen" ? listen : log_file) = argv[++i];
    } else if (a == "-h" || a == "--help") {
      usage();
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "mxlab dns: unknown or incomplete option %s\n", a.c_str());
      return usage();
    } else if (zone_file.empty()) {
      zone_file = a;
    } else {
      return usage();
    }
  }
  if (zone_file.empty() || listen.empty()) return usage();
  std::string host;
  uint16_t port = 0;
  if (!common::split_host_port(listen, host, port)) {
    std::fprintf(stderr, "mxlab dns: --listen %s: expected ADDR:PORT\n", listen.c_str());
    return 64;
  }
  std::ifstream in(zone_file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "mxlab dns: cannot open %s\n", zone_file.c_str());
    return 66;  // EX_NOINPUT
  }
  std::stringstream text;
  text << in.rdbuf();
  ZoneSet zones;
  try {
    zones = parse_zone_text(text.str(), zone_file);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mxlab dns: %s\n", e.what());
    return 65;  // EX_DATAERR
  }
  FILE* log = stdout;
  if (!log_file.empty()) {
    log = std::fopen(log_file.c_str(), "a");
    if (!log) {
      std::fprintf(stderr, "mxlab dns: cannot open %s for appending\n", log_file.c_str());
      return 73;  // EX_CANTCREAT
    }
  }
  // Signals are blocked before the server's thread exists, so it inherits
  // the mask and only wait() below sees them.
  common::TerminationSignals signals;
  int rc = 0;
  try {
    Server server(std::move(zones));
    server.on_query([log](const QueryLog& q) {
      std::fprintf(log, "%.3f %s %s %s %s %s answers=%d\n", q.time, q.transport.c_str(), q.client.c_str(),
                   q.name.empty() ? "-" : q.name.c_str(), q.type.empty() ? "-" : q.type.c_str(), q.result.c_str(),
                   q.answers);
      std::fflush(log);
    });
    server.start(host, port);
    std::printf("mxlab dns: listening on %s (udp, tcp)\n",
                (host.find(':') != std::string::npos ? "[" + host + "]" : host).append(":" + std::to_string(server.port())).c_str());
    std::fflush(stdout);
    signals.wait();
    server.stop();
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "mxlab dns: %s\n", e.what());
    rc = 71;  // EX_OSERR
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mxlab dns: %s\n", e.what());
    rc = 65;
  }
  if (log != stdout) std::fclose(log);
  return rc;
}

}  // namespace mxlab::dns
