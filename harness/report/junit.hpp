// NAME
//   report/junit - JUnit XML in lit's shape, read by Jenkins, GitLab and GitHub
// DESCRIPTION
//   <testsuites> holds one <testsuite name="mxlab.MTA.AREA"> per MTA and area with
//   tests/failures/errors/skipped/time; each case is a <testcase
//   classname="mxlab.MTA.AREA" name="ID" time="S">. FAIL and XPASS carry
//   <failure message="..."> with the failed step, expected and actual;
//   ERROR carries <error message="...">; UNSUPPORTED carries <skipped
//   message="...">; PASS and XFAIL have no child but <system-out>.
//   Transcripts and host logs go to <system-out>. Control characters that
//   XML 1.0 cannot hold are dropped (pugixml format_skip_control_chars).
// STANDARDS
//   The JUnit XML schema as Jenkins' junit plugin and lit write it
// DIAGNOSTICS
//   write_junit throws std::runtime_error when the file cannot be written.
#pragma once
#include "runner/result.hpp"

#include <string>
#include <vector>

namespace mxlab::report {

// `mta` names the suites of results that do not name their MTA; a run of
// several MTAs gives each its own suites (mxlab.exim.seed ...).
std::string junit_xml(const std::vector<runner::CaseResult>& results, const std::string& mta);
void write_junit(const std::vector<runner::CaseResult>& results, const std::string& mta, const std::string& path);

// The body of a <failure>/<error>: step, message, expected, actual.
std::string failure_text(const runner::CaseResult& r);

}  // namespace mxlab::report
