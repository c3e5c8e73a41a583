#include "core/maps.hpp"

#include "core/main_cf.hpp"
#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>
#include <pwd.h>
#include <sys/stat.h>

#include <cctype>

namespace mta::core {
namespace {

class HashTable : public Table {
 public:
  HashTable(std::string spec, std::string db, bool missing_ok)
      : spec_(std::move(spec)), db_(std::move(db)), missing_ok_(missing_ok) {
    reload(true);
  }
  std::optional<std::string> lookup(std::string_view key) override {
    reload(false);
    auto it = data_.find(std::string(key));
    if (it == data_.end()) return std::nullopt;
    return it->second;
  }
  const std::string& spec() const override { return spec_; }

 private:
  void reload(bool first) {
    struct stat st;
    if (::stat(db_.c_str(), &st) != 0) {
      if (first && !missing_ok_) throw ConfigError(fmt::format("open database {}: {}", db_, std::strerror(errno)));
      data_.clear();
      mtime_ = 0;
      size_ = -1;
      return;
    }
    long long m = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    if (!first && m == mtime_ && st.st_size == size_) return;
    data_ = read_hash_db(db_);
    mtime_ = m;
    size_ = st.st_size;
  }
  std::string spec_, db_;
  bool missing_ok_;
  std::map<std::string, std::string> data_;
  long long mtime_ = 0;
  long long size_ = -1;
};

class MemTable : public Table {
 public:
  MemTable(std::string spec, std::map<std::string, std::string> d) : spec_(std::move(spec)), data_(std::move(d)) {}
  std::optional<std::string> lookup(std::string_view key) override {
    auto it = data_.find(std::string(key));
    if (it == data_.end()) return std::nullopt;
    return it->second;
  }
  const std::string& spec() const override { return spec_; }

 private:
  std::string spec_;
  std::map<std::string, std::string> data_;
};

class StaticTable : public Table {
 public:
  StaticTable(std::string spec, std::string v) : spec_(std::move(spec)), v_(std::move(v)) {}
  std::optional<std::string> lookup(std::string_view) override { return v_; }
  const std::string& spec() const override { return spec_; }

 private:
  std::string spec_, v_;
};

class PasswdTable : public Table {
 public:
  explicit PasswdTable(std::string spec) : spec_(std::move(spec)) {}
  std::optional<std::string> lookup(std::string_view key) override {
    std::string k(key);
    struct passwd pw, *res = nullptr;
    char buf[4096];
    if (::getpwnam_r(k.c_str(), &pw, buf, sizeof buf, &res) != 0 || !res) return std::nullopt;
    return fmt::format("{}:x:{}:{}:{}:{}:{}", res->pw_name, res->pw_uid, res->pw_gid, res->pw_gecos, res->pw_dir,
                       res->pw_shell);
  }
  const std::string& spec() const override { return spec_; }

 private:
  std::string spec_;
};

std::map<std::string, std::string> parse_inline(std::string_view body, const std::string& spec) {
  // inline:{ a=b, { c = d e } }
  std::map<std::string, std::string> out;
  body = util::trim(body);
  if (body.size() < 2 || body.front() != '{' || body.back() != '}')
    throw ConfigError(fmt::format("{}: need \"inline:{{name=value...}}\"", spec));
  body = body.substr(1, body.size() - 2);
  size_t i = 0;
  while (i < body.size()) {
    while (i < body.size() && (std::isspace(static_cast<unsigned char>(body[i])) || body[i] == ',')) ++i;
    if (i >= body.size()) break;
    std::string item;
    if (body[i] == '{') {
      int lvl = 0;
      size_t j = i;
      for (; j < body.size(); ++j) {
        if (body[j] == '{') ++lvl;
        else if (body[j] == '}' && --lvl == 0) break;
      }
      if (j >= body.size()) throw ConfigError(fmt::format("{}: missing '}}'", spec));
      item = std::string(body.substr(i + 1, j - i - 1));
      i = j + 1;
    } else {
      size_t j = i;
      while (j < body.size() && body[j] != ',' && !std::isspace(static_cast<unsigned char>(body[j]))) ++j;
      item = std::string(body.substr(i, j - i));
      i = j;
    }
    auto eq = item.find('=');
    if (eq == std::string::npos) throw ConfigError(fmt::format("{}: need name=value: \"{}\"", spec, item));
    out[std::string(util::trim(item.substr(0, eq)))] = std::string(util::trim(item.substr(eq + 1)));
  }
  return out;
}

}  // namespace

std::string hash_db_path(const std::string& source) { return source + ".db"; }

std::vector<std::pair<std::string, std::string>> parse_text_table(std::string_view text, const std::string& file,
                                                                  std::vector<std::string>* warnings) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string logical;
  int start = 0, lineno = 0;
  auto finish = [&] {
    if (logical.empty()) return;
    std::string_view s = logical;
    size_t k = 0;
    while (k < s.size() && !std::isspace(static_cast<unsigned char>(s[k]))) ++k;
    std::string key(s.substr(0, k));
    std::string val(util::trim(s.substr(k)));
    if (val.empty()) {
      if (warnings) warnings->push_back(fmt::format("{}, line {}: expected format: key whitespace value", file, start));
    } else {
      out.emplace_back(key, val);
    }
    logical.clear();
  };
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    std::string_view l = text.substr(i, j - i);
    i = j + 1;
    ++lineno;
    auto t = util::trim(l);
    if (t.empty() || t[0] == '#') continue;
    if (std::isspace(static_cast<unsigned char>(l[0]))) {
      if (logical.empty()) continue;
      logical += ' ';
      logical += t;
      continue;
    }
    finish();
    logical = std::string(t);
    start = lineno;
  }
  finish();
  return out;
}

void write_hash_db(const std::string& db_path, const std::map<std::string, std::string>& entries) {
  std::string out = "MXDB1\n";
  for (const auto& [k, v] : entries) out += fmt::format("{}:{}{}:{}\n", k.size(), k, v.size(), v);
  auto ec = util::write_file_atomic(db_path, out, 0644);
  if (ec) throw ConfigError(fmt::format("write {}: {}", db_path, ec.message()));
}

std::map<std::string, std::string> read_hash_db(const std::string& db_path) {
  std::string b;
  auto ec = util::read_file(db_path, b);
  if (ec) throw ConfigError(fmt::format("open database {}: {}", db_path, ec.message()));
  if (b.compare(0, 6, "MXDB1\n") != 0) throw ConfigError(fmt::format("{}: not an mxmta database file", db_path));
  std::map<std::string, std::string> out;
  size_t i = 6;
  auto field = [&](std::string& f) -> bool {
    size_t c = b.find(':', i);
    if (c == std::string::npos) return false;
    unsigned long long n = 0;
    if (!util::parse_u64(std::string_view(b).substr(i, c - i), n) || c + 1 + n > b.size()) return false;
    f = b.substr(c + 1, n);
    i = c + 1 + n;
    return true;
  };
  while (i < b.size()) {
    std::string k, v;
    if (!field(k) || !field(v) || i >= b.size() || b[i] != '\n')
      throw ConfigError(fmt::format("{}: damaged database file", db_path));
    ++i;
    out.emplace(std::move(k), std::move(v));
  }
  return out;
}

std::unique_ptr<Table> open_table(const std::string& spec0, bool missing_ok) {
  std::string spec = spec0;
  if (spec.rfind("proxy:", 0) == 0) spec = spec.substr(6);
  auto colon = spec.find(':');
  if (colon == std::string::npos)
    throw ConfigError(fmt::format("need dictionary type:name, not \"{}\"", spec0));
  std::string type = spec.substr(0, colon), name = spec.substr(colon + 1);
  if (type == "hash" || type == "btree" || type == "lmdb" || type == "cdb")
    return std::make_unique<HashTable>(spec0, hash_db_path(name), missing_ok);
  if (type == "texthash") {
    std::string text;
    auto ec = util::read_file(name, text);
    if (ec && !(missing_ok && ec == std::errc::no_such_file_or_directory))
      throw ConfigError(fmt::format("open {}: {}", name, ec.message()));
    std::map<std::string, std::string> d;
    for (auto& [k, v] : parse_text_table(text, name, nullptr)) d.emplace(k, v);
    return std::make_unique<MemTable>(spec0, std::move(d));
  }
  if (type == "inline") return std::make_unique<MemTable>(spec0, parse_inline(name, spec0));
  if (type == "static") {
    std::string v = name;
    if (v.size() >= 2 && v.front() == '{' && v.back() == '}') v = std::string(util::trim(v.substr(1, v.size() - 2)));
    return std::make_unique<StaticTable>(spec0, v);
  }
  if (type == "unix" && name == "passwd.byname") return std::make_unique<PasswdTable>(spec0);
  throw ConfigError(fmt::format("unsupported dictionary type: {}", type));
}

TableList TableList::open(const std::vector<std::string>& specs, bool missing_ok) {
  TableList l;
  // Table specs may contain spaces inside inline:{...}; callers pass list items.
  for (const auto& s : specs) l.tables_.push_back(open_table(s, missing_ok));
  return l;
}

std::optional<std::string> TableList::lookup(std::string_view key) {
  for (auto& t : tables_)
    if (auto v = t->lookup(key)) return v;
  return std::nullopt;
}

}  // namespace mta::core
