// NAME
//   runner/driver - `mxlab run`, `mxlab list`, `mxlab demo`: many cases, in parallel
// DESCRIPTION
//   Collects case files (directories are searched for *.xml), parses every
//   case, the adapter and every topology first: one malformed file stops
//   the run before anything starts (exit 2). Then each case runs in its
//   own process (`mxlab __case ...`, one supervisor and sandbox each), at
//   most `jobs` at a time. A lit-style progress line is printed per case
//   ("PASS: seed.relay-denied (3 of 12)"), details of failures follow it,
//   then a summary, and JUnit XML if asked.
//   Several MTAs (`--mta reference,postfix,exim,opensmtpd`): every case
//   runs against every adapter, all pairs sharing the -j slots; progress
//   lines name the MTA ("FAIL: seed.relay-denied on exim (7 of 32)"), the
//   summary counts per MTA, JUnit has suites per MTA, and the conformance
//   matrix (report/matrix) is written as Markdown and HTML, by default
//   to reports/out/matrix.md and reports/out/matrix.html of the
//   repository. --matrix / --matrix-html name the files (and ask for a
//   matrix of a single MTA too).
//   Exit status: 0 every case passed, failed as expected (XFAIL) or was
//   unsupported; 1 a case failed (FAIL, XPASS); 2 nothing failed but a case
//   could not run (ERROR), or the files are bad.
//   SIGINT/SIGTERM: running cases are stopped (their sandboxes torn down,
//   run directories removed unless --keep) and the run exits 130/143.
// DIAGNOSTICS
//   Messages on stderr as "mxlab: FILE:LINE: reason".
#pragma once
#include <string>
#include <vector>

namespace mxlab::runner {

struct RunOptions {
  std::string mta = "reference";  // adapter names or files, comma-separated
  std::string mta_bin;
  std::string junit;
  int jobs = 1;
  std::string filter;
  bool keep = false;
  bool verbose = false;
  std::string run_base;  // parent of run directories ("" = $TMPDIR or /tmp)
  std::vector<std::string> mta_env;  // NAME=VALUE for every MTA process (after the adapter's <env>)
  std::vector<std::string> paths;
  std::string repo;      // repository root
  std::string self_exe;  // this binary
  std::string matrix;       // Markdown matrix file ("" = default when several MTAs)
  std::string matrix_html;  // HTML matrix file (likewise)
};

// The adapters of --mta: split at commas, blanks dropped, in order.
std::vector<std::string> split_mtas(const std::string& mta);

int run_command(const RunOptions& o);
int list_command(const std::vector<std::string>& paths, const std::string& repo);

// *.xml files under each path (files are taken as given), sorted, unique.
std::vector<std::string> collect_case_files(const std::vector<std::string>& paths, std::string& error);

// The adapter file for --mta NAME (a path if NAME has '/' or ends in .xml).
std::string adapter_path(const std::string& mta, const std::string& repo);

// libfaketime for the MTAs: $MXLAB_FAKETIME_LIB, else the build's; "" if missing.
std::string faketime_library();

// `mxlab __case`: run one case (called in the child process).
int case_command(int argc, char** argv);

}  // namespace mxlab::runner
