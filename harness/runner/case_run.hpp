// NAME
//   runner/case_run - run one case: its topology in a sandbox, its steps, its assertions
// DESCRIPTION
//   run_case() loads the case, its topology and the adapter, decides
//   whether the case can run here (capabilities, `unsupported`, root,
//   libfaketime, the MTA binary), then runs it as PID 1 of a fresh sandbox
//   (lab/sandbox): the lab's network (lo, bridge br0, the DNS, peer and
//   client addresses as /32 on lo, default route via br0), one host per
//   <host> (lab/host) with its files rendered through the adapter, the
//   fake DNS and scripted peers, the clock, the MTAs started and waited
//   for (220 banner on the first listening address, polled with a
//   real-time bound). Then the steps run in order; the first failing step
//   ends the case. The result (lit outcome, failed step, expected and
//   actual, transcripts and host logs) is written to result_file.
//   The runner refuses addresses outside 127.0.0.0/8 unless it is inside
//   its own network namespace.
// DIAGNOSTICS
//   Never throws for a case problem: every outcome is a CaseResult.
#pragma once
#include "runner/result.hpp"

#include <map>
#include <string>

namespace mxlab::runner {

struct CaseOptions {
  std::string case_file;
  std::string adapter_file;
  std::string mta_bin;       // overrides the adapter's binary lookup ({bin})
  std::string self_dir;      // directory of the mxlab binary (binary lookup)
  std::string repo;          // repository root ({repo}; topology refs)
  std::string run_dir;       // created here; removed afterwards unless keep
  std::string result_file;
  std::string faketime_lib;  // libfaketime.so.1, "" if absent
  std::map<std::string, std::string> mta_env;  // added to the adapter's <env> (mxlab run --mta-env)
  bool keep = false;
};

CaseResult run_case(const CaseOptions& options);

// Where the adapter's binary is: --mta-bin, beside mxlab, then PATH; "".
std::string find_mta_binary(const std::string& binary, const std::string& mta_bin, const std::string& self_dir);

}  // namespace mxlab::runner
