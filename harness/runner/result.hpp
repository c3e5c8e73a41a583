// NAME
//   runner/result - the outcome of one case, as lit names outcomes
// DESCRIPTION
//   PASS, FAIL, XFAIL (failed as expected), XPASS (passed although marked
//   xfail: a failure), UNSUPPORTED (skipped: missing capability, MTA named
//   in `unsupported`, needs root) and ERROR (could not run: lit's
//   UNRESOLVED, e.g. no namespaces, MTA binary missing, a host never
//   became ready). A case process writes its result as a small XML file;
//   the runner reads it back, so a crashed case is still reported.
// DIAGNOSTICS
//   read_result throws std::runtime_error for an unreadable file.
#pragma once
#include <string>

namespace mxlab::runner {

enum class Status { pass, fail, xfail, xpass, unsupported, error };

const char* status_name(Status s);  // "PASS", "FAIL", ...
bool is_failure(Status s);          // FAIL, XPASS

struct CaseResult {
  std::string id, area, file, mta, summary;
  std::string profile;   // the case's profile (postfix, rfc)
  std::string tags;      // the case's tags, space-separated (rfc5321#3.6.2 ...)
  Status status = Status::error;
  std::string message;   // one line: why it failed / was skipped
  std::string step;      // the failed step, as written, with its line
  std::string expected, actual;
  std::string output;    // transcripts, host logs, DNS log (JUnit system-out)
  double seconds = 0;
};

void write_result(const CaseResult& r, const std::string& path);
CaseResult read_result(const std::string& path);

// Apply the case's xfail list: FAIL -> XFAIL, PASS -> XPASS.
void apply_xfail(CaseResult& r, bool expected_to_fail);

}  // namespace mxlab::runner
