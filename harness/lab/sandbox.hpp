// NAME
//   lab/sandbox - the supervisor: a private user, network, mount and PID
//   namespace for one topology
// DESCRIPTION
//   run_supervised() forks a supervisor that unshares, while it is still
//   single-threaded, CLONE_NEWUSER (only when not root: one uid/gid mapped
//   to 0, setgroups denied), then CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID,
//   makes "/" private (MS_REC|MS_PRIVATE) and forks again: that child is
//   PID 1 of the topology. It mounts a fresh /proc (so pids and
//   /proc/PID/ns are the topology's own) and a private tmpfs on /dev/shm
//   (libfaketime leaks shm segments), then runs `body`. When PID 1 exits,
//   the kernel kills every process of the topology; host namespaces die
//   with their anchors, so no process and no mount outlives the run. The
//   caller never changes namespace; it waits, forwards SIGINT/SIGTERM (by
//   killing the supervisor, whose death kills PID 1 through
//   PR_SET_PDEATHSIG) and removes the run directory unless `keep`.
// DIAGNOSTICS
//   Namespace failures ("unshare(CLONE_NEWUSER): Operation not permitted")
//   make the supervisor exit with kNoNamespaces and the reason written to
//   RUN_DIR/supervisor.err; run_supervised returns that status.
#pragma once
#include <functional>
#include <string>

namespace mxlab::lab {

inline constexpr int kNoNamespaces = 86;

// Runs body() as PID 1 of a new topology sandbox and returns its exit
// status (128+signal if killed). `run_dir` must exist; it is removed
// afterwards unless keep. The supervisor's own error (namespaces refused),
// if any, is returned in *supervisor_error before the directory goes.
int run_supervised(const std::function<int()>& body, const std::string& run_dir, bool keep,
                   std::string* supervisor_error = nullptr);

// True when the harness started as root in the initial user namespace
// (decided once, before any unshare).
bool started_as_root();

// Inode of the network namespace the process started in, and of the
// current one: addresses outside 127.0.0.0/8 are only used when they differ.
unsigned long initial_netns();
unsigned long current_netns();

// Called from SIGINT/SIGTERM handlers of the caller: kill running
// supervisors. Safe to call from a signal handler.
void kill_supervisors();

// rm -rf that does not follow symlinks and survives unreadable dirs.
void remove_tree(const std::string& path);

}  // namespace mxlab::lab
