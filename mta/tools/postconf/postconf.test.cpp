// postconf(1) run in-process on temporary configuration directories, one test
// per behaviour of section 1 of the Postfix behaviour reference. stdout and
// stderr are captured at the file-descriptor level, so the texts checked are
// exactly what a user sees.
#include "tools/postconf/postconf.hpp"

#include "core/config.hpp"
#include "core/main_cf.hpp"
#include "core/params.hpp"
#include "tools/tools.hpp"
#include "util/safe_io.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

using namespace mta;
namespace pc = mta::tools::postconf;

namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

std::string slurp(FILE* f) {
  std::string s;
  std::rewind(f);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  return s;
}

// Runs fn with fds 1 and 2 redirected to temporary files.
Result capture(const std::function<int()>& fn) {
  std::fflush(stdout);
  std::fflush(stderr);
  FILE* o = std::tmpfile();
  FILE* e = std::tmpfile();
  int saved_out = ::dup(1), saved_err = ::dup(2);
  ::dup2(::fileno(o), 1);
  ::dup2(::fileno(e), 2);
  Result r;
  r.code = fn();
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(saved_out, 1);
  ::dup2(saved_err, 2);
  ::close(saved_out);
  ::close(saved_err);
  r.out = slurp(o);
  r.err = slurp(e);
  std::fclose(o);
  std::fclose(e);
  return r;
}

}  // namespace

class PostconfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/mxpostconfXXXXXX";
    ASSERT_NE(::mkdtemp(t), nullptr);
    dir_ = t;
    ::unsetenv("MAIL_CONFIG");
  }
  void TearDown() override {
    ::unsetenv("MAIL_CONFIG");
    std::filesystem::remove_all(dir_);
  }

  void write(const std::string& file, const std::string& text) {
    ASSERT_FALSE(util::write_file_atomic(dir_ + "/" + file, text));
  }
  void write_main(const std::string& text) { write("main.cf", text); }
  std::string read_main() {
    std::string s;
    EXPECT_FALSE(util::read_file(dir_ + "/main.cf", s));
    return s;
  }

  // postconf -c DIR ARGS...
  Result run(std::vector<std::string> args, bool with_c = true) {
    std::vector<std::string> a{"postconf"};
    if (with_c) {
      a.emplace_back("-c");
      a.push_back(dir_);
    }
    a.insert(a.end(), args.begin(), args.end());
    std::vector<char*> av;
    for (auto& s : a) av.push_back(s.data());
    av.push_back(nullptr);
    return capture([&] { return tools::postconf_main(static_cast<int>(a.size()), av.data()); });
  }

  std::string w(const std::string& text) { return "postconf: warning: " + text + "\n"; }

  std::string dir_;
};

// ---- output formats

TEST_F(PostconfTest, NoOptionPrintsEveryParameterAlphabetically) {
  write_main("myhostname = mx.example.test\nfoo_custom = 1\nbar_custom = $foo_custom\n");
  auto r = run({});
  EXPECT_EQ(r.code, 0);
  // Registry defaults overridden by main.cf, unexpanded.
  EXPECT_NE(r.out.find("\nmyhostname = mx.example.test\n"), std::string::npos);
  EXPECT_NE(r.out.find("\nmyorigin = $myhostname\n"), std::string::npos);
  EXPECT_NE(r.out.find("\nmydestination = $myhostname, localhost.$mydomain, localhost\n"), std::string::npos);
  // foo_custom is referenced: user-defined, printed. bar_custom is not.
  EXPECT_NE(r.out.find("\nfoo_custom = 1\n"), std::string::npos);
  EXPECT_EQ(r.out.find("bar_custom"), std::string::npos);
  // Alphabetical, one line per parameter of the registry plus foo_custom.
  std::vector<std::string> names;
  size_t i = 0;
  while (i < r.out.size()) {
    size_t nl = r.out.find('\n', i);
    std::string line = r.out.substr(i, nl - i);
    names.push_back(line.substr(0, line.find(" =")));
    i = nl + 1;
  }
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(names.size(), core::registry().size() + 1);
  EXPECT_EQ(r.err, w(dir_ + "/main.cf: unused parameter: bar_custom=$foo_custom"));
}

TEST_F(PostconfTest, NamedParametersInArgumentOrder) {
  write_main("myhostname = mx.example.test\nrelayhost = [smart.example]\n");
  auto r = run({"relayhost", "myhostname", "mail_name"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "relayhost = [smart.example]\nmyhostname = mx.example.test\nmail_name = mxmta\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(PostconfTest, UnknownParameterWarnsWithEmptyOutputAndExitZero) {
  write_main("myhostname = mx.example.test\n");
  auto r = run({"nosuchparam"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "postconf: warning: nosuchparam: unknown parameter\n");
}

TEST_F(PostconfTest, MailVersionIsAParameterAndDashVIsVerbose) {
  write_main("foo_custom = 1\nbar_custom = $foo_custom\nmyhostname = mx.example.test\n");
  auto r = run({"mail_version"});
  EXPECT_EQ(r.out, "mail_version = " + std::string(core::find_param("mail_version")->def) + "\n");
  // -v is verbose logging, not a version flag.
  auto v = run({"-v", "foo_custom"});
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out, "foo_custom = 1\n");
  EXPECT_NE(v.err.find("postconf: $foo_custom in main.cf validates foo_custom=value in main.cf\n"), std::string::npos)
      << v.err;
}

TEST_F(PostconfTest, DefaultsWorkWithoutMainCfAndComputeHostNames) {
  auto r = run({"-d", "myorigin", "myhostname", "mydomain", "mynetworks_style"});  // no main.cf at all
  EXPECT_EQ(r.code, 0) << r.err;
  std::string host = core::default_myhostname();
  EXPECT_EQ(r.out, "myorigin = $myhostname\nmyhostname = " + host + "\nmydomain = " + core::default_mydomain(host) +
                       "\nmynetworks_style = host\n");
  EXPECT_EQ(r.err, "");
  auto all = run({"-d"});
  EXPECT_EQ(all.code, 0);
  std::string nets = *core::Config().raw("mynetworks");
  EXPECT_NE(nets.find("127.0.0."), std::string::npos) << "mynetworks is computed from the interfaces";
  EXPECT_NE(all.out.find("\nmynetworks = " + nets + "\n"), std::string::npos);
  EXPECT_NE(all.out.find("\nconfig_directory = /etc/mxmta\n"), std::string::npos);
}

TEST_F(PostconfTest, DefaultsIgnoreMainCf) {
  write_main("myorigin = $mydomain\nbad line\n");  // -d does not even read it
  auto r = run({"-d", "myorigin"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "myorigin = $myhostname\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(PostconfTest, NonDefaultAddsConfigDirectoryWithDashC) {
  write_main("relayhost = [smart.example]\nmyorigin = $mydomain\nmyhostname = mx.example.test\n");
  auto r = run({"-n"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "config_directory = " + dir_ +
                       "\nmyhostname = mx.example.test\nmyorigin = $mydomain\nrelayhost = [smart.example]\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(PostconfTest, NonDefaultWithMailConfigEnvironment) {
  write_main("relayhost = [smart.example]\n");
  ::setenv("MAIL_CONFIG", dir_.c_str(), 1);
  auto r = run({"-n"}, /*with_c=*/false);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "config_directory = " + dir_ + "\nrelayhost = [smart.example]\n");
}

TEST_F(PostconfTest, NonDefaultNamedParameterNotSetPrintsNothing) {
  write_main("relayhost = [smart.example]\n");
  auto r = run({"-n", "myorigin", "relayhost"});
  EXPECT_EQ(r.out, "relayhost = [smart.example]\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(PostconfTest, HideNameAndHideValue) {
  write_main("myorigin = $mydomain\nmydomain = example.test\n");
  EXPECT_EQ(run({"-h", "myorigin"}).out, "$mydomain\n");
  EXPECT_EQ(run({"-H", "myorigin", "mydomain"}).out, "myorigin\nmydomain\n");
  auto r = run({"-h", "-H", "myorigin"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "postconf: fatal: specify one of -h -H\n");
}

TEST_F(PostconfTest, ExpandRecursively) {
  write_main("myhostname = mx.example.test\nmydomain = example.test\nmyorigin = $mydomain\n");
  auto r = run({"-x", "mydestination", "myorigin", "smtpd_banner"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out,
            "mydestination = mx.example.test, localhost.example.test, localhost\n"
            "myorigin = example.test\n"
            "smtpd_banner = mx.example.test ESMTP mxmta\n");
}

TEST_F(PostconfTest, ExpandWarnsAboutUndefinedParameter) {
  write_main("myhostname = mx.example.test\nmyorigin = ${nosuch}$mydomain\n");
  auto r = run({"-x", "myorigin"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "myorigin = example.test\n");
  EXPECT_EQ(r.err, w(dir_ + "/main.cf: undefined parameter: nosuch"));
}

TEST_F(PostconfTest, RawParametersAreNotExpanded) {
  write_main("myhostname = mx.example.test\n");
  auto r = run({"-x", "forward_path"});
  EXPECT_EQ(r.out, "forward_path = $home/.forward${recipient_delimiter}${extension}, $home/.forward\n");
  EXPECT_EQ(r.err, "") << "$home in a raw parameter is not an undefined parameter";
}

TEST_F(PostconfTest, FoldLongLinesAtEightyColumns) {
  write_main(
      "mydestination = host-0001.example.test, host-0002.example.test, host-0003.example.test, "
      "host-0004.example.test\n");
  auto r = run({"-f", "mydestination"});
  EXPECT_EQ(r.out,
            "mydestination = host-0001.example.test, host-0002.example.test,\n"
            "    host-0003.example.test, host-0004.example.test\n");
  // Without -f: one line, whitespace normalised.
  write_main("mydestination = a,   b,\tc\n");
  EXPECT_EQ(run({"mydestination"}).out, "mydestination = a, b, c\n");
}

TEST_F(PostconfTest, FormatLineNormalisesAndFolds) {
  EXPECT_EQ(pc::format_line("x =", false), "x =\n");
  EXPECT_EQ(pc::format_line("  a \t b  ", false), "a b\n");
  EXPECT_EQ(pc::format_line("", true), "\n");
  std::string word(90, 'w');
  EXPECT_EQ(pc::format_line("n = " + word, true), "n =\n    " + word + "\n") << "a long word goes on its own line";
}

TEST_F(PostconfTest, OneShotOverride) {
  write_main("myhostname = mx.example.test\n");
  auto r = run({"-o", "myhostname=other.example", "-x", "myhostname", "mydomain"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "myhostname = other.example\nmydomain = example\n");
  EXPECT_EQ(read_main(), "myhostname = mx.example.test\n") << "-o does not edit main.cf";
  auto bad = run({"-o", "nonsense", "myhostname"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(bad.err, "postconf: fatal: invalid parameter override: nonsense: missing '=' after attribute name\n");
}

TEST_F(PostconfTest, Combinations) {
  write_main("myhostname = mx.example.test\nmyorigin = $mydomain\n");
  EXPECT_EQ(run({"-dh", "myorigin"}).out, "$myhostname\n");
  EXPECT_EQ(run({"-nx"}).out, "config_directory = " + dir_ + "\nmyhostname = mx.example.test\nmyorigin = example.test\n");
  EXPECT_EQ(run({"-xh", "myorigin"}).out, "example.test\n");
  auto r = run({"-d", "-n"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "postconf: fatal: specify one of -d -n\n");
  auto m = run({"-M", "-d"});
  EXPECT_EQ(m.err, "postconf: fatal: with option -M, do not specify -d\n");
}

TEST_F(PostconfTest, ParameterClasses) {
  write_main("foo_custom = 1\nrelay_domains = $foo_custom\n");
  auto r = run({"-C", "user"});
  EXPECT_EQ(r.out, "foo_custom = 1\n");
  auto bad = run({"-C", "weird"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_EQ(bad.err, "postconf: fatal: unknown -C option value \"weird\" in \"weird\"\n");
}

// ---- warnings and errors on every run

TEST_F(PostconfTest, OverridingEarlierEntryWarning) {
  write_main("mynetworks = 127.0.0.0/8\n# comment\n\nrelayhost =\nmynetworks = 10.0.0.0/8\n");
  auto r = run({"mynetworks"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "mynetworks = 10.0.0.0/8\n");
  EXPECT_EQ(r.err, w(dir_ + "/main.cf, line 5: overriding earlier entry: mynetworks=127.0.0.0/8"));
}

TEST_F(PostconfTest, UnusedParameterWarningComesAfterOutput) {
  write_main("foo_custom = x\nbar_custom = $foo_custom\nmyhostname = mx.example.test\n");
  auto r = run({"-n"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "config_directory = " + dir_ + "\nfoo_custom = x\nmyhostname = mx.example.test\n");
  EXPECT_EQ(r.err, w(dir_ + "/main.cf: unused parameter: bar_custom=$foo_custom"));
}

TEST_F(PostconfTest, ReferenceFromMasterCfValidatesUserParameter) {
  write_main("mua_client_restrictions = permit_sasl_authenticated, reject\n");
  write("master.cf",
        "smtp      inet  n       -       y       -       -       smtpd\n"
        "submission inet n       -       y       -       -       smtpd\n"
        "  -o smtpd_client_restrictions=$mua_client_restrictions\n"
        "  -o mxmta_unknown_knob=1\n");
  auto r = run({"mua_client_restrictions"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "mua_client_restrictions = permit_sasl_authenticated, reject\n");
  EXPECT_EQ(r.err, w(dir_ + "/master.cf: unused parameter: mxmta_unknown_knob=1"));
}

TEST_F(PostconfTest, LeadingWhitespaceWarning) {
  write_main("  x = y\nmyhostname = mx.example.test\n");
  auto r = run({"myhostname"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "myhostname = mx.example.test\n");
  EXPECT_EQ(r.err, w(dir_ + "/main.cf: logical line must not start with whitespace: \"  x = y\""));
}

TEST_F(PostconfTest, MissingEqualsIsFatalWithLineNumber) {
  std::string text;
  for (int i = 1; i <= 15; ++i) text += "# line " + std::to_string(i) + "\n";
  text += "bad line\n";
  write_main(text);
  auto r = run({});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "postconf: fatal: " + dir_ + "/main.cf, line 16: missing '=' after attribute name: \"bad line\"\n");
  write_main("=x\n");
  EXPECT_EQ(run({}).err, "postconf: fatal: " + dir_ + "/main.cf, line 1: missing attribute name: \"=x\"\n");
}

TEST_F(PostconfTest, NoMainCfIsFatal) {
  auto r = run({"myhostname"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "postconf: fatal: open " + dir_ + "/main.cf: No such file or directory\n");
}

TEST_F(PostconfTest, BadOptionAndUnsupportedModes) {
  write_main("");
  auto r = run({"-z"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.rfind("postconf: invalid option -- 'z'\npostconf: fatal: usage: postconf ", 0), 0u) << r.err;
  auto b = run({"-b"});
  EXPECT_EQ(b.code, 1);
  EXPECT_EQ(b.err, "postconf: fatal: option -b is not supported by mxmta\n");
  auto e = run({"-e"});
  EXPECT_EQ(e.code, 1);
  EXPECT_EQ(e.err, "postconf: fatal: -e requires name=value argument\n");
}

// ---- editing

TEST_F(PostconfTest, EditReplacesInPlaceAndKeepsComments) {
  write_main(
      "# The relay\n"
      "relayhost = [old.example]\n"
      "# mydestination follows\n"
      "mydestination = a,\n"
      "    b,\n"
      "    c\n"
      "myorigin = $myhostname\n");
  auto r = run({"-e", "mydestination = x, y", "relayhost="});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(read_main(),
            "# The relay\n"
            "relayhost =\n"
            "# mydestination follows\n"
            "mydestination = x, y\n"
            "myorigin = $myhostname\n");
}

TEST_F(PostconfTest, EditImpliedByEqualsAppendsNewNamesAtTheEnd) {
  write_main("# comment\nmyhostname = mx.example.test\n");
  auto r = run({"relayhost = [smart.example]:587", "myorigin=$mydomain"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_main(),
            "# comment\nmyhostname = mx.example.test\nrelayhost = [smart.example]:587\nmyorigin = $mydomain\n");
  EXPECT_EQ(run({"-h", "relayhost"}).out, "[smart.example]:587\n");
}

TEST_F(PostconfTest, EditMultipleEntriesAllReplacedWithWarning) {
  write_main("myorigin = a\nrelayhost =\nmyorigin = b\n");
  auto r = run({"-e", "myorigin=$mydomain"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.err, w(dir_ + "/main.cf: multiple entries for \"myorigin\""));
  EXPECT_EQ(read_main(), "myorigin = $mydomain\nrelayhost =\nmyorigin = $mydomain\n");
}

TEST_F(PostconfTest, EditCreatesMissingMainCf) {
  auto r = run({"-e", "myhostname=mx.example.test"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_main(), "myhostname = mx.example.test\n");
}

TEST_F(PostconfTest, EditRejectsBadArguments) {
  write_main("myhostname = mx.example.test\n");
  auto r = run({"-e", "novalue"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "postconf: fatal: missing '=' after attribute name: \"novalue\"\n");
  EXPECT_EQ(run({"-e", "# x=y"}).err, "postconf: fatal: -e, -X, or -# accepts no comment input\n");
  EXPECT_EQ(run({"-X", "relayhost", "a=b"}).err,
            "postconf: fatal: -X or -# requires parameter names without value\n");
  // An '=' in the first name implies -e, which conflicts with -X (as in Postfix).
  EXPECT_EQ(run({"-X", "a=b"}).err, "postconf: fatal: specify one of -e -X\n");
  EXPECT_EQ(read_main(), "myhostname = mx.example.test\n") << "a failed edit changes nothing";
}

TEST_F(PostconfTest, CommentOutEntryAndContinuationLines) {
  write_main("relayhost = r\n  cont\nmyhostname = mx.example.test\n");
  auto r = run({"-#", "relayhost"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_main(), "#relayhost = r\n#  cont\nmyhostname = mx.example.test\n");
}

TEST_F(PostconfTest, RemoveEntryAndContinuationLines) {
  write_main("# keep\nrelayhost = r\n  cont\nmyhostname = mx.example.test\n");
  auto r = run({"-X", "relayhost", "nosuch"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_main(), "# keep\nmyhostname = mx.example.test\n");
  std::filesystem::remove(dir_ + "/main.cf");
  auto missing = run({"-X", "relayhost"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err, "postconf: fatal: open " + dir_ + "/main.cf for reading: No such file or directory\n");
}

// ---- master.cf and map types

TEST_F(PostconfTest, MasterEntriesInPostfixColumns) {
  write_main("myhostname = mx.example.test\n");
  write("master.cf",
        "# services\n"
        "smtp      inet  n       -       y       -       -       smtpd\n"
        "submission inet n       -       y       -       -       smtpd\n"
        "  -o syslog_name=postfix/submission\n"
        "  -o smtpd_banner=$myhostname\n"
        "pickup    unix  n       -       y       60      1       pickup\n");
  auto r = run({"-M"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "smtp       inet  n       -       y       -       -       smtpd\n"
            "submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission "
            "-o smtpd_banner=$myhostname\n"
            "pickup     unix  n       -       y       60      1       pickup\n");
  auto f = run({"-Mfx", "submission/inet"});
  EXPECT_EQ(f.out,
            "submission inet  n       -       y       -       -       smtpd\n"
            "    -o syslog_name=postfix/submission\n"
            "    -o smtpd_banner=mx.example.test\n");
  auto u = run({"-M", "nosuch/unix"});
  EXPECT_EQ(u.out, "");
  EXPECT_EQ(u.err, "postconf: warning: unmatched request: \"nosuch/unix\"\n");
}

TEST_F(PostconfTest, MasterCfNormalisationAndErrors) {
  std::vector<std::string> warns;
  auto e = pc::parse_master_entries("x inet n - y - - smtpd -vo{ a = b } {two words} {x y}\n", "master.cf", &warns);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].argv, (std::vector<std::string>{"x", "inet", "n", "-", "y", "-", "-", "smtpd", "-v", "-o", "a=b",
                                                 "two words", "x y"}));
  EXPECT_TRUE(warns.empty());
  EXPECT_EQ(e[0].params(), (std::vector<std::pair<std::string, std::string>>{{"a", "b"}}));
  // The first non-option argument is never bracketed (Postfix's quirk), later ones are.
  EXPECT_EQ(pc::format_master_entry(e[0], false), "x          inet  n       -       y       -       -       smtpd -v "
                                                  "-o a=b two words {x y}\n");
  try {
    pc::parse_master_entries("smtp inet n - y - -\n", "DIR/master.cf");
    FAIL();
  } catch (const core::ConfigError& err) {
    EXPECT_STREQ(err.what(), "file DIR/master.cf: line 1: bad field count");
  }
  try {
    pc::parse_master_entries("smtp inetx n - y - - smtpd\n", "m");
    FAIL();
  } catch (const core::ConfigError& err) {
    EXPECT_STREQ(err.what(), "invalid type field \"inetx\" in \"smtp inetx n - y - - smtpd\"");
  }
  write_main("");
  write("master.cf", "smtp inet n - y - q smtpd\n");
  auto r = run({"-M"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "postconf: fatal: invalid process_limit field \"q\" in \"smtp inet n - y - q smtpd\"\n");
}

TEST_F(PostconfTest, MasterWithoutMasterCfShowsBuiltInServices) {
  write_main("");
  auto r = run({"-M", "smtp/inet"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "smtp       inet  n       -       y       -       -       smtpd\n");
}

TEST_F(PostconfTest, MapTypes) {
  auto r = run({"-m"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "hash\ninline\nproxy\nstatic\ntexthash\nunix\n");
}

// ---- the registry itself

TEST_F(PostconfTest, RegistryDefaultsReferenceOnlyKnownParameters) {
  // Otherwise every postconf run would warn "undefined parameter".
  for (const auto& p : core::registry()) {
    if (pc::is_raw_parameter(p.name)) continue;
    for (const auto& n : pc::referenced_names(p.def))
      EXPECT_NE(core::find_param(n), nullptr) << p.name << " references $" << n;
  }
}

TEST_F(PostconfTest, ReferencedNamesScanConditionalText) {
  EXPECT_EQ(pc::referenced_names("${a?{$b}:{c$(d)}} $$e $f ${{$g} == {1} ? {x}}"),
            (std::vector<std::string>{"a", "b", "d", "f", "g"}));
}
