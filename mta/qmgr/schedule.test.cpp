#include "qmgr/schedule.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace mta::qmgr;

TEST(ScheduleTest, BackoffIsAgeClamped) {
  RetryPolicy p;
  EXPECT_EQ(next_attempt(p, 1000, 1000), 1000 + 300);     // first failure: minimal backoff
  EXPECT_EQ(next_attempt(p, 1000, 1000 + 600), 1600 + 600);  // age 10 min -> wait 10 min
  EXPECT_EQ(next_attempt(p, 0, 10000), 10000 + 4000);      // capped at maximal backoff
}

// Simulates the queue manager with the default policy: a message deferred at
// every attempt, deferred/ scanned every queue_run_delay. The attempts fall at
// ages of about 0, 5, 10, 20, 40, 80 minutes, then every 4000-4300 s, as
// reference section 3 describes, and about 100-110 attempts fit in 5 days.
TEST(ScheduleTest, DefaultScheduleMatchesPostfix) {
  RetryPolicy p;
  int64_t arrival = 0, next = 0, last_scan = 0;
  std::vector<int64_t> attempts;
  for (int64_t now = 0; now <= 5 * 86400; ++now) {
    bool scan = now - last_scan >= p.queue_run_delay;
    if (now == 0 || (scan && due(next, now))) {
      attempts.push_back(now);
      if (expired(p, arrival, now, false, false)) break;
      next = next_attempt(p, arrival, now);
    }
    if (scan) last_scan = now;
  }
  ASSERT_GE(attempts.size(), 7u);
  std::vector<int64_t> early_minutes;
  for (size_t i = 0; i < 6; ++i) early_minutes.push_back(attempts[i] / 60);
  EXPECT_EQ(early_minutes, (std::vector<int64_t>{0, 5, 10, 20, 40, 80}));
  for (size_t i = 7; i < attempts.size(); ++i) {
    int64_t gap = attempts[i] - attempts[i - 1];
    EXPECT_GE(gap, 4000);
    EXPECT_LE(gap, 4300);
  }
  EXPECT_GE(attempts.size(), 100u);
  EXPECT_LE(attempts.size(), 115u);
  EXPECT_GE(attempts.back(), 5 * 86400 - 4300);  // the last attempt returns the message
}

TEST(ScheduleTest, LifetimesAndWarnings) {
  RetryPolicy p;
  p.bounce_lifetime = 3600;
  EXPECT_FALSE(expired(p, 0, 3599, false, false));
  EXPECT_TRUE(expired(p, 0, 3600, true, false));
  EXPECT_TRUE(expired(p, 0, 1, false, true));
  p.maximal_lifetime = 0;  // try once
  EXPECT_TRUE(expired(p, 0, 0, false, false));
  EXPECT_FALSE(warning_due(p, 0, 99999, false));
  p.delay_warning = 4 * 3600;
  EXPECT_FALSE(warning_due(p, 0, 4 * 3600 - 1, false));
  EXPECT_TRUE(warning_due(p, 0, 4 * 3600, false));
  EXPECT_FALSE(warning_due(p, 0, 4 * 3600, true));
}
