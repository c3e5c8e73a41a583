#include "util/safe_io.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sys/stat.h>

using namespace mta::util;

namespace {
std::string temp_dir() {
  char t[] = "/tmp/mxsafeioXXXXXX";
  return ::mkdtemp(t);
}
}  // namespace

TEST(SafeIoTest, AtomicWriteReplacesAndLeavesNoTemp) {
  std::string d = temp_dir();
  std::string f = d + "/file";
  ASSERT_FALSE(write_file_atomic(f, "one", 0600));
  ASSERT_FALSE(write_file_atomic(f, "two", 0600));
  std::string s;
  ASSERT_FALSE(read_file(f, s));
  EXPECT_EQ(s, "two");
  struct stat st;
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Only the file itself is left.
  int n = 0;
  for (const char* p : {"/file"}) n += exists(d + p);
  EXPECT_EQ(n, 1);
  std::system(("rm -rf " + d).c_str());
}

TEST(SafeIoTest, ReadMissingFileReportsEnoent) {
  std::string s;
  EXPECT_EQ(read_file("/nonexistent/x", s), std::errc::no_such_file_or_directory);
}

TEST(SafeIoTest, MakeDirsAndNames) {
  std::string d = temp_dir();
  ASSERT_FALSE(make_dirs(d + "/a/b/c"));
  EXPECT_TRUE(exists(d + "/a/b/c"));
  EXPECT_EQ(dirname("/x/y/z"), "/x/y");
  EXPECT_EQ(basename("/x/y/z"), "z");
  EXPECT_EQ(dirname("z"), ".");
  std::system(("rm -rf " + d).c_str());
}
