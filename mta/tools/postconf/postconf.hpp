// NAME
//   tools/postconf - postconf(1): show and edit main.cf, show master.cf
// SYNOPSIS
//   postconf [-c dir] [-dhHnpxfv] [-C class] [-o name=value] [name ...]
//   postconf [-c dir] -e name=value ...       (implied by an '=' in the first name)
//   postconf [-c dir] -# name ...   |   -X name ...
//   postconf [-c dir] [-fx] [-o name=value] -M [service[/type] ...]
//   postconf -m
// DESCRIPTION
//   Postfix 3.7's postconf, on top of core::Config, core::MainCfEditor and the
//   parameter registry (core/params.hpp):
//     (none), -p  every parameter: the registry's defaults overridden by main.cf,
//                 plus user-defined names (set in main.cf and referenced as $name
//                 from some value), alphabetical, "name = value", unexpanded;
//                 with names: those, in argument order
//     -d          compiled-in defaults (main.cf is not read; myhostname, mydomain
//                 and mynetworks are computed from the machine)
//     -n          only the names main.cf (or -o) sets; -c/MAIL_CONFIG adds
//                 "config_directory = DIR", as Postfix does
//     -h / -H     values only / names only
//     -x          values with $name expanded (raw parameters such as forward_path
//                 are never expanded, as in Postfix)
//     -f          long lines folded at 80 columns, continuation indented 4 spaces
//     -o n=v      one-shot override
//     -C class    builtin, service, user or all (mxmta has no service class)
//     -e, -#, -X  edit main.cf in place (replace or append, comment out, remove);
//                 comments and layout survive; -e creates a missing main.cf
//     -M          master.cf services in Postfix's column format (mxmta's built-in
//                 services when there is no master.cf); -m the map types
//     -v          verbose (which $name validates which user-defined parameter)
//   Output is whitespace-normalised as Postfix's pcf_print_line() does.
// DIAGNOSTICS
//   On stderr, worded as Postfix words them, for example
//     postconf: warning: DIR/main.cf, line 13: overriding earlier entry: mynetworks=127.0.0.0/8
//     postconf: warning: DIR/main.cf: unused parameter: bar_custom=$foo_custom
//     postconf: warning: DIR/main.cf: undefined parameter: nosuch
//     postconf: warning: nosuchparam: unknown parameter          (exit status 0)
//     postconf: fatal: DIR/main.cf, line 16: missing '=' after attribute name: "bad line"
//     postconf: fatal: open DIR/main.cf: No such file or directory
//   Fatal errors exit with status 1.
// BUGS
//   Not implemented (a clear fatal error says so): -a, -A (SASL), -b, -t (bounce
//   templates), -F, -P (master.cf fields and parameters), -l (lock types),
//   -T (TLS), and editing master.cf (-Me, -M#, -MX). Postfix's service-dependent
//   parameters (TRANSPORT_destination_concurrency_limit ...) are not generated
//   from master.cf; mxmta's registry declares the ones it reads.
//   A missing master.cf is not a warning: mxmta then runs its built-in services.
// PARAMETERS
//   config_directory and every parameter of the registry
// SEE ALSO
//   core/config.hpp, core/main_cf.hpp, core/params.hpp, docs/postconf.md
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mta::tools::postconf {

// One line of postconf output: whitespace runs become one space, and with
// `fold` a line that would pass column 80 continues on a new line indented by
// four spaces (Postfix pcf_print_line). The result ends in '\n'.
std::string format_line(std::string_view text, bool fold);

// A master.cf entry as postconf sees it: the fields after Postfix's
// normalisation ("-oname=value" -> "-o" "name=value", "{ text }" -> "text").
struct MasterEntry {
  std::vector<std::string> argv;  // service type private unpriv chroot wakeup maxproc command args...
  int line = 0;                   // first line of the logical line
  std::string text;               // the logical line, for diagnostics
  // The "-o name=value" pairs among the daemon options.
  std::vector<std::pair<std::string, std::string>> params() const;
};

// Parses master.cf text with Postfix's field checks. Throws core::ConfigError
// with Postfix's wording ("file FILE: line N: bad field count",
// "invalid type field \"x\" in \"...\""). `warnings` gets non-fatal problems.
std::vector<MasterEntry> parse_master_entries(std::string_view text, const std::string& file,
                                              std::vector<std::string>* warnings = nullptr);

// One entry in postconf -M format: the eight fields at columns 0, 11, 17, 25,
// 33, 41, 49, 57, then the arguments; with `fold`, each "-o name=value" on a
// line of its own. `expand`, when set, expands -o values (postconf -Mx).
std::string format_master_entry(const MasterEntry& e, bool fold,
                                const std::function<std::string(const std::string&)>& expand = {});

// Names referenced as $name, ${name...} or $(name) anywhere in a value,
// conditional text included (Postfix mac_expand in scan mode), in order.
std::vector<std::string> referenced_names(std::string_view value);

// Parameters whose values are never $name-expanded by the programs that read
// them (Postfix CONFIG_RAW_TABLE): -x shows them as they are.
bool is_raw_parameter(std::string_view name);

}  // namespace mta::tools::postconf
