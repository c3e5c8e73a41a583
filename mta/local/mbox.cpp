#include "local/mbox.hpp"

#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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
int dot_lock(const std::string& path, const MboxOptions& o, std::string& why) {
  std::string lock = path + ".lock";
  int e = 0;
  for (int count = 1;; ++count) {
    int fd = ::open(lock.c_str(), O_WRONLY | O_EXCL | O_CREAT | O_CLOEXEC, 0);
    if (fd >= 0) {
      ::close(fd);
      return 0;
    }
    e = errno;
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
