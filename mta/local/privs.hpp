// NAME
//   local/privs - do a delivery with a user's rights
// SYNOPSIS
//   Status s = local::run_as(uid, gid, [&] { return local::mbox_append(...); });
// DESCRIPTION
//   local(8) writes files in a user's home directory and /file destinations
//   with the rights of the user on whose behalf it delivers, so that a
//   ~/.forward cannot make the mail system append to /etc/shadow. Postfix
//   switches its effective uid; this process is threaded, and set*id() would
//   change every thread, so run_as() forks: the child drops to uid/gid
//   (setgroups, setgid, setuid), runs the function and reports its Status
//   through a pipe.
//
//   No fork happens when the process is not root (it cannot switch, and
//   writes as itself) or when uid is the running uid. When the switch fails
//   with EINVAL or EPERM (a user namespace that maps one uid: the target uid
//   does not exist there) the child keeps the running user, as the rest of
//   local delivery does when chown fails that way.
// DIAGNOSTICS
//   A child that dies without reporting gives 4.3.0 "delivery process failed".
#pragma once
#include "local/mail_copy.hpp"

#include <sys/types.h>

#include <functional>

namespace mta::local {

// In a child after fork(): drop to uid/gid. False only for errors other than
// EINVAL/EPERM (which keep the running user, see above).
bool become_user(uid_t uid, gid_t gid);

Status run_as(uid_t uid, gid_t gid, const std::function<Status()>& fn);

}  // namespace mta::local
