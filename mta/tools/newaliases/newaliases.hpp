// NAME
//   tools/newaliases - newaliases(1) and postalias(1)
// SYNOPSIS
//   newaliases [-c config_dir] [-v]
//   postalias [-Ninoprvw] [-c config_dir] [type:]file...
//   postalias [-c config_dir] -q key [type:]file...      (key "-": keys on stdin)
//   postalias [-c config_dir] -d key [type:]file...
//   postalias [-c config_dir] -s [type:]file
// DESCRIPTION
//   newaliases (= sendmail -bi = postalias $alias_database) rebuilds the
//   database of every table listed in alias_database; postalias rebuilds the
//   tables it is given. A table is "hash:/etc/aliases" or just
//   "/etc/aliases" (type hash); btree, lmdb and cdb are accepted as hash.
//   The source is parsed with core/aliases (aliases(5)); the database is
//   /etc/aliases.db in the format of core/maps (write_hash_db), written
//   atomically, so a running daemon sees either the old or the new table.
//   An edit of the source takes effect only after the rebuild, as in
//   Postfix. As Postfix's postalias, the database also gets the sendmail
//   signature entry "@" -> "@", takes the source file's group/other read
//   permissions away where the source has none, and, when run by root,
//   belongs to the source file's owner (local(8) runs alias commands with the
//   rights of the database owner).
//
//   Options (postalias): -q query (prints the value, exit 1 when absent;
//   with "-" prints "key:<TAB>value" for each key read from stdin), -d delete
//   a key (exit 1 when absent), -s print every entry, -i incremental (entries
//   read from stdin are added to the existing database), -r a duplicate
//   replaces the earlier entry, -w duplicates are ignored silently, -o / -p
//   do not copy the source's owner / permissions, -N -n -v accepted and
//   ignored (the database has no terminating nulls; there is no verbose log).
//   Keys are looked up lower-cased. -c DIR and MAIL_CONFIG select main.cf.
// DIAGNOSTICS
//   Silent on success, exit 0. On stderr, worded as Postfix (the program name
//   is the one invoked):
//     newaliases: warning: /etc/aliases, line 12: need name:value pair
//     newaliases: warning: /etc/aliases.db: duplicate entry: "sales"
//     newaliases: fatal: open /etc/aliases: No such file or directory  (exit 1)
//     postalias: fatal: unsupported dictionary type: nis               (exit 1)
// PARAMETERS
//   alias_database, config_directory
#pragma once
#include <iosfwd>
#include <string>
#include <string_view>

namespace mta::tools::newaliases {

struct BuildOptions {
  bool replace_dups = false;  // -r
  bool ignore_dups = false;   // -w
  bool incremental = false;   // -i: entries from `stdin_text`, merged into the database
  bool copy_owner = true;     // not -o
  bool copy_perm = true;      // not -p
};

// Rebuilds one table's database. Warnings and the fatal error (returns false)
// are written through util/log.
bool build(const std::string& table, const BuildOptions& opts, std::string_view stdin_text = {});

// The whole command; argv[0]'s base name ("newaliases" or "postalias")
// selects the behaviour. Returns the exit status.
int run(int argc, char** argv, std::istream& in, std::ostream& out);

}  // namespace mta::tools::newaliases
