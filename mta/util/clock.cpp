#include "util/clock.hpp"

#include <fmt/core.h>
#include <sys/time.h>

#include <cmath>
#include <cstdio>
#include <ctime>

namespace mta::util {

Timestamp now() {
  struct timeval tv;
  ::gettimeofday(&tv, nullptr);
  return {static_cast<int64_t>(tv.tv_sec), static_cast<int32_t>(tv.tv_usec)};
}

int64_t now_sec() { return now().sec; }

double now_double() {
  Timestamp t = now();
  return static_cast<double>(t.sec) + t.usec / 1e6;
}

namespace {
struct tm local(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tmv {};
  ::localtime_r(&tt, &tmv);
  return tmv;
}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
std::string ftime(const char* f, const struct tm& tmv) {
  char buf[128];
  size_t n = std::strftime(buf, sizeof buf, f, &tmv);
  return std::string(buf, n);
}
#pragma GCC diagnostic pop
}  // namespace

std::string rfc5322_date(int64_t t) {
  struct tm tmv = local(t);
  // Postfix mail_date.c: the offset is computed by hand, then " (%Z)".
  long off = tmv.tm_gmtoff;
  char sign = off < 0 ? '-' : '+';
  if (off < 0) off = -off;
  std::string s = ftime("%a, %d %b %Y %H:%M:%S ", tmv);
  s += fmt::format("{}{:02}{:02}", sign, off / 3600, (off % 3600) / 60);
  s += ftime(" (%Z)", tmv);
  return s;
}

std::string asctime24(int64_t t) {
  struct tm tmv = local(t);
  char buf[64];
  ::asctime_r(&tmv, buf);  // "Sat Nov 28 06:49:51 2026\n"
  return std::string(buf, 24);
}

std::string asctime20(int64_t t) { return asctime24(t).substr(0, 20); }

std::string maillog_stamp(int64_t t) { return ftime("%b %d %H:%M:%S", local(t)); }

std::string compact_stamp(int64_t t) { return ftime("%Y%m%d%H%M%S", local(t)); }

std::string format_delay(double s) {
  if (s < 0) s = 0;
  if (s >= 10) return fmt::format("{}", static_cast<long long>(s));
  // two significant digits, at most two decimals
  double v;
  if (s >= 1) v = std::floor(s * 10 + 0.5) / 10;
  else v = std::floor(s * 100 + 0.5) / 100;
  if (v >= 10) return fmt::format("{}", static_cast<long long>(v));
  std::string r = fmt::format("{:.2f}", v);
  while (!r.empty() && r.back() == '0') r.pop_back();
  if (!r.empty() && r.back() == '.') r.pop_back();
  return r;
}

}  // namespace mta::util
