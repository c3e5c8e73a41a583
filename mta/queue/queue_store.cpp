#include "queue/queue_store.hpp"

#include "queue/queue_file.hpp"
#include "util/clock.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace mta::queue {
namespace {

constexpr Q kAll[] = {Q::maildrop, Q::incoming, Q::active, Q::deferred, Q::hold, Q::corrupt};
constexpr const char* kHex = "0123456789ABCDEF";

bool hashed(Q q) { return q == Q::deferred; }

// The pid makes temporary names unique between processes (the daemon,
// sendmail). getpid() is a system call (glibc stopped caching it), so it is
// asked once per process; a child of fork() asks again.
std::atomic<pid_t> g_pid{0};
void forget_pid() { g_pid.store(0, std::memory_order_relaxed); }
pid_t my_pid() {
  pid_t p = g_pid.load(std::memory_order_relaxed);
  if (p == 0) {
    static const bool registered = (::pthread_atfork(nullptr, nullptr, forget_pid), true);
    (void)registered;
    p = ::getpid();
    g_pid.store(p, std::memory_order_relaxed);
  }
  return p;
}

constexpr std::string_view kReusePrefix = ".reuse.";
// Files kept for reuse are at most this big (a few messages of typical size;
// a 10 MB message's file is unlinked as before).
constexpr off_t kReuseMaxSize = 64 * 1024;

// rename(2) that does not replace an existing target.
int rename_noreplace(const char* from, const char* to) {
  return ::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

}  // namespace

struct QueueStore::ReusePool {
  std::mutex mu;
  size_t limit = 0;
  std::vector<Reusable> ready;    // name durable: may be written over
  std::vector<Reusable> pending;  // renamed, directory fsync still to come
  size_t batch() const { return std::max<size_t>(1, std::min<size_t>(16, limit / 4)); }
};

std::string_view name(Q q) {
  switch (q) {
    case Q::maildrop: return "maildrop";
    case Q::incoming: return "incoming";
    case Q::active: return "active";
    case Q::deferred: return "deferred";
    case Q::hold: return "hold";
    case Q::corrupt: return "corrupt";
  }
  return "?";
}

std::optional<Q> q_from_name(std::string_view n) {
  for (Q q : kAll)
    if (name(q) == n) return q;
  return std::nullopt;
}

std::string make_queue_id(long usec, unsigned long long inode) { return fmt::format("{:05X}{:X}", usec, inode); }

bool looks_like_queue_id(std::string_view s) {
  if (s.size() < 6 || s.size() > 24) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  return true;
}

QueueStore::QueueStore(std::string root)
    : root_(std::move(root)),
      syncs_(std::make_shared<std::array<std::unique_ptr<util::DirSync>, 6>>()),
      reuse_(std::make_shared<ReusePool>()) {
  for (Q q : kAll) (*syncs_)[static_cast<size_t>(q)] = std::make_unique<util::DirSync>(dir(q));
}

bool is_reuse_name(std::string_view n) { return n.substr(0, kReusePrefix.size()) == kReusePrefix; }

std::string QueueStore::reuse_path(std::string_view old_id) const {
  return dir(Q::incoming) + "/" + std::string(kReusePrefix) + std::string(old_id);
}

void QueueStore::enable_reuse(size_t limit) const {
  std::lock_guard lk(reuse_->mu);
  reuse_->limit = limit;
}

QueueStore::ReuseStats QueueStore::reuse_stats() const {
  std::lock_guard lk(reuse_->mu);
  return {reuse_->ready.size(), reuse_->pending.size()};
}

bool QueueStore::take_reusable(Reusable& out) const {
  std::lock_guard lk(reuse_->mu);
  if (reuse_->ready.empty()) return false;
  out = std::move(reuse_->ready.back());
  reuse_->ready.pop_back();
  return true;
}

void QueueStore::give_back(Reusable r) const {
  std::lock_guard lk(reuse_->mu);
  reuse_->ready.push_back(std::move(r));
}

std::error_code QueueStore::retire(Q q, std::string_view id) const {
  {
    std::lock_guard lk(reuse_->mu);
    if (reuse_->ready.size() + reuse_->pending.size() >= reuse_->limit) return remove(q, id);
  }
  std::string src = path(q, id), dst = reuse_path(id);
  Reusable r;
  r.fd = util::UniqueFd(::open(src.c_str(), O_RDWR | O_CLOEXEC));
  if (!r.fd) return util::last_errno();
  struct stat st;
  // A big file is not worth its disk space while it waits.
  if (::fstat(r.fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > kReuseMaxSize) return remove(q, id);
  // The name keeps the old id: a crash before the new message's write
  // reached the disk leaves a file whose id is OLDID, which recovery removes.
  if (rename_noreplace(src.c_str(), dst.c_str()) != 0) {
    if (errno == EEXIST) return remove(q, id);
    return util::last_errno();
  }
  r.old_id = std::string(id);
  r.size = static_cast<long long>(st.st_size);
  r.ino = static_cast<unsigned long long>(st.st_ino);
  std::vector<Reusable> batch;
  {
    std::lock_guard lk(reuse_->mu);
    reuse_->pending.push_back(std::move(r));
    if (reuse_->pending.size() >= reuse_->batch()) batch.swap(reuse_->pending);
  }
  if (batch.empty()) return {};
  // Only a durable name may be written over: one directory fsync for the
  // batch (shared with concurrent commits). If it fails the files are
  // dropped; recovery removes them at the next start.
  if (auto ec = sync_dir(Q::incoming)) return {};
  // And each file once, while nobody waits for it: after a rename, ext4
  // without a journal writes the parent directory again on the file's next
  // fsync (ext4_sync_parent), which would otherwise be the commit's.
  for (auto& b : batch) util::fdatasync_fd(b.fd.get());
  std::lock_guard lk(reuse_->mu);
  for (auto& b : batch) reuse_->ready.push_back(std::move(b));
  return {};
}

void QueueStore::recover_reused(std::vector<std::string>& log) const {
  std::string d = dir(Q::incoming);
  std::vector<std::string> names;
  if (DIR* dp = ::opendir(d.c_str())) {
    while (auto* de = ::readdir(dp)) {
      if (is_reuse_name(de->d_name)) names.emplace_back(de->d_name);
    }
    ::closedir(dp);
  }
  if (names.empty()) return;
  for (const auto& n : names) {
    std::string p = d + "/" + n, old_id = n.substr(kReusePrefix.size());
    core::Envelope env;
    auto r = read_queue_file(p, env, nullptr);
    // A committed message: complete, checksum verified (parse() checks it;
    // a file written before the checksum existed is never reused), and no
    // longer the message it was retired as.
    if (!r.ec && r.bad.empty() && env.id != old_id && looks_like_queue_id(env.id)) {
      std::string to = path(Q::incoming, env.id);
      if (rename_noreplace(p.c_str(), to.c_str()) == 0) {
        log.push_back(fmt::format("{}: recovered from incoming/{}", env.id, n));
        continue;
      }
      log.push_back(fmt::format("{}: cannot recover incoming/{}: {}", env.id, n, std::strerror(errno)));
      if (errno != EEXIST) continue;  // keep it for the next start
    }
    ::unlink(p.c_str());
  }
  sync_dir(Q::incoming);
}

std::error_code QueueStore::sync_dir(Q q, std::string_view id) const {
  if (hashed(q)) return util::fsync_dir(dir_for(q, id));
  return (*syncs_)[static_cast<size_t>(q)]->sync();
}

std::error_code QueueStore::ensure_dirs() const {
  if (auto ec = util::make_dirs(root_, 0755)) return ec;
  for (Q q : kAll) {
    // maildrop is writable by local submitters (Postfix: 1730 group postdrop).
    unsigned mode = q == Q::maildrop ? 01733 : 0700;
    std::string d = dir(q);
    if (::mkdir(d.c_str(), mode) != 0 && errno != EEXIST) return util::last_errno();
    if (q == Q::maildrop) ::chmod(d.c_str(), mode);
    if (hashed(q)) {
      for (int i = 0; i < 16; ++i) {
        std::string h = d + "/" + kHex[i];
        if (::mkdir(h.c_str(), 0700) != 0 && errno != EEXIST) return util::last_errno();
      }
    }
  }
  for (const char* extra : {"pid", "public"}) {
    std::string d = root_ + "/" + extra;
    if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) return util::last_errno();
  }
  return {};
}

std::string QueueStore::dir(Q q) const { return root_ + "/" + std::string(name(q)); }

std::string QueueStore::dir_for(Q q, std::string_view id) const {
  if (hashed(q) && !id.empty()) return dir(q) + "/" + static_cast<char>(std::toupper(static_cast<unsigned char>(id[0])));
  return dir(q);
}

std::string QueueStore::path(Q q, std::string_view id) const { return dir_for(q, id) + "/" + std::string(id); }

std::error_code QueueStore::move(Q from, Q to, std::string_view id, bool durable) const {
  std::string src = path(from, id), dst = path(to, id);
  if (::rename(src.c_str(), dst.c_str()) != 0) {
    if (errno == ENOENT && hashed(to)) {
      // Hash directory missing (created by an older layout): make it and retry.
      ::mkdir(dir_for(to, id).c_str(), 0700);
      if (::rename(src.c_str(), dst.c_str()) == 0) return durable ? sync_dir(to, id) : std::error_code{};
    }
    return util::last_errno();
  }
  return durable ? sync_dir(to, id) : std::error_code{};
}

std::error_code QueueStore::replace(Q q, std::string_view id, std::string_view bytes) const {
  return util::write_file_atomic(path(q, id), bytes, 0700);
}

std::error_code QueueStore::remove(Q q, std::string_view id) const {
  if (::unlink(path(q, id).c_str()) != 0) return util::last_errno();
  return {};
}

std::vector<std::string> QueueStore::list(Q q) const {
  std::vector<std::string> out;
  auto scan = [&](const std::string& d) {
    DIR* dp = ::opendir(d.c_str());
    if (!dp) return;
    while (auto* de = ::readdir(dp)) {
      if (de->d_name[0] == '.') continue;
      if (hashed(q) && d == dir(q)) continue;  // subdirectories handled below
      out.emplace_back(de->d_name);
    }
    ::closedir(dp);
  };
  if (hashed(q)) {
    for (int i = 0; i < 16; ++i) scan(dir(q) + "/" + kHex[i]);
    // Files put directly in deferred/ by hand are found too.
    DIR* dp = ::opendir(dir(q).c_str());
    if (dp) {
      while (auto* de = ::readdir(dp)) {
        if (de->d_name[0] == '.' || (de->d_name[1] == 0 && std::isxdigit(static_cast<unsigned char>(de->d_name[0]))))
          continue;
        if (de->d_type == DT_REG) out.emplace_back(de->d_name);
      }
      ::closedir(dp);
    }
  } else {
    scan(dir(q));
  }
  return out;
}

std::optional<Q> QueueStore::locate(std::string_view id) const {
  for (Q q : {Q::maildrop, Q::active, Q::incoming, Q::deferred, Q::hold, Q::corrupt})
    if (util::exists(path(q, id))) return q;
  return std::nullopt;
}

void QueueStore::set_mtime(Q q, std::string_view id, long long when) const {
  struct timespec ts[2];
  ts[0].tv_sec = static_cast<time_t>(when);
  ts[0].tv_nsec = 0;
  ts[1] = ts[0];
  ::utimensat(AT_FDCWD, path(q, id).c_str(), ts, 0);
}

QueueWriter::QueueWriter(QueueWriter&& o) noexcept { *this = std::move(o); }

QueueWriter& QueueWriter::operator=(QueueWriter&& o) noexcept {
  if (this != &o) {
    discard();
    store_ = o.store_;
    q_ = o.q_;
    id_ = std::move(o.id_);
    tmp_ = std::move(o.tmp_);
    fd_ = std::move(o.fd_);
    committed_ = o.committed_;
    mode_ok_ = o.mode_ok_;
    reused_ = o.reused_;
    old_id_ = std::move(o.old_id_);
    capacity_ = o.capacity_;
    offset_ = o.offset_;
    ino_ = o.ino_;
    o.store_ = nullptr;
    o.tmp_.clear();
    o.committed_ = true;
  }
  return *this;
}

QueueWriter::~QueueWriter() { discard(); }

// A queue id for the file with inode `ino`, never `avoid` (the id a reused
// file had before). The id must not name a message that is still queued
// (Postfix retries the same way when an id is taken: inode numbers are
// reused). Only the queues that hold messages for long are checked; the usec
// part makes a clash with a message passing through active/ or maildrop/ a
// one-in-a-million event.
static std::string pick_id(const QueueStore& store, Q q, unsigned long long ino, std::string_view avoid) {
  std::string id;
  for (int tries = 0; tries < 1000; ++tries) {
    util::Timestamp t = util::now();
    id = make_queue_id((t.usec + tries) % 1000000, ino);
    if (id != avoid && !util::exists(store.path(q, id)) && !util::exists(store.path(Q::deferred, id)) &&
        !util::exists(store.path(Q::hold, id)))
      break;
  }
  return id;
}

bool QueueWriter::create_reused(const QueueStore& store, QueueWriter& out) {
  out.discard();
  QueueStore::Reusable r;
  if (!store.take_reusable(r)) return false;
  out.store_ = &store;
  out.q_ = Q::incoming;
  out.id_ = pick_id(store, Q::incoming, r.ino, r.old_id);
  out.tmp_ = store.reuse_path(r.old_id);
  out.fd_ = std::move(r.fd);
  out.committed_ = false;
  out.mode_ok_ = true;
  out.reused_ = true;
  out.old_id_ = std::move(r.old_id);
  out.capacity_ = r.size;
  out.offset_ = 0;
  out.ino_ = r.ino;
  return true;
}

std::error_code QueueWriter::create(const QueueStore& store, Q q, QueueWriter& out) {
  static std::atomic<unsigned> counter{0};
  out.discard();
  if (q == Q::incoming && create_reused(store, out)) return {};
  std::string tmp = fmt::format("{}/.{}.{}.tmp", store.dir(q), my_pid(), counter++);
  // Created with the mode of a ready queue file (0700) unless the umask
  // takes bits away, so that commit() needs no fchmod(); the '.' name keeps
  // it out of every reader's sight until then.
  util::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700));
  if (!fd) return util::last_errno();
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    auto ec = util::last_errno();
    ::unlink(tmp.c_str());
    return ec;
  }
  out.mode_ok_ = (st.st_mode & 07777) == 0700;
  out.store_ = &store;
  out.q_ = q;
  out.id_ = pick_id(store, q, static_cast<unsigned long long>(st.st_ino), {});
  out.tmp_ = tmp;
  out.fd_ = std::move(fd);
  out.committed_ = false;
  out.reused_ = false;
  out.offset_ = 0;
  return {};
}

std::error_code QueueWriter::write(std::string_view bytes) {
  if (!fd_) return util::errno_code(EBADF);
  if (!reused_) return util::write_all(fd_.get(), bytes);
  if (auto ec = util::pwrite_all(fd_.get(), bytes, offset_)) return ec;
  offset_ += static_cast<long long>(bytes.size());
  return {};
}

std::error_code QueueWriter::commit() {
  if (auto ec = sync()) return ec;
  return publish();
}

std::error_code QueueWriter::publish() {
  if (!reused_ || !committed_ || tmp_.empty() || !store_) return {};
  // Not fsynced: until this rename reaches the disk, recovery finds the
  // message in incoming/.reuse.OLDID and renames it itself.
  std::string from = std::move(tmp_);
  tmp_.clear();
  if (::rename(from.c_str(), store_->path(q_, id_).c_str()) != 0) return util::last_errno();
  return {};
}

std::error_code QueueWriter::sync() {
  if (!fd_ || !store_) return util::errno_code(EBADF);
  if (reused_) {
    // NULs over the rest of the old message, up to its size or the next
    // 4 KiB: the file does not shrink (no truncate to make durable) and
    // grows by whole blocks, so the next reuse fits.
    long long end = std::max(capacity_, (offset_ + 4095) / 4096 * 4096);
    static const char zeros[4096] = {};
    for (long long at = offset_; at < end; at += sizeof zeros) {
      size_t len = static_cast<size_t>(std::min<long long>(end - at, sizeof zeros));
      if (auto ec = util::pwrite_all(fd_.get(), std::string_view(zeros, len), at)) return ec;
    }
    // Data only when the size is unchanged: the name is already durable.
    if (auto ec = util::fdatasync_fd(fd_.get())) return ec;
    fd_.reset();
    committed_ = true;  // tmp_ stays for publish()
    return {};
  }
  if (auto ec = util::fdatasync_fd(fd_.get())) return ec;
  if (!mode_ok_ && ::fchmod(fd_.get(), 0700) != 0) return util::last_errno();
  fd_.reset();
  std::string final_path = store_->path(q_, id_);
  if (::rename(tmp_.c_str(), final_path.c_str()) != 0) return util::last_errno();
  committed_ = true;
  tmp_.clear();
  // The rename is durable once the directory is: the 250 waits for this.
  return store_->sync_dir(q_, id_);
}

void QueueWriter::discard() {
  // Committed (or synced and waiting for publish()): nothing to undo.
  if (committed_) return;
  if (reused_ && !tmp_.empty() && store_) {
    if (offset_ == 0 && fd_) {
      // Never written to: still the old message under its old name.
      QueueStore::Reusable r;
      r.old_id = old_id_;
      r.fd = std::move(fd_);
      r.size = capacity_;
      r.ino = ino_;
      store_->give_back(std::move(r));
      tmp_.clear();
      committed_ = true;
      reused_ = false;
      return;
    }
    // Partly new: spoil the version record first, so that a crash before
    // the unlink reaches the disk cannot make recovery take it for a message.
    if (fd_) {
      static const char zeros[16] = {};
      [[maybe_unused]] auto n = ::pwrite(fd_.get(), zeros, sizeof zeros, 0);
    }
  }
  fd_.reset();
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
  tmp_.clear();
  committed_ = true;
  reused_ = false;
}

}  // namespace mta::queue
