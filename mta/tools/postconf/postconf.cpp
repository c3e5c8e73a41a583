#include "tools/postconf/postconf.hpp"

#include "core/config.hpp"
#include "core/main_cf.hpp"
#include "core/master_cf.hpp"
#include "core/params.hpp"
#include "tools/tools.hpp"
#include "util/log.hpp"
#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>
#include <getopt.h>
#include <unistd.h>

#include <bit>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <utility>

namespace mta::tools::postconf {
namespace {

constexpr size_t kLineLimit = 80;  // Postfix PCF_LINE_LIMIT: try to fold longer lines
constexpr size_t kIndentLen = 4;   // PCF_INDENT_LEN
constexpr std::string_view kSeparators = " \t\r\n";

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool has_blank(std::string_view s) { return s.find_first_of(kSeparators) != std::string_view::npos; }

// ---------------------------------------------------------------------------
// Modes. The bits, their conflicts and the wording of the conflict errors are
// Postfix's (postconf.c pcf_incompat_options / pcf_compat_options), so that a
// user who mixes options gets the answer Postfix gives.

constexpr unsigned kShowNondef = 1u << 0;     // -n
constexpr unsigned kShowDefs = 1u << 1;       // -d
constexpr unsigned kHideName = 1u << 2;       // -h
constexpr unsigned kShowMaps = 1u << 3;       // -m
constexpr unsigned kEditConf = 1u << 4;       // -e
constexpr unsigned kShowLocks = 1u << 5;      // -l
constexpr unsigned kShowEval = 1u << 6;       // -x
constexpr unsigned kShowSaslServ = 1u << 7;   // -a
constexpr unsigned kShowSaslClnt = 1u << 8;   // -A
constexpr unsigned kMainParam = 1u << 9;      // -p
constexpr unsigned kExpDsnTempl = 1u << 10;   // -b
constexpr unsigned kDumpDsnTempl = 1u << 11;  // -t
constexpr unsigned kMasterEntry = 1u << 12;   // -M
constexpr unsigned kFoldLine = 1u << 13;      // -f
constexpr unsigned kEditExcl = 1u << 14;      // -X
constexpr unsigned kMasterFld = 1u << 15;     // -F
constexpr unsigned kMainOver = 1u << 16;      // -o
constexpr unsigned kHideValue = 1u << 17;     // -H
constexpr unsigned kCommentOut = 1u << 18;    // -#
constexpr unsigned kMasterParam = 1u << 19;   // -P
constexpr unsigned kShowTls = 1u << 20;       // -T
constexpr unsigned kParamClass = 1u << 21;    // -C

constexpr unsigned kMajorModes = kShowSaslServ | kShowSaslClnt | kExpDsnTempl | kShowLocks | kShowMaps |
                                 kDumpDsnTempl | kMainParam | kMasterEntry | kMasterFld | kMasterParam | kShowTls;
constexpr unsigned kEditModes = kEditConf | kCommentOut | kEditExcl;
constexpr unsigned kMasterModes = kMasterEntry | kMasterFld | kMasterParam;
// Major modes mxmta does not implement (reported after the conflict checks).
constexpr unsigned kUnsupported = kShowSaslServ | kShowSaslClnt | kExpDsnTempl | kDumpDsnTempl | kShowLocks |
                                  kShowTls | kMasterFld | kMasterParam;

// Options that are mutually exclusive: the first entry holds the major modes.
constexpr unsigned kIncompat[] = {
    kMajorModes,
    kShowDefs | kEditConf | kShowNondef | kCommentOut | kEditExcl,
    kFoldLine | kEditConf | kCommentOut | kEditExcl,
    kShowEval | kEditConf | kCommentOut | kEditExcl,
    kMainOver | kShowDefs | kEditConf | kCommentOut | kEditExcl,
    kHideName | kEditConf | kCommentOut | kEditExcl | kHideValue,
};

// Each major mode and the only modifiers it accepts.
constexpr std::pair<unsigned, unsigned> kCompat[] = {
    {kShowSaslServ, 0u},
    {kShowSaslClnt, 0u},
    {kExpDsnTempl, 0u},
    {kShowLocks, 0u},
    {kShowMaps, 0u},
    {kShowTls, 0u},
    {kDumpDsnTempl, 0u},
    {kMainParam, kEditConf | kEditExcl | kCommentOut | kFoldLine | kHideName | kParamClass | kShowEval | kShowDefs |
                     kShowNondef | kMainOver | kHideValue},
    {kMasterEntry, kEditConf | kEditExcl | kCommentOut | kFoldLine | kMainOver | kShowEval},
    {kMasterFld, kEditConf | kFoldLine | kHideName | kMainOver | kShowEval | kHideValue},
    {kMasterParam, kEditConf | kEditExcl | kFoldLine | kHideName | kMainOver | kShowEval | kHideValue},
    {kParamClass, kMainParam | kShowDefs | kShowNondef},
};

// In Postfix's table order, which is the order of names in its messages.
constexpr std::pair<std::string_view, unsigned> kOptNames[] = {
    {"-a", kShowSaslServ}, {"-A", kShowSaslClnt}, {"-b", kExpDsnTempl}, {"-C", kParamClass},
    {"-d", kShowDefs},     {"-e", kEditConf},     {"-f", kFoldLine},    {"-F", kMasterFld},
    {"-h", kHideName},     {"-H", kHideValue},    {"-l", kShowLocks},   {"-m", kShowMaps},
    {"-M", kMasterEntry},  {"-n", kShowNondef},   {"-o", kMainOver},    {"-p", kMainParam},
    {"-P", kMasterParam},  {"-t", kDumpDsnTempl}, {"-T", kShowTls},     {"-x", kShowEval},
    {"-X", kEditExcl},     {"-#", kCommentOut},
};

std::string option_names(unsigned mask) {
  std::vector<std::string> out;
  for (const auto& [n, bit] : kOptNames)
    if (mask & bit) out.emplace_back(n);
  return util::join(out, " ");
}

// Parameter classes for -C (Postfix PCF_PARAM_FLAG_*).
constexpr unsigned kClassBuiltin = 1u;
constexpr unsigned kClassService = 2u;
constexpr unsigned kClassUser = 4u;
constexpr unsigned kClassAll = kClassBuiltin | kClassService | kClassUser;

// The map types core/maps.hpp opens (Postfix prints its list sorted).
constexpr std::string_view kMapTypes[] = {"hash", "inline", "proxy", "static", "texthash", "unix"};

// ---------------------------------------------------------------------------
// Diagnostics. A fatal error unwinds to postconf_main() instead of exiting,
// so that the tool can run inside a test process.

struct Exit {
  int code;
};

template <class... A>
void warn(fmt::format_string<A...> f, A&&... a) {
  std::fflush(stdout);  // Postfix flushes the output before a warning
  log::emit(log::Level::warning, "postconf", fmt::format(f, std::forward<A>(a)...));
}

template <class... A>
void info(fmt::format_string<A...> f, A&&... a) {
  std::fflush(stdout);
  log::emit(log::Level::info, "postconf", fmt::format(f, std::forward<A>(a)...));
}

template <class... A>
[[noreturn]] void fatal(fmt::format_string<A...> f, A&&... a) {
  std::fflush(stdout);
  log::emit(log::Level::fatal, "postconf", fmt::format(f, std::forward<A>(a)...));
  throw Exit{1};
}

void print(std::string_view s) { std::fwrite(s.data(), 1, s.size(), stdout); }

void emit_warnings(const std::vector<std::string>& w) {
  for (const auto& m : w) warn("{}", m);
}

[[noreturn]] void usage() {
  fatal(
      "usage: postconf [-c config_dir] [-C param_class] [-d (parameter defaults)] [-e (edit configuration)] "
      "[-f (fold lines)] [-h (no names)] [-H (no values)] [-m (map types)] [-M (master.cf)] "
      "[-n (non-default parameters)] [-o name=value (override parameter value)] [-p (main.cf, default)] "
      "[-v (verbose)] [-x (expand parameter values)] [-X (exclude)] [-# (comment-out)] [name...]");
}

unsigned parse_param_class(const std::string& arg) {
  unsigned mask = 0;
  for (const auto& w : util::split_any(arg, ", \t\r\n")) {
    std::string l = util::lower(w);
    if (l == "builtin") mask |= kClassBuiltin;
    else if (l == "service") mask |= kClassService;
    else if (l == "user") mask |= kClassUser;
    else if (l == "all") mask |= kClassAll;
    else fatal("unknown -C option value \"{}\" in \"{}\"", w, arg);
  }
  return mask;
}

struct Options {
  unsigned mode = 0;
  int verbose = 0;
  std::string config_dir;  // -c
  unsigned param_class = kClassAll;
  std::vector<std::pair<std::string, std::string>> overrides;  // -o, in order
  std::vector<std::string> overrides_raw;
  std::vector<std::string> args;
};

Options parse_options(int argc, char** argv) {
  Options o;
  // getopt() wants a writable argv whose argv[0] names the program in its own
  // messages ("postconf: invalid option -- 'z'"), and "+" stops at the first
  // name, as Postfix's GETOPT does on Linux.
  std::vector<std::string> store;
  store.emplace_back("postconf");
  for (int i = 1; i < argc; ++i) store.emplace_back(argv[i]);
  std::vector<char*> av;
  for (auto& s : store) av.push_back(s.data());
  av.push_back(nullptr);
  int ac = static_cast<int>(store.size());
  ::optind = 0;  // glibc: full re-initialisation (postconf_main may run more than once per process)
  ::opterr = 1;
  int ch;
  while ((ch = ::getopt(ac, av.data(), "+aAbc:C:deEfFhHlmMno:pPtT:vxX#")) != -1) {
    switch (ch) {
      case 'a': o.mode |= kShowSaslServ; break;
      case 'A': o.mode |= kShowSaslClnt; break;
      case 'b': o.mode |= kExpDsnTempl; break;
      case 't': o.mode |= kDumpDsnTempl; break;
      case 'c': o.config_dir = ::optarg; break;
      case 'C': o.param_class = parse_param_class(::optarg); break;
      case 'd': o.mode |= kShowDefs; break;
      case 'e': o.mode |= kEditConf; break;
      case 'E': break;  // Postfix accepts -E and does nothing with it
      case 'f': o.mode |= kFoldLine; break;
      case 'F': o.mode |= kMasterFld; break;
      case '#': o.mode |= kCommentOut; break;
      case 'h': o.mode |= kHideName; break;
      case 'H': o.mode |= kHideValue; break;
      case 'l': o.mode |= kShowLocks; break;
      case 'm': o.mode |= kShowMaps; break;
      case 'M': o.mode |= kMasterEntry; break;
      case 'n': o.mode |= kShowNondef; break;
      case 'o': {
        o.mode |= kMainOver;
        std::string n, v;
        std::string err = core::split_nameval(::optarg, n, v);
        if (!err.empty()) fatal("invalid parameter override: {}: {}", ::optarg, err);
        o.overrides.emplace_back(n, v);
        break;
      }
      case 'p': o.mode |= kMainParam; break;
      case 'P': o.mode |= kMasterParam; break;
      case 'T':
        if (o.mode & kShowTls) fatal("At most one -T <mode> option may be specified");
        o.mode |= kShowTls;
        break;
      case 'x': o.mode |= kShowEval; break;
      case 'X': o.mode |= kEditExcl; break;
      case 'v': ++o.verbose; break;
      default: usage();
    }
  }
  for (int i = ::optind; i < ac; ++i) o.args.push_back(store[static_cast<size_t>(i)]);
  return o;
}

void check_options(unsigned mode) {
  for (unsigned group : kIncompat) {
    unsigned oval = group & mode;
    if (std::popcount(oval) > 1) fatal("specify one of {}", option_names(oval));
  }
  for (const auto& [major, allowed] : kCompat) {
    unsigned excess = mode & ~(major | allowed);
    if ((mode & major) && excess)
      fatal("with option {}, do not specify {}", option_names(major), option_names(excess));
  }
}

// ---------------------------------------------------------------------------
// master.cf

// Postfix argv_splitq(): blanks separate fields except inside {}.
std::vector<std::string> split_fields(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && kSeparators.find(s[i]) != std::string_view::npos) ++i;
    size_t b = i;
    int level = 0;
    while (i < s.size() && (level > 0 || kSeparators.find(s[i]) == std::string_view::npos)) {
      if (s[i] == '{') ++level;
      else if (s[i] == '}' && level > 0) --level;
      ++i;
    }
    if (i > b) out.emplace_back(s.substr(b, i - b));
  }
  return out;
}

// Postfix extpar(EXTPAR_FLAG_STRIP): "{ text }" -> "text". Returns an error text.
std::string extract_braced(std::string& arg) {
  if (arg.empty() || arg[0] != '{') return {};
  int level = 0;
  size_t close = std::string::npos;
  for (size_t i = 0; i < arg.size(); ++i) {
    if (arg[i] == '{') ++level;
    else if (arg[i] == '}' && --level == 0) {
      close = i;
      break;
    }
  }
  if (close == std::string::npos) return fmt::format("missing '}}' in \"{}\"", arg);
  if (close + 1 != arg.size()) return fmt::format("syntax error after '}}' in \"{}\"", arg);
  arg = std::string(util::trim(std::string_view(arg).substr(1, close - 1)));
  return {};
}

// pcf_normalize_daemon_args(): bring "-oname=value", "-vo name=value" and
// "-o { name = value }" into the form "-o" "name=value".
void normalize_daemon_args(std::vector<std::string>& argv, std::vector<std::string>* warnings) {
  auto note = [&](const std::string& w) {
    if (warnings) warnings->push_back(w);
  };
  size_t f = 8;
  for (; f < argv.size(); ++f) {
    if (argv[f].empty() || argv[f][0] != '-' || argv[f] == "--") break;
    // Split "-vozz" into "-v" and "-ozz": only 'o' expects a value.
    for (size_t k = 1; k < argv[f].size(); ++k) {
      if (argv[f][k] != 'o') continue;
      if (k > 1) {
        argv.insert(argv.begin() + static_cast<long>(f) + 1, "-" + argv[f].substr(k));
        argv[f].resize(k);
      }
      break;
    }
    if (argv[f].size() < 2 || argv[f][1] != 'o') continue;
    bool extract = false;
    if (argv[f].size() > 2) {
      argv.insert(argv.begin() + static_cast<long>(f) + 1, argv[f].substr(2));
      argv[f].resize(2);
      ++f;
      extract = argv[f][0] == '{';
    } else if (f + 1 < argv.size()) {
      ++f;
      extract = !argv[f].empty() && argv[f][0] == '{';
    }
    if (extract) {
      std::string err = extract_braced(argv[f]);
      if (!err.empty()) {
        note("master.cf: " + err);
        continue;
      }
      std::string n, v;
      err = core::split_nameval(argv[f], n, v);
      if (!err.empty()) note(fmt::format("master.cf: {}: \"{}\"", err, argv[f]));
      else argv[f] = n + "=" + v;
    }
  }
  for (; f < argv.size(); ++f) {
    if (!argv[f].empty() && argv[f][0] == '{') {
      std::string err = extract_braced(argv[f]);
      if (!err.empty()) note("master.cf: " + err);
    }
  }
}

// pcf_check_master_entry(): the per-field checks, with Postfix's wording.
void check_master_entry(const std::vector<std::string>& argv, const std::string& text) {
  static constexpr std::string_view types[] = {"unix", "unix-dgram", "fifo", "inet", "pass"};
  static constexpr std::string_view field_names[] = {"private", "unprivileged", "chroot"};
  auto bad = [&](std::string_view field, const std::string& value) {
    throw core::ConfigError(fmt::format("invalid {} field \"{}\" in \"{}\"", field, value, text));
  };
  bool ok = false;
  for (auto t : types) ok = ok || argv[1] == t;
  if (!ok) bad("type", argv[1]);
  for (size_t f = 2; f <= 4; ++f)
    if (argv[f].size() != 1 || std::string_view("yn-").find(argv[f][0]) == std::string_view::npos)
      bad(field_names[f - 2], argv[f]);
  std::string_view w = argv[5];
  if (!w.empty() && w.back() == '?') w.remove_suffix(1);
  if (w != "-" && !util::is_all_digits(w)) bad("wakeup", argv[5]);
  if (argv[6] != "-" && !util::is_all_digits(argv[6])) bad("process_limit", argv[6]);
}

}  // namespace

// ---------------------------------------------------------------------------
// Public helpers

std::string format_line(std::string_view text, bool fold) {
  std::string out;
  size_t line_len = 0;
  size_t i = 0;
  while (true) {
    while (i < text.size() && kSeparators.find(text[i]) != std::string_view::npos) ++i;
    if (i >= text.size()) break;
    size_t j = i;
    while (j < text.size() && kSeparators.find(text[j]) == std::string_view::npos) ++j;
    size_t word_len = j - i;
    if (line_len > 0) {
      if (!fold || line_len + word_len < kLineLimit) {
        out += ' ';
        line_len += 1;
      } else {
        out += '\n';
        out.append(kIndentLen, ' ');
        line_len = kIndentLen;
      }
    }
    out.append(text.substr(i, word_len));
    line_len += word_len;
    i = j;
  }
  out += '\n';
  return out;
}

std::vector<std::pair<std::string, std::string>> MasterEntry::params() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t f = 8; f < argv.size(); ++f) {
    const std::string& a = argv[f];
    if (a.empty() || a[0] != '-' || a == "--") break;
    if (a == "-o" && f + 1 < argv.size()) {
      std::string n, v;
      if (core::split_nameval(argv[f + 1], n, v).empty()) out.emplace_back(n, v);
      ++f;
    }
  }
  return out;
}

std::vector<MasterEntry> parse_master_entries(std::string_view text, const std::string& file,
                                              std::vector<std::string>* warnings) {
  // Logical lines as Postfix readllines(): comments and blank lines are
  // skipped (and do not end an entry); a line starting with whitespace
  // continues the entry before it.
  std::vector<MasterEntry> out;
  int lineno = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find('\n', i);
    if (j == std::string_view::npos) j = text.size();
    std::string_view l = text.substr(i, j - i);
    i = j + 1;
    ++lineno;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    std::string_view t = util::trim(l);
    if (t.empty() || t[0] == '#') continue;
    if (std::isspace(static_cast<unsigned char>(l[0]))) {
      if (out.empty()) {
        if (warnings)
          warnings->push_back(
              fmt::format("{}: logical line must not start with whitespace: \"{}\"", file, std::string(l)));
        continue;
      }
      out.back().text += ' ';
      out.back().text += t;
      continue;
    }
    MasterEntry e;
    e.line = lineno;
    e.text = std::string(t);
    out.push_back(std::move(e));
  }
  for (auto& e : out) {
    e.argv = split_fields(e.text);
    if (e.argv.size() < 8) throw core::ConfigError(fmt::format("file {}: line {}: bad field count", file, e.line));
    check_master_entry(e.argv, e.text);
    normalize_daemon_args(e.argv, warnings);
  }
  return out;
}

std::string format_master_entry(const MasterEntry& e, bool fold,
                                const std::function<std::string(const std::string&)>& expand) {
  static constexpr size_t column_goal[] = {0, 11, 17, 25, 33, 41, 49, 57};
  const auto& argv = e.argv;
  std::string out;
  size_t line_len = 0;
  auto add = [&](std::string_view s) {
    out.append(s);
    line_len += s.size();
  };
  // The standard fields at their preferred columns, at least one space apart.
  size_t field = 0;
  for (; field < 8 && field < argv.size(); ++field) {
    if (line_len > 0) {
      do {
        add(" ");
      } while (line_len < column_goal[field]);
    }
    add(argv[field]);
  }
  // Daemon options, then other arguments. An option with a value (-o) stays
  // on one line with its value and, when folding, gets a line of its own.
  bool in_daemon_options = true;
  for (; field < argv.size(); ++field) {
    const std::string& arg = argv[field];
    size_t arg_len = arg.size();
    std::optional<std::string> aval;
    bool need_parens = false;
    if (in_daemon_options) {
      if (arg.empty() || arg[0] != '-' || arg == "--") {
        in_daemon_options = false;
      } else if (arg.size() >= 2 && arg[1] == 'o' && field + 1 < argv.size()) {
        line_len = kLineLimit;  // force a line break before an option with a value
        aval = argv[field + 1];
        if (arg == "-o" && expand) aval = expand(*aval);
        arg_len += aval->size() + 3;
        need_parens = has_blank(*aval);
        if (need_parens) arg_len += 2;
      }
    } else {
      need_parens = has_blank(arg);
    }
    if (line_len > kIndentLen) {
      if (!fold || line_len + 1 + arg_len < kLineLimit) {
        add(" ");
      } else {
        out += '\n';
        out.append(kIndentLen, ' ');
        line_len = kIndentLen;
      }
    }
    if (!in_daemon_options && need_parens) add("{");
    add(arg);
    if (!in_daemon_options && need_parens) add("}");
    if (aval) {
      add(" ");
      if (need_parens) add("{");
      add(*aval);
      if (need_parens) add("}");
      ++field;
      line_len = kLineLimit;  // and after it
    }
  }
  out += '\n';
  return out;
}

std::vector<std::string> referenced_names(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] != '$') continue;
    if (s[i + 1] == '$') {  // "$$" is a literal dollar
      ++i;
      continue;
    }
    size_t j = i + 1;
    if (s[j] == '{' || s[j] == '(') {
      ++j;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
    }
    size_t b = j;
    while (j < s.size() && name_char(s[j])) ++j;
    if (j > b) out.emplace_back(s.substr(b, j - b));
  }
  return out;
}

bool is_raw_parameter(std::string_view name) {
  // local(8) and smtpd(8) expand these themselves, with their own attributes
  // ($home, $extension, $client ...), so postconf neither expands nor scans them.
  static constexpr std::string_view raw[] = {
      "command_execution_directory", "default_rbl_reply",   "forward_path",          "luser_relay",
      "mailbox_command",             "mailbox_command_maps", "rbl_reply_maps",        "smtpd_reject_footer",
      "smtpd_reject_footer_maps",
  };
  for (auto r : raw)
    if (r == name) return true;
  return false;
}

namespace {

// ---------------------------------------------------------------------------
// The modes

class Postconf {
 public:
  explicit Postconf(Options o) : o_(std::move(o)) {
    dir_ = core::Config::resolve_dir(o_.config_dir);
    const char* env = std::getenv("MAIL_CONFIG");
    dir_from_user_ = !o_.config_dir.empty() || (env && *env);
  }

  int run() {
    unsigned& mode = o_.mode;
    if ((mode & kMajorModes) == 0) mode |= kMainParam;
    if ((mode & (kMainParam | kMasterModes)) && !o_.args.empty() && o_.args[0].find('=') != std::string::npos)
      mode |= kEditConf;
    check_options(mode);
    if (mode & kUnsupported) fatal("option {} is not supported by mxmta", option_names(mode & kUnsupported));
    if ((mode & kEditConf) && o_.args.empty()) fatal("-e requires name=value argument");

    if (mode & kShowMaps) {
      for (auto t : kMapTypes) print(fmt::format("{}\n", t));
    } else if ((mode & kMasterEntry) && !(mode & kEditModes)) {
      show_master();
    } else if (mode & kEditModes) {
      if (o_.args.empty()) fatal("missing service argument");
      if (mode & kMasterModes) fatal("editing master.cf (-Me, -M#, -MX) is not supported by mxmta");
      edit_main();
    } else {
      show_parameters();
    }
    std::fflush(stdout);
    return 0;
  }

 private:
  core::Config load_main() {
    std::vector<std::string> w;
    core::Config c;
    try {
      c = core::Config::load(dir_, &w);
    } catch (const core::ConfigError& e) {
      emit_warnings(w);
      fatal("{}", e.what());
    }
    emit_warnings(w);
    for (const auto& [n, v] : o_.overrides) c.set_override(n, v);
    return c;
  }

  std::vector<MasterEntry> load_master() {
    std::string path = dir_ + "/master.cf", text, file = path;
    auto ec = util::read_file(path, text);
    if (ec == std::errc::no_such_file_or_directory) {
      // mxmta runs its built-in services when there is no master.cf.
      text = std::string(core::stock_master_cf());
      file = "(built-in master.cf)";
    } else if (ec) {
      fatal("open {}: {}", path, ec.message());
    }
    std::vector<std::string> w;
    std::vector<MasterEntry> entries;
    try {
      entries = parse_master_entries(text, file, &w);
    } catch (const core::ConfigError& e) {
      emit_warnings(w);
      fatal("{}", e.what());
    }
    emit_warnings(w);
    return entries;
  }

  std::string expand(const core::Config& c, const std::string& value) {
    try {
      return c.expand(value);
    } catch (const core::ConfigError& e) {
      fatal("{}", e.what());
    }
  }

  // -M [service[/type] ...]
  void show_master() {
    auto entries = load_master();
    core::Config cfg = load_main();
    struct Filter {
      std::string raw, service, type;
      int matches = 0;
    };
    std::vector<Filter> filters;
    for (const auto& a : o_.args) {
      auto parts = util::split_any(a, "/");
      if (parts.empty() || parts.size() > 2 || a.front() == '/' || a.back() == '/')
        fatal("-M option requires service_name[/type]");
      filters.push_back({a, parts[0], parts.size() > 1 ? parts[1] : "", 0});
    }
    bool fold = o_.mode & kFoldLine;
    for (const auto& e : entries) {
      // -Mx: a service's own -o settings take precedence over main.cf.
      std::function<std::string(const std::string&)> expander;
      core::Config local = cfg;
      if (o_.mode & kShowEval) {
        for (const auto& [n, v] : e.params()) local.set_override(n, v);
        expander = [&](const std::string& v) { return expand(local, v); };
      }
      if (filters.empty()) {
        print(format_master_entry(e, fold, expander));
        continue;
      }
      for (auto& f : filters) {
        if (f.service == e.argv[0] && (f.type.empty() || f.type == e.argv[1])) {
          ++f.matches;
          print(format_master_entry(e, fold, expander));
        }
      }
    }
    for (const auto& f : filters)
      if (f.matches == 0) warn("unmatched request: \"{}\"", f.raw);
  }

  // -e, -#, -X
  void edit_main() {
    struct Edit {
      std::string name, value;
    };
    std::vector<Edit> edits;
    for (const auto& arg : o_.args) {
      if (arg.find('\n') != std::string::npos) fatal("-e, -X, or -# accepts no multi-line input");
      std::string_view cp = arg;
      while (!cp.empty() && std::isspace(static_cast<unsigned char>(cp.front()))) cp.remove_prefix(1);
      if (!cp.empty() && cp.front() == '#') fatal("-e, -X, or -# accepts no comment input");
      Edit ed;
      if (o_.mode & kEditConf) {
        std::string err = core::split_nameval(cp, ed.name, ed.value);
        if (!err.empty()) fatal("{}: \"{}\"", err, std::string(cp));
      } else {
        if (cp.empty()) fatal("-X or -# requires non-blank parameter names");
        if (cp.find('=') != std::string_view::npos) fatal("-X or -# requires parameter names without value");
        ed.name = std::string(util::trim(cp));
      }
      edits.push_back(std::move(ed));
    }
    std::string path = dir_ + "/main.cf";
    // -e creates a missing main.cf; there is nothing to comment out or remove in one.
    if (!(o_.mode & kEditConf) && !util::exists(path)) fatal("open {} for reading: No such file or directory", path);
    try {
      auto editor = core::MainCfEditor::load(path);
      for (const auto& ed : edits) {
        if (o_.mode & kEditConf) {
          if (editor.set(ed.name, ed.value) > 1) warn("{}: multiple entries for \"{}\"", path, ed.name);
        } else if (o_.mode & kCommentOut) {
          editor.comment_out(ed.name);
        } else {
          editor.remove(ed.name);
        }
      }
      editor.save();
    } catch (const core::ConfigError& e) {
      fatal("{}", e.what());
    }
  }

  // The main.cf names and values, main.cf order, then -o names main.cf lacks
  // (Postfix keeps both in one dictionary).
  std::vector<std::pair<std::string, std::string>> main_settings(const core::Config& cfg) const {
    std::vector<std::pair<std::string, std::string>> out;
    std::set<std::string> seen;
    for (const auto& e : cfg.entries()) {
      out.emplace_back(e.name, cfg.raw(e.name).value_or(e.value));
      seen.insert(e.name);
    }
    for (const auto& [n, v] : o_.overrides)
      if (seen.insert(n).second) out.emplace_back(n, *cfg.raw(n));
    return out;
  }

  // Postfix pcf_register_user_parameters(): a name that main.cf (or a
  // service's -o) sets and that some value references as $name is a
  // user-defined parameter; a $name that nothing defines is reported.
  void register_user_parameters(const core::Config& cfg, const std::vector<MasterEntry>& master) {
    std::vector<std::set<std::string>> local_names(master.size());
    local_valid_.assign(master.size(), {});
    for (size_t k = 0; k < master.size(); ++k)
      for (const auto& [n, v] : master[k].params()) local_names[k].insert(n);

    auto flag = [&](const std::string& name, long scope) {
      bool supplied = false;
      const std::string where = scope >= 0 ? fmt::format("master.cf:{}/{}", master[static_cast<size_t>(scope)].argv[0],
                                                         master[static_cast<size_t>(scope)].argv[1])
                                           : "main.cf";
      if (scope >= 0 && local_names[static_cast<size_t>(scope)].count(name)) {
        supplied = true;
        if (local_valid_[static_cast<size_t>(scope)].insert(name).second && o_.verbose)
          info("${} in {} validates {}=value in {}", name, where, name, where);
      } else if (cfg.is_set(name)) {
        supplied = true;
        if (!core::find_param(name) && user_defined_.insert(name).second && o_.verbose)
          info("${} in {} validates {}=value in main.cf", name, where, name);
      }
      if (scope < 0) {
        for (size_t k = 0; k < master.size(); ++k) {
          if (!local_names[k].count(name)) continue;
          supplied = true;
          if (local_valid_[k].insert(name).second && o_.verbose)
            info("${} in main.cf validates {}=value in master.cf:{}/{}", name, name, master[k].argv[0],
                 master[k].argv[1]);
        }
      }
      if (!supplied && !core::find_param(name) && !user_defined_.count(name))
        warn("{}/{}: undefined parameter: {}", dir_, scope >= 0 ? "master.cf" : "main.cf", name);
    };
    auto scan = [&](const std::string& name, const std::string& value, long scope) {
      if (core::find_param(name) && is_raw_parameter(name)) return;
      for (const auto& r : referenced_names(value)) flag(r, scope);
    };

    // master.cf name spaces, the defaults left in place, then main.cf: the
    // order in which Postfix scans them.
    for (size_t k = 0; k < master.size(); ++k)
      for (const auto& [n, v] : master[k].params()) scan(n, v, static_cast<long>(k));
    for (const auto& p : core::registry()) {
      std::string name(p.name);
      if (cfg.is_set(name) || p.computed) continue;
      scan(name, std::string(p.def), -1);
    }
    if (cfg.is_set("smtpd_restriction_classes")) {
      // Restriction class names are parameters that main.cf defines.
      for (const auto& n : util::split_list(expand(cfg, *cfg.raw("smtpd_restriction_classes")))) flag(n, -1);
    }
    for (const auto& [n, v] : main_settings(cfg)) scan(n, v, -1);
  }

  void flag_unused(const core::Config& cfg, const std::vector<MasterEntry>& master) {
    for (const auto& [n, v] : main_settings(cfg))
      if (!core::find_param(n) && !user_defined_.count(n)) warn("{}/main.cf: unused parameter: {}={}", dir_, n, v);
    for (size_t k = 0; k < master.size(); ++k)
      for (const auto& [n, v] : master[k].params())
        if (!core::find_param(n) && !user_defined_.count(n) && !local_valid_[k].count(n))
          warn("{}/master.cf: unused parameter: {}={}", dir_, n, v);
  }

  void print_parameter(const core::Config& cfg, const std::string& name) {
    const unsigned mode = o_.mode;
    std::optional<std::string> value;
    if (mode & kShowNondef) {
      bool listed = cfg.is_set(name) || (name == "config_directory" && dir_from_user_);
      if (!listed) return;
    }
    value = cfg.raw(name);
    if (!value) return;
    bool fold = mode & kFoldLine;
    if (mode & kHideValue) {
      print(format_line(name, fold));
      return;
    }
    std::string v = *value;
    if ((mode & kShowEval) && !is_raw_parameter(name)) v = expand(cfg, v);
    if (mode & kHideName) print(format_line(v, fold));
    else print(format_line(name + " = " + v, fold));
  }

  // The default mode: -p with -d, -n, -h, -H, -x, -f, -o, -C.
  void show_parameters() {
    const unsigned mode = o_.mode;
    const bool defaults = mode & kShowDefs;
    // -d never reads main.cf: a Config without entries has only the defaults.
    core::Config cfg = defaults ? core::Config() : load_main();
    std::vector<MasterEntry> master;
    if (!defaults) {
      master = load_master();
      register_user_parameters(cfg, master);
    }

    auto known = [&](const std::string& n) { return core::find_param(n) || user_defined_.count(n); };
    if (o_.args.empty()) {
      std::set<std::string> names;
      if (o_.param_class & kClassBuiltin)
        for (const auto& p : core::registry()) names.emplace(p.name);
      if (o_.param_class & kClassUser) names.insert(user_defined_.begin(), user_defined_.end());
      for (const auto& n : names) print_parameter(cfg, n);
    } else {
      for (const auto& n : o_.args) {
        if (!known(n)) warn("{}: unknown parameter", n);
        else print_parameter(cfg, n);
      }
    }
    // Unused names make no sense with -d, which ignores main.cf.
    if (!defaults) flag_unused(cfg, master);
  }

  Options o_;
  std::string dir_;
  bool dir_from_user_ = false;
  std::set<std::string> user_defined_;
  std::vector<std::set<std::string>> local_valid_;
};

}  // namespace
}  // namespace mta::tools::postconf

namespace mta::tools {

int postconf_main(int argc, char** argv) {
  log::set_program("postconf");
  try {
    postconf::Postconf p(postconf::parse_options(argc, argv));
    return p.run();
  } catch (const postconf::Exit& e) {
    std::fflush(stdout);
    return e.code;
  }
}

}  // namespace mta::tools
