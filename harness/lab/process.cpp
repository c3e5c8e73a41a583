#include "lab/process.hpp"

#include "model/text.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/env.hpp>
#include <boost/process/environment.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>
#include <boost/process/io.hpp>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace mxlab::lab {

namespace bp = boost::process;

namespace {

// Runs in the forked child before exec: enter the host's namespaces. Only
// async-signal-safe calls here (the parent may have threads).
struct enter_namespaces : bp::extend::handler {
  NsFds ns;
  explicit enter_namespaces(NsFds n) : ns(n) {}
  template <class Executor>
  void on_exec_setup(Executor&) const {
    auto die = [](const char* what) {
      const char* e = strerror(errno);
      (void)!::write(2, "mxlab: ", 7);
      (void)!::write(2, what, strlen(what));
      (void)!::write(2, ": ", 2);
      (void)!::write(2, e, strlen(e));
      (void)!::write(2, "\n", 1);
      ::_exit(127);
    };
    if (ns.uts >= 0 && ::setns(ns.uts, CLONE_NEWUTS) != 0) die("setns uts");
    if (ns.net >= 0 && ::setns(ns.net, CLONE_NEWNET) != 0) die("setns net");
    if (ns.mnt >= 0 && ::setns(ns.mnt, CLONE_NEWNS) != 0) die("setns mnt");
    if (::chdir("/") != 0) die("chdir /");
    // The harness blocks no signals, but a parent's ignored SIGPIPE would
    // be inherited; daemons expect the default.
    ::signal(SIGPIPE, SIG_DFL);
  }
};

int shell_status(int native) {
  if (WIFEXITED(native)) return WEXITSTATUS(native);
  if (WIFSIGNALED(native)) return 128 + WTERMSIG(native);
  return -1;
}

}  // namespace

struct Process::Impl {
  bp::child child;
  std::optional<int> status;
};

Process::Process() : impl_(std::make_unique<Impl>()) {}

Process::~Process() {
  if (impl_ && impl_->child.valid() && !impl_->status) {
    std::error_code ec;
    if (impl_->child.running(ec)) stop(2000);
    else impl_->child.wait(ec);
  }
}

pid_t Process::pid() const { return impl_->child.id(); }

bool Process::running() {
  if (impl_->status) return false;
  std::error_code ec;
  bool r = impl_->child.running(ec);
  if (!r) impl_->status = ec ? -1 : shell_status(impl_->child.native_exit_code());
  return r;
}

std::optional<int> Process::status() {
  running();
  return impl_->status;
}

std::optional<int> Process::wait_for(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int sleep_ms = 2;
  for (;;) {
    if (!running()) return impl_->status;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
    sleep_ms = std::min(sleep_ms * 2, 50);
  }
}

void Process::signal(int sig) {
  if (running()) ::kill(pid(), sig);
}

int Process::stop(int grace_ms) {
  signal(SIGTERM);
  if (auto s = wait_for(grace_ms)) return *s;
  signal(SIGKILL);
  auto s = wait_for(5000);
  return s ? *s : -1;
}

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : std::string();
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    auto colon = p.find(':', start);
    std::string dir = p.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (dir.empty()) dir = ".";
    std::string cand = dir + "/" + name;
    struct stat st {};
    if (::stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(cand.c_str(), X_OK) == 0) return cand;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return {};
}

Env base_env(const Env& extra) {
  Env e{{"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
        {"HOME", "/root"},
        {"LANG", "C"},
        {"TZ", "UTC"}};
  for (const auto& [k, v] : extra) e[k] = v;
  return e;
}

std::unique_ptr<Process> spawn(const std::vector<std::string>& argv, const Env& env, const NsFds& ns,
                               const std::string& stdin_path, const std::string& stdout_path,
                               const std::string& stderr_path) {
  if (argv.empty()) throw std::runtime_error("spawn: empty command");
  std::string exe = find_program(argv[0]);
  if (exe.empty()) throw std::runtime_error(argv[0] + ": program not found");
  bp::environment benv;
  for (const auto& [k, v] : env) benv[k] = v;
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  // Output files are opened for append so that restarts keep one log.
  auto open_out = [](const std::string& p) {
    int fd = ::open(p.empty() ? "/dev/null" : p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error(p + ": " + std::strerror(errno));
    return fd;
  };
  int in = ::open(stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw std::runtime_error(stdin_path + ": " + std::strerror(errno));
  int out = -1, err = -1;
  try {
    out = open_out(stdout_path);
    err = open_out(stderr_path);
  } catch (...) {
    ::close(in);
    if (out >= 0) ::close(out);
    throw;
  }
  auto p = std::unique_ptr<Process>(new Process());
  std::error_code ec;
  // FILE* redirection: Boost.Process dup2()s these fds in the child.
  FILE* fin = ::fdopen(in, "r");
  FILE* fout = ::fdopen(out, "a");
  FILE* ferr = ::fdopen(err, "a");
  p->impl_->child = bp::child(bp::exe = exe, bp::args = args, bp::env = benv, bp::std_in<fin, bp::std_out> fout,
                              bp::std_err > ferr, enter_namespaces(ns), ec);
  ::fclose(fin);
  ::fclose(fout);
  ::fclose(ferr);
  if (ec) throw std::runtime_error(argv[0] + ": cannot start: " + ec.message());
  return p;
}

RunResult run(const std::vector<std::string>& argv, const Env& env, const NsFds& ns, const std::string& input,
              int timeout_ms, const std::string& scratch_dir) {
  static std::atomic<int> counter{0};
  std::string base = scratch_dir + "/cmd." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  RunResult r;
  r.command = model::join(argv, " ");
  model::write_file(base + ".in", input, 0600);
  ::unlink((base + ".out").c_str());
  ::unlink((base + ".err").c_str());
  {
    auto p = spawn(argv, env, ns, base + ".in", base + ".out", base + ".err");
    auto s = p->wait_for(timeout_ms);
    if (!s) {
      r.timed_out = true;
      p->signal(SIGKILL);
      p->wait_for(5000);
      r.status = -1;
    } else {
      r.status = *s;
    }
  }
  auto slurp = [](const std::string& f) {
    try {
      return model::read_file(f);
    } catch (...) {
      return std::string();
    }
  };
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  ::unlink((base + ".in").c_str());
  ::unlink((base + ".out").c_str());
  ::unlink((base + ".err").c_str());
  return r;
}

std::optional<SystemUser> system_user(const std::string& name) {
  const passwd* pw = ::getpwnam(name.c_str());
  if (!pw) return std::nullopt;
  SystemUser u;
  u.passwd_line = name + ":x:" + std::to_string(pw->pw_uid) + ":" + std::to_string(pw->pw_gid) + ":" +
                  (pw->pw_gecos ? pw->pw_gecos : "") + ":" + (pw->pw_dir ? pw->pw_dir : "/nonexistent") + ":" +
                  "/usr/sbin/nologin";
  if (const group* gr = ::getgrgid(pw->pw_gid)) {
    u.group_name = gr->gr_name;
    u.group_line = u.group_name + ":x:" + std::to_string(gr->gr_gid) + ":";
  }
  return u;
}

std::string system_group(const std::string& name) {
  const group* gr = ::getgrnam(name.c_str());
  if (!gr) return {};
  return name + ":x:" + std::to_string(gr->gr_gid) + ":";
}

}  // namespace mxlab::lab
