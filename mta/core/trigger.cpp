#include "core/trigger.hpp"

#include "util/safe_io.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace mta::core {

std::error_code send_trigger(const std::string& fifo, std::string_view req) {
  util::UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd) return util::last_errno();
  ssize_t n = ::write(fd.get(), req.data(), req.size());
  if (n < 0 && errno != EAGAIN) return util::last_errno();  // a full FIFO already has work queued
  return {};
}

bool trigger_listener_alive(const std::string& fifo) {
  util::UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  return static_cast<bool>(fd);
}

}  // namespace mta::core
