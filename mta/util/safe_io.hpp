// NAME
//   util/safe_io - files that are either complete on disk or absent
// DESCRIPTION
//   The durable-write ladder used by the queue (after Postfix mail_stream.c and
//   chasquid safeio): write a temporary file in the target directory, fsync it,
//   rename it into place, fsync the directory. A crash at any instant leaves
//   either the old state or the new one, never a partial file under the final
//   name. All functions report errno through std::error_code; none throws.
// SEE ALSO
//   queue/queue_store.hpp
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>

namespace mta::util {

// Owns a file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

std::error_code errno_code(int e);
std::error_code last_errno();

// Write all bytes (retries on EINTR and short writes).
std::error_code write_all(int fd, std::string_view data);
// The same at a file offset (pwrite), which is left unchanged.
std::error_code pwrite_all(int fd, std::string_view data, long long offset);
std::error_code fsync_fd(int fd);
// fdatasync: the data and the metadata needed to read it back (the size),
// without timestamps; enough for a file that is then renamed into place.
std::error_code fdatasync_fd(int fd);
std::error_code fsync_dir(const std::string& dir);

// Group commit for one directory: when sync() returns without error, every
// rename into the directory that finished before sync() was called is on
// disk. Callers that arrive while an fsync runs share the next one, so N
// concurrent commits cost about two directory fsyncs, not N. The directory
// stays open between syncs; a stat() per fsync checks that the path still
// names it. Thread-safe; blocking.
class DirSync {
 public:
  explicit DirSync(std::string dir);
  ~DirSync();
  DirSync(const DirSync&) = delete;
  DirSync& operator=(const DirSync&) = delete;
  std::error_code sync();
  const std::string& dir() const { return dir_; }
  uint64_t fsyncs() const;  // directory fsyncs so far (statistics, tests)

 private:
  std::error_code fsync_now();  // without the lock

  std::string dir_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t requested_ = 0, done_ = 0, fsyncs_ = 0;
  bool running_ = false;
  std::error_code last_;
  int fd_ = -1;  // used only by the thread that runs the fsync
  unsigned long long dev_ = 0, ino_ = 0;  // of fd_
};
// Read a whole file. ENOENT etc. are returned as the error.
std::error_code read_file(const std::string& path, std::string& out);
// temp file in the same directory -> write -> fsync -> rename -> fsync directory.
std::error_code write_file_atomic(const std::string& path, std::string_view data, unsigned mode = 0644);
// mkdir -p with a mode for the directories it creates.
std::error_code make_dirs(const std::string& path, unsigned mode = 0755);
std::string dirname(const std::string& path);
std::string basename(const std::string& path);
bool exists(const std::string& path);

}  // namespace mta::util
