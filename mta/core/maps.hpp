// NAME
//   core/maps - lookup tables named as Postfix names them ("type:name")
// DESCRIPTION
//   Supported types:
//     hash:/path       /path.db, written by newaliases / postmap (format below);
//                      an edit of /path takes effect only after the .db is
//                      rebuilt, as in Postfix
//     texthash:/path   /path itself, "key value" lines (postmap(1) syntax)
//     inline:{k=v, { k = v with spaces }}
//     static:value     every key maps to value
//     unix:passwd.byname  the passwd database (getpwnam); proxy: is ignored
//   Keys are looked up as given; callers lower-case where Postfix does.
//
//   The .db format (mxmta's own, documented in docs/queue-format.md):
//       "MXDB1\n" then one record per key: <klen>:<key><vlen>:<value>\n
//   sorted by key. Readers reload when the file's mtime or size changes, so a
//   running daemon sees `newaliases` without a restart.
// DIAGNOSTICS
//   open_table() throws ConfigError for an unsupported type ("unsupported
//   dictionary type: nis") or an unreadable file.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mta::core {

class Table {
 public:
  virtual ~Table() = default;
  virtual std::optional<std::string> lookup(std::string_view key) = 0;
  virtual const std::string& spec() const = 0;  // "hash:/etc/aliases"
};

// Opens a table; `missing_ok` makes a hash:/texthash: table whose file does
// not exist behave as empty (Postfix logs a warning and continues).
std::unique_ptr<Table> open_table(const std::string& spec, bool missing_ok = false);

// A list of tables tried in order ("alias_maps = hash:/a, hash:/b").
class TableList {
 public:
  TableList() = default;
  static TableList open(const std::vector<std::string>& specs, bool missing_ok = true);
  std::optional<std::string> lookup(std::string_view key);
  bool empty() const { return tables_.empty(); }

 private:
  std::vector<std::unique_ptr<Table>> tables_;
};

// The .db file behind hash:/path.
std::string hash_db_path(const std::string& source);
// Write entries (duplicates resolved by the caller) atomically.
void write_hash_db(const std::string& db_path, const std::map<std::string, std::string>& entries);
// Parse a .db file; throws ConfigError on a damaged file.
std::map<std::string, std::string> read_hash_db(const std::string& db_path);

// "texthash"-style source: "key value" lines, '#' comments, continuation lines.
std::vector<std::pair<std::string, std::string>> parse_text_table(std::string_view text, const std::string& file,
                                                                  std::vector<std::string>* warnings);

}  // namespace mta::core
