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

TEST(QueueFileTest, ChecksumCatchesChangedBytes) {
  std::string bytes = queue::serialize(sample());
  ASSERT_NE(bytes.find("\nC8:"), std::string::npos) << "no checksum record";
  core::Envelope e;
  for (size_t at : {size_t{0} + 6, bytes.find("M"), bytes.find("M") + 8}) {
    std::string b = bytes;
    b[at] = b[at] == 'q' ? 'r' : 'q';
    EXPECT_NE(queue::parse(b, e, nullptr), "") << "a changed byte at " << at << " passed";
  }
  std::string zeroed = bytes;
  std::fill(zeroed.begin() + 30, zeroed.begin() + 34, '\0');
  EXPECT_NE(queue::parse(zeroed, e, nullptr), "");
}

TEST(QueueFileTest, NulPaddingAfterTheEndIsAcceptedOtherBytesAreNot) {
  std::string bytes = queue::serialize(sample());
  core::Envelope e;
  EXPECT_EQ(queue::parse(bytes + std::string(5000, '\0'), e, nullptr), "");
  EXPECT_EQ(queue::parse(bytes + std::string(10, '\0') + "x", e, nullptr), "data after end record");
}

TEST(QueueFileTest, FilesWithoutChecksumStillParse) {
  // Written before the checksum record existed.
  std::string bytes = "V1:1\nI7:ABCDE12\nT17:1700000000.000001\nS3:a@b\nR3:c@d\nM3:hi\n\nE0:\n";
  core::Envelope e;
  std::string content;
  EXPECT_EQ(queue::parse(bytes, e, &content), "");
  EXPECT_EQ(content, "hi\n");
}

TEST(QueueFileTest, NothingButTheEndAfterTheChecksum) {
  std::string bytes = queue::serialize(sample());
  size_t c = bytes.rfind("C8:");
  ASSERT_NE(c, std::string::npos);
  std::string b = bytes.substr(0, c + 12) + "S1:x\n" + "E0:\n";
  core::Envelope e;
  EXPECT_EQ(queue::parse(b, e, nullptr), "record after the checksum");
}
