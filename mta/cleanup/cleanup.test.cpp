#include "cleanup/cleanup.hpp"

#include "queue/queue_file.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

using namespace mta;

namespace {
core::Recipient rcpt(const std::string& a) {
  core::Recipient r;
  r.address = a;
  return r;
}
}  // namespace

class CleanupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    char t[] = "/tmp/mxcleanupXXXXXX";
    root_ = ::mkdtemp(t);
    store_ = std::make_unique<queue::QueueStore>(root_);
    ASSERT_FALSE(store_->ensure_dirs());
    s_.myhostname = "mx.example.test";
    s_.myorigin = "example.test";
    s_.mail_name = "mxmta";
  }
  void TearDown() override { std::system(("rm -rf " + root_).c_str()); }
  core::Message roundtrip(cleanup::Builder& b) {
    EXPECT_TRUE(b.finish(s_).ok);
    EXPECT_FALSE(b.commit());
    core::Message m;
    auto r = queue::read_queue_file(store_->path(queue::Q::incoming, b.id()), m.env, &m.content);
    EXPECT_TRUE(r.ok()) << r.bad;
    return m;
  }
  std::string root_;
  std::unique_ptr<queue::QueueStore> store_;
  cleanup::Settings s_;
};

TEST_F(CleanupTest, LocalSubmissionGetsReceivedAndMissingHeaders) {
  cleanup::Builder b;
  ASSERT_FALSE(b.open(*store_));
  b.local_submission = true;
  b.message().env.sender = "alice";
  b.message().env.uid = 0;
  b.message().env.fullname = "root";
  b.message().env.rcpts.push_back(rcpt("bob"));
  b.message().content = "Subject: hi\n\nbody\n";
  auto m = roundtrip(b);
  EXPECT_EQ(m.env.sender, "alice@example.test");
  EXPECT_EQ(m.env.rcpts[0].address, "bob@example.test");
  EXPECT_EQ(m.env.rcpts[0].orig, "bob");
  EXPECT_EQ(m.content.rfind("Received: by mx.example.test (mxmta, from userid 0)\n\tid " + b.id() + "; ", 0), 0u);
  EXPECT_NE(m.content.find("\nSubject: hi\nMessage-Id: <"), std::string::npos) << m.content;
  EXPECT_NE(m.content.find("." + b.id() + "@mx.example.test>\nDate: "), std::string::npos);
  EXPECT_NE(m.content.find("\nFrom: root <alice@example.test>\n\nbody\n"), std::string::npos) << m.content;
}

TEST_F(CleanupTest, RemoteMessageIsLeftAlone) {
  cleanup::Builder b;
  ASSERT_FALSE(b.open(*store_));
  b.message().env.sender = "x@remote.test";
  b.message().env.rcpts.push_back(rcpt("bob@example.test"));
  b.message().content = "Subject: hi\n\nbody\n";
  auto m = roundtrip(b);
  EXPECT_EQ(m.content, "Subject: hi\n\nbody\n");
}

TEST_F(CleanupTest, ExtractRecipientsRemovesBcc) {
  cleanup::Builder b;
  ASSERT_FALSE(b.open(*store_));
  b.local_submission = true;
  b.extract_recipients = true;
  b.message().env.sender = "alice@example.test";
  b.message().content = "To: Bob <bob@example.test>\nBcc: secret@example.test\nCc: carol\nSubject: x\n\nhi\n";
  auto m = roundtrip(b);
  ASSERT_EQ(m.env.rcpts.size(), 3u);
  EXPECT_EQ(m.env.rcpts[1].address, "secret@example.test");
  EXPECT_EQ(m.env.rcpts[2].address, "carol@example.test");
  EXPECT_EQ(m.content.find("Bcc:"), std::string::npos);
}

TEST_F(CleanupTest, HeaderOnlyMessageGetsSeparator) {
  cleanup::Builder b;
  ASSERT_FALSE(b.open(*store_));
  b.add_missing_headers = true;
  b.message().env.sender = "";
  b.message().env.rcpts.push_back(rcpt("bob@example.test"));
  b.message().content = "Subject: no body";
  auto m = roundtrip(b);
  EXPECT_NE(m.content.find("Subject: no body\nMessage-Id: "), std::string::npos) << m.content;
  EXPECT_NE(m.content.find("\nFrom: MAILER-DAEMON\n\n"), std::string::npos) << m.content;
}

TEST_F(CleanupTest, TooManyHopsAndNoRecipients) {
  cleanup::Builder b;
  ASSERT_FALSE(b.open(*store_));
  b.message().env.rcpts.push_back(rcpt("bob@example.test"));
  std::string c;
  for (int i = 0; i < 51; ++i) c += "Received: from x\n";
  b.message().content = c + "\nbody\n";
  auto st = b.finish(s_);
  EXPECT_FALSE(st.ok);
  EXPECT_EQ(st.reply, "554 5.4.0 Error: too many hops");
  cleanup::Builder b2;
  ASSERT_FALSE(b2.open(*store_));
  b2.message().content = "x\n";
  EXPECT_FALSE(b2.finish(s_).ok);
}

// Postfix's boundary: hopcount_limit Received: headers (50), this host's own
// included, is already too many. smtpd puts its own header in the content;
// a local submission gets one from cleanup, which counts as well.
TEST_F(CleanupTest, HopcountLimitCountsThisHostsReceived) {
  auto finish = [&](int received, bool local) {
    cleanup::Builder b;
    EXPECT_FALSE(b.open(*store_));
    b.local_submission = local;
    b.message().env.rcpts.push_back(rcpt("bob@example.test"));
    std::string c;
    for (int i = 0; i < received; ++i) c += "Received: from hop" + std::to_string(i) + "\n";
    b.message().content = c + "Subject: hops\n\nbody\n";
    return b.finish(s_);
  };
  EXPECT_TRUE(finish(49, false).ok);
  auto st = finish(50, false);
  EXPECT_FALSE(st.ok);
  EXPECT_EQ(st.reply, "554 5.4.0 Error: too many hops");
  EXPECT_TRUE(finish(48, true).ok);
  EXPECT_FALSE(finish(49, true).ok);
}

TEST_F(CleanupTest, DiscardLeavesNoFile) {
  {
    cleanup::Builder b;
    ASSERT_FALSE(b.open(*store_));
  }
  EXPECT_TRUE(store_->list(queue::Q::incoming).empty());
  EXPECT_EQ(std::system(("test -z \"$(ls -A " + root_ + "/incoming)\"").c_str()), 0);
}
