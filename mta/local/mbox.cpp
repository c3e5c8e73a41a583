#include "local/mbox.hpp"

#include "util/log.hpp"
#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fmt/core.h>

namespace mta::local {
namespace {

std::string errtext(int e) { return std::strerror(e); }

// Postfix safe_open_exist(): the file we opened must be the file the name
// names now, with one link, so that nobody lures us into appending to a file
// they linked or swapped in.
int open_existing(const std::string& path, util::UniqueFd& fd, struct stat& st, std::string& why) {
  fd.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) {
    int e = errno;
    why = "cannot open file: " + errtext(e);
    return e;
  }
  struct stat lst;
  if (::fstat(fd.get(), &st) != 0) {
    int e = errno;
    why = "cannot open file: " + errtext(e);
    return e;
  }
  if (st.st_nlink != 1) {
    why = fmt::format("file has {} hard links", static_cast<unsigned long>(st.st_nlink));
    return EPERM;
  }
  if (S_ISDIR(st.st_mode)) {
    why = "file is a directory";
    return EISDIR;
  }
  if (::lstat(path.c_str(), &lst) != 0) {
    why = "file status changed unexpectedly: " + errtext(errno);
    return EPERM;
  }
  if (S_ISLNK(lst.st_mode)) {
    if (lst.st_uid == 0) return 0;  // root's symlinks are trusted (Postfix: Solaris /dev)
    why = "file is a symbolic link";
    return EPERM;
  }
  if (st.st_dev != lst.st_dev || st.st_ino != lst.st_ino || st.st_nlink != lst.st_nlink ||
      st.st_mode != lst.st_mode) {
    why = "file status changed unexpectedly";
    return EPERM;
  }
  return 0;
}

int create_new(const std::string& path, const MboxOptions& o, util::UniqueFd& fd, struct stat& st,
               std::string& why) {
  // O_CREAT|O_EXCL does not follow a symbolic link planted under the name.
  fd.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0600));
  if (!fd) {
    int e = errno;
    why = "cannot create file exclusively: " + errtext(e);
    return e;
  }
  if (o.chown_uid != static_cast<uid_t>(-1) || o.chown_gid != static_cast<gid_t>(-1)) {
    // EPERM/EINVAL: not privileged, or a user namespace that maps one uid.
    // The mailbox then stays the running user's, and delivery goes on.
    (void)::fchown(fd.get(), o.chown_uid, o.chown_gid);
  }
  if (::fstat(fd.get(), &st) != 0) {
    int e = errno;
    why = "cannot create file exclusively: " + errtext(e);
    return e;
  }
  return 0;
}

int safe_open(const std::string& path, const MboxOptions& o, util::UniqueFd& fd, struct stat& st,
              std::string& why) {
  int e = open_existing(path, fd, st, why);
  if (e == ENOENT) {
    e = create_new(path, o, fd, st, why);
    if (e == EEXIST) e = open_existing(path, fd, st, why);  // lost a race with another creator
  }
  if (e) {
    fd.reset();
    return e;
  }
  // Opened non-blocking so that a FIFO without reader cannot hang us; write
  // blocking from here on.
  int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl >= 0) (void)::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
  return 0;
}

void sleep_seconds(int s) {
  if (s <= 0) return;
  struct timespec ts {
    s, 0
  };
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// Postfix dot_lockfile(): PATH.lock created with O_EXCL, a stale one removed.
// Unlike Postfix, the lock records "PID HOSTNAME [LENGTH]" (PID and host as
// liblockfile does), so a lock left by a process that no longer exists on this
// host - an mxmta killed in the middle of a delivery - is broken at once
// instead of blocking the mailbox for stale_lock_time (500 s). LENGTH is the
// mailbox size before the append began: whoever breaks the orphaned lock cuts
// the interrupted, unacknowledged delivery off again, which Postfix can only
// do when the write fails, not when the process is killed.
std::string dot_lock_owner(long long length = -1) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  std::string s = std::to_string(::getpid()) + " " + host;
  if (length >= 0) s += " " + std::to_string(length);
  return s + "\n";
}

// True when the lock's owner is a dead process of this host; `length` gets the
// mailbox size the owner recorded (-1: none).
bool dot_lock_is_orphan(const std::string& lock, long long& length) {
  length = -1;
  int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return false;
  char buf[300] = {0};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;  // empty: another program's lock
  std::string text(buf, static_cast<size_t>(n));
  if (!text.empty() && text.back() == '\n') text.pop_back();
  auto f = util::split_any(text, " ");
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  if (f.size() < 2 || f[1] != host) return false;  // another host's, or not ours
  long pid = std::atol(f[0].c_str());
  if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) return false;
  if (f.size() >= 3) length = std::atoll(f[2].c_str());
  return true;
}

void dot_lock_record_length(const std::string& lock, long long length) {
  int fd = ::open(lock.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  std::string owner = dot_lock_owner(length);  // longer than what is there: a full overwrite
  ssize_t w = ::pwrite(fd, owner.data(), owner.size(), 0);
  (void)w;
  ::close(fd);
}

// Deliveries run on several pool threads of one daemon, and the daemon is the
// only process that breaks orphaned locks (one daemon per queue). Taking a lock,
// or breaking an orphan and then taking the lock, is one critical section: no
// other thread may slip in between the break and the take, append, and then
// lose its message to the truncation that follows the break.
std::mutex g_dotlock_mu;

// One attempt: 0, or the errno of the failed link.
int dot_lock_once(const std::string& path, const std::string& lock) {
  static std::atomic<unsigned> seq{0};
  std::string tmp = lock + "." + std::to_string(::getpid()) + "." + std::to_string(seq++) + ".tmp";
  // The lock appears with its owner line or not at all: write a private file,
  // then link(2) it to the lock name (atomic, fails with EEXIST). A crash can
  // leave the private file behind, never an ownerless lock.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0);
  if (fd < 0) return errno;
  std::string owner = dot_lock_owner();
  bool wrote = ::write(fd, owner.data(), owner.size()) == static_cast<ssize_t>(owner.size());
  ::close(fd);
  int r = wrote ? ::link(tmp.c_str(), lock.c_str()) : -1;
  int e = wrote ? (r == 0 ? 0 : errno) : EIO;
  ::unlink(tmp.c_str());
  if (e != EEXIST) return e;
  long long recorded = -1;
  if (!dot_lock_is_orphan(lock, recorded)) return EEXIST;
  if (::unlink(lock.c_str()) != 0 && errno != ENOENT) return EEXIST;
  int again = dot_lock_once(path, lock);  // cannot recurse further: the orphan is gone
  if (again == 0 && recorded >= 0) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > recorded &&
        ::truncate(path.c_str(), static_cast<off_t>(recorded)) == 0)
      log::warn("local", "{}: removed {} bytes of a delivery interrupted by a crash", path,
                static_cast<long long>(st.st_size) - recorded);
  }
  return again;
}

int dot_lock(const std::string& path, const MboxOptions& o, std::string& why) {
  std::string lock = path + ".lock";
  int e = 0;
  for (int count = 1;; ++count) {
    {
      std::lock_guard lk(g_dotlock_mu);
      e = dot_lock_once(path, lock);
    }
    if (e == 0) return 0;
    if (count >= o.lock_attempts || e != EEXIST) break;
    struct stat st;
    if (::stat(lock.c_str(), &st) == 0 && ::time(nullptr) > st.st_ctime + o.stale_lock_time &&
        ::unlink(lock.c_str()) != 0 && errno != ENOENT)
      break;
    sleep_seconds(o.lock_delay);
  }
  why = "unable to create lock file " + lock + ": " + errtext(e);
  return e;
}

// One kernel lock, retried as Postfix deliver_flock() retries it. fcntl locks
// are taken as open-file-description locks: they conflict with POSIX locks of
// other programs (mail readers) and, unlike POSIX locks, also between the
// threads of this process.
int kernel_lock(int fd, unsigned method, const MboxOptions& o, std::string& why) {
  int e = 0;
  for (int count = 1;; ++count) {
    int r;
    if (method == lock_fcntl) {
      struct flock fl {};
      fl.l_type = F_WRLCK;
      fl.l_whence = SEEK_SET;
      r = ::fcntl(fd, F_OFD_SETLK, &fl);
    } else {
      r = ::flock(fd, LOCK_EX | LOCK_NB);
    }
    if (r == 0) return 0;
    e = errno;
    if (e == EACCES) e = EAGAIN;
    if (count >= o.lock_attempts || (e != EAGAIN && e != EINTR)) break;
    sleep_seconds(o.lock_delay);
  }
  why = "unable to lock for exclusive access: " + errtext(e);
  return e;
}

}  // namespace

std::error_code FileIo::write(int fd, std::string_view data) { return util::write_all(fd, data); }
std::error_code FileIo::fsync(int fd) { return util::fsync_fd(fd); }

FileIo& system_io() {
  static FileIo io;
  return io;
}

bool parse_lock_methods(std::string_view list, unsigned& out) {
  out = 0;
  for (const auto& m : util::split_list(list)) {
    if (m == "fcntl") out |= lock_fcntl;
    else if (m == "flock") out |= lock_flock;
    else if (m == "dotlock") out |= lock_dotlock;
    else return false;
  }
  return true;
}

Status mbox_append(const std::string& path, std::string_view bytes, const MboxOptions& o, FileIo& io) {
  util::UniqueFd fd;
  struct stat st;
  std::string why;
  if (int e = safe_open(path, o, fd, st, why)) return Status::fail(mbox_dsn(e, o.def_dsn), why);
  const bool reg = S_ISREG(st.st_mode);
  if (o.require_regular && !reg) return Status::fail(o.def_dsn, fmt::format("destination {} is not a regular file", path));
  // A mailbox someone else owns is not the recipient's; a file still owned by
  // the running user means chown was not possible (unprivileged) and is fine.
  if (reg && o.owner_must_be != static_cast<uid_t>(-1) && st.st_uid != o.owner_must_be && st.st_uid != ::geteuid())
    return Status::fail("4.2.0", fmt::format("destination {} is not owned by recipient", path));
  if (o.refuse_executable && (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH)))
    return Status::fail("5.3.0", "destination file is executable");

  bool dotlocked = false;
  if (reg && (o.locks & lock_dotlock)) {
    int e = dot_lock(path, o, why);
    if (e == 0) dotlocked = true;
    else if (e == EEXIST) return Status::fail(mbox_dsn(EAGAIN, o.def_dsn), why);
    else if (!o.dotlock_may_fail) return Status::fail(mbox_dsn(e, o.def_dsn), why);
  }
  // Released last: after the truncation below, as Postfix insists.
  struct DotUnlock {
    const std::string* p;
    bool on;
    ~DotUnlock() {
      if (on) ::unlink((*p + ".lock").c_str());
    }
  } unlock{&path, dotlocked};

  if (reg) {
    for (unsigned m : {lock_flock, lock_fcntl}) {
      if (!(o.locks & m)) continue;
      if (int e = kernel_lock(fd.get(), m, o, why)) return Status::fail(mbox_dsn(e, o.def_dsn), why);
    }
    // Someone (a POP daemon) replaced the mailbox while we waited for the lock.
    if (::fstat(fd.get(), &st) != 0 || st.st_nlink != 1)
      return Status::fail(mbox_dsn(EAGAIN, o.def_dsn), "target file status changed unexpectedly");
  }

  off_t orig = reg ? ::lseek(fd.get(), 0, SEEK_END) : 0;
  if (dotlocked && orig >= 0) dot_lock_record_length(path + ".lock", static_cast<long long>(orig));
  std::error_code ec;
  if (reg && orig < 0) ec = util::last_errno();
  else if (reg && o.size_limit > 0 && static_cast<long long>(orig) + static_cast<long long>(bytes.size()) > o.size_limit)
    ec = util::errno_code(EFBIG);
  if (!ec) ec = io.write(fd.get(), bytes);
  if (!ec && reg) ec = io.fsync(fd.get());
  if (ec) {
    if (reg && orig >= 0) (void)::ftruncate(fd.get(), orig);
    return Status::fail(mbox_dsn(ec.value(), "5.3.0"), "error writing message: " + errtext(ec.value()));
  }
  if (::close(fd.release()) != 0) {
    int e = errno;
    return Status::fail(mbox_dsn(e, "5.3.0"), "error writing message: " + errtext(e));
  }
  return {};
}

}  // namespace mta::local
