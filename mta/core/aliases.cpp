#include "core/aliases.hpp"

#include "core/address.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>

#include <cctype>

namespace mta::core {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

// Physical lines without their line ends.
std::vector<std::string_view> physical_lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    std::string_view l = text.substr(i, j - i);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    out.push_back(l);
    i = j + 1;
  }
  return out;
}

// Where the structural characters of an RFC 5322 list are: quotes and
// comments hide ',', ':', '@' and '<' from the scanner. `fn(i, c)` is called
// for each character outside quotes and comments; returning false stops.
template <class F>
void scan_top_level(std::string_view s, F fn) {
  bool inq = false;
  int paren = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (inq) {
      if (c == '\\') ++i;
      else if (c == '"') inq = false;
      continue;
    }
    if (paren > 0) {
      if (c == '\\') ++i;
      else if (c == '(') ++paren;
      else if (c == ')') --paren;
      continue;
    }
    if (c == '"') {
      inq = true;
      continue;
    }
    if (c == '(') {
      paren = 1;
      continue;
    }
    if (c == '\\') {
      // An escaped character outside quotes is data ("\user"), never structure.
      ++i;
      continue;
    }
    if (!fn(i, c)) return;
  }
}

// Removes quotes and quoting backslashes inside quotes ("internal form").
// A backslash outside quotes is kept: "\user" means something to local(8).
std::string internalize(std::string_view s) {
  std::string out;
  bool inq = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {
      inq = !inq;
      continue;
    }
    if (inq && c == '\\' && i + 1 < s.size()) {
      out += s[++i];
      continue;
    }
    out += c;
  }
  return out;
}

// The address inside <...> when the item has an angle address, else the item.
std::string_view route_addr(std::string_view item) {
  size_t open = std::string_view::npos, close = std::string_view::npos;
  scan_top_level(item, [&](size_t i, char c) {
    if (c == '<' && open == std::string_view::npos) open = i;
    else if (c == '>' && open != std::string_view::npos) {
      close = i;
      return false;
    }
    return true;
  });
  if (open == std::string_view::npos || close == std::string_view::npos) return item;
  return util::trim(item.substr(open + 1, close - open - 1));
}

}  // namespace

std::string alias_key(std::string_view local_part) { return util::lower(unquote_local(local_part)); }

std::vector<std::string> split_alias_items(std::string_view value) {
  std::vector<std::string> out;
  std::string cur;
  bool inq = false;
  int paren = 0;
  auto flush = [&] {
    auto t = util::trim(cur);
    if (!t.empty()) out.emplace_back(t);
    cur.clear();
  };
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (paren > 0) {  // comments are dropped, as Postfix's tokenizer drops them
      if (c == '\\') ++i;
      else if (c == '(') ++paren;
      else if (c == ')') --paren;
      continue;
    }
    if (inq) {
      cur += c;
      if (c == '\\' && i + 1 < value.size()) cur += value[++i];
      else if (c == '"') inq = false;
      continue;
    }
    if (c == '"') {
      inq = true;
      cur += c;
    } else if (c == '(') {
      paren = 1;
    } else if (c == '\\' && i + 1 < value.size()) {
      cur += c;
      cur += value[++i];
    } else if (c == ',') {
      flush();
    } else {
      cur += c;
    }
  }
  flush();
  return out;
}

std::vector<AliasTarget> parse_alias_value(std::string_view value) {
  std::vector<AliasTarget> out;
  for (const auto& item : split_alias_items(value)) {
    std::string_view inner = route_addr(item);
    if (inner.empty()) continue;
    AliasTarget t;
    if (inner[0] == '\\') {
      t.kind = AliasTargetKind::address;
      t.no_expand = true;
      t.text = std::string(util::trim(inner.substr(1)));
      if (!t.text.empty()) out.push_back(std::move(t));
      continue;
    }
    std::string internal = internalize(inner);
    if (!internal.empty() && (internal[0] == '/' || internal[0] == '~')) {
      t.kind = AliasTargetKind::file;
      t.text = internal;
    } else if (!internal.empty() && internal[0] == '|') {
      t.kind = AliasTargetKind::command;
      t.text = std::string(util::trim(std::string_view(internal).substr(1)));
    } else if (util::istarts_with(internal, ":include:")) {
      t.kind = AliasTargetKind::include;
      t.text = std::string(util::trim(std::string_view(internal).substr(9)));
    } else {
      t.kind = AliasTargetKind::address;
      t.text = std::string(inner);
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<AliasTarget> parse_forward_file(std::string_view text) {
  std::vector<AliasTarget> out;
  for (std::string_view l : physical_lines(text)) {
    if (!l.empty() && l[0] == '#') continue;
    for (auto& t : parse_alias_value(l)) out.push_back(std::move(t));
  }
  return out;
}

std::vector<AliasEntry> parse_aliases(std::string_view text, const std::string& file,
                                      std::vector<std::string>* warnings) {
  std::vector<AliasEntry> out;
  auto warn = [&](int line, std::string_view what) {
    if (warnings) warnings->push_back(fmt::format("{}, line {}: {}", file, line, what));
  };
  auto finish = [&](const std::string& logical, int line) {
    if (logical.empty()) return;
    size_t colon = std::string::npos;
    bool comma_before = false;
    scan_top_level(logical, [&](size_t i, char c) {
      if (c == ',') comma_before = true;
      if (c == ':') {
        colon = i;
        return false;
      }
      return true;
    });
    if (colon == std::string::npos || comma_before) return warn(line, "need name:value pair");
    std::string_view lhs = util::trim(std::string_view(logical).substr(0, colon));
    std::string_view rhs = util::trim(std::string_view(logical).substr(colon + 1));
    std::string name = util::lower(util::trim(internalize(lhs)));
    std::vector<std::string> items = split_alias_items(rhs);
    if (lhs.empty() || name.empty() || items.empty()) return warn(line, "need name:value pair");
    bool remote = false;
    scan_top_level(lhs, [&](size_t, char c) {
      if (c == '@' || c == '%') remote = true;
      return !remote;
    });
    if (remote) return warn(line, "name must be local");
    out.push_back({std::move(name), util::join(items, ", "), line});
  };

  std::string logical;
  int last = 0, lineno = 0;
  for (std::string_view l : physical_lines(text)) {
    ++lineno;
    auto t = util::trim(l);
    if (t.empty() || t[0] == '#') continue;
    if (is_space(l[0])) {
      // A continuation line; one at the top of the file continues nothing
      // and is dropped, as readlline drops it.
      if (logical.empty()) continue;
      logical += ' ';
      logical += t;
      last = lineno;
      continue;
    }
    finish(logical, last);
    logical = std::string(t);
    last = lineno;
  }
  finish(logical, last);
  return out;
}

std::map<std::string, std::string> alias_table(const std::vector<AliasEntry>& entries, const std::string& db_path,
                                               std::vector<std::string>* warnings) {
  std::map<std::string, std::string> out;
  for (const auto& e : entries) {
    if (!out.emplace(e.name, e.value).second && warnings)
      warnings->push_back(fmt::format("{}: duplicate entry: \"{}\"", db_path, e.name));
  }
  return out;
}

}  // namespace mta::core
