// NAME
//   local/mbox - append one message to a UNIX mailbox or a /file destination
// SYNOPSIS
//   local::MboxOptions o;  o.locks = local::lock_fcntl | local::lock_dotlock;
//   local::Status s = local::mbox_append("/var/mail/alice", bytes, o, local::system_io());
// DESCRIPTION
//   After Postfix's mbox_open.c, safe_open.c and mail_copy.c:
//     - open safely: an existing file must have exactly one hard link, must not
//       be a directory and must be the file lstat() sees (a symbolic link is
//       accepted only when root owns it); a missing file is created with
//       O_CREAT|O_EXCL, mode 0600, and chowned to chown_uid/chown_gid when
//       given (EPERM/EINVAL from chown are tolerated: unprivileged, or a user
//       namespace with one uid mapped, keeps the running user's ownership);
//     - lock a regular file: PATH.lock dot-lock first (stale after
//       stale_lock_time), then fcntl() and/or flock(); each is tried
//       lock_attempts times, lock_delay seconds apart;
//     - append, fsync, and on any failure ftruncate() back to the original
//       length before the locks are released;
//     - a file may not grow beyond size_limit (mailbox_size_limit): the write
//       fails with EFBIG, as Postfix's file size limit makes it fail.
//   Non-regular files (/dev/null, a FIFO) are written without locks, fsync or
//   truncation.
//
//   FileIo is the seam for the write path: tests substitute an implementation
//   that fails after N bytes to check truncation.
// DIAGNOSTICS
//   The returned Status carries Postfix's texts and DSN codes (mbox_dsn):
//     cannot open file: Permission denied                    5.2.0 (def_dsn)
//     file has 2 hard links / file is a symbolic link        5.2.0
//     unable to create lock file PATH.lock: File exists      4.2.0
//     unable to lock for exclusive access: Resource ...      4.2.0
//     error writing message: File too large                  5.2.2
//     error writing message: No space left on device         4.3.0
//   Callers prefix them ("cannot update mailbox PATH for user U. ...").
// PARAMETERS
//   mailbox_delivery_lock, deliver_lock_attempts, deliver_lock_delay,
//   stale_lock_time, mailbox_size_limit (read by the caller)
#pragma once
#include "local/mail_copy.hpp"

#include <sys/types.h>

#include <string>
#include <string_view>
#include <system_error>

namespace mta::local {

// The write path of every local writer (mbox, /file, Maildir).
class FileIo {
 public:
  virtual ~FileIo() = default;
  virtual std::error_code write(int fd, std::string_view data);
  virtual std::error_code fsync(int fd);
};
FileIo& system_io();

enum LockMethod : unsigned { lock_fcntl = 1u, lock_flock = 2u, lock_dotlock = 4u };
// "fcntl, dotlock" -> lock_fcntl | lock_dotlock; false on an unknown name.
bool parse_lock_methods(std::string_view list, unsigned& out);

struct MboxOptions {
  unsigned locks = lock_fcntl | lock_dotlock;
  bool dotlock_may_fail = false;  // /file destinations: a dot-lock that cannot be created is not an error
  int lock_attempts = 20;
  int lock_delay = 1;             // seconds
  long long stale_lock_time = 500;
  long long size_limit = 0;       // 0: none
  uid_t chown_uid = static_cast<uid_t>(-1);
  gid_t chown_gid = static_cast<gid_t>(-1);
  std::string def_dsn = "5.2.0";  // for open and lock errors
  bool require_regular = false;   // the user's mailbox must be a regular file
  uid_t owner_must_be = static_cast<uid_t>(-1);  // strict_mailbox_ownership: 4.2.0 otherwise
  bool refuse_executable = false; // /file: "destination file is executable"
};

Status mbox_append(const std::string& path, std::string_view bytes, const MboxOptions& opts, FileIo& io);

}  // namespace mta::local
