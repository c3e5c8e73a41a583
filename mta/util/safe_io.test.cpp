#include "util/safe_io.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

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
  // Qualified: unqualified basename("...") picks glibc's basename(const char*)
  // from <string.h> (an exact match for a literal), and EXPECT_EQ then compares
  // two pointers, which only passed where the linker merged "z" into "/x/y/z".
  EXPECT_EQ(mta::util::dirname("/x/y/z"), "/x/y");
  EXPECT_EQ(mta::util::basename("/x/y/z"), "z");
  EXPECT_EQ(mta::util::basename("z"), "z");
  EXPECT_EQ(mta::util::dirname("z"), ".");
  std::system(("rm -rf " + d).c_str());
}

TEST(SafeIoTest, ReadFileOfEverySizeAndOfAPipe) {
  std::string d = temp_dir();
  for (size_t size : {size_t{0}, size_t{1}, size_t{65535}, size_t{65536}, size_t{65537}, size_t{200000}}) {
    std::string data(size, 'x');
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + i % 26);
    ASSERT_FALSE(write_file_atomic(d + "/f", data, 0600));
    std::string got;
    ASSERT_FALSE(read_file(d + "/f", got));
    EXPECT_EQ(got, data) << size;
  }
  // Not a regular file: short reads are not the end.
  std::string got;
  ASSERT_FALSE(read_file("/proc/self/status", got));
  EXPECT_NE(got.find("Name:"), std::string::npos);
  EXPECT_NE(got.find("Pid:"), std::string::npos);
  std::system(("rm -rf " + d).c_str());
}

// Group commit: every caller gets its answer, and callers that meet share
// directory fsyncs.
TEST(SafeIoTest, DirSyncSharesFsyncsBetweenConcurrentCallers) {
  std::string d = temp_dir();
  DirSync ds(d);
  ASSERT_FALSE(write_file_atomic(d + "/first", "1", 0600));
  EXPECT_FALSE(ds.sync());
  EXPECT_EQ(ds.fsyncs(), 1u);
  constexpr int kThreads = 8, kEach = 40;
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string tmp = d + "/.t" + std::to_string(t) + "." + std::to_string(i);
        std::string fin = d + "/f" + std::to_string(t) + "." + std::to_string(i);
        {
          UniqueFd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600));
          if (!f || write_all(f.get(), "data") || fdatasync_fd(f.get())) ++failures;
        }
        if (::rename(tmp.c_str(), fin.c_str()) != 0 || ds.sync()) ++failures;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(ds.fsyncs(), 1u + kThreads * kEach);
  EXPECT_GE(ds.fsyncs(), 2u);
  // A directory that is gone is an error, not a hang; a new one works again.
  std::system(("rm -rf " + d).c_str());
  EXPECT_TRUE(ds.sync());
  ASSERT_FALSE(make_dirs(d));
  EXPECT_FALSE(ds.sync());
  std::system(("rm -rf " + d).c_str());
}
