// NAME
//   master/daemon - the mxmta daemon: one process, one event loop, every role
// DESCRIPTION
//   run_daemon() loads main.cf and master.cf (any error is fatal here, with
//   "FILE, line N: reason", before anything listens), takes the pid lock,
//   creates the queue directories and trigger FIFOs, wires the roles (smtpd
//   listeners from master.cf, pickup, the queue manager and its delivery
//   agents) on one io_context, and runs it:
//     - a tick every mxmta_scheduler_tick (1 s) re-checks due work, so a clock
//       moved forward takes effect within a second;
//     - public/qmgr and public/pickup FIFOs carry trigger requests;
//     - SIGHUP re-reads main.cf (a bad file is logged and the old one kept);
//     - SIGTERM/SIGINT stop listening, let sessions and deliveries finish for at
//       most mxmta_drain_timeout, then exit; anything interrupted is still in
//       the queue and is retried at the next start.
//   Blocking file work (fsync, mailbox writes, commands) runs on a small pool
//   (mxmta_io_threads); every role's state lives on the loop thread only.
//   When the loop runs out of work it polls for mxmta_loop_spin_microseconds
//   (50; 0 = never) of real time before it sleeps, if it may use more than
//   one CPU: the next command of a client that is waiting for a reply is
//   then read without waking a halted CPU (util::run_spinning). Read at start.
// DIAGNOSTICS
//   "daemon started -- version V, configuration DIR", "reload -- ...",
//   "terminating on signal N" (service "master").
#pragma once
#include <string>

namespace mta::master {

// Runs until stopped. ready_fd >= 0 receives "OK\n" once listening, or the
// fatal error text; returns the process exit status.
int run_daemon(const std::string& config_dir, bool foreground, int ready_fd);

}  // namespace mta::master
