#include "tools/queue/queue_tools_fixture.hpp"
#include "tools/tools.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace mta;
using mta::queue::Q;

namespace {
constexpr int64_t kArrival = 1795848591;

const char* const kListing =
    "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
    "8B39910401E     354 Sat Nov 28 06:49:51  root@example.test\n"
    "                                         a@remote.example\n"
    "\n"
    "-- 0 Kbytes in 1 Request.\n";
}  // namespace

class PostqueueTest : public tools::queue::testing::QueueToolsFixture {
 protected:
  // Plays the daemon's part: public/qmgr with a reader.
  void listen() {
    std::string fifo = store_->fifo("qmgr");
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0622), 0);
    reader_ = util::UniqueFd(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    ASSERT_TRUE(reader_);
  }
  std::string received() {
    char buf[16];
    ssize_t n = ::read(reader_.get(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  util::UniqueFd reader_;
};

TEST_F(PostqueueTest, ListWhenDownWarnsAndReadsTheQueueDirectly) {
  put(Q::deferred, "8B39910401E", "root@example.test", kArrival, {{"a@remote.example", "", ""}}, 354);
  auto r = run(tools::postqueue_main, {"postqueue", "-c", etc_, "-p"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, kListing);
  EXPECT_EQ(r.err,
            "postqueue: warning: Mail system is down -- accessing queue directly (Connect to the mxmta showq "
            "service: Connection refused)\n");
  EXPECT_NE(maillog().find("mxmta/postqueue["), std::string::npos) << maillog();
}

TEST_F(PostqueueTest, MailqIsPostqueueP) {
  put(Q::deferred, "8B39910401E", "root@example.test", kArrival, {{"a@remote.example", "", ""}}, 354);
  listen();
  setenv("MAIL_CONFIG", etc_.c_str(), 1);  // no -c: MAIL_CONFIG names the directory
  auto r = run(tools::postqueue_main, {"/usr/sbin/mailq"});
  unsetenv("MAIL_CONFIG");
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, kListing);
  EXPECT_EQ(r.err, "") << "no warning while the daemon listens";
}

TEST_F(PostqueueTest, DuplicateMainCfEntriesAreWarnedAbout) {
  // As every Postfix program that reads main.cf (seen with the queue suite:
  // "mailq: warning: ..., line 27: overriding earlier entry: relayhost=...").
  std::string cf;
  ASSERT_FALSE(util::read_file(etc_ + "/main.cf", cf));
  ASSERT_FALSE(util::write_file_atomic(etc_ + "/main.cf", cf + "relayhost = a.example\nrelayhost =\n"));
  listen();
  auto r = run(tools::postqueue_main, {"mailq", "-c", etc_});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "Mail queue is empty\n");
  // mailq speaks as postqueue (Postfix's mailq execs postqueue, which says it again).
  EXPECT_EQ(r.err, "postqueue: warning: " + etc_ + "/main.cf, line 6: overriding earlier entry: relayhost=a.example\n");
}

TEST_F(PostqueueTest, JsonListing) {
  put(Q::hold, "89B3E104015", "alice@example.test", kArrival, {{"a@remote.example", "", ""}}, 280);
  listen();
  auto r = run(tools::postqueue_main, {"postqueue", "-c", etc_, "-j"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out,
            "{\"queue_name\": \"hold\", \"queue_id\": \"89B3E104015\", \"arrival_time\": 1795848591, "
            "\"message_size\": 280, \"forced_expire\": false, \"sender\": \"alice@example.test\", \"recipients\": "
            "[{\"address\": \"a@remote.example\"}]}\n");
}

TEST_F(PostqueueTest, CorruptFileWarning) {
  listen();
  ASSERT_FALSE(util::write_file_atomic(store_->path(Q::incoming, "C0FFEE12345"), "garbage", 0700));
  auto r = run(tools::postqueue_main, {"postqueue", "-c", etc_, "-p"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "Mail queue is empty\n");
  EXPECT_EQ(r.err, "postqueue: warning: incoming/C0FFEE12345: malformed queue file: bad record header at offset 0 "
                   "-- skipped\n");
}

TEST_F(PostqueueTest, FlushWhenDownIsFatal69) {
  auto r = run(tools::postqueue_main, {"postqueue", "-c", etc_, "-f"});
  EXPECT_EQ(r.rc, 69);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "postqueue: fatal: Cannot flush mail queue - mail system is down\n");
  // A FIFO that nobody reads (daemon stopped) is just as down.
  ASSERT_EQ(::mkfifo(store_->fifo("qmgr").c_str(), 0622), 0);
  r = run(tools::postqueue_main, {"postqueue", "-c", etc_, "-i", "8B39910401E"});
  EXPECT_EQ(r.rc, 69);
  EXPECT_EQ(r.err, "postqueue: fatal: Cannot flush mail queue - mail system is down\n");
}

TEST_F(PostqueueTest, FlushSendsFToTheQueueManager) {
  listen();
  auto r = run(tools::postqueue_main, {"postqueue", "-c", etc_, "-f"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out + r.err, "");
  EXPECT_EQ(received(), "F");
  // -i ID flushes everything: the daemon has no per-message flush.
  r = run(tools::postqueue_main, {"postqueue", "-c", etc_, "-i", "8B39910401E"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(received(), "F");
}

TEST_F(PostqueueTest, UsageAndConfigErrors) {
  auto r = run(tools::postqueue_main, {"postqueue", "-c", etc_});
  EXPECT_EQ(r.rc, 64);
  EXPECT_EQ(r.err,
            "postqueue: fatal: usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | "
            "postqueue -s site\n");
  r = run(tools::postqueue_main, {"postqueue", "-c", etc_, "-x"});
  EXPECT_EQ(r.rc, 64);
  EXPECT_EQ(r.err.substr(0, r.err.find('\n')), "postqueue: warning: invalid option -- 'x'");
  r = run(tools::postqueue_main, {"postqueue", "-c", etc_, "-i", "bad/id"});
  EXPECT_EQ(r.rc, 64);
  EXPECT_EQ(r.err, "postqueue: fatal: bad mail queue ID: bad/id\n");
  r = run(tools::postqueue_main, {"postqueue", "-c", root_ + "/nonexistent", "-p"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "postqueue: fatal: open " + root_ + "/nonexistent/main.cf: No such file or directory\n");
}
