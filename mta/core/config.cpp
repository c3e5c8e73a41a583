#include "core/config.hpp"

#include "core/net_addr.hpp"
#include "core/params.hpp"
#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>

#include <cctype>
#include <cstdlib>

namespace mta::core {
namespace {

constexpr int kMaxDepth = 100;

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Index of the bracket matching s[open] (which is '{' or '('), or npos.
size_t match_bracket(std::string_view s, size_t open) {
  char o = s[open], c = o == '{' ? '}' : ')';
  int level = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == o) ++level;
    else if (s[i] == c && --level == 0) return i;
  }
  return std::string_view::npos;
}

// Parses "{text}" at s[i] (after optional spaces); returns the inner text and moves i.
bool take_braced(std::string_view s, size_t& i, std::string_view& inner) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  if (i >= s.size() || s[i] != '{') return false;
  size_t j = match_bracket(s, i);
  if (j == std::string_view::npos) return false;
  inner = s.substr(i + 1, j - i - 1);
  i = j + 1;
  return true;
}

void skip_space(std::string_view s, size_t& i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
}

}  // namespace

Config::Config() : dir_("/etc/mxmta"), file_("/etc/mxmta/main.cf") {}

std::string Config::resolve_dir(const std::string& dash_c) {
  if (!dash_c.empty()) return dash_c;
  if (const char* e = std::getenv("MAIL_CONFIG"); e && *e) return e;
  return std::string(find_param("config_directory")->def);
}

Config Config::load(const std::string& config_dir, std::vector<std::string>* warnings) {
  std::string path = config_dir + "/main.cf";
  std::string text;
  auto ec = util::read_file(path, text);
  if (ec) throw ConfigError(fmt::format("open {}: {}", path, ec.message()));
  Config c = from_text(text, path, warnings);
  c.dir_ = config_dir;
  return c;
}

Config Config::from_text(std::string_view text, const std::string& file, std::vector<std::string>* warnings) {
  Config c;
  c.file_ = file;
  c.dir_ = util::dirname(file);
  c.entries_ = parse_main_cf(text, file, warnings);
  for (size_t i = 0; i < c.entries_.size(); ++i) c.index_[c.entries_[i].name] = i;
  // config_directory is what -c says, whatever main.cf claims.
  return c;
}

void Config::set_override(const std::string& name, const std::string& value) {
  overrides_[name] = value;
  computed_.clear();
}

void Config::set(const std::string& name, const std::string& value) {
  auto it = index_.find(name);
  if (it != index_.end()) {
    entries_[it->second].value = value;
  } else {
    index_[name] = entries_.size();
    entries_.push_back({name, value, 0});
  }
  computed_.clear();
}

bool Config::is_set(std::string_view name) const {
  return overrides_.count(name) || index_.count(name);
}

bool Config::is_known(std::string_view name) const { return is_set(name) || find_param(name) != nullptr; }

std::string Config::computed_default(std::string_view name) const {
  auto it = computed_.find(name);
  if (it != computed_.end()) return it->second;
  std::string v;
  if (name == "myhostname") {
    v = default_myhostname();
  } else if (name == "mydomain") {
    v = default_mydomain(get("myhostname"));
  } else if (name == "mynetworks") {
    v = util::join(networks_for_style(get("mynetworks_style")), " ");
  }
  computed_[std::string(name)] = v;
  return v;
}

std::optional<std::string> Config::raw(std::string_view name) const {
  if (name == "config_directory") return dir_;
  if (auto it = overrides_.find(name); it != overrides_.end()) return it->second;
  if (auto it = index_.find(name); it != index_.end()) return entries_[it->second].value;
  if (const ParamDef* p = find_param(name)) {
    if (p->computed) return computed_default(name);
    return std::string(p->def);
  }
  return std::nullopt;
}

std::string Config::expand(std::string_view text, std::set<std::string>* undefined) const {
  return expand_rec(text, 0, undefined);
}

std::string Config::expand_rec(std::string_view s, int depth, std::set<std::string>* undefined) const {
  if (depth > kMaxDepth) throw ConfigError(fmt::format("unreasonable macro call nesting: \"{}\"", s));
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  auto lookup = [&](std::string_view name) -> std::optional<std::string> {
    auto v = raw(name);
    if (!v && undefined) undefined->insert(std::string(name));
    return v;
  };
  while (i < s.size()) {
    char c = s[i];
    if (c != '$' || i + 1 >= s.size()) {
      out += c;
      ++i;
      continue;
    }
    char d = s[i + 1];
    if (d == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (name_char(d)) {
      size_t j = i + 1;
      while (j < s.size() && name_char(s[j])) ++j;
      auto v = lookup(s.substr(i + 1, j - i - 1));
      if (v) out += expand_rec(*v, depth + 1, undefined);
      i = j;
      continue;
    }
    if (d != '{' && d != '(') {
      out += c;  // stray '$' is data
      ++i;
      continue;
    }
    size_t close = match_bracket(s, i + 1);
    if (close == std::string_view::npos) throw ConfigError(fmt::format("missing '{}' in \"{}\"", d == '{' ? '}' : ')', s));
    std::string_view inner = s.substr(i + 2, close - i - 2);
    i = close + 1;
    size_t k = 0;
    skip_space(inner, k);
    if (d == '{' && k < inner.size() && inner[k] == '{') {
      // ${{a} op {b} ? {x} : {y}}
      std::string_view a, b, x, y;
      if (!take_braced(inner, k, a)) throw ConfigError(fmt::format("bad relational expression: \"{}\"", inner));
      skip_space(inner, k);
      size_t op_start = k;
      while (k < inner.size() && std::string_view("=!<>").find(inner[k]) != std::string_view::npos) ++k;
      std::string op(inner.substr(op_start, k - op_start));
      if (!take_braced(inner, k, b)) throw ConfigError(fmt::format("bad relational expression: \"{}\"", inner));
      skip_space(inner, k);
      if (k >= inner.size() || inner[k] != '?') throw ConfigError(fmt::format("bad relational expression: \"{}\"", inner));
      ++k;
      if (!take_braced(inner, k, x)) throw ConfigError(fmt::format("bad relational expression: \"{}\"", inner));
      skip_space(inner, k);
      bool has_y = false;
      if (k < inner.size() && inner[k] == ':') {
        ++k;
        if (!take_braced(inner, k, y)) throw ConfigError(fmt::format("bad relational expression: \"{}\"", inner));
        has_y = true;
      }
      std::string av = expand_rec(a, depth + 1, undefined), bv = expand_rec(b, depth + 1, undefined);
      int cmp;
      unsigned long long an = 0, bn = 0;
      if (util::parse_u64(av, an) && util::parse_u64(bv, bn)) cmp = an < bn ? -1 : an > bn ? 1 : 0;
      else cmp = av.compare(bv) < 0 ? -1 : av.compare(bv) > 0 ? 1 : 0;
      bool r;
      if (op == "==") r = cmp == 0;
      else if (op == "!=") r = cmp != 0;
      else if (op == "<") r = cmp < 0;
      else if (op == "<=") r = cmp <= 0;
      else if (op == ">") r = cmp > 0;
      else if (op == ">=") r = cmp >= 0;
      else throw ConfigError(fmt::format("unknown operator \"{}\" in \"{}\"", op, inner));
      if (r) out += expand_rec(x, depth + 1, undefined);
      else if (has_y) out += expand_rec(y, depth + 1, undefined);
      continue;
    }
    size_t n0 = k;
    while (k < inner.size() && name_char(inner[k])) ++k;
    std::string_view name = inner.substr(n0, k - n0);
    if (name.empty()) throw ConfigError(fmt::format("empty macro name in \"{}\"", s));
    skip_space(inner, k);
    if (k >= inner.size()) {
      auto v = lookup(name);
      if (v) out += expand_rec(*v, depth + 1, undefined);
      continue;
    }
    char op = inner[k++];
    if (op != '?' && op != ':') throw ConfigError(fmt::format("unknown operator '{}' in \"{}\"", op, inner));
    auto v = raw(name);  // an undefined name in a condition is not reported
    bool nonempty = v && !v->empty();
    std::string_view t1 = inner.substr(k), t2;
    bool has_t2 = false;
    size_t save = k;
    std::string_view braced;
    if (take_braced(inner, k, braced)) {
      t1 = braced;
      skip_space(inner, k);
      if (op == '?' && k < inner.size() && inner[k] == ':') {
        ++k;
        if (!take_braced(inner, k, t2)) throw ConfigError(fmt::format("bad conditional: \"{}\"", inner));
        has_t2 = true;
      } else if (k < inner.size()) {
        k = save;  // not a braced form after all: the rest is literal text
        t1 = inner.substr(k);
      }
    }
    if (op == '?') {
      if (nonempty) out += expand_rec(t1, depth + 1, undefined);
      else if (has_t2) out += expand_rec(t2, depth + 1, undefined);
    } else {
      if (!nonempty) out += expand_rec(t1, depth + 1, undefined);
    }
  }
  return out;
}

std::string Config::get(std::string_view name) const {
  auto v = raw(name);
  return v ? expand(*v) : std::string();
}

std::string Config::where(std::string_view name) const {
  if (auto it = index_.find(name); it != index_.end() && entries_[it->second].line > 0)
    return fmt::format("{}, line {}", file_, entries_[it->second].line);
  return file_;
}

void Config::bad_value(std::string_view what, std::string_view name, const std::string& value) const {
  throw ConfigError(fmt::format("{}: {}: {} = {}", where(name), what, name, value));
}

bool Config::get_bool(std::string_view name) const {
  std::string v = get(name);
  if (util::iequals(v, "yes")) return true;
  if (util::iequals(v, "no")) return false;
  bad_value("bad boolean configuration", name, v);
}

long long Config::get_int(std::string_view name) const {
  std::string v = std::string(util::trim(get(name)));
  bool neg = !v.empty() && v[0] == '-';
  unsigned long long n = 0;
  if (!util::parse_u64(neg ? std::string_view(v).substr(1) : std::string_view(v), n) ||
      n > static_cast<unsigned long long>(INT64_MAX))
    bad_value("bad numerical configuration", name, v);
  const long long r = neg ? -static_cast<long long>(n) : static_cast<long long>(n);
  if (const ParamDef* p = find_param(name); p && (r < p->min || r > p->max))
    bad_value(fmt::format("bad numerical configuration (from {} to {})", p->min, p->max), name, v);
  return r;
}

long long Config::get_time(std::string_view name) const {
  std::string v = get(name);
  const ParamDef* p = find_param(name);
  long long s = 0;
  if (!parse_time(v, p ? p->time_unit : 's', s)) bad_value("bad time value or unit", name, v);
  return s;
}

std::vector<std::string> Config::get_list(std::string_view name) const { return util::split_list(get(name)); }

std::set<std::string> Config::referenced_names() const {
  std::set<std::string> out;
  auto scan = [&](std::string_view s) {
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      if (s[i] != '$') continue;
      if (s[i + 1] == '$') {
        ++i;
        continue;
      }
      size_t j = i + 1;
      if (s[j] == '{' || s[j] == '(') ++j;
      size_t b = j;
      while (j < s.size() && name_char(s[j])) ++j;
      if (j > b) out.insert(std::string(s.substr(b, j - b)));
    }
  };
  for (const auto& e : entries_) scan(e.value);
  for (const auto& p : registry()) scan(p.def);
  for (const auto& [n, v] : overrides_) scan(v);
  return out;
}

}  // namespace mta::core
