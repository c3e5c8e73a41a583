// NAME
//   model/adapter - how the harness drives one MTA (harness/adapters/NAME.xml)
// DESCRIPTION
//   An adapter is data, so adding an MTA needs no recompilation
//   (docs/adapters.md). It says how to render a host's configuration from
//   its role, which directories each host gets, and the commands for
//   start, stop, flush, queue listing (with a parser name), submission,
//   newaliases and the wake-up after a clock move; the MTA's command-line
//   tools by their Postfix names (<tool name="mailq">, for a case's <run>
//   steps); an optional <prepare>
//   command run once per host before its first start (what a package's
//   install script does, e.g. build the aliases database); where mailboxes and the
//   log are; whether the MTA needs root; and its capabilities (lit-style
//   `requires` of a case are checked against them).
//   Commands are split into words first, then each word is substituted:
//     {bin} {confdir} {hostname} {role} {repo} {adapterdir} {clockfile}
//     {args} (as a word of its own: the step's argument list)
//   Paths in <mailbox>, <log> and <mount path=> are inside the host.
//   <mount> has a type: "dir" (default: a directory of the host's folder),
//   with mode= its permissions; "tmpfs" (an empty tmpfs), "bind" (source=, a path of the machine after
//   substitution, {clockdir} being the lab clock's directory) or "overlay"
//   (lower=, colon-separated directories stacked read-only: an MTA's own
//   helpers above the machine's). Mounts are made in the order written,
//   so a tmpfs may be followed by mounts below it. <system-user> and
//   <system-group> copy the machine's entry of a user (with its primary
//   group) or a group into each host's /etc/passwd and /etc/group: MTAs
//   that look up their own users by name (Exim's Debian-exim, OpenSMTPD's
//   opensmtpd and opensmtpq) must find them with the machine's ids, which
//   own their set-gid helpers.
//   Queue parsers: postqueue-json, exim-bp, smtpctl-queue (runner/queue).
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

// One per-host mount of an adapter (<mount path= type= source= lower=>).
struct AdapterMount {
  enum class Type { dir, tmpfs, bind, overlay };
  std::string path;    // inside the host
  Type type = Type::dir;
  std::string source;  // bind: path on the machine (substituted)
  std::string lower;   // overlay: lowerdir list, "A:B" (substituted), read-only
  unsigned mode = 0;   // dir: its permissions (mode="0711"), 0 = as created (0755)
};

// Queue listing formats the runner can parse.
inline constexpr const char* kQueueParsers[] = {"postqueue-json", "exim-bp", "smtpctl-queue"};

struct Adapter {
  std::string name;
  std::string file;
  std::string binary;            // program looked up for {bin}
  bool requires_root = false;
  std::vector<std::string> capabilities;
  std::vector<std::string> roles;  // role names it can render (empty: any)
  std::string confdir = "/etc/mxmta";
  std::vector<AdapterFile> files;
  std::vector<std::string> mounts;  // extra per-host directories (inside paths): the dir mounts of mount_specs
  std::vector<AdapterMount> mount_specs;  // every <mount>, in order
  std::vector<std::string> system_users;   // <system-user name=>: copied from the machine's passwd
  std::vector<std::string> system_groups;  // <system-group name=>: copied from the machine's group
  std::string prepare;               // run once per host before the first start (newaliases, as an install does)
  std::string start;
  bool foreground = true;           // start keeps running; stop = SIGTERM unless <stop>
  std::string stop;
  int ready_timeout = 30;           // seconds for the 220 banner
  std::string flush;
  std::string queue;
  std::string queue_parser;         // one of kQueueParsers
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
