#include "local/command.hpp"

#include "local/privs.hpp"
#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fmt/core.h>

extern char** environ;

namespace mta::local {
namespace {

constexpr size_t kLogLimit = 4096;  // Postfix keeps one VSTREAM buffer of output
constexpr const char* kDefPath = "/usr/bin:/bin";  // _PATH_DEFPATH

struct SysExit {
  int code;
  const char* dsn;
  const char* text;
};
constexpr SysExit kSysExits[] = {
    {64, "5.3.0", "command line usage error"}, {65, "5.6.0", "data format error"},
    {66, "5.3.0", "cannot open input"},        {67, "5.1.1", "user unknown"},
    {68, "5.1.2", "host name unknown"},        {69, "5.3.0", "service unavailable"},
    {70, "5.3.0", "internal software error"},  {71, "4.3.0", "system resource problem"},
    {72, "5.3.0", "critical OS file missing"}, {73, "5.2.0", "can't create user output file"},
    {74, "5.3.0", "input/output error"},       {75, "4.3.0", "temporary failure"},
    {76, "5.5.0", "remote error in protocol"}, {77, "5.7.0", "permission denied"},
    {78, "5.3.5", "local configuration error"},
};

// Writing into a pipe whose reader has gone raises SIGPIPE, which would kill
// the daemon. SIGPIPE from write() is sent to the writing thread, so blocking
// it here and consuming what is pending afterwards keeps it away from the
// rest of the process.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &s, &old_) == 0;
  }
  ~SigpipeGuard() {
    if (!blocked_) return;
    if (!was_pending_) {
      sigset_t s;
      sigemptyset(&s);
      sigaddset(&s, SIGPIPE);
      struct timespec zero {};
      while (sigtimedwait(&s, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_;
  bool blocked_ = false;
  bool was_pending_ = false;
};

// "D.S.N text" at the start of the output (pipe_command's dsn_valid()).
bool leading_dsn(std::string_view s, std::string& dsn, std::string& text) {
  size_t i = 0;
  auto digits = [&](size_t maxlen) {
    size_t b = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && i - b < maxlen) ++i;
    return i > b;
  };
  if (s.empty() || (s[0] != '2' && s[0] != '4' && s[0] != '5')) return false;
  i = 1;
  if (i >= s.size() || s[i++] != '.' || !digits(3) || i >= s.size() || s[i++] != '.' || !digits(3)) return false;
  if (i < s.size() && s[i] != ' ') return false;
  dsn = std::string(s.substr(0, i));
  text = std::string(util::trim(s.substr(i)));
  return true;
}

std::string clean_output(std::string out) {
  for (char& c : out) {
    if (c == '\t' || c == '\n') c = ' ';
    else if (!std::isprint(static_cast<unsigned char>(c))) c = '_';
  }
  return out;
}

using Clock = std::chrono::steady_clock;

int ms_left(Clock::time_point deadline) {
  auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (d <= 0) return 0;
  return d > 1000 ? 1000 : static_cast<int>(d);
}

}  // namespace

std::pair<std::string, std::string> sys_exits_detail(int code) {
  for (const auto& e : kSysExits)
    if (e.code == code) return {e.dsn, e.text};
  return {"5.3.0", fmt::format("unknown mail system error {}", code)};
}

Status run_command(const CommandSpec& spec, std::string_view input) {
  // Everything the child needs is built before fork(): after fork() in a
  // threaded process the child should only make system calls.
  std::vector<std::string> args;
  if (!util::trim(spec.shell).empty()) {
    args = util::split_any(spec.shell, " \t\r\n");
    args.push_back(spec.command);
  } else {
    args = {"/bin/sh", "-c", spec.command};
  }
  std::vector<std::string> envs;
  for (const auto& name : spec.export_names) {
    std::string n = name;
    if (auto eq = n.find('='); eq != std::string::npos) n = n.substr(0, eq);
    if (n == "PATH") continue;
    if (const char* v = std::getenv(n.c_str())) envs.push_back(n + "=" + v);
  }
  envs.push_back(std::string("PATH=") + kDefPath);
  for (const auto& [k, v] : spec.env) {
    std::erase_if(envs, [&](const std::string& e) { return e.compare(0, k.size() + 1, k + "=") == 0; });
    envs.push_back(k + "=" + v);
  }
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string cwd_msg = fmt::format("cannot change directory to \"{}\" for uid={} gid={}\n", spec.cwd,
                                    static_cast<long>(spec.uid), static_cast<long>(spec.gid));
  std::string exec_msg = fmt::format("execvp {}: ", args[0]);
  const bool switch_user = ::geteuid() == 0 && spec.uid != static_cast<uid_t>(-1);

  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return Status::fail("4.3.0", fmt::format("Delivery failed: {}", std::strerror(errno)));
  if (::pipe2(out, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(in[0]);
    ::close(in[1]);
    return Status::fail("4.3.0", fmt::format("Delivery failed: {}", std::strerror(e)));
  }
  util::UniqueFd in_w(in[1]), out_r(out[0]);
  SigpipeGuard sigpipe;

  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(in[0]);
    ::close(out[1]);
    return Status::fail("4.3.0", fmt::format("Delivery failed: {}", std::strerror(e)));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) ::signal(sig, SIG_DFL);
    ::setsid();
    if (switch_user && !become_user(spec.uid, spec.gid)) ::_exit(75);
    if (::dup2(in[0], 0) < 0 || ::dup2(out[1], 1) < 0 || ::dup2(out[1], 2) < 0) ::_exit(75);
    // Descriptors another thread opened without O_CLOEXEC (a socket, a queue
    // file) are not the command's business.
    (void)::close_range(3, ~0U, 0);
    if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) {
      (void)!::write(2, cwd_msg.data(), cwd_msg.size());
      ::_exit(75);
    }
    ::execve(argv[0], argv.data(), envp.data());
    if (errno == ENOENT && std::strchr(argv[0], '/') == nullptr) {
      // A bare shell name ("smrsh -c"): search the default path.
      environ = envp.data();
      ::execvp(argv[0], argv.data());
    }
    const char* err = std::strerror(errno);
    (void)!::write(2, exec_msg.data(), exec_msg.size());
    (void)!::write(2, err, std::strlen(err));
    ::_exit(75);
  }
  ::close(in[0]);
  ::close(out[1]);

  // Feed the message and collect the output together, so that a command that
  // writes a lot before it reads cannot deadlock us.
  const auto deadline = Clock::now() + std::chrono::seconds(spec.time_limit > 0 ? spec.time_limit : 1);
  std::string log;
  size_t off = 0;
  bool timed_out = false;
  int write_errno = 0;
  (void)::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  if (input.empty()) in_w.reset();
  while (in_w || out_r) {
    if (Clock::now() >= deadline) {
      timed_out = true;
      break;
    }
    struct pollfd p[2];
    int n = 0, iw = -1, ir = -1;
    if (in_w) {
      iw = n;
      p[n++] = {in_w.get(), POLLOUT, 0};
    }
    if (out_r) {
      ir = n;
      p[n++] = {out_r.get(), POLLIN, 0};
    }
    int r = ::poll(p, static_cast<nfds_t>(n), ms_left(deadline));
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    if (iw >= 0 && p[iw].revents) {
      ssize_t w = ::write(in_w.get(), input.data() + off, input.size() - off);
      if (w > 0) {
        off += static_cast<size_t>(w);
        if (off == input.size()) in_w.reset();
      } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
        // EPIPE: the command stopped reading; that is its business.
        if (errno != EPIPE) write_errno = errno;
        in_w.reset();
      }
    }
    if (ir >= 0 && p[ir].revents) {
      char buf[4096];
      ssize_t rd = ::read(out_r.get(), buf, sizeof buf);
      if (rd > 0) {
        if (log.size() < kLogLimit) log.append(buf, std::min(static_cast<size_t>(rd), kLogLimit - log.size()));
      } else if (rd == 0 || (errno != EAGAIN && errno != EINTR)) {
        out_r.reset();
      }
    }
  }
  in_w.reset();
  out_r.reset();

  // Kill the command's whole session (it may have children holding the
  // pipes) before collecting its status; the session id is its pid.
  auto kill_session = [pid] {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  };
  if (timed_out) kill_session();
  int status = 0;
  for (;;) {
    pid_t w = ::waitpid(pid, &status, timed_out ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (w == 0 && Clock::now() >= deadline) {
      timed_out = true;
      kill_session();
      continue;
    }
    struct timespec ts {
      0, 10 * 1000 * 1000
    };
    ::nanosleep(&ts, nullptr);
  }

  log = clean_output(std::move(log));
  std::string with_output = log.empty() ? std::string() : ". Command output: " + log;
  if (timed_out)
    return Status::fail("5.3.0", fmt::format("Command time limit exceeded: \"{}\"{}", spec.command, with_output));
  if (WIFSIGNALED(status))
    return Status::fail("4.3.0",
                        fmt::format("Command died with signal {}: \"{}\"{}", WTERMSIG(status), spec.command, with_output));
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
  if (code != 0) {
    std::string dsn, text;
    if (leading_dsn(log, dsn, text)) return Status::fail(dsn, text.empty() ? log : text);
    if (code >= 64 && code <= 78) {
      auto [d, t] = sys_exits_detail(code);
      return Status::fail(d, t + with_output);
    }
    return Status::fail("5.3.0", fmt::format("Command died with status {}: \"{}\"{}", code, spec.command, with_output));
  }
  if (write_errno)
    return Status::fail("5.3.0", fmt::format("Command failed: {}: \"{}\"", std::strerror(write_errno), spec.command));
  return {};
}

}  // namespace mta::local
