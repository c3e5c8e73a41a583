// NAME
//   util/log - the message ladder: info, warn, error (counted), fatal, panic
// DESCRIPTION
//   One process hosts several Postfix-style services (smtpd, qmgr, local ...),
//   so every message names its service. Lines go to
//     - the maillog file (maillog_file), as Postfix's postlogd writes it:
//         "Nov 28 06:48:38 mx mxmta/smtpd[10626]: connect from ..."
//     - syslog(3) when no maillog file is set (Postfix's default),
//     - stderr for command-line tools: "postconf: warning: ..."
//   error() is counted; the 13th error is fatal, as in Postfix's msg.c.
//   fatal() exits (startup and configuration only: sessions never call it);
//   panic() aborts with a core dump.
// PARAMETERS
//   maillog_file, syslog_name, myhostname (first label is the log's host)
#pragma once
#include <fmt/core.h>
#include <string>
#include <string_view>

namespace mta::log {

enum class Level { info, warning, error, fatal, panic };

struct Target {
  std::string program;       // stderr prefix, e.g. "postconf"; also the service of tool messages
  std::string syslog_name;   // "mxmta"
  std::string host_label;    // first label of $myhostname
  std::string maillog_file;  // empty: syslog
  bool to_stderr = true;     // tools: yes; daemon: only with start-fg when asked
  bool to_log = false;       // maillog/syslog
};

void configure(const Target& t);
const Target& target();
void set_program(std::string_view program);  // shorthand for tools
// Reopen the maillog file (after a reload or log rotation).
void reopen();

void emit(Level level, std::string_view service, std::string_view text);
[[noreturn]] void die(int exit_code);  // flushes and exits

template <class... A>
void info(std::string_view service, fmt::format_string<A...> f, A&&... a) {
  emit(Level::info, service, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void warn(std::string_view service, fmt::format_string<A...> f, A&&... a) {
  emit(Level::warning, service, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void error(std::string_view service, fmt::format_string<A...> f, A&&... a) {
  emit(Level::error, service, fmt::format(f, std::forward<A>(a)...));
}
// Exit status 1, as Postfix's msg_fatal; tools that need sysexits use fatal_exit.
template <class... A>
[[noreturn]] void fatal(std::string_view service, fmt::format_string<A...> f, A&&... a) {
  emit(Level::fatal, service, fmt::format(f, std::forward<A>(a)...));
  die(1);
}
template <class... A>
[[noreturn]] void fatal_exit(int code, std::string_view service, fmt::format_string<A...> f, A&&... a) {
  emit(Level::fatal, service, fmt::format(f, std::forward<A>(a)...));
  die(code);
}
template <class... A>
[[noreturn]] void panic(std::string_view service, fmt::format_string<A...> f, A&&... a) {
  emit(Level::panic, service, fmt::format(f, std::forward<A>(a)...));
  std::abort();
}

// Number of error() calls so far (tests).
int error_count();

}  // namespace mta::log
