// NAME
//   util/asio - the one way mxmta includes Boost.Asio
// DESCRIPTION
//   Boost 1.74 + g++ 12 + C++20: asio/awaitable.hpp needs <utility> first (the
//   build also forces it with -include utility). clang needs co_await switched on
//   by hand. Include this header only from .cpp files of roles that do network
//   I/O: Asio costs several seconds of compile time per translation unit.
#pragma once
#include <chrono>
#include <cstddef>
#include <utility>

#if defined(__clang__) && !defined(BOOST_ASIO_HAS_CO_AWAIT)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#define BOOST_ASIO_HAS_STD_COROUTINE 1
#endif

#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#if !defined(BOOST_ASIO_HAS_CO_AWAIT)
#error "mxmta needs C++20 coroutines in Boost.Asio (BOOST_ASIO_HAS_CO_AWAIT)"
#endif

namespace net = boost::asio;

namespace mta::util {

using net::awaitable;
using net::use_awaitable;

// co_spawn with a completion handler that logs an escaped exception instead of
// terminating (no bare `detached`).
void spawn_logged(net::any_io_executor ex, net::awaitable<void> a, const char* what);

// Run a blocking function (fsync, rename, getnameinfo ...) on the blocking-I/O
// pool and resume the coroutine on its own executor with the result. The event
// loop itself stays single-threaded; the function must not touch loop state.
net::thread_pool& blocking_pool();
void set_blocking_pool_size(unsigned n);

// io.run(), except that when the loop runs out of ready handlers it keeps
// polling for up to `spin` of real time before it sleeps in epoll_wait. An
// idle CPU of a virtual machine whose guest does not poll before halting
// (haltpoll's guest_halt_poll_ns = 0) takes tens of microseconds to wake, and
// one SMTP session waits for that at every command; a loop that is still
// polling when the client's next command arrives answers at once. Real time:
// the clock is read with a raw system call, which libfaketime does not move.
// spin <= 0 is io.run(). Returns the number of handlers run.
std::size_t run_spinning(net::io_context& io, std::chrono::microseconds spin);

// PITFALL (GCC 12): a temporary with a destructor inside a co_await
// expression can be destroyed twice, e.g.
//     co_await run_blocking([s = std::move(str)] { ... });   // heap corruption
// Name the function object first and move it in:
//     auto fn = [s = std::move(str)] { ... };
//     co_await run_blocking(std::move(fn));
template <class F>
auto run_blocking(F fn) -> net::awaitable<std::invoke_result_t<F>> {
  using R = std::invoke_result_t<F>;
  static_assert(std::is_default_constructible_v<R>, "run_blocking: result must be default-constructible");
  auto initiation = [](auto handler, F f) {
    auto ex = net::get_associated_executor(handler);
    net::post(blocking_pool(), [handler = std::move(handler), f = std::move(f), ex]() mutable {
      std::exception_ptr ep;
      R r{};
      try {
        r = f();
      } catch (...) {
        ep = std::current_exception();
      }
      net::post(ex, [handler = std::move(handler), ep, r = std::move(r)]() mutable {
        std::move(handler)(ep, std::move(r));
      });
    });
  };
  return net::async_initiate<decltype(net::use_awaitable), void(std::exception_ptr, R)>(
      initiation, net::use_awaitable, std::move(fn));
}

}  // namespace mta::util
