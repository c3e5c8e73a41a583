#include "util/asio.hpp"

#include "util/log.hpp"

#include <memory>

namespace mta::util {
namespace {
unsigned g_pool_size = 4;
std::unique_ptr<net::thread_pool> g_pool;
}  // namespace

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
