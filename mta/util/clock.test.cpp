#include "util/clock.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>

using namespace mta::util;

class ClockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
  }
};

// 2026-11-28 06:49:51 UTC
constexpr int64_t kT = 1795848591;

TEST_F(ClockTest, Rfc5322Date) { EXPECT_EQ(rfc5322_date(kT), "Sat, 28 Nov 2026 06:49:51 +0000 (UTC)"); }

TEST_F(ClockTest, AsctimeForms) {
  EXPECT_EQ(asctime20(kT), "Sat Nov 28 06:49:51 ");
  EXPECT_EQ(asctime24(kT), "Sat Nov 28 06:49:51 2026");
  // Day of month is space-padded by asctime.
  EXPECT_EQ(asctime24(kT - 27 * 86400), "Sun Nov  1 06:49:51 2026");
}

TEST_F(ClockTest, MaillogStampIsZeroPadded) { EXPECT_EQ(maillog_stamp(kT - 27 * 86400), "Nov 01 06:49:51"); }

TEST_F(ClockTest, DelayFormatMatchesPostfix) {
  EXPECT_EQ(format_delay(0), "0");
  EXPECT_EQ(format_delay(0.012), "0.01");
  EXPECT_EQ(format_delay(0.4), "0.4");
  EXPECT_EQ(format_delay(1.61), "1.6");
  EXPECT_EQ(format_delay(26.7), "26");
  EXPECT_EQ(format_delay(3729.2), "3729");
}
