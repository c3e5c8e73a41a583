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
    std::size_t k = io.poll();
    if (k == 0 && !io.stopped()) {
      // Nothing ready: keep polling for up to spin_ns, then sleep until the
      // next event.
      const std::int64_t start = real_now_ns();
      while (k == 0 && !io.stopped() && real_now_ns() - start < spin_ns) k = io.poll();
      if (k == 0 && !io.stopped()) k = io.run_one();
    }
    ran += k;
    if (k == 0 || io.stopped()) return ran;  // stop(), or no work left
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
