#include "core/main_cf.hpp"

#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>

#include <cctype>

namespace mta::core {
namespace {

bool is_blank_or_comment(std::string_view l) {
  auto t = util::trim(l);
  return t.empty() || t[0] == '#';
}

bool starts_with_space(std::string_view l) {
  return !l.empty() && std::isspace(static_cast<unsigned char>(l[0]));
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    std::string_view l = text.substr(i, j - i);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    out.emplace_back(l);
    i = j + 1;
  }
  return out;
}

}  // namespace

std::string split_nameval(std::string_view line, std::string& name, std::string& value) {
  std::string_view s = util::trim(line);
  size_t i = 0;
  while (i < s.size() && s[i] != '=' && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  name = std::string(s.substr(0, i));
  size_t j = i;
  while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
  if (name.empty()) return "missing attribute name";
  if (j >= s.size() || s[j] != '=') return "missing '=' after attribute name";
  value = std::string(util::trim(s.substr(j + 1)));
  return {};
}

std::vector<Entry> parse_main_cf(std::string_view text, const std::string& file,
                                 std::vector<std::string>* warnings) {
  std::vector<std::string> lines = split_lines(text);
  std::vector<Entry> entries;
  std::map<std::string, size_t> seen;

  auto finish = [&](std::string& logical, int start) {
    if (logical.empty()) return;
    Entry e;
    std::string err = split_nameval(logical, e.name, e.value);
    if (!err.empty())
      throw ConfigError(fmt::format("{}, line {}: {}: \"{}\"", file, start, err, logical));
    e.line = start;
    auto it = seen.find(e.name);
    if (it != seen.end()) {
      Entry& old = entries[it->second];
      if (old.value != e.value && warnings)
        warnings->push_back(fmt::format("{}, line {}: overriding earlier entry: {}={}", file, start, old.name,
                                        old.value));
      old = e;  // last definition wins, at its own line
    } else {
      seen[e.name] = entries.size();
      entries.push_back(e);
    }
    logical.clear();
  };

  std::string logical;
  int start = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (is_blank_or_comment(l)) continue;
    if (starts_with_space(l)) {
      if (logical.empty()) {
        if (warnings)
          warnings->push_back(fmt::format("{}: logical line must not start with whitespace: \"{}\"", file, l));
        continue;
      }
      logical += ' ';
      logical += util::trim(l);
      continue;
    }
    finish(logical, start);
    logical = std::string(util::trim(l));
    start = static_cast<int>(i + 1);
  }
  finish(logical, start);
  return entries;
}

MainCfEditor::MainCfEditor(std::string path, std::vector<std::string> lines)
    : path_(std::move(path)), lines_(std::move(lines)) {}

MainCfEditor MainCfEditor::load(const std::string& path) {
  std::string text;
  auto ec = util::read_file(path, text);
  if (ec && ec != std::errc::no_such_file_or_directory)
    throw ConfigError(fmt::format("open {}: {}", path, ec.message()));
  std::vector<std::string> lines = split_lines(text);
  return MainCfEditor(path, std::move(lines));
}

std::vector<MainCfEditor::Span> MainCfEditor::find(const std::string& name) const {
  std::vector<Span> out;
  for (size_t i = 0; i < lines_.size(); ++i) {
    const std::string& l = lines_[i];
    if (is_blank_or_comment(l) || starts_with_space(l)) continue;
    std::string n, v;
    if (!split_nameval(l, n, v).empty() || n != name) continue;
    Span s{i, i};
    for (size_t j = i + 1; j < lines_.size(); ++j) {
      if (lines_[j].empty() || util::trim(lines_[j]).empty()) continue;  // blank: look further
      if (starts_with_space(lines_[j]) && !is_blank_or_comment(lines_[j])) s.last = j;
      else if (is_blank_or_comment(lines_[j])) continue;
      else break;
    }
    out.push_back(s);
  }
  return out;
}

int MainCfEditor::set(const std::string& name, const std::string& value) {
  auto spans = find(name);
  std::string line = value.empty() ? name + " =" : name + " = " + value;
  if (spans.empty()) {
    lines_.push_back(line);
    return 0;
  }
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    // Drop the continuation lines of this entry; comments between them are kept
    // only when they were outside the span.
    std::vector<std::string> keep;
    for (size_t j = it->first + 1; j <= it->last; ++j)
      if (is_blank_or_comment(lines_[j])) keep.push_back(lines_[j]);
    lines_.erase(lines_.begin() + static_cast<long>(it->first), lines_.begin() + static_cast<long>(it->last) + 1);
    keep.insert(keep.begin(), line);
    lines_.insert(lines_.begin() + static_cast<long>(it->first), keep.begin(), keep.end());
  }
  return static_cast<int>(spans.size());
}

int MainCfEditor::comment_out(const std::string& name) {
  auto spans = find(name);
  for (const auto& s : spans)
    for (size_t j = s.first; j <= s.last; ++j)
      if (!is_blank_or_comment(lines_[j])) lines_[j] = "#" + lines_[j];
  return static_cast<int>(spans.size());
}

int MainCfEditor::remove(const std::string& name) {
  auto spans = find(name);
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
    for (size_t j = it->last + 1; j-- > it->first;)
      if (j == it->first || !is_blank_or_comment(lines_[j])) lines_.erase(lines_.begin() + static_cast<long>(j));
  }
  return static_cast<int>(spans.size());
}

std::string MainCfEditor::text() const {
  std::string t;
  for (const auto& l : lines_) {
    t += l;
    t += '\n';
  }
  return t;
}

void MainCfEditor::save() const {
  auto ec = util::write_file_atomic(path_, text(), 0644);
  if (ec) throw ConfigError(fmt::format("write {}: {}", path_, ec.message()));
}

}  // namespace mta::core
