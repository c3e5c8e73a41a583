// postqueue(1) and mailq(1): list and flush the queue (docs/queue-tools.md).
//
// postqueue -p | -j     list the queue (mailq is postqueue -p)
// postqueue -f          flush: trigger 'F' on public/qmgr
// postqueue -i ID       flush; the daemon has no per-message flush, so this
// postqueue -s SITE     flushes everything, as -f does
// -c DIR, MAIL_CONFIG   where main.cf is
//
// The listing reads the queue directory directly (there is no showq
// daemon); when the queue manager is not listening on public/qmgr the
// listing is preceded by Postfix's "Mail system is down" warning.
#include "core/trigger.hpp"
#include "queue/queue_store.hpp"
#include "tools/queue/common.hpp"
#include "tools/queue/showq.hpp"
#include "tools/tools.hpp"
#include "util/log.hpp"
#include "util/sysexits.hpp"

#include <fmt/core.h>

#include <cstdio>
#include <string>

namespace mta::tools {
namespace {

constexpr std::string_view kProgram = "postqueue";

int fatal(int code, std::string_view text) {
  log::emit(log::Level::fatal, kProgram, text);
  std::fflush(stdout);
  return code;
}

int usage(bool mailq) {
  if (mailq) return fatal(util::ex::usage, "usage: mailq [-c config_dir] [-v]");
  return fatal(util::ex::usage,
               "usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site");
}

void write_stdout(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

int postqueue_main(int argc, char** argv) {
  std::string_view self = argc > 0 ? argv[0] : "postqueue";
  if (auto s = self.rfind('/'); s != std::string_view::npos) self.remove_prefix(s + 1);
  // mailq is "sendmail -bp", which runs postqueue: its messages say postqueue.
  const bool mailq = self == "mailq";
  log::set_program(kProgram);

  std::vector<queue::Option> opts;
  std::vector<std::string> operands;
  std::string err;
  if (!queue::parse_options(argc, argv, mailq ? "c:v" : "c:fi:jps:v", opts, operands, err)) {
    log::emit(log::Level::warning, kProgram, err);
    return usage(mailq);
  }
  std::string dash_c;
  char mode = mailq ? 'p' : 0;
  std::string mode_arg;
  for (const auto& o : opts) {
    if (o.flag == 'c') {
      dash_c = o.value;
    } else if (o.flag == 'v') {
      // Verbose logging: nothing more to say here.
    } else {
      if (mode != 0 && mode != o.flag) return usage(mailq);
      mode = o.flag;
      mode_arg = o.value;
    }
  }
  if (mode == 0 || !operands.empty()) return usage(mailq);

  auto config = queue::load_tool_config(kProgram, dash_c);
  if (!config) return 1;
  ::mta::queue::QueueStore store(config->get("queue_directory"));
  const std::string qmgr = store.fifo("qmgr");

  switch (mode) {
    case 'p':
    case 'j': {
      if (!core::trigger_listener_alive(qmgr))
        log::warn(kProgram, "Mail system is down -- accessing queue directly (Connect to the {} showq service: "
                            "Connection refused)",
                  config->get("mail_name"));
      std::string empty = config->get("empty_address_recipient");
      queue::Listing l = queue::scan(store, empty.empty() ? "MAILER-DAEMON" : empty);
      for (const auto& w : l.warnings) log::warn(kProgram, "{}", w);
      write_stdout(mode == 'p' ? queue::format_mailq(l.messages, config->get_bool("enable_long_queue_ids"))
                               : queue::format_json(l.messages));
      return 0;
    }
    case 'i':
      if (!::mta::queue::looks_like_queue_id(mode_arg))
        return fatal(util::ex::usage, fmt::format("bad mail queue ID: {}", mode_arg));
      [[fallthrough]];
    case 's':
      if (mode == 's' && mode_arg.empty()) return usage(false);
      [[fallthrough]];
    case 'f':
      // Nobody reading public/qmgr: the write fails with ENXIO (or the FIFO
      // is missing), which is how Postfix learns the system is down.
      if (core::send_trigger(qmgr, std::string(1, core::trigger::flush)))
        return fatal(util::ex::unavailable, "Cannot flush mail queue - mail system is down");
      return 0;
    default: return usage(mailq);
  }
}

}  // namespace mta::tools
