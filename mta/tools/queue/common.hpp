// NAME
//   tools/queue/common - what postqueue and postsuper share: options, main.cf, logging
// DESCRIPTION
//   parse_options() is a small re-entrant getopt (the tools run in-process in
//   tests, where getopt's global state would leak between calls): flags may
//   be grouped ("-pv"), an option's value may be attached ("-cDIR") or the
//   next argument ("-d -" takes "-" as the value), and operands may come
//   before, between or after options, as with GNU getopt; "--" ends options.
//   load_tool_config() reads main.cf from -c DIR, else $MAIL_CONFIG, else the
//   default, and points util/log at the tool: stderr lines "PROGRAM: ..." and
//   the maillog file (or syslog) under service PROGRAM.
// DIAGNOSTICS
//   load_tool_config() prints "PROGRAM: fatal: open DIR/main.cf: ..." (or the
//   configuration error with its file and line) and returns nothing.
// PARAMETERS
//   queue_directory, maillog_file, syslog_name, myhostname
#pragma once
#include "core/config.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mta::tools::queue {

struct Option {
  char flag;
  std::string value;  // empty for flags without a value
};

// `spec` as getopt's: "c:fi:jps:v". On an unknown option or a missing value
// returns false and sets `error` ("invalid option -- 'x'").
bool parse_options(int argc, char** argv, std::string_view spec, std::vector<Option>& options,
                   std::vector<std::string>& operands, std::string& error);

std::optional<core::Config> load_tool_config(std::string_view program, const std::string& dash_c);

}  // namespace mta::tools::queue
