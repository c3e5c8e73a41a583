#include "tools/queue/queue_tools_fixture.hpp"
#include "tools/tools.hpp"
#include "util/safe_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

using namespace mta;
using mta::queue::Q;

namespace {
constexpr int64_t kArrival = 1795848591;
const char* const kA = "8B39910401E";
const char* const kB = "89B3E104015";
}  // namespace

class PostsuperTest : public tools::queue::testing::QueueToolsFixture {
 protected:
  void SetUp() override {
    QueueToolsFixture::SetUp();
    put(Q::deferred, kA, "root@example.test", kArrival, {{"a@remote.example", "4.4.1", "refused"}});
    put(Q::deferred, kB, "alice@example.test", kArrival, {{"b@remote.example", "", ""}});
  }
  bool in(Q q, const std::string& id) { return util::exists(store_->path(q, id)); }
  // Feeds `text` to standard input for "postsuper -x -".
  void with_stdin(const std::string& text) {
    int p[2];
    ASSERT_EQ(::pipe(p), 0);
    ASSERT_EQ(::write(p[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(p[1]);
    saved_stdin_ = ::dup(0);
    ::dup2(p[0], 0);
    ::close(p[0]);
    std::cin.clear();
  }
  void TearDown() override {
    if (saved_stdin_ >= 0) {
      ::dup2(saved_stdin_, 0);
      ::close(saved_stdin_);
      std::cin.clear();
    }
    QueueToolsFixture::TearDown();
  }
  int saved_stdin_ = -1;
};

TEST_F(PostsuperTest, DeleteOneReportsOnStderrAndInTheLog) {
  auto r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-d", kA});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, std::string("postsuper: ") + kA + ": removed\npostsuper: Deleted: 1 message\n");
  EXPECT_FALSE(in(Q::deferred, kA));
  EXPECT_TRUE(in(Q::deferred, kB));
  std::string log = maillog();
  EXPECT_NE(log.find(" mx mxmta/postsuper["), std::string::npos) << log;
  EXPECT_NE(log.find(std::string("]: ") + kA + ": removed\n"), std::string::npos) << log;
  EXPECT_NE(log.find("]: Deleted: 1 message\n"), std::string::npos) << log;
}

TEST_F(PostsuperTest, UnknownIdDeletesNothingAndSucceeds) {
  auto r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-d", "ABCDE123456"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "postsuper: Deleted: 0 messages\n");
  r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-d", "../etc"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "postsuper: warning: invalid mail queue id: ../etc\npostsuper: Deleted: 0 messages\n");
}

TEST_F(PostsuperTest, DeleteAllInANamedQueue) {
  put(Q::hold, "H0001AAAAAA", "x@example.test", kArrival, {{"h@remote.example", "", ""}});
  auto r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-d", "ALL", "deferred"});
  EXPECT_EQ(r.rc, 0);
  // ALL names no message, only the count (Postfix 3.7, suites/queue/0007).
  EXPECT_EQ(r.err, "postsuper: Deleted: 2 messages\n");
  EXPECT_TRUE(in(Q::hold, "H0001AAAAAA"));
}

TEST_F(PostsuperTest, HoldAndReleaseAreRenames) {
  auto r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-h", kA});
  EXPECT_EQ(r.err, std::string("postsuper: ") + kA + ": placed on hold\npostsuper: Placed on hold: 1 message\n");
  EXPECT_TRUE(in(Q::hold, kA));
  EXPECT_FALSE(in(Q::deferred, kA));
  // mailq marks it with '!'.
  auto l = run(tools::postqueue_main, {"postqueue", "-c", etc_, "-p"});
  EXPECT_NE(l.out.find(std::string(kA) + "!     300 "), std::string::npos) << l.out;

  r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-H", "ALL"});
  EXPECT_EQ(r.err, "postsuper: Released from hold: 1 message\n");
  EXPECT_TRUE(in(Q::deferred, kA));
  EXPECT_EQ(store_->path(Q::deferred, kA), spool_ + "/deferred/8/" + kA);
  EXPECT_EQ(read(Q::deferred, kA).rcpts.at(0).reason, "refused") << "content unchanged by the moves";
}

TEST_F(PostsuperTest, RequeueMovesToMaildrop) {
  auto r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-r", kB});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, std::string("postsuper: ") + kB + ": requeued\npostsuper: Requeued: 1 message\n");
  EXPECT_TRUE(in(Q::maildrop, kB));
  EXPECT_FALSE(in(Q::deferred, kB));
  EXPECT_EQ(read(Q::maildrop, kB).sender, "alice@example.test");
}

TEST_F(PostsuperTest, ForceExpireSetsTheFlagAndKeepsTheRetryTime) {
  store_->set_mtime(Q::deferred, kA, 2000000000);
  auto r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-e", kA});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, std::string("postsuper: ") + kA + ": force-expired\npostsuper: Force-expired: 1 message\n");
  core::Envelope e = read(Q::deferred, kA);
  EXPECT_TRUE(e.force_expired);
  EXPECT_EQ(e.rcpts.at(0).reason, "refused");
  struct stat st;
  ASSERT_EQ(::stat(store_->path(Q::deferred, kA).c_str(), &st), 0);
  EXPECT_EQ(st.st_mtime, 2000000000);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_FALSE(read(Q::deferred, kB).force_expired);
  auto l = run(tools::postqueue_main, {"postqueue", "-c", etc_, "-p"});
  EXPECT_NE(l.out.find(std::string(kA) + "#     300 "), std::string::npos) << l.out;
}

TEST_F(PostsuperTest, ForceExpireWithDashFReleasesFromHold) {
  ASSERT_FALSE(store_->move(Q::deferred, Q::hold, kA));
  auto r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-f", kA});
  EXPECT_EQ(r.err, std::string("postsuper: ") + kA + ": force-expired\npostsuper: " + kA +
                       ": released from hold\npostsuper: Force-expired: 1 message\n"
                       "postsuper: Released from hold: 1 message\n");
  EXPECT_TRUE(read(Q::deferred, kA).force_expired);
  EXPECT_FALSE(in(Q::hold, kA));
}

TEST_F(PostsuperTest, IdsFromStandardInput) {
  with_stdin(std::string(kA) + "\n" + kB + "\n\n");
  auto r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-h", "-"});
  EXPECT_EQ(r.err, std::string("postsuper: ") + kA + ": placed on hold\npostsuper: " + kB +
                       ": placed on hold\npostsuper: Placed on hold: 2 messages\n");
  EXPECT_TRUE(in(Q::hold, kA));
  EXPECT_TRUE(in(Q::hold, kB));
}

TEST_F(PostsuperTest, WakesTheQueueManagerAfterAChange) {
  std::string fifo = store_->fifo("qmgr");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0622), 0);
  util::UniqueFd reader(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  ASSERT_TRUE(reader);
  auto r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-d", "ABCDE123456"});
  char buf[8];
  EXPECT_LE(::read(reader.get(), buf, sizeof buf), 0) << "nothing changed, nothing sent";
  r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-h", kA});
  ASSERT_EQ(::read(reader.get(), buf, sizeof buf), 1);
  EXPECT_EQ(buf[0], 'A');
}

TEST_F(PostsuperTest, BadQueueNameOrOptionIsFatal) {
  auto r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-d", "ALL", "nosuch"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "postsuper: fatal: invalid directory name: nosuch\n");
  EXPECT_TRUE(in(Q::deferred, kA));
  r = run(tools::postsuper_main, {"postsuper", "-c", etc_, "-d"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err.substr(0, r.err.find('\n')), "postsuper: warning: option requires an argument -- 'd'");
}

TEST_F(PostsuperTest, PurgeAndStructureCheck) {
  // An old temporary file is purged; a fresh one (a writer at work) is kept.
  std::string old_tmp = store_->dir(Q::incoming) + "/.123.0.tmp";
  std::string new_tmp = store_->dir(Q::incoming) + "/.123.1.tmp";
  // A reused file of the daemon's, however old, is the daemon's business.
  std::string reuse = store_->dir(Q::incoming) + "/.reuse.ABCDE12";
  ASSERT_FALSE(util::write_file_atomic(old_tmp, "x"));
  ASSERT_FALSE(util::write_file_atomic(new_tmp, "x"));
  ASSERT_FALSE(util::write_file_atomic(reuse, "x"));
  struct timespec ts[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, old_tmp.c_str(), ts, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, reuse.c_str(), ts, 0), 0);
  // A deferred file outside its hash directory is moved into it.
  ASSERT_EQ(::rename(store_->path(Q::deferred, kA).c_str(), (store_->dir(Q::deferred) + "/" + kA).c_str()), 0);
  auto r = run(tools::postsuper_main, {"postsuper", "-c", etc_});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_FALSE(util::exists(old_tmp));
  EXPECT_TRUE(util::exists(new_tmp));
  EXPECT_TRUE(util::exists(reuse));
  EXPECT_TRUE(in(Q::deferred, kA));
}
