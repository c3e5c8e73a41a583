// NAME
//   common/signals - wait for SIGINT/SIGTERM in a command's main thread
// DESCRIPTION
//   The harness's servers run on threads of their own. A command line tool
//   (mxlab dns, mxlab sink) blocks SIGINT and SIGTERM *before* it starts any
//   thread, so every thread inherits the mask and the signal can only be
//   collected by sigwait() in the main thread: no handler runs in the middle
//   of a server's event loop.
#pragma once

namespace mxlab::common {

class TerminationSignals {
 public:
  TerminationSignals();   // blocks SIGINT and SIGTERM in the calling thread
  ~TerminationSignals();  // restores the previous mask
  TerminationSignals(const TerminationSignals&) = delete;
  TerminationSignals& operator=(const TerminationSignals&) = delete;
  int wait();  // returns the signal number that arrived

 private:
  unsigned long saved_[128 / sizeof(unsigned long)];
};

}  // namespace mxlab::common
