#include "lab/sandbox.hpp"

#include "model/text.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace mxlab::lab {

namespace {

const bool g_root = ::geteuid() == 0;
const unsigned long g_initial_netns = [] {
  struct stat st {};
  return ::stat("/proc/self/ns/net", &st) == 0 ? static_cast<unsigned long>(st.st_ino) : 0UL;
}();

constexpr int kMaxSupervisors = 256;
std::atomic<pid_t> g_supervisors[kMaxSupervisors];

void track(pid_t p, bool add) {
  for (auto& s : g_supervisors) {
    pid_t expected = add ? 0 : p;
    if (s.compare_exchange_strong(expected, add ? p : 0)) return;
  }
}

bool write_all(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

[[noreturn]] void supervisor_fail(const std::string& run_dir, const std::string& what) {
  std::string msg = what + ": " + std::strerror(errno) + "\n";
  int fd = ::open((run_dir + "/supervisor.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)!::write(fd, msg.data(), msg.size());
    ::close(fd);
  }
  (void)!::write(2, msg.data(), msg.size());
  ::_exit(kNoNamespaces);
}

int wait_status(pid_t pid) {
  int st = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &st, 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return -1;
  }
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return -1;
}

// The supervisor: becomes the owner of the topology's namespaces.
[[noreturn]] void supervisor(const std::function<int()>& body, const std::string& run_dir, uid_t uid, gid_t gid,
                             int pid1_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (!g_root) {
    if (::unshare(CLONE_NEWUSER) != 0) supervisor_fail(run_dir, "unshare(CLONE_NEWUSER)");
    // Writing setgroups=deny first is what an unprivileged process must do
    // before it may write gid_map (user_namespaces(7)).
    write_all("/proc/self/setgroups", "deny");
    if (!write_all("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n"))
      supervisor_fail(run_dir, "writing /proc/self/uid_map");
    if (!write_all("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n"))
      supervisor_fail(run_dir, "writing /proc/self/gid_map");
  }
  if (::unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID) != 0)
    supervisor_fail(run_dir, "unshare(CLONE_NEWNET|CLONE_NEWNS|CLONE_NEWPID)");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) supervisor_fail(run_dir, "making / private");
  pid_t pid1 = ::fork();
  if (pid1 < 0) supervisor_fail(run_dir, "fork");
  if (pid1 == 0) {
    ::close(pid1_fd);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
      supervisor_fail(run_dir, "mounting /proc for the topology's PID namespace");
    if (::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
      supervisor_fail(run_dir, "mounting a private /dev/shm");
    // PID 1 ignores signals it has no handler for; default handlers for
    // TERM/INT make a stray signal end the run instead of being lost.
    int code = 1;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::string msg = std::string("mxlab: topology: ") + e.what() + "\n";
      (void)!::write(2, msg.data(), msg.size());
      code = 70;
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
  // The harness waits for the namespace's PID 1 too: killed with the
  // supervisor, it is still taking the namespace's processes down.
  (void)!::write(pid1_fd, &pid1, sizeof pid1);
  ::close(pid1_fd);
  int st = wait_status(pid1);
  ::_exit(st < 0 ? 70 : st);
}

}  // namespace

bool started_as_root() { return g_root; }
unsigned long initial_netns() { return g_initial_netns; }
unsigned long current_netns() {
  struct stat st {};
  return ::stat("/proc/thread-self/ns/net", &st) == 0 ? static_cast<unsigned long>(st.st_ino) : 0UL;
}

void kill_supervisors() {
  for (auto& s : g_supervisors) {
    pid_t p = s.load();
    if (p > 0) ::kill(p, SIGKILL);
  }
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  // Overlay work dirs are created mode 000; make everything writable first.
  for (auto it = std::filesystem::recursive_directory_iterator(
           path, std::filesystem::directory_options::skip_permission_denied, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) ::chmod(it->path().c_str(), 0700);
  }
  ::chmod(path.c_str(), 0700);
  std::filesystem::remove_all(path, ec);
}

int run_supervised(const std::function<int()>& body, const std::string& run_dir, bool keep,
                   std::string* supervisor_error) {
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  std::fflush(nullptr);
  int pfd[2];
  if (::pipe2(pfd, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  pid_t sup = ::fork();
  if (sup < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (sup == 0) {
    ::close(pfd[0]);
    supervisor(body, run_dir, uid, gid, pfd[1]);
  }
  ::close(pfd[1]);
  track(sup, true);
  int st = wait_status(sup);
  track(sup, false);
  // When PID 1 of a PID namespace ends, the kernel kills the namespace's
  // other processes and PID 1 is gone only once they are. If the supervisor
  // was killed, that may still be under way: wait for it (bounded), so that
  // nothing of the topology outlives this call.
  pid_t pid1 = 0;
  if (::read(pfd[0], &pid1, sizeof pid1) == static_cast<ssize_t>(sizeof pid1) && pid1 > 0) {
    for (int i = 0; i < 500; ++i) {
      std::string stat;
      try {
        stat = model::read_file("/proc/" + std::to_string(pid1) + "/stat");
      } catch (...) {
        break;  // gone
      }
      auto rp = stat.rfind(')');
      if (rp == std::string::npos || rp + 2 >= stat.size() || stat[rp + 2] == 'Z') break;
      ::usleep(10000);
    }
  }
  ::close(pfd[0]);
  if (supervisor_error) {
    try {
      *supervisor_error = std::string(model::trim(model::read_file(run_dir + "/supervisor.err")));
    } catch (...) {
      supervisor_error->clear();
    }
  }
  if (!keep) remove_tree(run_dir);
  return st;
}

}  // namespace mxlab::lab
