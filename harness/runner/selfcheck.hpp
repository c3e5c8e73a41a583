// NAME
//   runner/selfcheck - `mxlab selfcheck`: prove that the suites catch deliberate faults
// SYNOPSIS
//   mxlab selfcheck [--faults-bin PATH] [--mta NAME|FILE] [-j N] [--fault NAME]...
//                   [--no-confirm] [--report FILE] [--run-dir DIR] [--keep] [PATH...]
// DESCRIPTION
//   The suites are worth something only if they fail when the MTA is wrong.
//   The reference MTA can be built with deliberate faults (cmake --preset
//   faults; mta/core/fault.hpp), each chosen at run time by name through
//   the environment variable MXMTA_FAULT. selfcheck:
//     1. asks the faults binary for its catalogue (`BIN faults`: one
//        "NAME<TAB>WHAT" line per fault); a binary built without MX_FAULTS
//        has none and is refused, with the command that builds one;
//     2. runs every case under PATH (default: the repository's suites/)
//        against that binary with no fault: the baseline, which must pass;
//     3. runs every case again once per fault, with MXMTA_FAULT=NAME given
//        to every MTA process (`mxlab run --mta-env`);
//     4. reports, per fault, the cases that caught it (FAIL or XPASS: an
//        assertion about the MTA's behaviour did not hold), and the faults
//        that no case caught: holes in the suites. A case that ERRORs under
//        a fault (it could not run: the topology did not start, the harness
//        hit a limit) proves nothing about the suites' assertions; it is
//        listed, but never counted as catching the fault;
//     5. confirms every catch: the cases that caught a fault run once more
//        with it, and only those that fail again count. A case that fails
//        now and then whatever the MTA does (a race with the machine's load)
//        would otherwise pass for a catcher of whichever fault it happened
//        to fail under; such a case is listed as "not again", not counted.
//        --no-confirm skips this (one run per fault, quicker, less sure).
//   Each run is a child `mxlab run` writing JUnit, which selfcheck reads
//   back; so a crashed run is reported, not mistaken for a clean one. Runs
//   share -j N: with F faults, min(N, F) runs at a time, each with
//   max(1, N / that) cases in parallel. Cases that did not pass in the
//   baseline cannot prove anything and do not count as catching a fault.
//   The report is Markdown (default reports/out/selfcheck.md) with the
//   total time; a table is printed at the end.
// DIAGNOSTICS
//   Exit 0: a clean baseline and every fault caught; 1: a hole, or a case
//   failed in the baseline; 2: could not run (no faults binary, a bad case
//   file, a run that wrote no results); 64: usage.
#pragma once
#include "runner/driver.hpp"

#include <string>
#include <vector>

namespace mxlab::runner {

struct SelfcheckOptions {
  RunOptions run;                   // mta, jobs, paths, repo, self_exe, run_base, keep
  std::string faults_bin;           // "" = REPO/build-faults/bin/mxmta
  std::vector<std::string> faults;  // "" = all of the catalogue
  std::string report;               // "" = REPO/reports/out/selfcheck.md
  bool confirm = true;              // re-run each fault's catchers once with it
};

int selfcheck_command(const SelfcheckOptions& o);

// ---- the pieces, exposed for tests

struct FaultInfo {
  std::string name, what;
};
// `BIN faults` output: "NAME<TAB>WHAT" lines; blank lines ignored.
std::vector<FaultInfo> parse_fault_list(const std::string& text);

// One case of one run, as its JUnit says. status: "PASS", "FAIL", "XPASS",
// "XFAIL", "ERROR", "UNSUPPORTED"; message: the first line of the reason.
struct CaseOutcome {
  std::string id, status, message;
  // Only a failed expectation catches a fault: an ERROR means the case did
  // not get as far as checking anything.
  bool catches() const { return status == "FAIL" || status == "XPASS"; }
  bool errored() const { return status == "ERROR"; }
};

// A case written only for the self-check: its id's number is 9000-9999
// ("smtpd.9004.hop-limit", suites/AREA/9NNN-*.xml). The report says how
// many catchers of each fault are not such cases, i.e. whether the areas'
// own conformance cases would notice the mistake.
bool is_selfcheck_case(const std::string& id);
// Reads the JUnit XML `mxlab run --junit` writes. Throws std::runtime_error
// for a document that is not one.
std::vector<CaseOutcome> parse_junit_outcomes(const std::string& xml);

// How -j N is shared by `runs` fault runs.
struct RunPlan {
  int concurrent = 1;  // runs at a time
  int jobs = 1;        // cases in parallel inside each run
};
RunPlan plan_runs(int jobs, size_t runs);

struct FaultResult {
  FaultInfo fault;
  std::vector<CaseOutcome> caught;   // FAIL/XPASS under the fault, PASS in the baseline
  double seconds = 0;
  std::string problem;               // the run itself broke ("" = fine)
  std::vector<CaseOutcome> errored;  // ERROR under the fault, PASS in the baseline: not counted
  // Failed in the fault's run but not when run again with it (status and
  // message of the second run): not counted.
  std::vector<CaseOutcome> not_again;
  size_t caught_by_area_cases() const;  // catchers that are not 9NNN cases
};

// The confirmation of `first` (the catchers of one run) by `again` (the
// outcomes of running them once more with the same fault): what failed
// both times stays in `caught`, the rest moves to `not_again`.
void confirm_catches(FaultResult& fr, const std::vector<CaseOutcome>& again);

struct SelfcheckReport {
  std::string mta, binary, paths, started;
  int jobs = 1;
  bool confirmed = false;  // catches were re-run (not --no-confirm)
  std::vector<CaseOutcome> baseline;
  double baseline_seconds = 0, total_seconds = 0;
  std::vector<FaultResult> faults;

  std::vector<std::string> holes() const;             // faults nothing caught
  std::vector<std::string> only_9nnn() const;         // caught, but only by 9NNN cases
  std::vector<CaseOutcome> baseline_failures() const;  // cases that did not pass (nor XFAIL, UNSUPPORTED)
  int exit_status() const;                             // 0, 1, or 2 when a run broke
  std::string markdown() const;
  std::string table() const;  // the plain-text summary printed at the end
};

}  // namespace mxlab::runner
