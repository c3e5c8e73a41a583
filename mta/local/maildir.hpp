// NAME
//   local/maildir - deliver one message into a Maildir
// SYNOPSIS
//   local::MaildirOptions o;  o.hostname = local::maildir_hostname();
//   local::Status s = local::maildir_deliver("/home/alice/Maildir/", bytes, o, local::system_io());
// DESCRIPTION
//   As Postfix's local/maildir.c: tmp/, new/ and cur/ are created mode 0700 on
//   demand; the message is written to
//       tmp/SECS.PpidQseq.HOST
//   fsynced, and renamed to
//       new/SECS.VdevIinodeMusec.HOST
//   (dev and inode of the tmp file in lower-case hex, usec of the start time),
//   then new/ is fsynced so the rename survives a crash. The tmp name adds a
//   per-process sequence number (Q) because several deliveries run in one
//   process here. HOST is the system host name with '/' and ':' written as
//   \057 and \072 (Postfix 3.x).
//   Directories and the file are chowned to chown_uid/chown_gid when given;
//   EPERM/EINVAL from chown (unprivileged) keep the running user's ownership.
// DIAGNOSTICS
//   create maildir file PATH: Permission denied      (mbox_dsn(errno, 5.2.0))
//   error writing message: File too large            5.2.2 (size_limit)
//   The caller prefixes "maildir delivery failed: ".
#pragma once
#include "local/mail_copy.hpp"
#include "local/mbox.hpp"

#include <sys/types.h>

#include <string>
#include <string_view>

namespace mta::local {

struct MaildirOptions {
  std::string hostname;  // as in the file name
  long long size_limit = 0;
  uid_t chown_uid = static_cast<uid_t>(-1);
  gid_t chown_gid = static_cast<gid_t>(-1);
};

// The system host name, escaped for a Maildir file name.
std::string maildir_hostname();

// `dir` names the Maildir and ends in '/'. On success, `*final_path` (if
// given) receives the path of the file in new/.
Status maildir_deliver(const std::string& dir, std::string_view bytes, const MaildirOptions& opts, FileIo& io,
                       std::string* final_path = nullptr);

}  // namespace mta::local
