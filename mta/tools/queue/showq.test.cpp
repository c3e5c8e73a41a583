#include "tools/queue/showq.hpp"

#include "tools/queue/queue_tools_fixture.hpp"

#include <unistd.h>

using namespace mta;
using mta::queue::Q;
using tools::queue::testing::Rcpt;

namespace {
constexpr int64_t kArrival = 1795848591;  // Sat Nov 28 06:49:51 2026 UTC
const std::string kRefused = "connect to 127.0.0.1[127.0.0.1]:2599: Connection refused";
}  // namespace

class ShowqTest : public tools::queue::testing::QueueToolsFixture {};

// Reference section 2: the observed Postfix 3.7 mailq output.
TEST_F(ShowqTest, MatchesPostfixMailqByteForByte) {
  put(Q::deferred, "8B39910401E", "root@example.test", kArrival,
      {{"a@remote.example", "4.4.1", kRefused}, {"b@remote.example", "4.4.1", kRefused}}, 354);
  put(Q::hold, "89B3E104015", "alice@example.test", kArrival, {{"someone@remote.example", "4.4.1", kRefused}}, 280);
  auto l = tools::queue::scan(*store_);
  EXPECT_TRUE(l.warnings.empty());
  EXPECT_EQ(tools::queue::format_mailq(l.messages),
            "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
            "8B39910401E     354 Sat Nov 28 06:49:51  root@example.test\n"
            "                    (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)\n"
            "                                         a@remote.example\n"
            "                                         b@remote.example\n"
            "\n"
            "89B3E104015!     280 Sat Nov 28 06:49:51  alice@example.test\n"
            "                    (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)\n"
            "                                         someone@remote.example\n"
            "\n"
            "-- 0 Kbytes in 2 Requests.\n");
}

TEST_F(ShowqTest, EmptyQueue) {
  auto l = tools::queue::scan(*store_);
  EXPECT_EQ(tools::queue::format_mailq(l.messages), "Mail queue is empty\n");
  EXPECT_EQ(tools::queue::format_json(l.messages), "");
}

TEST_F(ShowqTest, QueueOrderStatusMarksReasonsAndTotals) {
  // Listed maildrop, active, incoming, deferred, hold; ids sorted per queue.
  put(Q::hold, "00001AAAAAA", "", kArrival, {{"h@remote.example", "", ""}}, 100, true);
  put(Q::deferred, "D0002BBBBBB", "d2@example.test", kArrival + 60,
      {{"done@remote.example", "2.0.0", "250 ok"},
       {"new@remote.example", "", ""},
       {"x@remote.example", "4.4.1", kRefused},
       {"bounced@remote.example", "5.1.1", "User unknown"},
       {"y@remote.example", "4.7.1",
        "host mx.remote.example[192.0.2.1] said: 451 4.7.1 Greylisted, please try again in a few minutes "
        "(in reply to RCPT TO command)"}},
      2048);
  put(Q::deferred, "D0001CCCCCC", "d1@example.test", kArrival, {{"z@remote.example", "4.4.1", kRefused}}, 1100);
  put(Q::active, "A0001DDDDDD", "act@example.test", kArrival, {{"q@remote.example", "", ""}}, 10);
  put(Q::incoming, "10001EEEEEE", "inc@example.test", kArrival, {{"i@remote.example", "", ""}}, 10);
  put(Q::maildrop, "M0001FFFFFF", "drop@example.test", kArrival, {{"m@remote.example", "", ""}}, 10);

  auto l = tools::queue::scan(*store_);
  std::string long_reason =
      "host mx.remote.example[192.0.2.1] said: 451 4.7.1 Greylisted, please try again in a few minutes (in "
      "reply to RCPT TO command)";
  EXPECT_EQ(tools::queue::format_mailq(l.messages),
            "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
            "M0001FFFFFF      10 Sat Nov 28 06:49:51  drop@example.test\n"
            "                                         m@remote.example\n"
            "\n"
            "A0001DDDDDD*      10 Sat Nov 28 06:49:51  act@example.test\n"
            "                                         q@remote.example\n"
            "\n"
            "10001EEEEEE      10 Sat Nov 28 06:49:51  inc@example.test\n"
            "                                         i@remote.example\n"
            "\n"
            "D0001CCCCCC    1100 Sat Nov 28 06:49:51  d1@example.test\n"
            "                    (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)\n"
            "                                         z@remote.example\n"
            "\n"
            "D0002BBBBBB    2048 Sat Nov 28 06:50:51  d2@example.test\n"
            "                    (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)\n"
            "                                         x@remote.example\n"
            "(" + long_reason + ")\n"
            "                                         y@remote.example\n"
            + std::string(58, ' ') + "(reason unavailable)\n"
            "                                         new@remote.example\n"
            "\n"
            "00001AAAAAA!#     100 Sat Nov 28 06:49:51  MAILER-DAEMON\n"
            "                                         h@remote.example\n"
            "\n"
            "-- 3 Kbytes in 6 Requests.\n");
}

TEST_F(ShowqTest, OneRequestIsSingular) {
  put(Q::deferred, "8B39910401E", "root@example.test", kArrival, {{"a@remote.example", "", ""}}, 1500);
  auto out = tools::queue::format_mailq(tools::queue::scan(*store_).messages);
  EXPECT_NE(out.find("\n-- 1 Kbytes in 1 Request.\n"), std::string::npos) << out;
}

TEST_F(ShowqTest, LongQueueIdLayout) {
  put(Q::deferred, "8B39910401E", "root@example.test", kArrival, {{"a@remote.example", "", ""}}, 354);
  EXPECT_EQ(tools::queue::format_mailq(tools::queue::scan(*store_).messages, true),
            "----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n"
            "8B39910401E" + std::string(12, ' ') + "354 Sat Nov 28 06:49:51 root@example.test\n" +
                std::string(47, ' ') + "a@remote.example\n"
            "\n"
            "-- 0 Kbytes in 1 Request.\n");
}

TEST_F(ShowqTest, CorruptFileIsSkippedWithWarningAndVanishedFileSilently) {
  put(Q::deferred, "8B39910401E", "root@example.test", kArrival, {{"a@remote.example", "", ""}}, 354);
  ASSERT_FALSE(util::write_file_atomic(store_->path(Q::deferred, "C0FFEE12345"), "V1:1\nI3:abc\n", 0700));
  // A name whose file is gone by the time it is read (a dangling link is
  // listed, then reading it fails with ENOENT, as for a delivered message).
  ASSERT_EQ(::symlink((spool_ + "/nowhere").c_str(), store_->path(Q::incoming, "DEAD0123456").c_str()), 0);
  auto l = tools::queue::scan(*store_);
  ASSERT_EQ(l.messages.size(), 1u);
  EXPECT_EQ(l.messages[0].id, "8B39910401E");
  ASSERT_EQ(l.warnings.size(), 1u);
  EXPECT_EQ(l.warnings[0], "deferred/C0FFEE12345: malformed queue file: missing end record -- skipped");
}

TEST_F(ShowqTest, JsonFormat) {
  put(Q::deferred, "8B39910401E", "root@example.test", kArrival,
      {{"a@remote.example", "4.4.1", "say \"no\"\\"}, {"b@remote.example", "", ""}}, 354);
  put(Q::hold, "89B3E104015", "", kArrival, {{"c@remote.example", "", ""}}, 280, true);
  EXPECT_EQ(tools::queue::format_json(tools::queue::scan(*store_).messages),
            "{\"queue_name\": \"deferred\", \"queue_id\": \"8B39910401E\", \"arrival_time\": 1795848591, "
            "\"message_size\": 354, \"forced_expire\": false, \"sender\": \"root@example.test\", \"recipients\": "
            "[{\"address\": \"a@remote.example\", \"delay_reason\": \"say \\\"no\\\"\\\\\"}, "
            "{\"address\": \"b@remote.example\"}]}\n"
            "{\"queue_name\": \"hold\", \"queue_id\": \"89B3E104015\", \"arrival_time\": 1795848591, "
            "\"message_size\": 280, \"forced_expire\": true, \"sender\": \"MAILER-DAEMON\", \"recipients\": "
            "[{\"address\": \"c@remote.example\"}]}\n");
  EXPECT_EQ(tools::queue::json_escape(std::string("a\tb\x01\n", 5)), "a\\tb\\u0001\\n");
}
