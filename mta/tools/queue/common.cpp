#include "tools/queue/common.hpp"

#include "util/log.hpp"

#include <fmt/core.h>

namespace mta::tools::queue {

bool parse_options(int argc, char** argv, std::string_view spec, std::vector<Option>& options,
                   std::vector<std::string>& operands, std::string& error) {
  bool only_operands = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (only_operands || a.size() < 2 || a[0] != '-') {
      operands.emplace_back(a);
      continue;
    }
    if (a == "--") {
      only_operands = true;
      continue;
    }
    for (size_t k = 1; k < a.size(); ++k) {
      char f = a[k];
      size_t at = f == ':' ? std::string_view::npos : spec.find(f);
      if (at == std::string_view::npos) {
        error = fmt::format("invalid option -- '{}'", f);
        return false;
      }
      bool takes_value = at + 1 < spec.size() && spec[at + 1] == ':';
      if (!takes_value) {
        options.push_back({f, {}});
        continue;
      }
      if (k + 1 < a.size()) {
        options.push_back({f, std::string(a.substr(k + 1))});
      } else if (i + 1 < argc) {
        options.push_back({f, argv[++i]});
      } else {
        error = fmt::format("option requires an argument -- '{}'", f);
        return false;
      }
      break;
    }
  }
  return true;
}

std::optional<core::Config> load_tool_config(std::string_view program, const std::string& dash_c) {
  log::Target t = log::target();
  t.program = std::string(program);
  t.to_stderr = true;
  t.to_log = false;
  log::configure(t);
  std::optional<core::Config> c;
  std::vector<std::string> warnings;
  try {
    c = core::Config::load(core::Config::resolve_dir(dash_c), &warnings);
    // Queue tools report to the log as well as to stderr (Postfix's
    // msg_syslog_init), so an administrator's postsuper -d leaves a trace.
    std::string host = c->get("myhostname");
    t.syslog_name = c->get("syslog_name");
    t.host_label = host.substr(0, host.find('.'));
    t.maillog_file = c->get("maillog_file");
    t.to_log = true;
    log::configure(t);
    // Every Postfix program that reads main.cf says so about duplicate or
    // malformed entries ("mailq: warning: /etc/postfix/main.cf, line 27:
    // overriding earlier entry: relayhost=..."), observed with the queue
    // suite's Postfix runs.
    for (const auto& w : warnings) log::emit(log::Level::warning, program, w);
  } catch (const core::ConfigError& e) {
    log::emit(log::Level::fatal, program, e.what());
    return std::nullopt;
  }
  return c;
}

}  // namespace mta::tools::queue
