#include "util/log.hpp"

#include "util/clock.hpp"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace mta::log {
namespace {

Target g_target{"mxmta", "mxmta", "localhost", "", true, false};
int g_fd = -1;
int g_errors = 0;
pid_t g_pid = 0;  // cached: a getpid() per log line is a syscall per line
bool g_syslog_open = false;
std::mutex g_mu;  // the blocking-I/O pool may log too

constexpr int kMaxErrors = 13;  // Postfix msg.c: fatal after 13 errors

const char* prefix(Level l) {
  switch (l) {
    case Level::info: return "";
    case Level::warning: return "warning: ";
    case Level::error: return "error: ";
    case Level::fatal: return "fatal: ";
    case Level::panic: return "panic: ";
  }
  return "";
}

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s.remove_prefix(static_cast<size_t>(n));
  }
}

void open_file_locked() {
  if (g_fd >= 0) ::close(g_fd);
  g_fd = -1;
  if (g_target.maillog_file.empty()) return;
  if (g_target.maillog_file == "/dev/stdout") { g_fd = ::dup(1); return; }
  if (g_target.maillog_file == "/dev/stderr") { g_fd = ::dup(2); return; }
  g_fd = ::open(g_target.maillog_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (g_fd < 0) {
    std::string m = fmt::format("{}: warning: open {}: {}\n", g_target.program, g_target.maillog_file,
                                std::strerror(errno));
    write_all(2, m);
  }
}

}  // namespace

void configure(const Target& t) {
  std::lock_guard lk(g_mu);
  g_target = t;
  g_pid = ::getpid();  // after a fork, configure() runs again in the new process
  if (g_target.to_log) {
    open_file_locked();
    if (g_target.maillog_file.empty() && !g_syslog_open) {
      ::openlog(g_target.syslog_name.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
      g_syslog_open = true;
    }
  }
}

const Target& target() { return g_target; }

void set_program(std::string_view program) {
  std::lock_guard lk(g_mu);
  g_target.program = std::string(program);
}

void reopen() {
  std::lock_guard lk(g_mu);
  if (g_target.to_log) open_file_locked();
}

void emit(Level level, std::string_view service, std::string_view text) {
  std::lock_guard lk(g_mu);
  if (g_target.to_stderr) {
    // Tools print "postconf: warning: ...": the program is the prefix.
    std::string line = fmt::format("{}: {}{}\n", g_target.program, prefix(level), text);
    write_all(2, line);
  }
  if (g_target.to_log) {
    std::string svc = service.empty() ? g_target.program : std::string(service);
    if (!g_target.maillog_file.empty()) {
      if (g_fd >= 0) {
        std::string line = fmt::format("{} {} {}/{}[{}]: {}{}\n", util::maillog_stamp(util::now_sec()),
                                       g_target.host_label, g_target.syslog_name, svc, g_pid ? g_pid : (g_pid = ::getpid()),
                                       prefix(level), text);
        write_all(g_fd, line);
      }
    } else {
      int prio = level == Level::info      ? LOG_INFO
                 : level == Level::warning ? LOG_WARNING
                 : level == Level::error   ? LOG_ERR
                                           : LOG_CRIT;
      std::string ident = g_target.syslog_name + "/" + svc;
      ::openlog(ident.c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
      ::syslog(prio, "%s%.*s", prefix(level), static_cast<int>(text.size()), text.data());
    }
  }
  if (level == Level::error && ++g_errors >= kMaxErrors) {
    std::string m = "too many errors - program terminated";
    if (g_target.to_stderr) write_all(2, fmt::format("{}: fatal: {}\n", g_target.program, m));
    g_mu.unlock();
    die(1);
  }
}

void die(int exit_code) {
  std::fflush(stdout);
  std::_Exit(exit_code);
}

int error_count() { return g_errors; }

}  // namespace mta::log
