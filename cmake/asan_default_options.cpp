// NAME
//   asan_default_options.cpp - sanitizer defaults compiled into every
//   executable of the asan build (MX_ENABLE_ASAN)
//
// DESCRIPTION
//   The sanitizer runtimes call these hooks at start-up; ASAN_OPTIONS and
//   UBSAN_OPTIONS in the environment are applied on top, flag by flag. They are
//   compiled in because mxlab gives every MTA process a clean environment
//   (only --mta-env reaches it), so a default that matters must live in the
//   binary.
//
//   allocator_release_to_os_interval_ms=-1: the mxmta of a lab host runs
//   under libfaketime (LD_PRELOAD). With the default interval ASan's allocator
//   reads the monotonic clock while it refills a size class; that call lands
//   in libfaketime, whose first call resolves its symbols with dlsym(), which
//   allocates, which re-enters the allocator that is still holding its lock:
//   the process hangs before main(). With no periodic release the allocator
//   never reads the clock.
//
//   print_stacktrace=1: a UBSan report names the call chain, not only the
//   line (UBSan aborts at the first report: -fno-sanitize-recover=undefined).
//
// STANDARDS
//   The __asan_default_options / __ubsan_default_options hooks of GCC's and
//   LLVM's sanitizer runtimes.

extern "C" {
// Not sanitized itself: the runtime calls it before it is fully set up.
__attribute__((no_sanitize_address, used, visibility("default"))) const char* __asan_default_options() {
  return "allocator_release_to_os_interval_ms=-1";
}

__attribute__((used, visibility("default"))) const char* __ubsan_default_options() {
  return "print_stacktrace=1";
}
}
