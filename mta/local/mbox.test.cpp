#include "local/mbox.hpp"

#include "local/mail_copy.hpp"
#include "local/testing.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

using namespace mta::local;
using mta::local::testing::slurp;
using mta::local::testing::TempDir;

namespace {

// Writes the first `allow` bytes, then fails as a full disk would.
class FailingIo : public FileIo {
 public:
  explicit FailingIo(size_t allow, int err = ENOSPC) : allow_(allow), err_(err) {}
  std::error_code write(int fd, std::string_view data) override {
    size_t n = std::min(allow_, data.size());
    if (n > 0) {
      if (auto ec = FileIo::write(fd, data.substr(0, n))) return ec;
      allow_ -= n;
    }
    if (n < data.size()) return {err_, std::generic_category()};
    return {};
  }

 private:
  size_t allow_;
  int err_;
};

MboxOptions quick() {
  MboxOptions o;
  o.lock_attempts = 1;
  o.lock_delay = 0;
  return o;
}

}  // namespace

class MailCopyTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("TZ", "UTC", 1); }
};

TEST_F(MailCopyTest, MboxLayoutIsByteExact) {
  CopyAttrs a{"x@example.net", "sales@example.test", "sales@example.test"};
  std::string content =
      "Subject: hi\n"
      "\n"
      "From here on\n"
      ">From is not quoted again\n"
      " From indented\n"
      "last line without newline";
  // 2026-11-28 06:48:41 UTC
  std::string got = mail_copy(content, a, copy_mbox, 1795848521);
  EXPECT_EQ(got,
            "From x@example.net  Sat Nov 28 06:48:41 2026\n"
            "Return-Path: <x@example.net>\n"
            "X-Original-To: sales@example.test\n"
            "Delivered-To: sales@example.test\n"
            "Subject: hi\n"
            "\n"
            ">From here on\n"
            ">From is not quoted again\n"
            " From indented\n"
            "last line without newline\n"
            "\n");
}

TEST_F(MailCopyTest, NullSenderMaildirAndCommandFlags) {
  CopyAttrs a{"", "", "alice@example.test"};
  EXPECT_EQ(mail_copy("S: x\n\nFrom me\n", a, copy_mbox, 1795848521),
            "From MAILER-DAEMON  Sat Nov 28 06:48:41 2026\n"
            "Return-Path: <>\n"
            "Delivered-To: alice@example.test\n"
            "S: x\n\n>From me\n\n");
  CopyAttrs b{"\"a b\"@example.net", "bob", "bob@example.test"};
  EXPECT_EQ(mail_copy("S: x\n\nFrom me\n", b, copy_maildir, 0),
            "Return-Path: <\"a b\"@example.net>\n"
            "X-Original-To: bob\n"
            "Delivered-To: bob@example.test\n"
            "S: x\n\nFrom me\n");
  EXPECT_EQ(mail_copy("S: x\n", b, copy_command & ~copy_delivered, 1795848521),
            "From \"a b\"@example.net  Sat Nov 28 06:48:41 2026\n"
            "Return-Path: <\"a b\"@example.net>\n"
            "X-Original-To: bob\n"
            "S: x\n");
}

TEST_F(MailCopyTest, MboxDsnTable) {
  EXPECT_EQ(mbox_dsn(EAGAIN, "5.2.0"), "4.2.0");
  EXPECT_EQ(mbox_dsn(ENOSPC, "5.2.0"), "4.3.0");
  EXPECT_EQ(mbox_dsn(EFBIG, "5.2.0"), "5.2.2");
  EXPECT_EQ(mbox_dsn(EDQUOT, "5.2.0"), "5.2.2");
  EXPECT_EQ(mbox_dsn(EACCES, "5.2.0"), "5.2.0");
}

class MboxTest : public ::testing::Test {
 protected:
  TempDir t;
};

TEST_F(MboxTest, CreatesWithMode0600AndAppends) {
  std::string box = t / "alice";
  auto s = mbox_append(box, "one\n\n", quick(), system_io());
  ASSERT_TRUE(s.ok()) << s.text;
  s = mbox_append(box, "two\n\n", quick(), system_io());
  ASSERT_TRUE(s.ok()) << s.text;
  EXPECT_EQ(slurp(box), "one\n\ntwo\n\n");
  struct stat st;
  ASSERT_EQ(::stat(box.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(mta::util::exists(box + ".lock"));  // the dot-lock is gone
}

TEST_F(MboxTest, FailedWriteIsTruncatedBack) {
  std::string box = t / "alice";
  ASSERT_TRUE(mbox_append(box, "first message\n\n", quick(), system_io()).ok());
  FailingIo io(7);  // part of the second message reaches the file
  auto s = mbox_append(box, "second message\n\n", quick(), io);
  EXPECT_EQ(s.kind, '4');
  EXPECT_EQ(s.dsn, "4.3.0");
  EXPECT_EQ(s.text, "error writing message: No space left on device");
  EXPECT_EQ(slurp(box), "first message\n\n");
  EXPECT_FALSE(mta::util::exists(box + ".lock"));
}

TEST_F(MboxTest, SizeLimitFailsWithFileTooLarge) {
  std::string box = t / "alice";
  MboxOptions o = quick();
  o.size_limit = 20;
  ASSERT_TRUE(mbox_append(box, "0123456789\n", o, system_io()).ok());
  auto s = mbox_append(box, "0123456789\n", o, system_io());
  EXPECT_EQ(s.kind, '5');
  EXPECT_EQ(s.dsn, "5.2.2");
  EXPECT_EQ(s.text, "error writing message: File too large");
  EXPECT_EQ(slurp(box), "0123456789\n");
}

TEST_F(MboxTest, RefusesHardLinksAndUsersSymlinks) {
  std::string victim = t / "victim";
  ASSERT_FALSE(mta::util::write_file_atomic(victim, "secret\n", 0600));
  std::string box = t / "alice";
  ASSERT_EQ(::link(victim.c_str(), box.c_str()), 0);
  auto s = mbox_append(box, "x\n", quick(), system_io());
  EXPECT_EQ(s.kind, '5');
  EXPECT_EQ(s.text, "file has 2 hard links");
  EXPECT_EQ(slurp(victim), "secret\n");

  ASSERT_EQ(::unlink(box.c_str()), 0);
  std::string link = t / "bob";
  ASSERT_EQ(::symlink(victim.c_str(), link.c_str()), 0);
  if (mta::local::testing::is_root()) (void)::lchown(link.c_str(), 4242, 4242);
  s = mbox_append(link, "x\n", quick(), system_io());
  EXPECT_EQ(s.kind, '5');
  EXPECT_EQ(s.text, "file is a symbolic link");
  EXPECT_EQ(slurp(victim), "secret\n");
}

TEST_F(MboxTest, ExistingDotLockDefers) {
  std::string box = t / "alice";
  ASSERT_FALSE(mta::util::write_file_atomic(box + ".lock", "", 0600));
  auto s = mbox_append(box, "x\n", quick(), system_io());
  EXPECT_EQ(s.kind, '4');
  EXPECT_EQ(s.dsn, "4.2.0");
  EXPECT_EQ(s.text, "unable to create lock file " + box + ".lock: File exists");
  EXPECT_TRUE(mta::util::exists(box + ".lock"));  // not ours: left alone
}

TEST_F(MboxTest, StaleDotLockIsBroken) {
  std::string box = t / "alice";
  ASSERT_FALSE(mta::util::write_file_atomic(box + ".lock", "", 0600));
  MboxOptions o = quick();
  o.lock_attempts = 2;
  o.stale_lock_time = -1;  // every lock is stale
  auto s = mbox_append(box, "x\n", o, system_io());
  EXPECT_TRUE(s.ok()) << s.text;
}

// A lock left by a process that died (an mxmta killed during a delivery) is
// broken at once; a live owner's lock, or another host's, is respected.
TEST_F(MboxTest, OrphanDotLockOfADeadProcessIsBrokenAtOnce) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  std::string box = t / "alice";
  pid_t child = ::fork();
  if (child == 0) _exit(0);
  ::waitpid(child, nullptr, 0);  // a pid that certainly no longer exists
  ASSERT_FALSE(mta::util::write_file_atomic(box + ".lock", std::to_string(child) + " " + host + "\n", 0600));
  MboxOptions o = quick();
  o.lock_attempts = 1;
  auto s = mbox_append(box, "x\n", o, system_io());
  EXPECT_TRUE(s.ok()) << s.text;
  EXPECT_FALSE(mta::util::exists(box + ".lock"));

  // The dead owner had recorded the mailbox length before its append: the
  // bytes it wrote after that are cut off when its lock is broken.
  std::string before = slurp(box);
  ASSERT_FALSE(mta::util::write_file_atomic(box, before + "From partial  Sat Nov 28", 0600));
  ASSERT_FALSE(mta::util::write_file_atomic(
      box + ".lock", std::to_string(child) + " " + host + " " + std::to_string(before.size()) + "\n", 0600));
  ASSERT_TRUE(mbox_append(box, "y\n", o, system_io()).ok());
  EXPECT_EQ(slurp(box), before + "y\n");

  ASSERT_FALSE(mta::util::write_file_atomic(box + ".lock", std::to_string(::getpid()) + " " + host + "\n", 0600));
  EXPECT_EQ(mbox_append(box, "x\n", o, system_io()).kind, '4') << "a live owner's lock must hold";
  ASSERT_FALSE(mta::util::write_file_atomic(box + ".lock", std::to_string(child) + " elsewhere.example\n", 0600));
  EXPECT_EQ(mbox_append(box, "x\n", o, system_io()).kind, '4') << "another host's lock must hold";
}

TEST_F(MboxTest, KernelLockHeldElsewhereDefers) {
  std::string box = t / "alice";
  ASSERT_TRUE(mbox_append(box, "a\n", quick(), system_io()).ok());
  mta::util::UniqueFd other(::open(box.c_str(), O_RDWR));
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  ASSERT_EQ(::fcntl(other.get(), F_OFD_SETLK, &fl), 0);
  MboxOptions o = quick();
  o.locks = lock_fcntl;
  auto s = mbox_append(box, "b\n", o, system_io());
  EXPECT_EQ(s.dsn, "4.2.0");
  EXPECT_EQ(s.text, "unable to lock for exclusive access: Resource temporarily unavailable");
  other.reset();
  EXPECT_TRUE(mbox_append(box, "b\n", o, system_io()).ok());
  EXPECT_EQ(slurp(box), "a\nb\n");
}

TEST_F(MboxTest, FileOptions) {
  std::string f = t / "script";
  ASSERT_FALSE(mta::util::write_file_atomic(f, "#!/bin/sh\n", 0755));
  MboxOptions o = quick();
  o.refuse_executable = true;
  auto s = mbox_append(f, "x\n", o, system_io());
  EXPECT_EQ(s.text, "destination file is executable");
  // A dot-lock that cannot be created is fine for /file destinations.
  TempDir ro;
  std::string g = ro / "log";
  ASSERT_FALSE(mta::util::write_file_atomic(g, "", 0666));
  ::chmod(ro.path.c_str(), 0555);
  o.refuse_executable = false;
  o.dotlock_may_fail = true;
  if (!mta::local::testing::is_root()) {  // root may create the lock anyway
    s = mbox_append(g, "x\n", o, system_io());
    EXPECT_TRUE(s.ok()) << s.text;
    o.dotlock_may_fail = false;
    s = mbox_append(g, "y\n", o, system_io());
    EXPECT_EQ(s.kind, '5');
    EXPECT_EQ(s.text, "unable to create lock file " + g + ".lock: Permission denied");
  }
  ::chmod(ro.path.c_str(), 0755);
}

TEST_F(MboxTest, NonRegularFilesAreWrittenWithoutLocking) {
  auto s = mbox_append("/dev/null", "x\n", quick(), system_io());
  EXPECT_TRUE(s.ok()) << s.text;
  MboxOptions o = quick();
  o.require_regular = true;
  s = mbox_append("/dev/null", "x\n", o, system_io());
  EXPECT_EQ(s.text, "destination /dev/null is not a regular file");
}

TEST_F(MboxTest, ParseLockMethods) {
  unsigned m = 0;
  EXPECT_TRUE(parse_lock_methods("fcntl, dotlock", m));
  EXPECT_EQ(m, lock_fcntl | lock_dotlock);
  EXPECT_TRUE(parse_lock_methods("flock", m));
  EXPECT_EQ(m, lock_flock);
  EXPECT_FALSE(parse_lock_methods("fcntl, bogus", m));
}
