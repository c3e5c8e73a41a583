#include "util/safe_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>

namespace mta::util {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::error_code errno_code(int e) { return {e, std::generic_category()}; }
std::error_code last_errno() { return errno_code(errno); }

std::error_code write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_errno();
    }
    s.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

std::error_code pwrite_all(int fd, std::string_view s, long long offset) {
  while (!s.empty()) {
    ssize_t n = ::pwrite(fd, s.data(), s.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_errno();
    }
    s.remove_prefix(static_cast<size_t>(n));
    offset += n;
  }
  return {};
}

std::error_code fsync_fd(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return last_errno();
  }
  return {};
}

std::error_code fdatasync_fd(int fd) {
  while (::fdatasync(fd) != 0) {
    if (errno != EINTR) return last_errno();
  }
  return {};
}

std::error_code fsync_dir(const std::string& dir) {
  UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d) return last_errno();
  return fsync_fd(d.get());
}

DirSync::DirSync(std::string dir) : dir_(std::move(dir)) {}

DirSync::~DirSync() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t DirSync::fsyncs() const {
  std::lock_guard lk(mu_);
  return fsyncs_;
}

std::error_code DirSync::fsync_now() {
  // The open directory must still be the one at dir_ (a stat() is cheaper
  // than opening and closing it each time): one that was removed or
  // replaced is opened again, or its absence reported.
  struct stat st;
  if (::stat(dir_.c_str(), &st) != 0) {
    auto ec = last_errno();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return ec;
  }
  if (fd_ >= 0 && (st.st_dev != dev_ || st.st_ino != ino_)) {
    ::close(fd_);
    fd_ = -1;
  }
  if (fd_ < 0) {
    fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) return last_errno();
    struct stat fs;
    if (::fstat(fd_, &fs) != 0) {
      auto ec = last_errno();
      ::close(fd_);
      fd_ = -1;
      return ec;
    }
    dev_ = fs.st_dev;
    ino_ = fs.st_ino;
  }
  std::error_code ec = fsync_fd(fd_);
  if (ec) {
    // Start afresh next time (the directory may have gone away).
    ::close(fd_);
    fd_ = -1;
  }
  return ec;
}

// Tickets: a caller's rename happened before it took ticket t; an fsync that
// starts when `requested_` is c covers every ticket up to c. A caller waits
// until an fsync that covers its ticket has finished, starting one itself
// when none is running. The result is that of the latest finished fsync,
// which covers the caller too (a later success makes an earlier failure
// harmless; a later failure is reported, to be safe).
std::error_code DirSync::sync() {
  std::unique_lock lk(mu_);
  const uint64_t ticket = ++requested_;
  while (done_ < ticket) {
    if (running_) {
      cv_.wait(lk);
      continue;
    }
    running_ = true;
    const uint64_t covers = requested_;
    lk.unlock();
    std::error_code ec = fsync_now();
    lk.lock();
    running_ = false;
    ++fsyncs_;
    done_ = covers;
    last_ = ec;
    cv_.notify_all();
  }
  return last_;
}

std::error_code read_file(const std::string& path, std::string& out) {
  UniqueFd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!f) return last_errno();
  out.clear();
  struct stat st;
  const bool regular = ::fstat(f.get(), &st) == 0 && S_ISREG(st.st_mode);
  if (regular && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(f.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_errno();
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    // A regular file returns less than asked only at its end: no read()
    // just to see 0 (pipes and /proc files are read until 0).
    if (regular && static_cast<size_t>(n) < sizeof buf) break;
  }
  return {};
}

std::string dirname(const std::string& path) {
  auto p = path.rfind('/');
  if (p == std::string::npos) return ".";
  if (p == 0) return "/";
  return path.substr(0, p);
}

std::string basename(const std::string& path) {
  auto p = path.rfind('/');
  return p == std::string::npos ? path : path.substr(p + 1);
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::error_code write_file_atomic(const std::string& path, std::string_view data, unsigned mode) {
  static std::atomic<unsigned> counter{0};
  std::string dir = dirname(path);
  std::string tmp = dir + "/." + basename(path) + ".tmp." + std::to_string(::getpid()) + "." +
                    std::to_string(counter++);
  UniqueFd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!f) return last_errno();
  std::error_code ec = write_all(f.get(), data);
  if (!ec) ec = fsync_fd(f.get());
  if (!ec && ::fchmod(f.get(), mode) != 0) ec = last_errno();
  f.reset();
  if (!ec && ::rename(tmp.c_str(), path.c_str()) != 0) ec = last_errno();
  if (ec) {
    ::unlink(tmp.c_str());
    return ec;
  }
  return fsync_dir(dir);
}

std::error_code make_dirs(const std::string& path, unsigned mode) {
  if (path.empty()) return {};
  std::string cur;
  size_t i = 0;
  if (path[0] == '/') {
    cur = "/";
    i = 1;
  }
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) {
      if (!cur.empty() && cur.back() != '/') cur += '/';
      cur += path.substr(i, j - i);
      if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return last_errno();
    }
    i = j + 1;
  }
  return {};
}

}  // namespace mta::util
