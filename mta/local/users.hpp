// NAME
//   local/users - the user database local(8) consults
// DESCRIPTION
//   A seam: production uses the system passwd database (getpwnam_r and
//   getpwuid_r, thread-safe, so lookups can run on the blocking pool); tests
//   give a fake with users whose home directories are temporary directories.
//   find_*() return 0 when found, ENOENT when there is no such user, or
//   another errno when the lookup failed (local(8) then defers with
//   "user lookup error" instead of bouncing).
#pragma once
#include <sys/types.h>

#include <string>
#include <string_view>

namespace mta::local {

struct UserInfo {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
  std::string shell;
};

class UserDb {
 public:
  virtual ~UserDb() = default;
  virtual int find_name(std::string_view name, UserInfo& out) const = 0;
  virtual int find_uid(uid_t uid, UserInfo& out) const = 0;
};

class PasswdUserDb : public UserDb {
 public:
  int find_name(std::string_view name, UserInfo& out) const override;
  int find_uid(uid_t uid, UserInfo& out) const override;
};

}  // namespace mta::local
