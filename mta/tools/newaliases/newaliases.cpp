#include "tools/newaliases/newaliases.hpp"

#include "core/aliases.hpp"
#include "core/config.hpp"
#include "core/maps.hpp"
#include "tools/tools.hpp"
#include "util/log.hpp"
#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <vector>

namespace mta::tools::newaliases {
namespace {

struct Table {
  std::string type;  // "hash"
  std::string path;  // "/etc/aliases"
};

// "hash:/etc/aliases" or "/etc/aliases" (the default type is hash).
Table split_table(const std::string& spec) {
  auto colon = spec.find(':');
  // A path never has a type prefix of its own; "/a:b" is a path.
  if (colon == std::string::npos || spec[0] == '/') return {"hash", spec};
  return {spec.substr(0, colon), spec.substr(colon + 1)};
}

bool hash_like(const std::string& type) {
  return type == "hash" || type == "btree" || type == "lmdb" || type == "cdb";
}

void warn(const std::string& text) { log::emit(log::Level::warning, "", text); }
bool fatal(const std::string& text) {
  log::emit(log::Level::fatal, "", text);
  return false;
}
int fail(const std::string& text) {
  fatal(text);
  return 1;
}

// ", line N:" in a parser warning, so that warnings come out in file order
// (Postfix reports each problem as it reads the line).
int warning_line(const std::string& w) {
  auto p = w.find(", line ");
  if (p == std::string::npos) return 0;
  return std::atoi(w.c_str() + p + 7);
}

int usage(std::string_view prog) {
  if (prog == "newaliases")
    fatal("usage: newaliases [-c config_dir] [-v]");
  else
    fatal("usage: postalias [-Ninoprsvw] [-c config_dir] [-d key] [-q key] [map_type:]file...");
  return 1;
}

std::string slurp(std::istream& in) {
  std::string s;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) s.append(buf, static_cast<size_t>(in.gcount()));
  return s;
}

}  // namespace

bool build(const std::string& spec, const BuildOptions& opts, std::string_view stdin_text) {
  Table t = split_table(spec);
  if (!hash_like(t.type)) return fatal("unsupported dictionary type: " + t.type);
  const std::string db = core::hash_db_path(t.path);

  std::string text;
  struct stat st {};
  std::string source = t.path;
  if (opts.incremental) {
    text = std::string(stdin_text);
    source = "stdin";
    if (::stat(t.path.c_str(), &st) != 0) st = {};
  } else {
    if (auto ec = util::read_file(t.path, text)) return fatal("open " + t.path + ": " + ec.message());
    if (::stat(t.path.c_str(), &st) != 0) return fatal("fstat " + t.path + ": " + std::strerror(errno));
  }

  std::vector<std::string> parse_warnings;
  auto entries = core::parse_aliases(text, source, &parse_warnings);
  std::multimap<int, std::string> warnings;  // by line
  for (auto& w : parse_warnings) warnings.emplace(warning_line(w), std::move(w));
  std::map<std::string, std::string> table;
  if (opts.incremental && util::exists(db)) {
    try {
      table = core::read_hash_db(db);
    } catch (const core::ConfigError& e) {
      return fatal(e.what());
    }
  }
  for (const auto& e : entries) {
    auto [it, added] = table.emplace(e.name, e.value);
    if (added) continue;
    if (opts.replace_dups) it->second = e.value;
    else if (!opts.ignore_dups) warnings.emplace(e.line, db + ": duplicate entry: \"" + e.name + "\"");
  }
  // Sendmail's "the database is complete" signature, as postalias adds it.
  table["@"] = "@";
  for (const auto& [line, w] : warnings) warn(w);

  try {
    core::write_hash_db(db, table);
  } catch (const core::ConfigError& e) {
    return fatal(e.what());
  }
  // XXX: write_hash_db() creates the file 0644 and renames it into place;
  // the permissions and owner are adjusted right after, so for a moment a
  // secret source's database is world-readable. The window is a rename wide.
  if (st.st_ino != 0) {
    if (opts.copy_perm && S_ISREG(st.st_mode)) {
      mode_t mode = 0644 & ~(~st.st_mode & 077);
      (void)::chmod(db.c_str(), mode);
    }
    // Root builds the database for the source's owner: local(8) runs alias
    // commands and files with the database owner's rights.
    if (opts.copy_owner && ::getuid() == 0 && (st.st_uid != ::geteuid() || st.st_gid != ::getegid()))
      (void)::chown(db.c_str(), st.st_uid, st.st_gid);  // EPERM/EINVAL (user namespace): keep ours
  }
  return true;
}

int run(int argc, char** argv, std::istream& in, std::ostream& out) {
  std::string prog = argc > 0 ? util::basename(argv[0]) : "postalias";
  const bool is_newaliases = prog == "newaliases";
  std::string conf_dir;
  std::optional<std::string> query, del;
  bool sequence = false;
  BuildOptions opts;

  int i = 1;
  for (; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') break;
    for (size_t k = 1; k < a.size(); ++k) {
      char c = a[k];
      auto value = [&]() -> std::optional<std::string> {
        if (k + 1 < a.size()) {
          std::string v(a.substr(k + 1));
          k = a.size();
          return v;
        }
        if (i + 1 < argc) return std::string(argv[++i]);
        return std::nullopt;
      };
      if (c == 'c') {
        auto v = value();
        if (!v) return usage(prog);
        conf_dir = *v;
      } else if (c == 'v') {
        // Verbose logging: nothing more to say.
      } else if (is_newaliases) {
        return usage(prog);
      } else if (c == 'q' || c == 'd') {
        if (query || del || sequence) return fail("specify only one of -s -q or -d");
        auto v = value();
        if (!v) return usage(prog);
        (c == 'q' ? query : del) = *v;
      } else if (c == 's') {
        if (query || del) return fail("specify only one of -s -q or -d");
        sequence = true;
      } else if (c == 'i') {
        opts.incremental = true;
      } else if (c == 'r') {
        opts.replace_dups = true;
        opts.ignore_dups = false;
      } else if (c == 'w') {
        opts.ignore_dups = true;
        opts.replace_dups = false;
      } else if (c == 'o') {
        opts.copy_owner = false;
      } else if (c == 'p') {
        opts.copy_perm = false;
      } else if (c == 'N' || c == 'n') {
        // Null-terminated keys: our database format has no terminators.
      } else {
        return usage(prog);
      }
    }
  }

  core::Config cfg;
  try {
    cfg = core::Config::load(core::Config::resolve_dir(conf_dir));
  } catch (const core::ConfigError& e) {
    fatal(e.what());
    return 1;
  }

  std::vector<std::string> tables;
  if (is_newaliases) {
    if (i < argc) return usage(prog);
    try {
      tables = cfg.get_list("alias_database");
    } catch (const core::ConfigError& e) {
      fatal(e.what());
      return 1;
    }
  } else {
    for (; i < argc; ++i) tables.emplace_back(argv[i]);
    if (tables.empty()) return usage(prog);
  }

  auto open = [&](const std::string& spec) -> std::unique_ptr<core::Table> {
    Table t = split_table(spec);
    return core::open_table((hash_like(t.type) ? std::string("hash") : t.type) + ":" + t.path);
  };

  try {
    if (query) {
      if (*query == "-") {
        // Keys from stdin; "key:<TAB>value" for the found ones.
        bool found = false;
        std::vector<std::unique_ptr<core::Table>> open_tables;
        for (const auto& s : tables) open_tables.push_back(open(s));
        std::string line;
        while (std::getline(in, line)) {
          for (auto& tb : open_tables)
            if (auto v = tb->lookup(util::lower(line))) {
              out << line << ":\t" << *v << "\n";
              found = true;
              break;
            }
        }
        out.flush();
        return found ? 0 : 1;
      }
      for (const auto& s : tables)
        if (auto v = open(s)->lookup(util::lower(*query))) {
          out << *v << "\n";
          out.flush();
          return 0;
        }
      return 1;
    }
    if (sequence) {
      Table t = split_table(tables.front());
      if (!hash_like(t.type)) return fail("unsupported dictionary type: " + t.type);
      for (const auto& [k, v] : core::read_hash_db(core::hash_db_path(t.path))) out << k << ":\t" << v << "\n";
      out.flush();
      return 0;
    }
    if (del) {
      bool found = false;
      for (const auto& s : tables) {
        Table t = split_table(s);
        if (!hash_like(t.type)) return fail("unsupported dictionary type: " + t.type);
        std::string db = core::hash_db_path(t.path);
        auto entries = core::read_hash_db(db);
        if (entries.erase(util::lower(*del)) > 0) {
          found = true;
          core::write_hash_db(db, entries);
        }
      }
      return found ? 0 : 1;
    }
  } catch (const core::ConfigError& e) {
    fatal(e.what());
    return 1;
  }

  std::string stdin_text = opts.incremental ? slurp(in) : std::string();
  for (const auto& s : tables)
    if (!build(s, opts, stdin_text)) return 1;
  return 0;
}

}  // namespace mta::tools::newaliases

namespace mta::tools {

int newaliases_main(int argc, char** argv) { return newaliases::run(argc, argv, std::cin, std::cout); }

}  // namespace mta::tools
