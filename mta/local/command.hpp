// NAME
//   local/command - pipe a message into an external command, as local(8)
// SYNOPSIS
//   local::CommandSpec c;  c.command = "/usr/bin/procmail";  c.uid = 1000; ...
//   local::Status s = local::run_command(c, bytes);
// DESCRIPTION
//   After Postfix's global/pipe_command.c. The command runs
//     - through `shell` when it is set (local_command_shell, e.g.
//       "/usr/bin/smrsh -c": split at spaces, the command appended), else
//       through "/bin/sh -c COMMAND";
//     - in its own session (setsid) so that a time-out kills it and its
//       children (kill(-pid, SIGKILL));
//     - as uid/gid when the process is root (setgroups, setgid, setuid in the
//       child before exec); not root, or a user namespace where the uid is not
//       mapped (EINVAL), keeps the running user;
//     - in `cwd` when set (failure: exit EX_TEMPFAIL after a message on
//       stderr), with an environment made of: the names in `export_names`
//       copied from ours, PATH=/usr/bin:/bin, then `env` (HOME, USER, ...);
//     - with the message on stdin and stdout+stderr captured (the first 4 KiB,
//       tabs and newlines as spaces, other non-printable bytes as '_') for the
//       bounce text.
//   The whole run is limited to time_limit seconds (command_time_limit).
//   SIGPIPE from a command that stops reading early is not an error.
//
//   Exit status -> Status (pipe_command + sys_exits.c):
//     0                               2.0.0 (the caller words the text)
//     output starting "X.Y.Z text"    that code and text
//     sysexits code 64..78            its DSN and text ("temporary failure" 4.3.0,
//                                     "user unknown" 5.1.1, ...) + ". Command
//                                     output: ..." when there was output
//     any other status N              5.3.0 Command died with status N: "cmd"
//     killed by signal S              4.3.0 Command died with signal S: "cmd"
//                                     (Postfix retries these)
//     time limit                      5.3.0 Command time limit exceeded: "cmd"
// STANDARDS
//   sysexits.h (4.4BSD) exit codes
#pragma once
#include "local/mail_copy.hpp"

#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mta::local {

struct CommandSpec {
  std::string command;
  std::string shell;                                       // local_command_shell; "" = /bin/sh -c
  std::vector<std::pair<std::string, std::string>> env;    // added last
  std::vector<std::string> export_names;                   // export_environment
  std::string cwd;                                         // "" = leave it
  uid_t uid = static_cast<uid_t>(-1);                      // -1 = the running user
  gid_t gid = static_cast<gid_t>(-1);
  long long time_limit = 1000;                             // seconds
};

Status run_command(const CommandSpec& spec, std::string_view input);

// sysexits.h code -> {dsn, text}; codes outside 64..78 give
// {"5.3.0", "unknown mail system error N"}.
std::pair<std::string, std::string> sys_exits_detail(int code);

}  // namespace mta::local
