#include "local/maildir.hpp"

#include "local/testing.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <regex>

using namespace mta::local;
using mta::local::testing::slurp;
using mta::local::testing::TempDir;

namespace {

std::vector<std::string> list(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') out.emplace_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

class FailingIo : public FileIo {
 public:
  std::error_code write(int, std::string_view) override { return {EIO, std::generic_category()}; }
};

}  // namespace

class MaildirTest : public ::testing::Test {
 protected:
  TempDir t;
  MaildirOptions opts() {
    MaildirOptions o;
    o.hostname = "mx.example.test";
    return o;
  }
};

TEST_F(MaildirTest, CreatesDirectoriesAndNamesTheFileAsPostfix) {
  std::string md = t / "home/alice/Maildir/";
  std::string final_path;
  auto s = maildir_deliver(md, "Subject: x\n\nbody\n", opts(), system_io(), &final_path);
  ASSERT_TRUE(s.ok()) << s.text;
  for (const char* sub : {"tmp", "new", "cur"}) {
    struct stat st;
    ASSERT_EQ(::stat((md + sub).c_str(), &st), 0) << sub;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << sub;
  }
  EXPECT_TRUE(list(md + "tmp").empty());
  auto files = list(md + "new");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(md + "new/" + files[0], final_path);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(files[0], m, std::regex(R"((\d+)\.V([0-9a-f]+)I([0-9a-f]+)M(\d+)\.mx\.example\.test)")))
      << files[0];
  struct stat st;
  ASSERT_EQ(::stat(final_path.c_str(), &st), 0);
  // The inode in the name is the tmp file's, which rename() keeps.
  EXPECT_EQ(std::stoul(m[3].str(), nullptr, 16), static_cast<unsigned long>(st.st_ino));
  EXPECT_EQ(slurp(final_path), "Subject: x\n\nbody\n");
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(MaildirTest, SecondDeliveryGetsItsOwnFile) {
  std::string md = t / "Maildir/";
  ASSERT_TRUE(maildir_deliver(md, "a\n", opts(), system_io()).ok());
  ASSERT_TRUE(maildir_deliver(md, "b\n", opts(), system_io()).ok());
  EXPECT_EQ(list(md + "new").size(), 2u);
}

TEST_F(MaildirTest, FailuresLeaveNothingBehind) {
  std::string md = t / "Maildir/";
  FailingIo io;
  auto s = maildir_deliver(md, "a\n", opts(), io);
  EXPECT_EQ(s.dsn, "5.3.0");
  EXPECT_EQ(s.text, "error writing message: Input/output error");
  EXPECT_TRUE(list(md + "tmp").empty());
  EXPECT_TRUE(list(md + "new").empty());

  MaildirOptions o = opts();
  o.size_limit = 3;
  s = maildir_deliver(md, "too long\n", o, system_io());
  EXPECT_EQ(s.dsn, "5.2.2");
  EXPECT_EQ(s.text, "error writing message: File too large");
  EXPECT_TRUE(list(md + "new").empty());
}

TEST_F(MaildirTest, UncreatableDirectoryIsReported) {
  if (mta::local::testing::is_root()) GTEST_SKIP() << "root can create anything";
  ::chmod(t.path.c_str(), 0555);
  auto s = maildir_deliver(t / "Maildir/", "a\n", opts(), system_io());
  ::chmod(t.path.c_str(), 0755);
  EXPECT_EQ(s.kind, '5');
  EXPECT_EQ(s.dsn, "5.2.0");
  EXPECT_NE(s.text.find("create maildir file " + t.path + "/Maildir/tmp/"), std::string::npos) << s.text;
  EXPECT_NE(s.text.find(": Permission denied"), std::string::npos) << s.text;
}

TEST_F(MaildirTest, HostnameIsEscaped) {
  std::string h = maildir_hostname();
  EXPECT_FALSE(h.empty());
  EXPECT_EQ(h.find('/'), std::string::npos);
  EXPECT_EQ(h.find(':'), std::string::npos);
}
