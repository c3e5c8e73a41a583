# Dependencies: all from Debian's packages (ci/setup-deps.sh installs them).
find_package(Threads REQUIRED)
# Asio, Beast and Process are header-only; Process needs Boost.Filesystem.
find_package(Boost 1.74 REQUIRED COMPONENTS filesystem)
find_package(pugixml REQUIRED)
find_package(fmt REQUIRED)
# zlib: the CRC-32 of queue files (README: why zlib)
find_package(ZLIB REQUIRED)
find_package(GTest REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(CARES REQUIRED IMPORTED_TARGET libcares)

find_library(MX_FAKETIME_LIB NAMES libfaketime.so.1
  PATHS /usr/lib/x86_64-linux-gnu/faketime /usr/lib/aarch64-linux-gnu/faketime /usr/lib/faketime
  NO_DEFAULT_PATH)
if(NOT MX_FAKETIME_LIB)
  message(WARNING "libfaketime not found: clock moves in mxlab cases will be reported as unsupported")
  set(MX_FAKETIME_LIB "")
endif()
