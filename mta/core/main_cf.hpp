// NAME
//   core/main_cf - read and edit main.cf exactly as Postfix does
// DESCRIPTION
//   Syntax (Postfix readlline + split_nameval):
//     - a logical line "name = value" starts in column 1; a physical line that
//       starts with whitespace continues it, the line break and indentation
//       becoming one space;
//     - blank lines and lines whose first non-blank character is '#' are ignored
//       and do not end a continuation; a '#' after a value is data;
//     - whitespace around '=' and at the end is dropped; empty values are legal;
//     - the last definition wins ("overriding earlier entry" warning when the
//       value differs).
//   Editing (postconf -e / -# / -X) works on the physical lines so that comments
//   and layout survive, and writes the file back atomically.
// DIAGNOSTICS
//   Errors carry "FILE, line N: reason" and are thrown as ConfigError; warnings
//   are collected in the caller's vector, worded as Postfix words them.
#pragma once
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mta::core {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Entry {
  std::string name;
  std::string value;
  int line = 0;  // first physical line of the logical line
};

// Parse main.cf-style text. `file` is used in diagnostics only.
// Throws ConfigError on a fatal syntax error; warnings are appended.
std::vector<Entry> parse_main_cf(std::string_view text, const std::string& file,
                                 std::vector<std::string>* warnings);

// Split "name = value" (Postfix split_nameval). Returns an error text (empty on success).
std::string split_nameval(std::string_view line, std::string& name, std::string& value);

// The physical lines of a main.cf with edit operations, for postconf.
class MainCfEditor {
 public:
  // Loads the file; a missing file gives an empty editor (postconf -e creates it).
  static MainCfEditor load(const std::string& path);
  explicit MainCfEditor(std::string path, std::vector<std::string> lines = {});

  // postconf -e name=value: replace every entry of `name` (dropping continuation
  // lines) or append at the end. Returns the number of entries replaced.
  int set(const std::string& name, const std::string& value);
  // postconf -#: comment out the entry and its continuation lines.
  int comment_out(const std::string& name);
  // postconf -X: delete the entry and its continuation lines.
  int remove(const std::string& name);

  std::string text() const;
  const std::string& path() const { return path_; }
  // Write back atomically; throws ConfigError with the reason.
  void save() const;

 private:
  struct Span {
    size_t first = 0, last = 0;  // physical line indexes, inclusive
  };
  std::vector<Span> find(const std::string& name) const;
  std::string path_;
  std::vector<std::string> lines_;
};

}  // namespace mta::core
