// NAME
//   report/matrix - the conformance matrix: cases by MTA, as Markdown and HTML
// DESCRIPTION
//   One run of `mxlab run --mta reference,postfix,exim,opensmtpd PATH...`
//   gives a result per case and MTA. The matrix shows them as a table per
//   area (rows: cases in the order run, with their profile; columns: the
//   MTAs in the order given), each cell one of
//     PASS  FAIL  SKIP (UNSUPPORTED)  XFAIL  XPASS  ERROR
//   and "-" where a case was not run for an MTA. Every cell that is not
//   PASS carries a note number; the notes list the reason (why it was
//   skipped) or the evidence (the failed step, its message, expected and
//   actual, first lines). Identical reasons share one note. Totals per MTA
//   and per profile and MTA come first; then, when the results carry
//   durations, the time per MTA (the sum of its cases' durations, and its
//   slowest case): the MTAs share the -j slots of one run, so the run's
//   wall time (MatrixInfo::wall_seconds) is shown once for all of them.
//   matrix_markdown() is GitHub-flavoured Markdown (pipes in cells are
//   escaped). matrix_html() is one self-contained page: inline CSS, no
//   script, no external asset; cells are coloured and their title is the
//   note's text.
//   The output depends only on its arguments (no clock read here), so it
//   can be compared with golden text.
// STANDARDS
//   GitHub Flavored Markdown tables; HTML5
// DIAGNOSTICS
//   write_text throws std::runtime_error when the file cannot be written.
#pragma once
#include "runner/result.hpp"

#include <string>
#include <vector>

namespace mxlab::report {

struct MatrixInfo {
  std::string title = "Conformance matrix";
  std::string command;    // the command that made it, shown verbatim ("" = not shown)
  std::string generated;  // when, as text ("" = not shown)
  double wall_seconds = 0;  // the whole run's wall time (0 = not shown)
};

// The word of a cell: PASS FAIL SKIP XFAIL XPASS ERROR.
const char* matrix_word(runner::Status s);

std::string matrix_markdown(const std::vector<runner::CaseResult>& results, const std::vector<std::string>& mtas,
                            const MatrixInfo& info);
std::string matrix_html(const std::vector<runner::CaseResult>& results, const std::vector<std::string>& mtas,
                        const MatrixInfo& info);

// Writes text to path (parent directories created).
void write_text(const std::string& path, const std::string& text);

}  // namespace mxlab::report
