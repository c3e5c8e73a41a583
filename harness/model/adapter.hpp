// NAME
//   model/adapter - how the harness drives one MTA (harness/adapters/NAME.xml)
// DESCRIPTION
//   An adapter is data, so adding an MTA needs no recompilation
//   (docs/adapters.md). It says how to render a host's configuration from
//   its role, which directories each host gets, and the commands for
//   start, stop, flush, queue listing (with a parser name), submission,
//   newaliases and the wake-up after a clock move; an optional <prepare>
//   command run once per host before its first start (what a package's
//   install script does, e.g. build the aliases database); where mailboxes and the
//   log are; whether the MTA needs root; and its capabilities (lit-style
//   `requires` of a case are checked against them).
//   Commands are split into words first, then each word is substituted:
//     {bin} {confdir} {hostname} {role} {repo} {adapterdir} {clockfile}
//     {args} (as a word of its own: the step's argument list)
//   Paths in <mailbox>, <log> and <mount> are inside the host.
//   <tool name="postconf">{bin} postconf -c {confdir}</tool> names a command
//   a case's <run> step may call ("postconf -n"): the step's words after the
//   tool name replace {args}, or are appended when the template has none.
// DIAGNOSTICS
//   load_adapter throws ParseError("FILE:LINE: reason").
#pragma once
#include <map>
#include <string>
#include <vector>

namespace mxlab::model {

struct AdapterFile {
  std::string name;      // file name in the config directory
  std::string template_; // path with substitutions ({repo}/fixtures/roles/{role}/main.cf); may be empty
  bool required = false; // a missing rendered template is an error (otherwise skipped)
  std::string text;      // appended after the template (substituted)
  unsigned mode = 0644;
};

struct Adapter {
  std::string name;
  std::string file;
  std::string binary;            // program looked up for {bin}
  bool requires_root = false;
  std::vector<std::string> capabilities;
  std::vector<std::string> roles;  // role names it can render (empty: any)
  std::string confdir = "/etc/mxmta";
  std::vector<AdapterFile> files;
  std::vector<std::string> mounts;  // extra per-host directories (inside paths)
  std::string prepare;               // run once per host before the first start (newaliases, as an install does)
  std::string start;
  bool foreground = true;           // start keeps running; stop = SIGTERM unless <stop>
  std::string stop;
  int ready_timeout = 30;           // seconds for the 220 banner
  std::string flush;
  std::string queue;
  std::string queue_parser;         // "postqueue-json"
  std::string submit;
  std::string newaliases;
  std::string wake;
  std::string mailbox_format = "mbox";  // mbox | maildir
  std::string mailbox_path = "/var/mail/{user}";
  std::string log_path = "/var/log/maillog";
  std::map<std::string, std::string> env;  // extra environment for MTA processes
  std::map<std::string, std::string> tools;  // <run> steps: tool name -> command template

  bool has_capability(const std::string& c) const;
};

Adapter load_adapter(const std::string& path);

// Split a command template into words: whitespace separates, '...' and
// "..." group (no escapes inside single quotes; \" and \\ inside double).
std::vector<std::string> split_command(const std::string& cmd);

// Replace {key} by vars[key] for every known key; unknown braces are kept
// (main.cf templates contain ${name} forms of their own).
std::string substitute(const std::string& text, const std::map<std::string, std::string>& vars);

}  // namespace mxlab::model
