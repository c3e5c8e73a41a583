#include "local/privs.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace mta::local {
namespace {

bool tolerable(int e) { return e == EINVAL || e == EPERM; }

void write_all_raw(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    off += static_cast<size_t>(n);
  }
}

}  // namespace

bool become_user(uid_t uid, gid_t gid) {
  if (::setgroups(1, &gid) != 0 && !tolerable(errno)) return false;
  if (::setgid(gid) != 0 && !tolerable(errno)) return false;
  if (::setuid(uid) != 0 && !tolerable(errno)) return false;
  return true;
}

Status run_as(uid_t uid, gid_t gid, const std::function<Status()>& fn) {
  if (::geteuid() != 0 || uid == ::geteuid()) return fn();
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Status::fail("4.3.0", "delivery process failed: cannot create pipe");
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(p[0]);
    ::close(p[1]);
    return Status::fail("4.3.0", "delivery process failed: cannot fork");
  }
  if (pid == 0) {
    ::close(p[0]);
    Status s = become_user(uid, gid) ? fn() : Status::fail("4.3.0", "cannot switch to the recipient's rights");
    std::string wire(1, s.kind);
    wire += s.dsn + '\n' + s.text;
    write_all_raw(p[1], wire);
    ::_exit(0);
  }
  ::close(p[1]);
  std::string got;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(p[0], buf, sizeof buf);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(p[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  auto nl = got.find('\n');
  if (got.size() < 2 || nl == std::string::npos) return Status::fail("4.3.0", "delivery process failed");
  Status s;
  s.kind = got[0];
  s.dsn = got.substr(1, nl - 1);
  s.text = got.substr(nl + 1);
  return s;
}

}  // namespace mta::local
