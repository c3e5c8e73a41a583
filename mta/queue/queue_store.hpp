// NAME
//   queue/queue_store - Postfix's queue directories, ids and safe state changes
// DESCRIPTION
//   Under queue_directory, as Postfix lays it out:
//     maildrop/  local submissions (sendmail), taken by pickup
//     incoming/  complete messages from cleanup, not yet scheduled
//     active/    messages the queue manager is delivering
//     deferred/H/ messages waiting for their next attempt (H = first id char,
//                hash_queue_depth 1); the file's mtime is the next attempt
//     hold/      postsuper -h
//     corrupt/   files that are not queue files; never deleted silently
//     pid/       master.pid;  public/  the trigger FIFOs (qmgr, pickup)
//   Queue ids have Postfix's short form: five upper-case hex digits of the
//   creation time's microseconds followed by the file's inode number in
//   upper-case hex (15BED104017).
//
//   A new file is written under a temporary name starting with '.', fsynced,
//   renamed to its id and the directory fsynced (QueueWriter::commit): only
//   then is the message acknowledged. Every later state change is a rename.
//   Directory fsyncs go through one util::DirSync per queue, so commits that
//   run at the same time (sessions on the blocking pool) share them.
//
//   Reuse (the daemon, mxmta_queue_file_reuse_limit): a delivered file is not
//   unlinked but renamed to incoming/.reuse.OLDID (retire), and once that name
//   is durable (one directory fsync per batch, then an fdatasync of each file
//   while nobody waits for it) a new message is written over
//   it in place, padded with NULs to at least its old size, and committed
//   with one fdatasync: no block allocation, no new directory entry, so no
//   journal commit; then it is renamed to its id. At start-up
//   recover_reused() gives every .reuse file that holds a complete message
//   with a valid checksum and an id other than OLDID its id back, and removes
//   the rest (unused, or a write that never reached the 250).
// SEE ALSO
//   queue/queue_file.hpp, docs/queue-format.md
#pragma once
#include "util/safe_io.hpp"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace mta::queue {

enum class Q { maildrop, incoming, active, deferred, hold, corrupt };

std::string_view name(Q q);
std::optional<Q> q_from_name(std::string_view n);
// Postfix's short queue id.
std::string make_queue_id(long usec, unsigned long long inode);
bool looks_like_queue_id(std::string_view s);
// incoming/.reuse.OLDID: a delivered file kept for reuse (see above); it
// belongs to the daemon, whose start-up recovery sorts it out.
bool is_reuse_name(std::string_view file_name);

class QueueStore {
 public:
  explicit QueueStore(std::string queue_directory);

  const std::string& root() const { return root_; }
  // Creates the directories (and the FIFOs' directory) with Postfix's modes.
  std::error_code ensure_dirs() const;

  std::string dir(Q q) const;                     // maildrop -> ROOT/maildrop
  std::string dir_for(Q q, std::string_view id) const;  // deferred -> ROOT/deferred/H
  std::string path(Q q, std::string_view id) const;
  std::string pid_file() const { return root_ + "/pid/master.pid"; }
  std::string fifo(std::string_view service) const { return root_ + "/public/" + std::string(service); }

  // Rename a file between queues (and fsync the target directory when durable).
  std::error_code move(Q from, Q to, std::string_view id, bool durable = true) const;
  // Atomically replace a queue file's bytes in place (temp + fsync + rename).
  std::error_code replace(Q q, std::string_view id, std::string_view bytes) const;
  std::error_code remove(Q q, std::string_view id) const;
  // Ids in a queue (temporary files excluded), unsorted.
  std::vector<std::string> list(Q q) const;
  // Where a message is, searching in the order mailq lists queues.
  std::optional<Q> locate(std::string_view id) const;
  // Set a deferred file's mtime to its next attempt time.
  void set_mtime(Q q, std::string_view id, long long when) const;
  // fsync the directory of queue q (of `id` in a hashed queue) after a
  // rename into it; concurrent callers share fsyncs. Blocking.
  std::error_code sync_dir(Q q, std::string_view id = {}) const;

  // Keep up to `limit` delivered files of up to 64 KiB idle for reuse (0:
  // unlink them, the default). Shared by copies of this store.
  void enable_reuse(size_t limit) const;
  // A message is done with: keep its file for reuse (see above) or unlink it.
  // Blocking.
  std::error_code retire(Q q, std::string_view id) const;
  // Start-up, before any writer runs: the .reuse files of the last run. Each
  // line of `log` says what became of one. Blocking.
  void recover_reused(std::vector<std::string>& log) const;
  struct ReuseStats {
    size_t ready = 0, pending = 0;  // pending: waiting for the directory fsync
  };
  ReuseStats reuse_stats() const;

 private:
  friend class QueueWriter;
  struct Reusable {
    std::string old_id;
    util::UniqueFd fd;
    long long size = 0;
    unsigned long long ino = 0;
  };
  struct ReusePool;
  bool take_reusable(Reusable& out) const;
  void give_back(Reusable r) const;
  std::string reuse_path(std::string_view old_id) const;

  std::string root_;
  // One per queue (index: Q); shared by copies of this store.
  std::shared_ptr<std::array<std::unique_ptr<util::DirSync>, 6>> syncs_;
  std::shared_ptr<ReusePool> reuse_;
};

// An embryonic queue file. create() makes a temporary file in `q` and assigns
// the id; commit() makes it durable under its id.
class QueueWriter {
 public:
  QueueWriter() = default;
  QueueWriter(QueueWriter&&) noexcept;
  QueueWriter& operator=(QueueWriter&&) noexcept;
  ~QueueWriter();

  static std::error_code create(const QueueStore& store, Q q, QueueWriter& out);
  // Only a kept file of incoming/ (QueueStore::retire), never a new one:
  // false when none is ready. Taking one costs no system call but the id
  // check, so smtpd takes it early, while the client is still writing.
  static bool create_reused(const QueueStore& store, QueueWriter& out);
  const std::string& id() const { return id_; }
  bool is_open() const { return static_cast<bool>(fd_); }
  std::error_code write(std::string_view bytes);
  // commit() is sync() then publish(). Blocking (fsync).
  //   sync(): what the 250 waits for. A new file: fsync, rename to the id,
  //     fsync of the directory. A reused file: NUL padding and fdatasync;
  //     the message is then safe under incoming/.reuse.OLDID (recovery).
  //   publish(): a reused file's rename to its id, which need not be
  //     durable; nothing for a new file. Until it runs, discard() leaves a
  //     synced file alone.
  std::error_code commit();
  std::error_code sync();
  std::error_code publish();
  void discard();
  bool reused() const { return reused_; }

 private:
  const QueueStore* store_ = nullptr;
  Q q_ = Q::incoming;
  std::string id_;
  std::string tmp_;
  util::UniqueFd fd_;
  bool committed_ = false;
  bool mode_ok_ = false;  // created 0700 despite the umask: no fchmod at commit
  // A reused file (incoming/.reuse.OLDID): written with pwrite from offset 0.
  bool reused_ = false;
  std::string old_id_;
  long long capacity_ = 0, offset_ = 0;
  unsigned long long ino_ = 0;
};

}  // namespace mta::queue
