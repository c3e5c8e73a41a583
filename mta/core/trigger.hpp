// NAME
//   core/trigger - wake a running daemon through its public FIFOs
// DESCRIPTION
//   As Postfix's public/qmgr and public/pickup: world-writable FIFOs under
//   $queue_directory/public that the daemon keeps open for reading. A writer
//   that finds no reader (ENXIO) learns that the mail system is down, which is
//   how postqueue tells "Mail system is down".
//   public/qmgr requests (one byte each):
//     'I'  new mail in incoming/          'D'  scan deferred/ for due mail
//     'F'  flush: every deferred message is due now, dead destinations forgotten
//     'A'  scan everything
//   public/pickup requests: 'W' scan maildrop/ now.
#pragma once
#include <string>
#include <string_view>
#include <system_error>

namespace mta::core {

namespace trigger {
inline constexpr char incoming = 'I';
inline constexpr char deferred = 'D';
inline constexpr char flush = 'F';
inline constexpr char scan_all = 'A';
inline constexpr char wakeup = 'W';
}  // namespace trigger

// Write request bytes without blocking. ENXIO or ENOENT: nobody is listening.
std::error_code send_trigger(const std::string& fifo_path, std::string_view request);
// True when a daemon has the FIFO open for reading.
bool trigger_listener_alive(const std::string& fifo_path);

}  // namespace mta::core
