#include "common/asio.hpp"

#include <cstdio>
#include <exception>

namespace mxlab::common {

void spawn_logged(net::any_io_executor ex, net::awaitable<void> a, const char* what) {
  net::co_spawn(ex, std::move(a), [what](std::exception_ptr ep) {
    if (!ep) return;
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mxlab: %s: %s\n", what, e.what());
    } catch (...) {
      std::fprintf(stderr, "mxlab: %s: unknown exception\n", what);
    }
  });
}

void throw_std_system_error(const boost::system::error_code& ec, const std::string& what) {
  // Asio's errors on Linux are errno values in the system category.
  if (ec.category() == boost::system::system_category() || ec.category() == boost::system::generic_category())
    throw std::system_error(ec.value(), std::system_category(), what);
  throw std::system_error(std::make_error_code(std::errc::io_error), what + ": " + ec.message());
}

std::string endpoint_string(const net::ip::address& a, unsigned short port) {
  if (a.is_v6()) return "[" + a.to_string() + "]:" + std::to_string(port);
  return a.to_string() + ":" + std::to_string(port);
}

}  // namespace mxlab::common
