// NAME
//   lab/process - start processes inside a host's namespaces
// DESCRIPTION
//   Every MTA command (daemon, queue tools, sendmail, ip) runs through
//   here. The child is forked by Boost.Process; before exec, an
//   on_exec_setup initializer setns()es into the host's network, mount and
//   UTS namespaces (the forked child is single-threaded, which setns into a
//   mount namespace requires) and changes to "/". Output goes to files in
//   the run directory, never to pipes, so no thread is needed and nothing
//   blocks when a daemon writes a lot.
//   Waiting is polling with a real-time bound (Boost 1.74's wait_for is
//   unreliable), and a process that outlives its bound is killed.
// DIAGNOSTICS
//   spawn/run throw std::runtime_error when the program cannot be found or
//   started; a failed setns makes the child exit 127 with a message on its
//   stderr file.
#pragma once
#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mxlab::lab {

// Namespace file descriptors of a host (-1: stay in the caller's).
struct NsFds {
  int net = -1, mnt = -1, uts = -1;
};

using Env = std::map<std::string, std::string>;

class Process {
 public:
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  pid_t pid() const;
  bool running();
  // Exit status as a shell reports it: code, or 128+signal. nullopt while running.
  std::optional<int> status();
  // Wait up to timeout_ms; nullopt if still running.
  std::optional<int> wait_for(int timeout_ms);
  void signal(int sig);
  // SIGTERM, wait up to grace_ms, then SIGKILL; returns the status.
  int stop(int grace_ms);

 private:
  friend std::unique_ptr<Process> spawn(const std::vector<std::string>&, const Env&, const NsFds&, const std::string&,
                                        const std::string&, const std::string&);
  Process();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Start argv[0] (looked up in PATH unless it contains '/'), with exactly
// `env`, stdin from stdin_path ("" = /dev/null), stdout/stderr appended to
// the given files ("" = /dev/null).
std::unique_ptr<Process> spawn(const std::vector<std::string>& argv, const Env& env, const NsFds& ns,
                               const std::string& stdin_path, const std::string& stdout_path,
                               const std::string& stderr_path);

struct RunResult {
  int status = -1;        // exit code, 128+signal, -1 if killed at the time limit
  bool timed_out = false;
  std::string out, err;
  std::string command;    // for reports
};

// Run to completion within timeout_ms; stdin gets `input`. scratch_dir holds
// the temporary files for input and output.
RunResult run(const std::vector<std::string>& argv, const Env& env, const NsFds& ns, const std::string& input,
              int timeout_ms, const std::string& scratch_dir);

// The environment every process gets: PATH, HOME=/root, LANG=C, TZ=UTC, plus `extra`.
Env base_env(const Env& extra = {});

// Where argv[0] resolves (PATH search), or "".
std::string find_program(const std::string& name);

// The machine's entry of a system user, as /etc/passwd and /etc/group lines
// (its primary group's), for hosts whose MTA looks its users up by name.
struct SystemUser {
  std::string passwd_line;  // name:x:uid:gid:gecos:home:shell
  std::string group_name;   // of the primary group ("" if it has no entry)
  std::string group_line;   // name:x:gid:
};
std::optional<SystemUser> system_user(const std::string& name);
// The machine's /etc/group line of a group ("name:x:gid:"), "" if none.
std::string system_group(const std::string& name);

}  // namespace mxlab::lab
