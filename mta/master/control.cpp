// NAME
//   master/control - mxmta start | start-fg | stop | reload | status | check |
//   flush | wake, as postfix(1)
// DESCRIPTION
//   start       check the configuration, start the daemon in the background and
//               wait until it listens (configuration errors are printed here)
//   start-fg    the same in the foreground (for supervisors and the lab)
//   stop        SIGTERM, then wait until the daemon has released its lock
//   reload      SIGHUP: re-read main.cf
//   status      exit 0 when running ("the mail system is running: PID: N")
//   check       load and validate main.cf and master.cf, create missing queue
//               directories; warnings on stderr, exit 1 on a fatal error
//   flush       every deferred message is due now (= postqueue -f)
//   wake        re-check due work now (after the clock moved), without
//               forcing deferred mail
//   The running daemon is found through the fcntl lock on
//   $queue_directory/pid/master.pid.
#include "core/config.hpp"
#include "core/master_cf.hpp"
#include "core/params.hpp"
#include "core/trigger.hpp"
#include "master/daemon.hpp"
#include "queue/queue_store.hpp"
#include "tools/tools.hpp"
#include "util/log.hpp"
#include "util/sysexits.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace mta::tools {
namespace {

pid_t running_pid(const std::string& pid_file) {
  int fd = ::open(pid_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  pid_t pid = 0;
  if (::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
    pid = fl.l_pid;
    if (pid == 0) {  // holder in another PID namespace: trust the file
      char buf[32] = {0};
      if (::pread(fd, buf, sizeof buf - 1, 0) > 0) pid = static_cast<pid_t>(std::atol(buf));
      if (pid == 0) pid = -1;
    }
  }
  ::close(fd);
  return pid;
}

int usage() {
  std::fprintf(stderr, "usage: mxmta [-c config_dir] start|start-fg|stop|reload|status|check|flush|wake\n");
  return util::ex::usage;
}

}  // namespace

int master_main(int argc, char** argv) {
  std::string dash_c, cmd;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-c" && i + 1 < argc) dash_c = argv[++i];
    else if (a == "-v" || a == "-D") continue;
    else if (a.size() > 2 && a.substr(0, 2) == "-c") dash_c = a.substr(2);
    else if (cmd.empty() && a[0] != '-') cmd = a;
    else return usage();
  }
  if (cmd.empty()) return usage();
  std::string dir = core::Config::resolve_dir(dash_c);
  if (char* real = ::realpath(dir.c_str(), nullptr)) {
    dir = real;
    std::free(real);
  }
  log::set_program("mxmta");

  if (cmd == "start-fg") return master::run_daemon(dir, true, -1);

  std::vector<std::string> warnings;
  std::unique_ptr<core::Config> cfg;
  try {
    cfg = std::make_unique<core::Config>(core::Config::load(dir, &warnings));
  } catch (const core::ConfigError& e) {
    log::fatal("", "{}", e.what());
  }
  queue::QueueStore store(cfg->get("queue_directory"));
  pid_t pid = running_pid(store.pid_file());

  if (cmd == "status") {
    if (pid) {
      std::fprintf(stderr, "mxmta: the mail system is running: PID: %d\n", static_cast<int>(pid));
      return 0;
    }
    std::fprintf(stderr, "mxmta: the mail system is not running\n");
    return 1;
  }
  if (cmd == "check") {
    for (const auto& w : warnings) log::warn("", "{}", w);
    try {
      for (const auto& p : core::registry()) {
        if (p.type == core::ParamType::boolean) cfg->get_bool(p.name);
        else if (p.type == core::ParamType::integer) cfg->get_int(p.name);
        else if (p.type == core::ParamType::time) cfg->get_time(p.name);
      }
      for (const auto& e : cfg->entries()) cfg->get(e.name);
      core::load_master_cf(dir);
    } catch (const core::ConfigError& e) {
      log::fatal("", "{}", e.what());
    }
    if (auto ec = store.ensure_dirs()) log::fatal("", "create queue directories under {}: {}", store.root(), ec.message());
    return 0;
  }
  if (cmd == "start") {
    if (pid) log::fatal("", "the mail system is already running");
    std::fprintf(stderr, "mxmta: starting the mail system\n");
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) log::fatal("", "pipe: {}", std::strerror(errno));
    pid_t child = ::fork();
    if (child < 0) log::fatal("", "fork: {}", std::strerror(errno));
    if (child == 0) {
      ::close(p[0]);
      ::setsid();
      // A second fork: the daemon is not a session leader and is reparented.
      pid_t grand = ::fork();
      if (grand < 0) _exit(1);
      if (grand > 0) _exit(0);
      _exit(master::run_daemon(dir, false, p[1]));
    }
    ::close(p[1]);
    int st = 0;
    ::waitpid(child, &st, 0);
    std::string got;
    char buf[256];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    if (got.rfind("OK", 0) == 0) return 0;
    std::fprintf(stderr, "mxmta: fatal: the mail system did not start\n");
    return 1;
  }
  if (cmd == "stop" || cmd == "reload") {
    if (!pid) log::fatal("", "the mail system is not running");
    if (cmd == "reload") {
      std::fprintf(stderr, "mxmta: refreshing the mail system\n");
      if (pid > 0 && ::kill(pid, SIGHUP) != 0) log::fatal("", "kill {}: {}", pid, std::strerror(errno));
      return 0;
    }
    std::fprintf(stderr, "mxmta: stopping the mail system\n");
    if (pid > 0 && ::kill(pid, SIGTERM) != 0) log::fatal("", "kill {}: {}", pid, std::strerror(errno));
    auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(cfg->get_time("mxmta_drain_timeout") + 10);
    while (running_pid(store.pid_file())) {
      if (std::chrono::steady_clock::now() > limit) log::fatal("", "the mail system did not stop (PID {})", pid);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }
  if (cmd == "flush" || cmd == "wake") {
    char req = cmd == "flush" ? core::trigger::flush : core::trigger::scan_all;
    if (core::send_trigger(store.fifo("qmgr"), std::string(1, req)))
      log::fatal_exit(util::ex::unavailable, "", "Cannot {} - mail system is down",
                      cmd == "flush" ? "flush mail queue" : "wake the mail system");
    if (cmd == "wake") core::send_trigger(store.fifo("pickup"), "W");
    return 0;
  }
  return usage();
}

}  // namespace mta::tools
