// NAME
//   core/aliases - the aliases(5) file format, and the destinations an alias
//   value, a ~/.forward file or an :include: file lists
// SYNOPSIS
//   auto entries = core::parse_aliases(text, "/etc/aliases", &warnings);
//   auto db = core::alias_table(entries, "/etc/aliases.db", &warnings);
//   for (auto& t : core::parse_alias_value(db["sales"])) ...
// DESCRIPTION
//   An aliases file has Postfix's readlline syntax, the same as main.cf: a
//   logical line starts in column 1, a line that starts with whitespace
//   continues it, blank lines and lines whose first non-blank character is '#'
//   are ignored and do not end a continuation. Each logical line is
//       name: value, value, ...
//   The name is a local part; it may be quoted ("odd name": alice), is stored
//   unquoted and lower-cased (lookups use the lower-cased local part). The
//   first ':' outside quotes ends the name.
//
//   A value list is split at commas outside quotes, parentheses (comments, which
//   are dropped) and angle brackets. Each item is one destination:
//       /file/name       append in mbox format (a trailing '/' means Maildir)
//       ~/file/name      the same, relative to the recipient's home directory
//       |command         pipe the message to a command (quote it when it has
//                        spaces or commas: "|/usr/bin/vacation alice")
//       :include:/file   read more destinations from that file
//       \user            deliver to user's mailbox, no alias or .forward
//       address          anything else (user, user@domain, Name <u@d>)
//   Quotes are removed from file, command and include items (Postfix
//   "internalizes" them); addresses keep their external (quoted) form.
//
//   ~/.forward and :include: files list destinations one line at a time (each
//   line is a value list); lines that start with '#' are comments, and there
//   are no continuation lines (Postfix deliver_token_stream).
// STANDARDS
//   aliases(5) and postalias(1) of Postfix 3.7; RFC 5322 section 3.4 (address
//   lists: quoted strings, comments, angle addresses)
// DIAGNOSTICS
//   Warnings are worded as postalias(1) words them, with the file and the line
//   (the last physical line of the logical line, as Postfix's readlline counts):
//     /etc/aliases, line 12: need name:value pair
//     /etc/aliases, line 13: name must be local
//     /etc/aliases.db: duplicate entry: "sales"       (alias_table; first kept)
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace mta::core {

struct AliasEntry {
  std::string name;   // unquoted, lower-cased
  std::string value;  // normalised value list: items joined with ", "
  int line = 0;
};

// Parses an aliases(5) file. Malformed lines are skipped with a warning; all
// well-formed entries are returned in file order, duplicates included.
std::vector<AliasEntry> parse_aliases(std::string_view text, const std::string& file,
                                      std::vector<std::string>* warnings);

// The key/value table newaliases stores: the first entry of each name wins and
// every later one is reported as "<db_path>: duplicate entry: \"name\"".
std::map<std::string, std::string> alias_table(const std::vector<AliasEntry>& entries, const std::string& db_path,
                                               std::vector<std::string>* warnings);

enum class AliasTargetKind { address, file, command, include };

struct AliasTarget {
  AliasTargetKind kind = AliasTargetKind::address;
  std::string text;        // address (external form), path, command (without '|'), include path
  bool no_expand = false;  // "\user": straight to the mailbox
};

// Splits a value list into destinations (empty items are dropped).
std::vector<AliasTarget> parse_alias_value(std::string_view value);
// Splits a value list into its items with comments removed and quoting kept
// (the form newaliases stores).
std::vector<std::string> split_alias_items(std::string_view value);
// Destinations of a ~/.forward or :include: file.
std::vector<AliasTarget> parse_forward_file(std::string_view text);

// The lookup key for a local part: unquoted and lower-cased.
std::string alias_key(std::string_view local_part);

}  // namespace mta::core
