#include "tools/sendmail/sendmail.hpp"

#include "core/config.hpp"
#include "core/envelope.hpp"
#include "core/main_cf.hpp"
#include "core/trigger.hpp"
#include "queue/queue_file.hpp"
#include "queue/queue_store.hpp"
#include "tools/tools.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>
#include <getopt.h>
#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace mta::tools::sendmail {
namespace {

// Every fatal error of Postfix's sendmail exits with EX_TEMPFAIL: its
// msg_cleanup() handler runs before msg_fatal_status() can use its own code.
constexpr int kFatalStatus = 75;

ToolRunner& runner_slot() {
  static ToolRunner r;
  return r;
}

struct Exit {
  int code;
};

template <class... A>
void warn(fmt::format_string<A...> f, A&&... a) {
  log::emit(log::Level::warning, "sendmail", fmt::format(f, std::forward<A>(a)...));
}

template <class... A>
[[noreturn]] void fatal(fmt::format_string<A...> f, A&&... a) {
  log::emit(log::Level::fatal, "sendmail", fmt::format(f, std::forward<A>(a)...));
  throw Exit{kFatalStatus};
}

enum class Mode { enqueue, newalias, mailq, daemon, flushq, ignore };

// Postfix username(): the login name of the real uid.
std::optional<std::string> login_name(uid_t uid) {
  struct passwd* pw = ::getpwuid(uid);
  if (!pw || !pw->pw_name) return std::nullopt;
  return std::string(pw->pw_name);
}

// Postfix fullname(): $NAME, else the GECOS field up to ',', ';' or '%', with
// '&' replaced by the login name, first letter capitalised.
std::string full_name_of(uid_t uid) {
  if (const char* n = std::getenv("NAME")) return n;
  struct passwd* pw = ::getpwuid(uid);
  if (!pw || !pw->pw_gecos) return {};
  std::string out;
  for (const char* cp = pw->pw_gecos; *cp; ++cp) {
    char ch = *cp;
    if (ch == ',' || ch == ';' || ch == '%') break;
    if (ch == '&') {
      if (pw->pw_name && pw->pw_name[0]) {
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(pw->pw_name[0])));
        out += pw->pw_name + 1;
      }
    } else {
      out += ch;
    }
  }
  return out;
}

// Reads the message from `fd` line by line, so that a "." typed at a
// terminal ends the input at once.
class MessageReader {
 public:
  enum class StripCr { dunno, yes, no };
  MessageReader(int fd, bool dot_ends, StripCr strip) : fd_(fd), dot_ends_(dot_ends), strip_(strip) {}

  // The content with LF line endings; false on a read error (errno in ec).
  bool read(std::string& content, std::error_code& ec) {
    std::string line;
    bool skip_from = true;
    while (next_line(line, ec)) {
      if (strip_ == StripCr::dunno) strip_ = !line.empty() && line.back() == '\r' ? StripCr::yes : StripCr::no;
      if (skip_from) {
        // Leading "From " (and UUCP ">From ") lines are envelope, not content.
        size_t gt = line.find_first_not_of('>');
        if (gt != std::string::npos && line.compare(gt, 5, "From ") == 0) continue;
        skip_from = false;
      }
      if (strip_ == StripCr::yes)
        while (!line.empty() && line.back() == '\r') line.pop_back();
      if (dot_ends_ && line == ".") break;
      content += line;
      content += '\n';
    }
    return !ec;
  }

 private:
  bool next_line(std::string& line, std::error_code& ec) {
    line.clear();
    for (;;) {
      size_t nl = buf_.find('\n', pos_);
      if (nl != std::string::npos) {
        line.assign(buf_, pos_, nl - pos_);
        pos_ = nl + 1;
        return true;
      }
      if (eof_) {
        if (pos_ >= buf_.size()) return false;
        line.assign(buf_, pos_);  // a last line without its newline is still a line
        pos_ = buf_.size();
        return true;
      }
      buf_.erase(0, pos_);
      pos_ = 0;
      char chunk[8192];
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        ec = util::last_errno();
        return false;
      }
      if (n == 0) eof_ = true;
      else buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  int fd_;
  bool dot_ends_;
  StripCr strip_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
};

std::string strip_source_route(std::string a) {
  // "@a,@b:user@dom" -> "user@dom" (RFC 5321 4.1.2 source routes are ignored).
  if (!a.empty() && a[0] == '@') {
    auto colon = a.find(':');
    if (colon != std::string::npos) a.erase(0, colon + 1);
  }
  return a;
}

bool all_print(std::string_view s) {
  for (unsigned char c : s)
    if (!std::isprint(c)) return false;
  return true;
}

class Sendmail {
 public:
  int run(int argc, char** argv);

 private:
  void parse(int argc, char** argv);
  void check();
  int enqueue();
  int run_tool(const std::vector<std::string>& argv);
  std::string who() const { return fmt::format("{}({})", saved_sender_, static_cast<long>(uid_)); }

  std::string program_ = "sendmail";
  Mode mode_ = Mode::enqueue;
  bool dot_ends_ = true;    // Postfix SM_FLAG_AEOF
  bool extract_ = false;    // -t
  int verbose_ = 0;         // -v: accepted and ignored, as the brief of mxmta says
  std::string config_dir_;  // -c or -C
  std::optional<std::string> sender_;
  std::optional<std::string> full_name_;
  std::optional<std::string> alias_db_;  // -oA
  std::string encoding_;                 // -B
  std::string envid_;                    // -V
  std::string ret_;                      // -R
  unsigned notify_ = 0;                  // -N
  std::optional<std::string> qtime_, site_, id_;
  std::vector<std::string> args_;
  core::Config cfg_;
  uid_t uid_ = 0;
  std::string saved_sender_;
};

void Sendmail::parse(int argc, char** argv) {
  // getopt() needs a writable argv; "+" stops at the first recipient, as
  // Postfix's GETOPT does on Linux.
  std::vector<std::string> store;
  store.push_back(program_);
  for (int i = 1; i < argc; ++i) store.emplace_back(argv[i]);
  std::vector<char*> av;
  for (auto& s : store) av.push_back(s.data());
  av.push_back(nullptr);
  int ac = static_cast<int>(store.size());
  ::optind = 0;  // glibc: full re-initialisation
  ::opterr = 1;
  auto at = [&] { return ::optind > 0 ? ::optind : 1; };
  for (;;) {
    // "-q" alone is not getopt-compatible (Postfix handles it by hand).
    if (at() < ac && store[static_cast<size_t>(at())] == "-q") {
      if (mode_ == Mode::daemon) warn("ignoring -q option in daemon mode");
      else mode_ = Mode::flushq;
      ::optind = at() + 1;
      continue;
    }
    int c = ::getopt(ac, av.data(), "+A:B:C:F:GIL:N:O:R:UV:X:b:c:e:f:h:imno:p:r:q:tvx");
    if (c == -1) break;
    std::string_view arg = ::optarg ? ::optarg : "";
    switch (c) {
      case 'n': fatal("-{} option not supported", static_cast<char>(c));
      case 'B':
        if (arg == "8BITMIME") encoding_ = "8BITMIME";
        else if (arg == "7BIT") encoding_ = "7BIT";
        else fatal("-B option needs 8BITMIME or 7BIT");
        break;
      case 'C': {
        // Sendmail names the file, Postfix accepts the file or its directory.
        std::string a(arg);
        config_dir_ = util::basename(a) == "main.cf" ? util::dirname(a) : a;
        break;
      }
      case 'c': config_dir_ = std::string(arg); break;  // mxmta's uniform -c CONFIG_DIR
      case 'F': full_name_ = std::string(arg); break;
      case 'I': mode_ = Mode::newalias; break;
      case 'N':
        notify_ = parse_notify(arg);
        if (notify_ == 0) warn("bad -N option value -- ignored");
        break;
      case 'R':
        if (util::iequals(arg, "full")) ret_ = "FULL";
        else if (util::iequals(arg, "hdrs")) ret_ = "HDRS";
        else warn("bad -R option value -- ignored");
        break;
      case 'V':
        if (arg.size() > 100) warn("too long -V option value -- ignored");
        else if (!all_print(arg)) warn("bad syntax in -V option value -- ignored");
        else envid_ = std::string(arg);
        break;
      case 'X': fatal("unsupported: -{}{}", static_cast<char>(c), arg.empty() ? ' ' : arg[0]);
      case 'b':
        switch (arg.empty() ? '\0' : arg[0]) {
          case 'd':
          case 'l':
            if (mode_ == Mode::flushq) warn("ignoring -q option in daemon mode");
            mode_ = Mode::daemon;
            break;
          case 'h':
          case 'H': mode_ = Mode::ignore; break;
          case 'i': mode_ = Mode::newalias; break;
          case 'm': mode_ = Mode::enqueue; break;
          case 'p': mode_ = Mode::mailq; break;
          default:  // -bs and -bv are Postfix modes mxmta does not implement
            fatal("unsupported: -b{}", arg.empty() ? ' ' : arg[0]);
        }
        break;
      case 'f':
      case 'r': sender_ = std::string(arg); break;
      case 'i': dot_ends_ = false; break;
      case 'o':
        switch (arg.empty() ? '\0' : arg[0]) {
          case 'A':
            if (arg.size() == 1) fatal("-oA requires pathname");
            alias_db_ = std::string(arg.substr(1));
            break;
          case 'i': dot_ends_ = false; break;
          default: break;  // -o7 -o8 -om and the rest: ignored, as Postfix ignores them
        }
        break;
      case 'q':
        if (!arg.empty() && std::isdigit(static_cast<unsigned char>(arg[0]))) {
          qtime_ = std::string(arg);
        } else if (!arg.empty() && arg[0] == 'R') {
          site_ = std::string(arg.substr(1));
          if (site_->empty()) fatal("specify: -qRsitename");
        } else if (!arg.empty() && arg[0] == 'I') {
          id_ = std::string(arg.substr(1));
          if (id_->empty()) fatal("specify: -qIqueueid");
        } else {
          fatal("-q{} is not implemented", arg.empty() ? ' ' : arg[0]);
        }
        break;
      case 't': extract_ = true; break;
      case 'v': ++verbose_; break;
      case '?': fatal("usage: {} [options]", program_);
      default: break;  // -A -G -L -O -U -e -h -m -p -x: ignored
    }
  }
  for (int i = at(); i < ac; ++i) args_.push_back(store[static_cast<size_t>(i)]);
}

void Sendmail::check() {
  if (extract_ && mode_ != Mode::enqueue) fatal("-t can be used only in delivery mode");
  if (site_ && mode_ != Mode::enqueue) fatal("-qR can be used only in delivery mode");
  if (id_ && mode_ != Mode::enqueue) fatal("-qI can be used only in delivery mode");
}

int Sendmail::run_tool(const std::vector<std::string>& argv) {
  // The tool must read the same configuration as we did.
  if (!config_dir_.empty()) ::setenv("MAIL_CONFIG", config_dir_.c_str(), 1);
  std::fflush(stdout);
  if (ToolRunner& r = runner_slot()) return r(argv);
  int err = exec_tool("/proc/self/exe", argv);
  fatal("execv /proc/self/exe as {}: {}", argv[0], std::strerror(err));
}

int Sendmail::run(int argc, char** argv) {
  if (argc > 0 && argv[0]) {
    std::string self = util::basename(argv[0]);
    if (self == "mailq" || self == "newaliases") program_ = self;
  }
  log::set_program(program_);
  if (program_ == "mailq") mode_ = Mode::mailq;
  else if (program_ == "newaliases") mode_ = Mode::newalias;
  parse(argc, argv);

  // Load main.cf first, as Postfix does, so that a broken configuration is
  // reported whatever the mode.
  std::vector<std::string> warnings;
  try {
    cfg_ = core::Config::load(core::Config::resolve_dir(config_dir_), &warnings);
  } catch (const core::ConfigError& e) {
    for (const auto& w : warnings) warn("{}", w);
    fatal("{}", e.what());
  }
  for (const auto& w : warnings) warn("{}", w);
  if (alias_db_) cfg_.set_override("alias_database", *alias_db_);

  check();
  if (qtime_ && mode_ != Mode::daemon) return 0;  // -q1h: periodic runs are the daemon's business

  switch (mode_) {
    case Mode::enqueue:
      if (site_) {
        if (!args_.empty()) fatal("flush site requires no recipient");
        return run_tool({"postqueue", "-f"});
      }
      if (id_) {
        if (!args_.empty()) fatal("flush queue_id requires no recipient");
        return run_tool({"postqueue", "-i", *id_});
      }
      return enqueue();
    case Mode::mailq:
      if (!args_.empty()) fatal("display queue mode requires no recipient");
      return run_tool({"mailq"});
    case Mode::flushq:
      if (!args_.empty()) fatal("flush queue mode requires no recipient");
      return run_tool({"postqueue", "-f"});
    case Mode::daemon:
      if (!args_.empty()) fatal("daemon mode requires no recipient");
      return run_tool({"mxmta", "start"});
    case Mode::newalias: {
      if (!args_.empty()) fatal("alias initialization mode requires no recipient");
      std::string db;
      try {
        db = cfg_.get("alias_database");
      } catch (const core::ConfigError& e) {
        fatal("{}", e.what());
      }
      auto maps = util::split_list(db);
      if (maps.empty()) return 0;
      if (!alias_db_) return run_tool({"newaliases"});
      std::vector<std::string> av{"postalias"};
      av.insert(av.end(), maps.begin(), maps.end());
      return run_tool(av);
    }
    case Mode::ignore: return 0;
  }
  return 0;
}

int Sendmail::enqueue() {
  uid_ = ::getuid();
  if (sender_) {
    auto addrs = parse_addresses(*sender_);
    saved_sender_ = addrs.empty() ? std::string() : addrs.front();
    if (addrs.size() > 1) warn("-f option specified malformed sender: {}", *sender_);
  } else {
    auto login = login_name(uid_);
    if (!login) fatal("no login name found for user ID {}", static_cast<unsigned long>(uid_));
    saved_sender_ = *login;
  }

  core::Message msg;
  core::Envelope& env = msg.env;
  env.origin = "pickup";
  env.uid = static_cast<int>(uid_);
  env.sender = saved_sender_;
  env.fullname = full_name_ ? *full_name_ : full_name_of(uid_);
  env.envid = envid_;
  env.ret = ret_;
  env.body_type = encoding_;
  if (extract_) env.attrs["extract_recipients"] = "1";
  for (const auto& a : args_) {
    for (auto& addr : parse_addresses(a)) {
      if (addr.empty()) continue;  // "<>" is no recipient
      core::Recipient r;
      r.address = std::move(addr);
      r.notify = notify_;
      env.rcpts.push_back(std::move(r));
    }
  }

  // The content, read to the end (or to the "." line) before the recipient
  // check, as Postfix reads it.
  std::string fix = cfg_.get("sendmail_fix_line_endings");
  MessageReader::StripCr strip;
  if (fix == "always") strip = MessageReader::StripCr::yes;
  else if (fix == "strict") strip = MessageReader::StripCr::dunno;
  else if (fix == "never") strip = MessageReader::StripCr::no;
  else fatal("invalid sendmail_fix_line_endings value: {}", fix);
  MessageReader reader(0, dot_ends_, strip);
  std::error_code ec;
  if (!reader.read(msg.content, ec)) fatal("{}: error reading input: {}", who(), ec.message());

  if (env.rcpts.empty() && !extract_)
    fatal("{}: Recipient addresses must be specified on the command line or via the -t option", who());

  std::string qdir;
  try {
    qdir = cfg_.get("queue_directory");
  } catch (const core::ConfigError& e) {
    fatal("{}", e.what());
  }
  queue::QueueStore store(qdir);
  queue::QueueWriter w;
  ec = queue::QueueWriter::create(store, queue::Q::maildrop, w);
  if (ec == std::errc::no_such_file_or_directory) {
    // The daemon has never run here: lay the queue out, so that submission
    // works before the first start.
    if (auto e2 = store.ensure_dirs())
      fatal("{}: unable to create queue directory {}: {}", who(), qdir, e2.message());
    ec = queue::QueueWriter::create(store, queue::Q::maildrop, w);
  }
  if (ec) fatal("{}: unable to create a queue file in {}: {}", who(), store.dir(queue::Q::maildrop), ec.message());

  env.id = w.id();
  env.arrival = util::now();
  env.content_size = static_cast<int64_t>(msg.content.size());
  if ((ec = w.write(queue::serialize(msg))) || (ec = w.commit())) {
    w.discard();
    fatal("{}: error writing queue file: {}", who(), ec.message());
  }
  // Wake pickup; a daemon that is down finds the file when it starts.
  (void)core::send_trigger(store.fifo("pickup"), std::string_view(&core::trigger::wakeup, 1));
  return 0;
}

}  // namespace

void set_tool_runner(ToolRunner runner) { runner_slot() = std::move(runner); }

int exec_tool(const std::string& program, const std::vector<std::string>& argv) {
  std::vector<std::string> copy = argv;
  std::vector<char*> av;
  for (auto& s : copy) av.push_back(s.data());
  av.push_back(nullptr);
  ::execv(program.c_str(), av.data());
  return errno;
}

std::vector<std::string> parse_addresses(std::string_view s) {
  std::vector<std::string> out;
  std::vector<std::string> words;    // words of the current list member, outside <>
  std::optional<std::string> angle;  // its <route-addr>, when it has one
  std::string cur;
  auto end_word = [&] {
    if (!cur.empty()) words.push_back(cur);
    cur.clear();
  };
  auto end_member = [&] {
    end_word();
    // "Name <addr>" is one address; bare words are one address each.
    if (angle) out.push_back(strip_source_route(*angle));
    else out.insert(out.end(), words.begin(), words.end());
    words.clear();
    angle.reset();
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') {  // a quoted string, quotes kept: "a b"@example.com
      cur += c;
      for (++i; i < s.size(); ++i) {
        cur += s[i];
        if (s[i] == '\\' && i + 1 < s.size()) cur += s[++i];
        else if (s[i] == '"') break;
      }
    } else if (c == '(') {  // a comment, nested, dropped
      end_word();
      int level = 1;
      for (++i; i < s.size() && level > 0; ++i) {
        if (s[i] == '\\') ++i;
        else if (s[i] == '(') ++level;
        else if (s[i] == ')' && --level == 0) break;
      }
    } else if (c == '<') {
      end_word();
      std::string a;
      bool inq = false;
      for (++i; i < s.size(); ++i) {
        if (s[i] == '"') inq = !inq;
        else if (!inq && s[i] == '>') break;
        if (inq || !std::isspace(static_cast<unsigned char>(s[i]))) a += s[i];
      }
      angle = a;
    } else if (c == ',') {
      end_member();
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      end_word();
    } else {
      cur += c;
      if (c == '\\' && i + 1 < s.size()) cur += s[++i];
    }
  }
  end_member();
  return out;
}

unsigned parse_notify(std::string_view arg) {
  unsigned mask = 0;
  for (const auto& w : util::split_any(arg, ", \t\r\n")) {
    if (util::iequals(w, "never")) mask |= core::notify_never;
    else if (util::iequals(w, "success")) mask |= core::notify_success;
    else if (util::iequals(w, "failure")) mask |= core::notify_failure;
    else if (util::iequals(w, "delay")) mask |= core::notify_delay;
    else return 0;
  }
  // NEVER excludes everything else (RFC 3461 section 4.1).
  if ((mask & core::notify_never) && mask != core::notify_never) return 0;
  return mask;
}

}  // namespace mta::tools::sendmail

namespace mta::tools {

int sendmail_main(int argc, char** argv) {
  try {
    sendmail::Sendmail s;
    return s.run(argc, argv);
  } catch (const sendmail::Exit& e) {
    std::fflush(stdout);
    return e.code;
  }
}

}  // namespace mta::tools
