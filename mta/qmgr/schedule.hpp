// NAME
//   qmgr/schedule - Postfix's retry schedule, queue lifetimes and delay warnings
// DESCRIPTION
//   Pure functions, so the schedule is tested without a clock:
//   - after an attempt that leaves recipients undelivered, the next attempt is
//     due after the message's age, clamped to [minimal_backoff_time,
//     maximal_backoff_time] (qmgr_active.c): ages about 0, 5, 10, 20, 40, 80
//     minutes with the defaults, then every 4000 s;
//   - deferred/ is scanned every queue_run_delay; a message is taken when its
//     next attempt is due (at most one second ahead);
//   - a message is returned after a failed attempt once its age reaches
//     maximal_queue_lifetime (bounce_queue_lifetime for mail from <>), or at
//     once when force-expired; a lifetime of 0 means "try once";
//   - one delay warning per message, after an attempt at an age of at least
//     delay_warning_time (0 = never).
// STANDARDS
//   Postfix qmgr(8), "exponential backoff"; reference postfix-behaviour.md section 3.
#pragma once
#include <cstdint>

namespace mta::qmgr {

struct RetryPolicy {
  int64_t queue_run_delay = 300;
  int64_t minimal_backoff = 300;
  int64_t maximal_backoff = 4000;
  int64_t maximal_lifetime = 5 * 86400;
  int64_t bounce_lifetime = 5 * 86400;
  int64_t delay_warning = 0;
};

// The next attempt time after a failed attempt at `now` for a message that
// arrived at `arrival`.
int64_t next_attempt(const RetryPolicy& p, int64_t arrival, int64_t now);
// Should a message with undelivered recipients be returned now?
bool expired(const RetryPolicy& p, int64_t arrival, int64_t now, bool null_sender, bool force_expired);
// Is the one delay warning due now?
bool warning_due(const RetryPolicy& p, int64_t arrival, int64_t now, bool already_warned);
// Is a deferred file whose next attempt is `when` due in a scan at `now`?
inline bool due(int64_t when, int64_t now) { return when <= now + 1; }

}  // namespace mta::qmgr
