#include "util/asio.hpp"

#include "util/log.hpp"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <memory>

namespace mta::util {
namespace {
unsigned g_pool_size = 4;
std::unique_ptr<net::thread_pool> g_pool;

// CLOCK_MONOTONIC without the vDSO, so that an LD_PRELOADed libfaketime, which
// offsets the library call, does not stretch or cut a spin.
std::int64_t real_now_ns() {
  timespec ts{};
  ::syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

std::size_t run_spinning(net::io_context& io, std::chrono::microseconds spin) {
  if (spin.count() <= 0) return io.run();
  const std::int64_t spin_ns = static_cast<std::int64_t>(spin.count()) * 1000;
  std::size_t ran = 0;
  for (;;) {
    if (std::size_t k = io.poll()) {
      ran += k;
      continue;
    }
    if (io.stopped()) return ran;  // stop(), or no work left
    const std::int64_t start = real_now_ns();
    bool woke = false;
    for (;;) {
      if (std::size_t k = io.poll()) {
        ran += k;
        woke = true;
        break;
      }
      if (io.stopped()) return ran;
      const std::int64_t now = real_now_ns();
      if (now - start >= spin_ns) break;
    }
    if (woke) continue;
    const std::size_t k = io.run_one();  // sleeps until the next event
    if (k == 0) return ran;
    ran += k;
  }
}

void set_blocking_pool_size(unsigned n) { g_pool_size = n ? n : 1; }

net::thread_pool& blocking_pool() {
  if (!g_pool) g_pool = std::make_unique<net::thread_pool>(g_pool_size);
  return *g_pool;
}

void spawn_logged(net::any_io_executor ex, net::awaitable<void> a, const char* what) {
  net::co_spawn(ex, std::move(a), [what](std::exception_ptr ep) {
    if (!ep) return;
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      log::error("", "{}: {}", what, e.what());
    } catch (...) {
      log::error("", "{}: unknown exception", what);
    }
  });
}

}  // namespace mta::util
