#include "util/asio.hpp"

#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <optional>
#include <thread>

using namespace mta::util;
using namespace std::chrono_literals;

namespace {

double thread_cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

using Guard = net::executor_work_guard<net::io_context::executor_type>;

}  // namespace

class RunSpinningTest : public ::testing::TestWithParam<int> {};

// Every ready handler runs, including those posted by handlers, and the loop
// returns once no work is left, as io.run() does.
TEST_P(RunSpinningTest, RunsEveryHandlerAndReturnsWhenNoWorkIsLeft) {
  net::io_context io(1);
  int seen = 0;
  net::post(io, [&] { ++seen; });
  net::post(io, [&] {
    ++seen;
    net::post(io, [&] { ++seen; });
  });
  EXPECT_EQ(run_spinning(io, std::chrono::microseconds(GetParam())), 3u);
  EXPECT_EQ(seen, 3);
  EXPECT_TRUE(io.stopped());
}

// A handler posted from another thread is run whether it arrives during the
// spin (the first post, 2 ms in) or after it, while the loop sleeps (20 ms).
TEST_P(RunSpinningTest, RunsWhatAnotherThreadPostsDuringOrAfterTheSpin) {
  net::io_context io(1);
  std::optional<Guard> guard(io.get_executor());
  int seen = 0;
  std::thread t([&] {
    std::this_thread::sleep_for(2ms);
    net::post(io, [&] { ++seen; });
    std::this_thread::sleep_for(20ms);
    net::post(io, [&] {
      ++seen;
      guard.reset();
    });
  });
  EXPECT_EQ(run_spinning(io, std::chrono::microseconds(GetParam())), 2u);
  t.join();
  EXPECT_EQ(seen, 2);
}

TEST_P(RunSpinningTest, StopEndsTheLoopEvenWithWorkLeft) {
  net::io_context io(1);
  Guard guard(io.get_executor());
  net::steady_timer later(io, 10s);
  later.async_wait([](boost::system::error_code) {});
  net::post(io, [&] { io.stop(); });
  EXPECT_EQ(run_spinning(io, std::chrono::microseconds(GetParam())), 1u);
  EXPECT_TRUE(io.stopped());
}

INSTANTIATE_TEST_SUITE_P(SpinOffAndOn, RunSpinningTest, ::testing::Values(0, 50, 5000));

// The spin polls for its length and then sleeps: waiting 300 ms for a timer
// with a 30 ms spin costs about 30 ms of CPU, not 300 and not 0. The bounds are
// wide, so that a loaded machine (which gives the spinning thread less CPU)
// does not fail them.
TEST(RunSpinning, SpinsForItsLengthThenSleeps) {
  net::io_context io(1);
  net::steady_timer t(io, 300ms);
  bool fired = false;
  t.async_wait([&](boost::system::error_code ec) { fired = !ec; });
  const double before = thread_cpu_ms();
  run_spinning(io, 30ms);
  const double used = thread_cpu_ms() - before;
  EXPECT_TRUE(fired);
  EXPECT_GE(used, 5.0);
  EXPECT_LE(used, 150.0);
}

TEST(RunSpinning, NoSpinSleepsAtOnce) {
  net::io_context io(1);
  net::steady_timer t(io, 100ms);
  t.async_wait([](boost::system::error_code) {});
  const double before = thread_cpu_ms();
  run_spinning(io, 0us);
  EXPECT_LE(thread_cpu_ms() - before, 20.0);
}
