// NAME
//   core/config - parameter values: main.cf over defaults, expanded lazily
// DESCRIPTION
//   A Config holds main.cf's entries, one-shot overrides (master.cf -o,
//   postconf -o) and the registry's defaults. Values are expanded only when read
//   (Postfix mac_expand), so definition order does not matter:
//     $name ${name} $(name)        the value of name, itself expanded
//     ${name?text} ${name?{text}}  text if name is non-empty, else nothing
//     ${name?{t1}:{t2}}            t1 if name is non-empty, else t2
//     ${name:text} ${name:{text}}  text if name is empty or undefined
//     ${{a} == {b} ? {x} : {y}}    relational: == != < <= > >= (numeric when
//                                  both sides are all digits)
//     $$                           a literal $
//   An undefined name expands to nothing and is reported to the caller (postconf
//   prints "undefined parameter: NAME").
// DIAGNOSTICS
//   A value that does not parse as its parameter's type throws ConfigError with
//   "FILE, line N: bad numerical configuration: NAME = VALUE" (Postfix's wording,
//   plus the place).
#pragma once
#include "core/main_cf.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mta::core {

class Config {
 public:
  Config();
  // Reads DIR/main.cf. A missing file throws "open DIR/main.cf: No such file or directory".
  static Config load(const std::string& config_dir, std::vector<std::string>* warnings = nullptr);
  // From text (tests, sendmail -bs with no file). `file` names it in diagnostics.
  static Config from_text(std::string_view text, const std::string& file = "main.cf",
                          std::vector<std::string>* warnings = nullptr);
  // The config directory named by -c, else $MAIL_CONFIG, else the default.
  static std::string resolve_dir(const std::string& dash_c);

  const std::string& config_dir() const { return dir_; }
  std::string main_cf_path() const { return dir_ + "/main.cf"; }
  const std::vector<Entry>& entries() const { return entries_; }

  void set_override(const std::string& name, const std::string& value);
  // Sets (or replaces) a main.cf entry in memory (tests).
  void set(const std::string& name, const std::string& value);

  bool is_set(std::string_view name) const;  // main.cf or override
  bool is_known(std::string_view name) const;  // in the registry or set
  // Unexpanded value: override > main.cf > default. nullopt: unknown and unset.
  std::optional<std::string> raw(std::string_view name) const;
  std::string expand(std::string_view text, std::set<std::string>* undefined = nullptr) const;

  std::string get(std::string_view name) const;
  bool get_bool(std::string_view name) const;
  long long get_int(std::string_view name) const;
  long long get_time(std::string_view name) const;  // seconds
  std::vector<std::string> get_list(std::string_view name) const;

  // "FILE, line N" for a main.cf entry; "FILE" otherwise.
  std::string where(std::string_view name) const;
  // Names referenced with $name in main.cf values (for "unused parameter").
  std::set<std::string> referenced_names() const;

 private:
  std::string expand_rec(std::string_view text, int depth, std::set<std::string>* undefined) const;
  std::string computed_default(std::string_view name) const;
  [[noreturn]] void bad_value(std::string_view what, std::string_view name, const std::string& value) const;

  std::string dir_;
  std::string file_;
  std::vector<Entry> entries_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::string, std::less<>> overrides_;
  mutable std::map<std::string, std::string, std::less<>> computed_;
};

}  // namespace mta::core
