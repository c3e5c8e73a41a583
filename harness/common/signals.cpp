#include "common/signals.hpp"

#include <csignal>
#include <cstring>
#include <pthread.h>

namespace mxlab::common {

static_assert(sizeof(sigset_t) <= sizeof(unsigned long) * (128 / sizeof(unsigned long)),
              "TerminationSignals::saved_ too small for sigset_t");

TerminationSignals::TerminationSignals() {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  std::memcpy(saved_, &old, sizeof old);
}

TerminationSignals::~TerminationSignals() {
  sigset_t old;
  std::memcpy(&old, saved_, sizeof old);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

int TerminationSignals::wait() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace mxlab::common
