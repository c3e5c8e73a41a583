// NAME
//   core/envelope - a queued message: envelope, recipients and their state
// DESCRIPTION
//   What every role agrees on. smtpd and pickup fill it, cleanup writes it,
//   qmgr schedules it, agents deliver it, bounce reports on it, and the queue
//   tools print it. Content is the RFC 5322 message with LF line endings (CRLF
//   is restored on the wire).
// STANDARDS
//   RFC 3461 (DSN parameters NOTIFY, ORCPT, RET, ENVID)
#pragma once
#include "util/clock.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mta::core {

// RFC 3461 NOTIFY bits; 0 means "not specified" (default: FAILURE, DELAY).
enum Notify : unsigned {
  notify_never = 1u,
  notify_success = 2u,
  notify_failure = 4u,
  notify_delay = 8u,
};

struct Recipient {
  std::string address;    // envelope recipient as queued ("" never)
  std::string orig;       // as first given (orig_to=), empty when the same
  std::string dsn_orcpt;  // ORCPT, decoded: "rfc822;bob@example.com"
  unsigned notify = 0;
  // Delivery state kept across attempts (mailq prints reason).
  std::string dsn_status;  // "4.4.1"; empty: not tried yet
  std::string reason;      // "connect to ...: Connection refused"

  bool wants(Notify n) const {
    if (notify == 0) return n == notify_failure || n == notify_delay;
    return (notify & n) != 0;
  }
};

struct Envelope {
  std::string id;
  util::Timestamp arrival;
  std::string sender;    // "" is the null sender <>
  std::string fullname;  // sendmail -F
  std::vector<Recipient> rcpts;

  // Where it came from.
  std::string origin;       // "smtpd", "pickup", "bounce", "local"
  std::string client_name;  // "localhost" / "unknown"
  std::string client_addr;  // "127.0.0.1"
  std::string helo;
  std::string protocol;     // "SMTP", "ESMTP", "local"
  int uid = -1;             // local submission
  // DSN
  std::string envid;
  std::string ret;        // "FULL", "HDRS" or ""
  std::string body_type;  // "8BITMIME", "7BIT" or ""
  // Scheduling state.
  int64_t next_attempt = 0;  // unix time; 0 = now
  int64_t warned = 0;        // when the delay warning was sent; 0 = not yet
  int attempts = 0;
  bool force_expired = false;
  // Anything else, kept verbatim.
  std::map<std::string, std::string> attrs;

  int64_t content_size = 0;  // bytes of content, as mailq shows
};

struct Message {
  Envelope env;
  std::string content;
};

}  // namespace mta::core
