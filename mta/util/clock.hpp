// NAME
//   util/clock - the wall clock and the time formats mail needs
// DESCRIPTION
//   Every schedule in mxmta (backoff, queue lifetime, delay warnings) reads the
//   wall clock through now(), so a libfaketime offset moves all of them.
//   Formats:
//     rfc5322_date   "Sat, 28 Nov 2026 06:51:46 +0000 (UTC)"   (Date:, Received:)
//     asctime20      "Sat Nov 28 06:49:51 "  (mailq: first 20 chars of asctime)
//     asctime24      "Sat Nov 28 06:49:51 2026" (mbox From_ line)
//     maillog_stamp  "Nov 28 06:49:51"  (Postfix's maillog_file, zero-padded day)
// STANDARDS
//   RFC 5322 section 3.3 (date-time)
#pragma once
#include <cstdint>
#include <string>

namespace mta::util {

struct Timestamp {
  int64_t sec = 0;
  int32_t usec = 0;
};

Timestamp now();
int64_t now_sec();
double now_double();

std::string rfc5322_date(int64_t t);
std::string asctime20(int64_t t);
std::string asctime24(int64_t t);
std::string maillog_stamp(int64_t t);
// "YYYYMMDDhhmmss" in local time, for Message-Id.
std::string compact_stamp(int64_t t);

// Postfix's log delay format: 2 significant digits, at most 2 decimals,
// trailing zeros dropped, integers from 10 s ("0", "0.01", "0.4", "1.6", "26").
std::string format_delay(double seconds);

}  // namespace mta::util
