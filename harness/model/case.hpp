// NAME
//   model/case - a conformance case: metadata, topology reference, steps
// DESCRIPTION
//   Parsed from suites/AREA/NAME.xml (docs/cases.md). One case per file:
//     <case id="seed.relay-denied" area="seed" profile="postfix"
//           tags="rfc5321#3.6.2" requires="clock" xfail="exim">
//       <summary>...</summary>
//       <topology ref="fixtures/topologies/seed-intranet.xml"/>
//       steps, in order: dialog sendmail advance advance-to restart flush
//       newaliases edit-file run wait-until verify
//     </case>
//   Assertions (children of <verify> and <wait-until>) are kept as a small
//   tree of Check nodes whose names and attributes are validated here; the
//   runner evaluates them. lit's vocabulary applies: `requires` names
//   adapter capabilities (missing -> UNSUPPORTED), `unsupported` names MTAs
//   that skip the case, `xfail` names MTAs ("*" for all) expected to fail.
// DIAGNOSTICS
//   load_case throws ParseError("FILE:LINE: reason"), including errors in
//   dialog scripts (at the script's own line) and in the topology file.
#pragma once
#include "dialog/script.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mxlab::model {

struct Check {
  std::string kind;                           // element name: mailbox, header, dsn, ...
  std::map<std::string, std::string> attrs;
  std::vector<Check> children;
  int line = 0;
  std::string attr(const std::string& k, const std::string& dflt = {}) const;
  bool has(const std::string& k) const { return attrs.count(k) != 0; }
  std::string describe() const;  // <mailbox host="..." user="..."> (line N)
};

enum class StepKind {
  dialog, sendmail, advance, advance_to, restart, flush, newaliases, edit_file, run, wait_until, verify
};

struct Step {
  StepKind kind = StepKind::verify;
  std::string element;                        // as written
  int line = 0;
  std::map<std::string, std::string> attrs;
  std::string text;                           // body (sendmail message, edit-file content)
  dialog::Script script;                      // dialog
  int64_t seconds = 0;                        // advance by / wait-until timeout / dialog timeout
  int64_t date = 0;                           // advance-to
  std::vector<Check> checks;                  // verify / wait-until; run: its <stdout>/<stderr>
  std::string attr(const std::string& k, const std::string& dflt = {}) const;
  std::string describe() const;               // "step 3: <dialog host=...> (line 12)"
};

struct Case {
  std::string id, area, profile = "postfix", summary, file;
  std::vector<std::string> tags;
  std::vector<std::string> requires_, unsupported, xfail;
  std::string topology_ref;   // as written
  std::string topology_path;  // resolved
  int64_t timeout = 300;      // real seconds for the whole case
  std::vector<Step> steps;
};

// repo_root: where relative topology refs are looked up after the case's
// own directory; empty = search upwards from the case file.
Case load_case(const std::string& path, const std::string& repo_root = {});

// The repository root above `start` (a directory with harness/ and fixtures/), or "".
std::string find_repo_root(const std::string& start);

}  // namespace mxlab::model
