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
std::error_code fsync_fd(int fd);
// fdatasync: the data and the metadata needed to read it back (the size),
// without timestamps; enough for a file that is then renamed into place.
std::error_code fdatasync_fd(int fd);
std::error_code fsync_dir(const std::string& dir);
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
