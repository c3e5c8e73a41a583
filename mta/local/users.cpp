#include "local/users.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace mta::local {
namespace {

template <class F>
int lookup(F call, UserInfo& out) {
  long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<size_t>(hint) : 4096);
  for (;;) {
    struct passwd pw, *res = nullptr;
    int e = call(&pw, buf.data(), buf.size(), &res);
    if (e == ERANGE && buf.size() < (1u << 20)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (e == EINTR) continue;
    // getpw*_r report "not found" as 0 with a null result; some NSS modules
    // return ENOENT or ESRCH for it instead.
    if (!res) return (e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM) ? ENOENT : e;
    out.name = res->pw_name;
    out.uid = res->pw_uid;
    out.gid = res->pw_gid;
    out.home = res->pw_dir ? res->pw_dir : "";
    out.shell = res->pw_shell ? res->pw_shell : "";
    return 0;
  }
}

}  // namespace

int PasswdUserDb::find_name(std::string_view name, UserInfo& out) const {
  std::string n(name);
  return lookup([&](struct passwd* pw, char* b, size_t l, struct passwd** r) { return ::getpwnam_r(n.c_str(), pw, b, l, r); },
                out);
}

int PasswdUserDb::find_uid(uid_t uid, UserInfo& out) const {
  return lookup([&](struct passwd* pw, char* b, size_t l, struct passwd** r) { return ::getpwuid_r(uid, pw, b, l, r); },
                out);
}

}  // namespace mta::local
