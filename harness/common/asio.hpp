// NAME
//   common/asio - the one way harness code includes Boost.Asio
// DESCRIPTION
//   Boost 1.74 + g++ 12 + C++20: asio/awaitable.hpp needs <utility> first (the
//   build also forces it with -include utility). clang needs co_await switched
//   on by hand. Include this header only from .cpp files that do network I/O:
//   Asio costs several seconds of compile time per translation unit.
//   This is the harness's own copy of the idea in mta/util/asio.hpp: the wall
//   between harness/ and mta/ forbids including that one.
// DIAGNOSTICS
//   spawn_logged() prints an exception that escapes a coroutine to stderr as
//   "mxlab: WHAT: REASON" instead of terminating the process.
#pragma once
#include <utility>

#if defined(__clang__) && !defined(BOOST_ASIO_HAS_CO_AWAIT)
#define BOOST_ASIO_HAS_CO_AWAIT 1
#define BOOST_ASIO_HAS_STD_COROUTINE 1
#endif

// g++ 12 at -O2 reports -Wnull-dereference inside Asio's scheduler once it is
// inlined into our code (a false positive on thread_info); the warning is
// located in Boost's lines, so silencing it around the include is enough.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#pragma GCC diagnostic pop

#include <string>
#include <system_error>

#if !defined(BOOST_ASIO_HAS_CO_AWAIT)
#error "mxlab needs C++20 coroutines in Boost.Asio (BOOST_ASIO_HAS_CO_AWAIT)"
#endif

namespace net = boost::asio;

namespace mxlab::common {

using net::awaitable;
using net::use_awaitable;

// co_spawn with a completion handler that reports an escaped exception
// instead of terminating (no bare `detached`).
void spawn_logged(net::any_io_executor ex, net::awaitable<void> a, const char* what);

// Boost's system_error is not a std::system_error; the harness's public
// interfaces promise the standard one.
[[noreturn]] void throw_std_system_error(const boost::system::error_code& ec, const std::string& what);

// "127.0.0.1:5353" / "[::1]:5353", the form the query log and transcripts use.
std::string endpoint_string(const net::ip::address& a, unsigned short port);

}  // namespace mxlab::common
