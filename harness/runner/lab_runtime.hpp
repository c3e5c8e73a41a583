// NAME
//   runner/lab_runtime - a running topology, as the steps and assertions use it
// DESCRIPTION
//   Internal to the runner. Lab owns the hosts (anchors, folders, MTA
//   processes), the services (fake DNS, peers), the clock and what the
//   case injected. Paths inside a host map to its folder of the run
//   directory: P inside a host is P under the host folder's "root" directory.
// DIAGNOSTICS
//   StepFailure: the MTA did not behave as the case says (FAIL).
//   std::runtime_error: the harness could not do what the step asks (ERROR).
#pragma once
#include "lab/clock.hpp"
#include "lab/host.hpp"
#include "lab/process.hpp"
#include "mail/message.hpp"
#include "model/adapter.hpp"
#include "model/case.hpp"
#include "model/topology.hpp"
#include "runner/queue.hpp"
#include "runner/services.hpp"

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mxlab::runner {

struct StepFailure : std::runtime_error {
  StepFailure(std::string msg, std::string exp, std::string act)
      : std::runtime_error(std::move(msg)), expected(std::move(exp)), actual(std::move(act)) {}
  std::string expected, actual;
};

struct Verdict {
  bool ok = true;
  std::string message, expected, actual;
};

struct Injected {
  std::string token;     // X-Mxlab-Trace value or Message-ID
  std::string via;       // "sendmail on H" / "SMTP to H"
  std::string sender;
  std::vector<std::string> rcpts;
};

struct LabOptions {
  std::string run_dir, repo, adapter_dir, mta_bin, faketime_lib;
};

struct HostRt {
  const model::Host* def = nullptr;
  std::string folder;  // RUN/hosts/NAME
  std::unique_ptr<lab::Host> host;
  std::unique_ptr<lab::Process> mta;
  std::map<std::string, std::string> vars;
  std::string root() const { return folder + "/root"; }
};

class Lab {
 public:
  Lab(const model::Case& c, const model::Topology& t, const model::Adapter& a, LabOptions o);
  ~Lab();
  void build();
  void start_all();

  HostRt& host(const std::string& name);
  bool has_host(const std::string& name) const;
  // quiet: not noted in the report unless it fails (queue listings are polled).
  lab::RunResult command(HostRt& h, const std::string& tmpl, const std::vector<std::string>& args,
                         const std::string& input, int timeout_ms, bool quiet = false);
  void start_mta(HostRt& h);
  void stop_mta(HostRt& h);
  void wait_ready(HostRt& h);
  void wake_all(std::string& notes);
  std::vector<QueueEntry> queue(HostRt& h);
  std::vector<mail::Message> mailbox(HostRt& h, const std::string& user, const std::string& format,
                                     const std::string& inside_path);
  std::string log_text(HostRt& h);
  std::string outside(HostRt& h, const std::string& inside) const;
  lab::Env mta_env() const;

  Services& services() { return *services_; }
  lab::Clock& clock() { return *clock_; }
  const model::Topology& topology() const { return topo_; }
  const model::Adapter& adapter() const { return adapter_; }
  const model::Case& test_case() const { return case_; }
  std::vector<HostRt>& hosts() { return hosts_; }
  std::vector<Injected>& injected() { return injected_; }
  std::string scratch() const { return opt_.run_dir + "/scratch"; }
  bool tracing() const { return tracing_; }
  std::string next_token();
  // Transcripts, host logs, MTA stderr, peer transcripts, DNS log.
  std::string output(bool full);
  void note(const std::string& s) { notes_ += s; }

 private:
  void render_host(HostRt& h);
  const model::Case& case_;
  const model::Topology& topo_;
  const model::Adapter& adapter_;
  LabOptions opt_;
  std::vector<HostRt> hosts_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<lab::Clock> clock_;
  std::vector<Injected> injected_;
  bool tracing_ = false;
  int tokens_ = 0;
  std::string notes_;
};

// Steps and assertions (steps.cpp, verify.cpp).
void run_step(Lab& lab, const model::Step& s);
Verdict evaluate(Lab& lab, const model::Check& c);
// Does `text` satisfy the equals/contains/matches of `c` (a <stdout>,
// <stderr>, <body>)? `want` describes the expectation for a report.
bool output_matches(const model::Check& c, const std::string& text, std::string& want);

}  // namespace mxlab::runner
