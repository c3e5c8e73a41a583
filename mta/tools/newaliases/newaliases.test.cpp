#include "tools/newaliases/newaliases.hpp"

#include "core/maps.hpp"
#include "util/log.hpp"
#include "util/safe_io.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

using namespace mta;
namespace na = mta::tools::newaliases;

namespace {

// Redirects fd 2 to a file, so the test sees exactly what a user would.
class StderrCapture {
 public:
  explicit StderrCapture(std::string path) : path_(std::move(path)) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 2);
    ::close(fd);
  }
  std::string finish() {
    if (saved_ >= 0) {
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
    std::string s;
    (void)util::read_file(path_, s);
    return s;
  }
  ~StderrCapture() { finish(); }

 private:
  std::string path_;
  int saved_ = -1;
};

}  // namespace

class NewaliasesTest : public ::testing::Test {
 protected:
  std::string dir, aliases, db;
  std::string out_text, err_text;

  void SetUp() override {
    char t[] = "/tmp/mxnewaliasesXXXXXX";
    dir = ::mkdtemp(t);
    aliases = dir + "/aliases";
    db = aliases + ".db";
    ASSERT_FALSE(util::write_file_atomic(dir + "/main.cf", "alias_database = hash:" + aliases + "\n", 0644));
    log::Target lt = log::target();
    lt.to_stderr = true;
    lt.to_log = false;
    log::configure(lt);
    unsetenv("MAIL_CONFIG");
  }
  void TearDown() override { std::system(("rm -rf '" + dir + "'").c_str()); }

  // Runs the tool as `prog args...` (prog: "newaliases" or "postalias").
  int run(const std::string& prog, std::vector<std::string> args, const std::string& input = "") {
    log::set_program(prog);
    std::vector<std::string> argv_s{prog};
    for (auto& a : args) argv_s.push_back(a);
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::istringstream in(input);
    std::ostringstream out;
    StderrCapture cap(dir + "/stderr");
    int rc = na::run(static_cast<int>(argv_s.size()), argv.data(), in, out);
    err_text = cap.finish();
    out_text = out.str();
    return rc;
  }
};

TEST_F(NewaliasesTest, BuildsTheDatabaseWithPostfixWarnings) {
  ASSERT_FALSE(util::write_file_atomic(aliases,
                                       "# aliases\n"
                                       "postmaster: root\n"
                                       "sales: alice\n"
                                       "this line is wrong\n"
                                       "team: alice,\n"
                                       "  bob\n"
                                       "Sales: carol\n"
                                       "\"odd name\": dave\n",
                                       0640));
  EXPECT_EQ(run("newaliases", {"-c", dir}), 0);
  EXPECT_EQ(err_text, "newaliases: warning: " + aliases + ", line 4: need name:value pair\n" +
                          "newaliases: warning: " + db + ": duplicate entry: \"sales\"\n");
  EXPECT_EQ(out_text, "");
  auto t = core::read_hash_db(db);
  EXPECT_EQ(t, (std::map<std::string, std::string>{
                   {"@", "@"}, {"postmaster", "root"}, {"sales", "alice"}, {"team", "alice, bob"}, {"odd name", "dave"}}));
  struct stat st;
  ASSERT_EQ(::stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);  // no more readable than its source
}

TEST_F(NewaliasesTest, SilentOnSuccessAndEditsNeedARebuild) {
  ASSERT_FALSE(util::write_file_atomic(aliases, "sales: alice\n", 0644));
  ASSERT_EQ(run("newaliases", {"-c", dir}), 0);
  EXPECT_EQ(err_text, "");
  auto table = core::open_table("hash:" + aliases);
  EXPECT_EQ(table->lookup("sales"), "alice");
  ASSERT_FALSE(util::write_file_atomic(aliases, "sales: bob\n", 0644));
  EXPECT_EQ(table->lookup("sales"), "alice");  // not yet
  ASSERT_EQ(run("newaliases", {"-c", dir}), 0);
  EXPECT_EQ(table->lookup("sales"), "bob");
}

TEST_F(NewaliasesTest, MailConfigIsHonoured) {
  ASSERT_FALSE(util::write_file_atomic(aliases, "a: b\n", 0644));
  setenv("MAIL_CONFIG", dir.c_str(), 1);
  EXPECT_EQ(run("newaliases", {}), 0) << err_text;
  unsetenv("MAIL_CONFIG");
  EXPECT_TRUE(util::exists(db));
}

TEST_F(NewaliasesTest, EveryAliasDatabaseIsRebuilt) {
  std::string second = dir + "/lists";
  ASSERT_FALSE(util::write_file_atomic(dir + "/main.cf",
                                       "alias_database = hash:" + aliases + ", hash:" + second + "\n", 0644));
  ASSERT_FALSE(util::write_file_atomic(aliases, "a: b\n", 0644));
  ASSERT_FALSE(util::write_file_atomic(second, "list: x, y\n", 0644));
  EXPECT_EQ(run("newaliases", {"-c", dir}), 0) << err_text;
  EXPECT_EQ(core::read_hash_db(second + ".db").at("list"), "x, y");
  EXPECT_EQ(core::read_hash_db(db).at("a"), "b");
}

TEST_F(NewaliasesTest, FatalErrors) {
  EXPECT_EQ(run("newaliases", {"-c", dir}), 1);
  EXPECT_EQ(err_text, "newaliases: fatal: open " + aliases + ": No such file or directory\n");
  EXPECT_EQ(run("newaliases", {"-c", dir + "/nowhere"}), 1);
  EXPECT_EQ(err_text, "newaliases: fatal: open " + dir + "/nowhere/main.cf: No such file or directory\n");
  EXPECT_EQ(run("postalias", {"-c", dir, "nis:mail.aliases"}), 1);
  EXPECT_EQ(err_text, "postalias: fatal: unsupported dictionary type: nis\n");
  EXPECT_EQ(run("newaliases", {"-c", dir, "-x"}), 1);
  EXPECT_EQ(err_text, "newaliases: fatal: usage: newaliases [-c config_dir] [-v]\n");
  EXPECT_EQ(run("postalias", {"-c", dir}), 1);
  EXPECT_NE(err_text.find("postalias: fatal: usage: postalias "), std::string::npos);
}

TEST_F(NewaliasesTest, PostaliasBuildsAndQueries) {
  ASSERT_FALSE(util::write_file_atomic(aliases, "sales: alice, bob\nsupport: carol\n", 0644));
  EXPECT_EQ(run("postalias", {"-c", dir, aliases}), 0);  // default type: hash
  EXPECT_EQ(err_text, "");
  EXPECT_EQ(run("postalias", {"-c", dir, "-q", "Sales", aliases}), 0);
  EXPECT_EQ(out_text, "alice, bob\n");
  EXPECT_EQ(run("postalias", {"-c", dir, "-q", "nobody", "hash:" + aliases}), 1);
  EXPECT_EQ(out_text, "");
  EXPECT_EQ(run("postalias", {"-c", dir, "-q", "-", aliases}, "support\nnobody\nsales\n"), 0);
  EXPECT_EQ(out_text, "support:\tcarol\nsales:\talice, bob\n");
  EXPECT_EQ(run("postalias", {"-c", dir, "-s", aliases}), 0);
  EXPECT_EQ(out_text, "@:\t@\nsales:\talice, bob\nsupport:\tcarol\n");
  EXPECT_EQ(run("postalias", {"-c", dir, "-d", "support", aliases}), 0);
  EXPECT_EQ(run("postalias", {"-c", dir, "-d", "support", aliases}), 1);
  EXPECT_EQ(run("postalias", {"-c", dir, "-q", "support", aliases}), 1);
  // A missing database is an error, not "not found".
  EXPECT_EQ(run("postalias", {"-c", dir, "-q", "x", dir + "/other"}), 1);
  EXPECT_EQ(err_text, "postalias: fatal: open database " + dir + "/other.db: No such file or directory\n");
}

TEST_F(NewaliasesTest, DuplicateModesAndIncremental) {
  ASSERT_FALSE(util::write_file_atomic(aliases, "a: first\na: second\n", 0644));
  EXPECT_EQ(run("postalias", {"-c", dir, "-r", aliases}), 0);
  EXPECT_EQ(err_text, "");
  EXPECT_EQ(core::read_hash_db(db).at("a"), "second");
  EXPECT_EQ(run("postalias", {"-c", dir, "-w", aliases}), 0);
  EXPECT_EQ(err_text, "");
  EXPECT_EQ(core::read_hash_db(db).at("a"), "first");
  EXPECT_EQ(run("postalias", {"-c", dir, "-i", aliases}, "b: new\na: again\n"), 0);
  EXPECT_EQ(err_text, "postalias: warning: " + db + ": duplicate entry: \"a\"\n");
  auto t = core::read_hash_db(db);
  EXPECT_EQ(t.at("a"), "first");
  EXPECT_EQ(t.at("b"), "new");
}

TEST_F(NewaliasesTest, RootBuildsTheDatabaseForTheSourceOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  ASSERT_FALSE(util::write_file_atomic(aliases, "a: b\n", 0644));
  ASSERT_EQ(::chown(aliases.c_str(), 4242, 4242), 0);
  EXPECT_EQ(run("newaliases", {"-c", dir}), 0);
  struct stat st;
  ASSERT_EQ(::stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4242u);
  EXPECT_EQ(run("postalias", {"-c", dir, "-o", aliases}), 0);
  ASSERT_EQ(::stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
}
