#include "runner/queue.hpp"
#include <gtest/gtest.h>
namespace mxlab::runner {
namespace {
class QueueTest : public ::testing::Test {};
TEST_F(QueueTest, ParsesPostqueueJson) {
  auto q = parse_postqueue_json(
      "{\"queue_name\": \"deferred\", \"queue_id\": \"8B39910401E\", \"arrival_time\": 1795848591, \"message_size\": 354, "
      "\"forced_expire\": false, \"sender\": \"root@example.test\", \"recipients\": [{\"address\": \"a@remote.example\", "
      "\"delay_reason\": \"connect to 127.0.0.1[127.0.0.1]:2599: Connection refused\"}, {\"address\": \"b@remote.example\"}]}\n"
      "\n{\"queue_name\":\"hold\",\"queue_id\":\"89B3E104015\",\"arrival_time\":1,\"message_size\":2,\"forced_expire\":true,"
      "\"sender\":\"\\u00e9\\\"x\\\"\",\"recipients\":[]}\n");
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].queue_name, "deferred");
  EXPECT_EQ(q[0].arrival_time, 1795848591);
  ASSERT_EQ(q[0].recipients.size(), 2u);
  EXPECT_EQ(q[0].recipients[0].delay_reason, "connect to 127.0.0.1[127.0.0.1]:2599: Connection refused");
  EXPECT_EQ(q[0].recipients[1].delay_reason, "");
  EXPECT_TRUE(q[1].forced_expire);
  EXPECT_EQ(q[1].sender, "\xc3\xa9\"x\"");
  EXPECT_THROW(parse_postqueue_json("{\"queue_id\": \"A\"\n"), std::runtime_error);
  EXPECT_THROW(parse_postqueue_json("[1,2]\n"), std::runtime_error);
  EXPECT_THROW(parse_postqueue_json("{\"sender\": \"x\"}\n"), std::runtime_error);
  EXPECT_TRUE(parse_postqueue_json("").empty());
}
}  // namespace
}  // namespace mxlab::runner
