// NAME
//   util/sysexits - exit codes of sendmail(1)-style tools (sysexits.h)
#pragma once
namespace mta::util::ex {
inline constexpr int ok = 0;
inline constexpr int usage = 64;
inline constexpr int dataerr = 65;
inline constexpr int noinput = 66;
inline constexpr int nouser = 67;
inline constexpr int nohost = 68;
inline constexpr int unavailable = 69;
inline constexpr int software = 70;
inline constexpr int oserr = 71;
inline constexpr int osfile = 72;
inline constexpr int cantcreat = 73;
inline constexpr int ioerr = 74;
inline constexpr int tempfail = 75;
inline constexpr int protocol = 76;
inline constexpr int noperm = 77;
inline constexpr int config = 78;
}  // namespace mta::util::ex
