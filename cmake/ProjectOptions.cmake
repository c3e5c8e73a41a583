# ProjectOptions: the INTERFACE targets every project target links PRIVATE.
#   mx_options   language level, Boost 1.74 + C++20 workaround, sanitizers
#   mx_warnings  -Wall -Wextra and friends (warning-free with g++ 12 is a rule)

option(MX_ENABLE_ASAN "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(MX_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)
option(MX_FAULTS "Compile the self-check's deliberate faults into mxmta (chosen at run time)" OFF)

add_library(mx_options INTERFACE)
# Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>
# (fails with g++ 12 in C++20 mode); force the header in first.
target_compile_options(mx_options INTERFACE -include utility)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  target_compile_definitions(mx_options INTERFACE BOOST_ASIO_HAS_CO_AWAIT=1 BOOST_ASIO_HAS_STD_COROUTINE=1)
endif()
if(MX_ENABLE_ASAN)
  target_compile_options(mx_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  # The runtimes are linked statically: a lab host runs mxmta with
  # LD_PRELOAD=libfaketime, and a shared libasan must come first in the
  # library list ("ASan runtime does not come first"). Preloading libasan as
  # well is no way out: mxmta's children (sh, local delivery commands) would
  # inherit it, and uninstrumented programs with libasan and libfaketime
  # preloaded hang at start-up.
  target_link_options(mx_options INTERFACE -fsanitize=address,undefined -static-libasan -static-libubsan)
  # Sanitizer defaults for every executable (why: see the file).
  target_sources(mx_options INTERFACE
    $<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,EXECUTABLE>:${CMAKE_CURRENT_LIST_DIR}/asan_default_options.cpp>)
endif()
if(MX_FAULTS)
  target_compile_definitions(mx_options INTERFACE MX_FAULTS=1)
endif()

add_library(mx_warnings INTERFACE)
target_compile_options(mx_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual -Wcast-align
  -Wunused -Wformat=2 -Wimplicit-fallthrough -Wmisleading-indentation
  -Wduplicated-cond -Wlogical-op -Wsuggest-override
  # GCC 12 false positive on Boost.Asio awaitable frames (custom operator new/delete).
  # (-Wnull-dereference is left out: it fires inside inlined Asio scheduler code.)
  -Wno-mismatched-new-delete)
if(MX_WARNINGS_AS_ERRORS)
  target_compile_options(mx_warnings INTERFACE -Werror)
endif()
