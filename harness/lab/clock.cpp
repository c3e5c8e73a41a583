#include "lab/clock.hpp"

#include "model/text.hpp"

#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace mxlab::lab {

Clock::Clock(std::string dir, int64_t start_epoch) : dir_(std::move(dir)) {
  offset_ = start_epoch == 0 ? 0 : start_epoch - static_cast<int64_t>(std::time(nullptr));
  write();
}

int64_t Clock::now() const { return static_cast<int64_t>(std::time(nullptr)) + offset_; }

void Clock::advance(int64_t seconds) {
  if (seconds < 0) throw std::runtime_error("the lab clock only moves forward");
  offset_ += seconds;
  write();
}

void Clock::advance_to(int64_t epoch) {
  int64_t now_lab = now();
  if (epoch < now_lab)
    throw std::runtime_error("advance-to " + model::format_date(epoch) + " is before the lab time " +
                             model::format_date(now_lab));
  offset_ = epoch - static_cast<int64_t>(std::time(nullptr));
  write();
}

void Clock::write() {
  std::string tmp = dir_ + "/offset.tmp";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+lld\n", static_cast<long long>(offset_));
  model::write_file(tmp, buf);
  if (std::rename(tmp.c_str(), file().c_str()) != 0) throw std::runtime_error("rename " + tmp + " -> " + file());
}

}  // namespace mxlab::lab
