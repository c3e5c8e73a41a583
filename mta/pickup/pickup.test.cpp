#include "pickup/pickup.hpp"

#include "queue/queue_file.hpp"
#include "util/asio.hpp"
#include "util/log.hpp"
#include "util/safe_io.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

using namespace mta;

class PickupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    char t[] = "/tmp/mxpickupXXXXXX";
    root_ = ::mkdtemp(t);
    store_ = std::make_unique<queue::QueueStore>(root_);
    ASSERT_FALSE(store_->ensure_dirs());
    cfg_ = std::make_shared<core::Config>(
        core::Config::from_text("myhostname = desktop20.example.com\nmyorigin = example.com\n"));
    pickup_ = std::make_unique<pickup::Pickup>(io_, cfg_, *store_, [this](const std::string& id) { queued_.push_back(id); });
  }
  void TearDown() override { std::system(("rm -rf " + root_).c_str()); }

  std::string drop(core::Message m) {
    queue::QueueWriter w;
    EXPECT_FALSE(queue::QueueWriter::create(*store_, queue::Q::maildrop, w));
    m.env.id = w.id();
    EXPECT_FALSE(w.write(queue::serialize(m)));
    EXPECT_FALSE(w.commit());
    return w.id();
  }
  void run(size_t want) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    pickup_->scan();
    while (queued_.size() < want && std::chrono::steady_clock::now() < end) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(10));
    }
  }
  core::Message read_incoming(const std::string& id) {
    core::Message m;
    auto r = queue::read_queue_file(store_->path(queue::Q::incoming, id), m.env, &m.content);
    EXPECT_TRUE(r.ok()) << r.bad;
    return m;
  }

  std::string root_;
  std::unique_ptr<queue::QueueStore> store_;
  std::shared_ptr<core::Config> cfg_;
  net::io_context io_;
  std::unique_ptr<pickup::Pickup> pickup_;
  std::vector<std::string> queued_;
};

TEST_F(PickupTest, SubmissionGoesThroughCleanup) {
  core::Message m;
  m.env.sender = "student";
  m.env.uid = 1000;
  m.env.fullname = "A Student";
  core::Recipient r;
  r.address = "alice@example.com";
  m.env.rcpts.push_back(r);
  m.content = "Subject: hello\n\nhi\n";
  drop(m);
  run(1);
  ASSERT_EQ(queued_.size(), 1u);
  EXPECT_TRUE(store_->list(queue::Q::maildrop).empty());
  auto q = read_incoming(queued_[0]);
  EXPECT_EQ(q.env.sender, "student@example.com");
  EXPECT_EQ(q.content.rfind("Received: by desktop20.example.com (mxmta, from userid 1000)\n\tid " + queued_[0], 0), 0u)
      << q.content;
  EXPECT_NE(q.content.find("From: A Student <student@example.com>"), std::string::npos);
}

TEST_F(PickupTest, ExtractRecipientsFlag) {
  core::Message m;
  m.env.sender = "student@example.com";
  m.env.attrs[pickup::kExtractAttr] = "1";
  m.content = "To: bob@example.com\nBcc: carol@example.com\n\nhi\n";
  drop(m);
  run(1);
  ASSERT_EQ(queued_.size(), 1u);
  auto q = read_incoming(queued_[0]);
  ASSERT_EQ(q.env.rcpts.size(), 2u);
  EXPECT_EQ(q.content.find("Bcc:"), std::string::npos);
}

TEST_F(PickupTest, RequeuedFileKeepsItsContent) {
  core::Message m;
  m.env.sender = "x@remote.test";
  m.env.arrival = {1000, 0};
  m.env.attrs[pickup::kCleanedAttr] = "1";
  core::Recipient r;
  r.address = "alice@example.com";
  r.dsn_status = "4.4.1";
  r.reason = "old reason";
  m.env.rcpts.push_back(r);
  m.content = "Subject: as it was\n\nbody\n";
  // The log line names the file's owner and the old queue id, as Postfix's
  // pickup does for mail that postsuper -r put back.
  log::Target saved = log::target();
  log::Target t = saved;
  t.to_stderr = false;
  t.to_log = true;
  t.maillog_file = root_ + "/maillog";
  t.host_label = "desktop20";
  log::configure(t);
  std::string old_id = drop(m);
  run(1);
  log::configure(saved);
  ASSERT_EQ(queued_.size(), 1u);
  auto q = read_incoming(queued_[0]);
  EXPECT_EQ(q.content, "Subject: as it was\n\nbody\n");
  EXPECT_EQ(q.env.arrival.sec, 1000);
  EXPECT_EQ(q.env.rcpts[0].reason, "");
  std::string maillog;
  ASSERT_FALSE(util::read_file(root_ + "/maillog", maillog));
  EXPECT_NE(maillog.find("/pickup[") , std::string::npos) << maillog;
  EXPECT_NE(maillog.find(": " + queued_[0] + ": uid=" + std::to_string(::getuid()) + " from=<x@remote.test> orig_id=" +
                         old_id + "\n"),
            std::string::npos)
      << maillog;
}

TEST_F(PickupTest, GarbageGoesToCorrupt) {
  ASSERT_FALSE(util::write_file_atomic(root_ + "/maildrop/BADFILE1", "not a queue file", 0600));
  pickup_->scan();
  io_.restart();
  io_.run_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(util::exists(root_ + "/corrupt/BADFILE1"));
  EXPECT_TRUE(queued_.empty());
}
