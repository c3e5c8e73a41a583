// mxlab sink --listen ADDR:PORT [--rules FILE] [--rule LINE]... [--dump DIR]
//            [--hostname NAME]
// A deterministic smtp-sink: accepts mail as the rules say and prints one
// line per accepted message, or writes each message to DIR.
#include "common/signals.hpp"
#include "common/strings.hpp"
#include "peer/peer.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

namespace mxlab::peer {
namespace {

int usage() {
  std::fprintf(stderr,
               "usage: mxlab sink --listen ADDR:PORT [--rules FILE] [--rule 'LINE']... [--dump DIR] [--hostname NAME]\n");
  return 64;  // EX_USAGE
}

std::string summary(const ReceivedMessage& m) {
  std::string to;
  for (const auto& r : m.rcpt_to) to += (to.empty() ? "<" : ",<") + r + ">";
  return m.id + " from=<" + m.mail_from + "> to=" + to + " size=" + std::to_string(m.data.size()) + " helo=" +
         (m.helo.empty() ? "-" : m.helo) + " client=" + m.client;
}

// Written under a temporary name and renamed, so a reader never sees half a
// message.
bool dump(const std::string& dir, const ReceivedMessage& m, std::string& err) {
  std::string head = "X-Mail-From: " + m.mail_from + "\r\n";
  for (const auto& r : m.rcpt_to) head += "X-Rcpt-To: " + r + "\r\n";
  const std::string path = dir + "/" + m.id + ".eml", tmp = dir + "/." + m.id + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    err = tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = std::fwrite(head.data(), 1, head.size(), f) == head.size() &&
            std::fwrite(m.data.data(), 1, m.data.size(), f) == m.data.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = path + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

int sink_main(int argc, char** argv) {
  // argv[0] is the subcommand ("sink"), as in mxmta's multi-call convention.
  std::string listen, dump_dir;
  Spec spec;
  spec.name = "sink";
  spec.hostname = "sink.mxlab.test";
  try {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "--listen") {
        listen = value();
      } else if (a == "--dump") {
        dump_dir = value();
      } else if (a == "--hostname") {
        spec.hostname = value();
      } else if (a == "--rules") {
        std::string file = value();
        std::ifstream in(file, std::ios::binary);
        if (!in) throw std::runtime_error("cannot open " + file);
        std::stringstream text;
        text << in.rdbuf();
        auto rules = parse_rules(text.str(), file);
        spec.rules.insert(spec.rules.end(), rules.begin(), rules.end());
      } else if (a == "--rule") {
        auto rules = parse_rules(value(), "--rule");
        spec.rules.insert(spec.rules.end(), rules.begin(), rules.end());
      } else if (a == "-h" || a == "--help") {
        usage();
        return 0;
      } else {
        std::fprintf(stderr, "mxlab sink: unknown argument %s\n", a.c_str());
        return usage();
      }
    }
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "mxlab sink: %s\n", e.what());
    return usage();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mxlab sink: %s\n", e.what());
    return 65;  // EX_DATAERR
  }
  std::string host;
  uint16_t port = 0;
  if (listen.empty()) return usage();
  if (!common::split_host_port(listen, host, port)) {
    std::fprintf(stderr, "mxlab sink: --listen %s: expected ADDR:PORT\n", listen.c_str());
    return 64;
  }
  common::TerminationSignals signals;  // before the peer's thread exists
  try {
    Peer peer(std::move(spec));
    peer.on_message([&dump_dir](const ReceivedMessage& m) {
      std::string err;
      if (!dump_dir.empty() && !dump(dump_dir, m, err)) std::fprintf(stderr, "mxlab sink: cannot write %s\n", err.c_str());
      std::printf("%s\n", summary(m).c_str());
      std::fflush(stdout);
    });
    peer.start(host, port);
    std::printf("mxlab sink: listening on %s\n",
                (host.find(':') != std::string::npos ? "[" + host + "]" : host).append(":" + std::to_string(peer.port())).c_str());
    std::fflush(stdout);
    signals.wait();
    peer.stop();
    std::printf("mxlab sink: %zu messages in %zu sessions\n", peer.messages().size(), peer.transcripts().size());
    std::fflush(stdout);
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "mxlab sink: %s\n", e.what());
    return 71;  // EX_OSERR
  }
  return 0;
}

}  // namespace mxlab::peer
