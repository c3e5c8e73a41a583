// NAME
//   lab/clock - the topology's faked clock (libfaketime offset file)
// DESCRIPTION
//   Every MTA process runs with LD_PRELOAD=libfaketime,
//   FAKETIME_TIMESTAMP_FILE=<clock dir>/offset, FAKETIME_NO_CACHE=1 and
//   NO_FAKE_STAT=1. The file holds a relative offset ("+3600") and is
//   replaced atomically by rename inside a directory that is bind-mounted
//   into every host (a bind of the file itself would pin the old inode).
//   The lab time is real time + offset; it only moves forward.
// STANDARDS
//   libfaketime 0.9.10 (FAKETIME_TIMESTAMP_FILE, relative offsets)
// DIAGNOSTICS
//   advance_to() into the past throws std::runtime_error.
#pragma once
#include <cstdint>
#include <string>

namespace mxlab::lab {

class Clock {
 public:
  // `dir` exists; the offset file is dir/offset. start_epoch 0: real time.
  Clock(std::string dir, int64_t start_epoch);
  int64_t offset() const { return offset_; }
  int64_t now() const;  // lab time, epoch seconds
  void advance(int64_t seconds);
  void advance_to(int64_t epoch);
  std::string file() const { return dir_ + "/offset"; }

 private:
  void write();
  std::string dir_;
  int64_t offset_ = 0;
};

}  // namespace mxlab::lab
