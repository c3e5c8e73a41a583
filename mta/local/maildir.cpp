#include "local/maildir.hpp"

#include "util/clock.hpp"
#include "util/safe_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fmt/core.h>

namespace mta::local {
namespace {

std::string errtext(int e) { return std::strerror(e); }

// mkdir -p with mode 0700, chowning each directory it creates.
int make_dirs_owned(const std::string& path, const MaildirOptions& o) {
  std::string cur;
  size_t i = 0;
  if (!path.empty() && path[0] == '/') {
    cur = "/";
    i = 1;
  }
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) {
      if (!cur.empty() && cur.back() != '/') cur += '/';
      cur += path.substr(i, j - i);
      if (::mkdir(cur.c_str(), 0700) == 0) {
        if (o.chown_uid != static_cast<uid_t>(-1) || o.chown_gid != static_cast<gid_t>(-1))
          (void)::chown(cur.c_str(), o.chown_uid, o.chown_gid);  // EPERM/EINVAL: keep ours
      } else if (errno != EEXIST) {
        return errno;
      }
    }
    i = j + 1;
  }
  return 0;
}

int make_maildir(const std::string& dir, const MaildirOptions& o) {
  for (const char* sub : {"tmp", "new", "cur"})
    if (int e = make_dirs_owned(dir + sub, o)) return e;
  return 0;
}

std::atomic<unsigned> g_seq{0};

}  // namespace

std::string maildir_hostname() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) std::strcpy(buf, "localhost");
  std::string out;
  for (const char* p = buf; *p; ++p) {
    if (*p == '/') out += "\\057";
    else if (*p == ':') out += "\\072";
    else out += *p;
  }
  return out;
}

Status maildir_deliver(const std::string& dir0, std::string_view bytes, const MaildirOptions& o, FileIo& io,
                       std::string* final_path) {
  std::string dir = dir0;
  if (dir.empty() || dir.back() != '/') dir += '/';
  const std::string tmpdir = dir + "tmp/", newdir = dir + "new/";
  util::Timestamp start = util::now();
  std::string tmpfile = fmt::format("{}{}.P{}Q{}.{}", tmpdir, start.sec, ::getpid(), g_seq++, o.hostname);

  auto open_tmp = [&] {
    return ::open(tmpfile.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  };
  util::UniqueFd fd(open_tmp());
  if (!fd && errno == ENOENT) {
    if (int e = make_maildir(dir, o)) {
      return Status::fail(mbox_dsn(e, "5.2.0"), fmt::format("create maildir file {}: {}", tmpfile, errtext(e)));
    }
    fd.reset(open_tmp());
  }
  if (!fd) {
    int e = errno;
    return Status::fail(mbox_dsn(e, "5.2.0"), fmt::format("create maildir file {}: {}", tmpfile, errtext(e)));
  }
  if (o.chown_uid != static_cast<uid_t>(-1) || o.chown_gid != static_cast<gid_t>(-1))
    (void)::fchown(fd.get(), o.chown_uid, o.chown_gid);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    int e = errno;
    ::unlink(tmpfile.c_str());
    return Status::fail(mbox_dsn(e, "5.2.0"), fmt::format("create maildir file {}: {}", tmpfile, errtext(e)));
  }
  std::string newfile = fmt::format("{}{}.V{:x}I{:x}M{}.{}", newdir, start.sec, static_cast<unsigned long>(st.st_dev),
                                    static_cast<unsigned long>(st.st_ino), start.usec, o.hostname);

  std::error_code ec;
  if (o.size_limit > 0 && static_cast<long long>(bytes.size()) > o.size_limit) ec = util::errno_code(EFBIG);
  if (!ec) ec = io.write(fd.get(), bytes);
  if (!ec) ec = io.fsync(fd.get());
  if (!ec && ::close(fd.release()) != 0) ec = util::last_errno();
  if (ec) {
    ::unlink(tmpfile.c_str());
    return Status::fail(mbox_dsn(ec.value(), "5.3.0"), "error writing message: " + errtext(ec.value()));
  }
  int r = ::rename(tmpfile.c_str(), newfile.c_str());
  if (r != 0 && errno == ENOENT && make_maildir(dir, o) == 0) r = ::rename(tmpfile.c_str(), newfile.c_str());
  if (r != 0) {
    int e = errno;
    ::unlink(tmpfile.c_str());
    return Status::fail(mbox_dsn(e, "5.2.0"), fmt::format("create maildir file {}: {}", newfile, errtext(e)));
  }
  // The message counts as delivered only once its name in new/ is durable.
  if (auto dec = util::fsync_dir(newdir.substr(0, newdir.size() - 1))) {
    ::unlink(newfile.c_str());  // not durable: take it back, the retry delivers it once
    return Status::fail(mbox_dsn(dec.value(), "4.3.0"),
                        fmt::format("create maildir file {}: {}", newfile, dec.message()));
  }
  if (final_path) *final_path = newfile;
  return {};
}

}  // namespace mta::local
