// NAME
//   local/testing - helpers for local(8)'s unit tests (not linked into mxmta)
// DESCRIPTION
//   TempDir: a mkdtemp() directory removed with its contents afterwards.
//   FakeUsers: the UserDb seam with a fixed table.
//   When the tests run as root, the fake users get uid/gid 4242/4243 so that
//   the privilege switches (run_as, commands) are really exercised; otherwise
//   they share the running uid, as an unprivileged mxmta must.
#pragma once
#include "local/users.hpp"
#include "util/safe_io.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>

namespace mta::local::testing {

struct TempDir {
  std::string path;
  TempDir() {
    char t[] = "/tmp/mxlocalXXXXXX";
    path = ::mkdtemp(t);
    // Fake users (another uid when root) must be able to traverse it.
    ::chmod(path.c_str(), 0755);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& rel) const { return path + "/" + rel; }
};

inline bool is_root() { return ::geteuid() == 0; }
inline uid_t user_uid() { return is_root() ? 4242 : ::geteuid(); }
inline gid_t user_gid() { return is_root() ? 4242 : ::getegid(); }
inline uid_t nobody_uid() { return is_root() ? 4243 : ::geteuid(); }

class FakeUsers : public UserDb {
 public:
  std::map<std::string, UserInfo, std::less<>> users;
  UserInfo& add(const std::string& name, const std::string& home, uid_t uid = user_uid(), gid_t gid = user_gid()) {
    users[name] = UserInfo{name, uid, gid, home, "/bin/sh"};
    return users[name];
  }
  int find_name(std::string_view name, UserInfo& out) const override {
    auto it = users.find(name);
    if (it == users.end()) return ENOENT;
    out = it->second;
    return 0;
  }
  int find_uid(uid_t uid, UserInfo& out) const override {
    for (const auto& [n, u] : users)
      if (u.uid == uid) {
        out = u;
        return 0;
      }
    if (uid == 0) {
      out = UserInfo{"root", 0, 0, "/root", "/bin/sh"};
      return 0;
    }
    return ENOENT;
  }
};

inline std::string slurp(const std::string& path) {
  std::string s;
  (void)util::read_file(path, s);
  return s;
}

// A home directory the fake user owns.
inline std::string make_home(const TempDir& t, const std::string& name) {
  std::string h = t / name;
  ::mkdir(h.c_str(), 0755);
  if (is_root()) (void)::chown(h.c_str(), user_uid(), user_gid());
  return h;
}

}  // namespace mta::local::testing
