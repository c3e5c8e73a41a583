#include "queue/queue_file.hpp"

#include <gtest/gtest.h>

using namespace mta;

namespace {
core::Message sample() {
  core::Message m;
  m.env.id = "15BED104017";
  m.env.arrival = {1795848591, 42};
  m.env.sender = "alice@example.test";
  m.env.origin = "smtpd";
  m.env.client_addr = "127.0.0.1";
  m.env.envid = "x=y";
  m.env.next_attempt = 1795848891;
  m.env.attrs["note"] = "kept";
  core::Recipient r;
  r.address = "bob@example.test";
  r.orig = "sales@example.test";
  r.dsn_orcpt = "rfc822;sales@example.test";
  r.notify = core::notify_failure | core::notify_delay;
  r.dsn_status = "4.4.1";
  r.reason = "connect to x[1.2.3.4]:25: Connection refused";
  m.env.rcpts.push_back(r);
  core::Recipient r2;
  r2.address = "carol@example.test";
  m.env.rcpts.push_back(r2);
  m.content = "Subject: hi\n\nbody with: colons\nE0:\n";
  return m;
}
}  // namespace

TEST(QueueFileTest, RoundTrip) {
  auto m = sample();
  std::string bytes = queue::serialize(m);
  core::Envelope e;
  std::string content;
  ASSERT_EQ(queue::parse(bytes, e, &content), "");
  EXPECT_EQ(e.id, m.env.id);
  EXPECT_EQ(e.arrival.sec, m.env.arrival.sec);
  EXPECT_EQ(e.arrival.usec, 42);
  EXPECT_EQ(e.sender, m.env.sender);
  EXPECT_EQ(e.next_attempt, m.env.next_attempt);
  EXPECT_EQ(e.attrs.at("note"), "kept");
  ASSERT_EQ(e.rcpts.size(), 2u);
  EXPECT_EQ(e.rcpts[0].orig, "sales@example.test");
  EXPECT_EQ(e.rcpts[0].reason, m.env.rcpts[0].reason);
  EXPECT_EQ(e.rcpts[0].notify, m.env.rcpts[0].notify);
  EXPECT_EQ(e.rcpts[1].orig, "");
  EXPECT_EQ(content, m.content);
  EXPECT_EQ(e.content_size, static_cast<int64_t>(m.content.size()));
}

TEST(QueueFileTest, NullSenderSurvives) {
  auto m = sample();
  m.env.sender = "";
  core::Envelope e;
  ASSERT_EQ(queue::parse(queue::serialize(m), e, nullptr), "");
  EXPECT_EQ(e.sender, "");
}

TEST(QueueFileTest, EveryTruncationIsRejected) {
  std::string bytes = queue::serialize(sample());
  core::Envelope e;
  for (size_t n = 0; n < bytes.size(); ++n)
    EXPECT_NE(queue::parse(bytes.substr(0, n), e, nullptr), "") << "accepted a file cut at " << n;
}

TEST(QueueFileTest, GarbageIsRejected) {
  core::Envelope e;
  EXPECT_NE(queue::parse("hello world", e, nullptr), "");
  std::string bytes = queue::serialize(sample());
  bytes[bytes.size() - 4] = 'X';  // the E record's type
  EXPECT_NE(queue::parse(bytes, e, nullptr), "");
  std::string extra = queue::serialize(sample()) + "S1:x\n";
  EXPECT_EQ(queue::parse(extra, e, nullptr), "data after end record");
}
