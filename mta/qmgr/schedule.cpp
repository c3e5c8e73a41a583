#include "qmgr/schedule.hpp"

#include <algorithm>

namespace mta::qmgr {

int64_t next_attempt(const RetryPolicy& p, int64_t arrival, int64_t now) {
  int64_t delay = now - arrival;
  delay = std::max(delay, p.minimal_backoff);
  delay = std::min(delay, std::max(p.maximal_backoff, p.minimal_backoff));
  return now + delay;
}

bool expired(const RetryPolicy& p, int64_t arrival, int64_t now, bool null_sender, bool force_expired) {
  if (force_expired) return true;
  int64_t lifetime = null_sender ? p.bounce_lifetime : p.maximal_lifetime;
  return now - arrival >= lifetime;
}

bool warning_due(const RetryPolicy& p, int64_t arrival, int64_t now, bool already_warned) {
  return p.delay_warning > 0 && !already_warned && now - arrival >= p.delay_warning;
}

}  // namespace mta::qmgr
