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

// A message that moved from active/ to deferred/ while postqueue walked the
// directories is listed twice; it is one message, where it went last.
TEST_F(QueueTest, MessageListedInTwoQueuesCountsOnce) {
  const std::string line = "{\"queue_name\": \"%Q\", \"queue_id\": \"D160AA84D61\", \"arrival_time\": 1, "
                           "\"message_size\": 2, \"forced_expire\": false, \"sender\": \"a@b\", \"recipients\": []}\n";
  auto with = [&](const std::string& q) { return std::string(line).replace(line.find("%Q"), 2, q); };
  auto q = parse_queue("postqueue-json", with("active") + with("deferred"));
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].queue_name, "deferred");
  EXPECT_EQ(parse_postqueue_json(with("active") + with("deferred")).size(), 2u);
}

// `exim -bp` as Exim 4.96 prints it, followed by message logs the way the
// exim adapter's queue command appends them (tail -v style headers).
TEST_F(QueueTest, ParsesEximBpWithMessageLogs) {
  const std::string text =
      " 0m   266 1xXGKs-0003SW-1c <a@b.example>\n"
      "          x@y.example\n"
      "        D done@y.example\n"
      "          Z@W.example\n"
      "\n"
      "25m  2.9K 1xXGKs-0003Sa-1i <> *** frozen ***\n"
      "          q@y.example\n"
      "\n"
      "==> 1xXGKs-0003SW-1c <==\n"
      "2026-11-28 11:11:02 Received from a@b.example U=root P=local S=266\n"
      "2026-11-28 11:11:02 x@y.example R=r T=t defer (-1): TCP port \"smtp\" is not defined for t transport\n"
      "2026-11-28 11:11:02 done@y.example R=r T=t H=mx.y.example [203.0.113.25] C=\"250 2.0.0 Ok\"\n"
      "2026-11-30 08:10:00 x@y.example R=dnslookup T=remote_smtp defer (-44) H=mx.y.example [203.0.113.25]: "
      "SMTP error from remote mail server after RCPT TO:<x@y.example>: 451 4.7.1 greylisted\n"
      "==> /var/spool/exim4/msglog/1xXGKs-0003Sa-1i <==\n"
      "2026-11-28 11:11:02 Received from <> U=root P=local S=2900\n";
  auto q = parse_exim_bp(text);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].queue_id, "1xXGKs-0003SW-1c");
  EXPECT_EQ(q[0].sender, "a@b.example");
  EXPECT_EQ(q[0].message_size, 266);
  EXPECT_EQ(q[0].queue_name, "deferred");
  // "1xXGKs" in base 62 is the arrival time in seconds.
  EXPECT_EQ(q[0].arrival_time, ((((1LL * 62 + 59) * 62 + 33) * 62 + 16) * 62 + 20) * 62 + 54);
  ASSERT_EQ(q[0].recipients.size(), 2u);  // the delivered one is left out
  EXPECT_EQ(q[0].recipients[0].address, "x@y.example");
  EXPECT_EQ(q[0].recipients[0].delay_reason,
            "H=mx.y.example [203.0.113.25]: SMTP error from remote mail server after RCPT TO:<x@y.example>: 451 4.7.1 "
            "greylisted");
  EXPECT_EQ(q[0].recipients[1].address, "Z@W.example");
  EXPECT_EQ(q[0].recipients[1].delay_reason, "");
  EXPECT_EQ(q[1].sender, "");
  EXPECT_EQ(q[1].queue_name, "hold");
  EXPECT_EQ(q[1].message_size, static_cast<long long>(2.9 * 1024));
  ASSERT_EQ(q[1].recipients.size(), 1u);
  EXPECT_EQ(q[1].recipients[0].address, "q@y.example");

  // A deferral of an alias's "|command" is logged for the child address,
  // followed by the original recipient that -bp lists.
  auto piped = parse_exim_bp(
      " 0m   302 1xXwIr-00000S-21 <buyer@outside.test>\n"
      "          tickets@example.com\n"
      "\n"
      "==> 1xXwIr-00000S-21 <==\n"
      "2026-11-30 08:00:01 |/bin/sh /tmp/deliver.sh <tickets@example.com> R=system_aliases T=address_pipe defer (0): "
      "Child process of address_pipe transport returned 75 (could mean temporary error) from command: /bin/sh\n");
  ASSERT_EQ(piped.size(), 1u);
  EXPECT_EQ(piped[0].queue_name, "deferred");
  ASSERT_EQ(piped[0].recipients.size(), 1u);
  EXPECT_EQ(piped[0].recipients[0].delay_reason,
            "Child process of address_pipe transport returned 75 (could mean temporary error) from command: /bin/sh");

  EXPECT_TRUE(parse_exim_bp("").empty());
  // A 4.97+ id (6-11-4) is a message id too.
  EXPECT_EQ(parse_exim_bp(" 3h   1.2M 1rJKZO-00000000Fxy-0Ldr <s@x>\n          r@x\n")[0].message_size, 1258291);
  EXPECT_THROW(parse_exim_bp("garbage line\n"), std::runtime_error);
  EXPECT_THROW(parse_exim_bp("          orphan@recipient\n"), std::runtime_error);
  EXPECT_THROW(parse_exim_bp(" 0m 1 not-an-id <a@b>\n"), std::runtime_error);
  EXPECT_THROW(parse_exim_bp("==> ../etc/passwd <==\n"), std::runtime_error);
}

// `smtpctl show queue` of OpenSMTPD 6.8: envelopes grouped by message.
TEST_F(QueueTest, ParsesSmtpctlShowQueue) {
  const std::string text =
      "80e41df694ddb89e|local|mta|auth|a@b.example|z@w.example|z@w.example|1795864301|1795864301|1795864301|0|inflight|1|\n"
      "80e41df695354fdc|inet4|mta||a@b.example|x@y.example|x@y.example|1795864301|1796728301|1795864350|2|pending|350|"
      "Temporary failure: 451 4.7.1 greylisted | try later\n"
      "80e41df695354fdd|inet4|mda||a@b.example|sales@example.com|alice@example.com|1795864301|1796728301|0|0|pending|1|\n"
      "80e41df695354fde|inet4|mda||a@b.example|sales@example.com|bob@example.com|1795864301|1796728301|0|0|pending|1|\n"
      "1234567800000001|inet4|mta|suspend|@|m@n.example|m@n.example|1795860000|1796728301|0|0|pending|1|\n"
      "80e41df6aaaaaaaa|local|bounce||a@b.example|z@w.example|z@w.example|1795864400|1796728301|0|0|pending|5|\n";
  auto q = parse_smtpctl_queue(text);
  ASSERT_EQ(q.size(), 3u);
  EXPECT_EQ(q[0].queue_id, "80e41df6");
  EXPECT_EQ(q[0].sender, "a@b.example");
  EXPECT_EQ(q[0].arrival_time, 1795864301);
  EXPECT_EQ(q[0].queue_name, "deferred");
  ASSERT_EQ(q[0].recipients.size(), 3u);  // alias expansions of one recipient count once
  EXPECT_EQ(q[0].recipients[0].address, "z@w.example");
  EXPECT_EQ(q[0].recipients[0].delay_reason, "");
  EXPECT_EQ(q[0].recipients[1].address, "x@y.example");
  EXPECT_EQ(q[0].recipients[1].delay_reason, "Temporary failure: 451 4.7.1 greylisted | try later");
  EXPECT_EQ(q[0].recipients[2].address, "sales@example.com");
  EXPECT_EQ(q[1].queue_id, "12345678");
  EXPECT_EQ(q[1].sender, "");  // the null sender shows as "@"
  EXPECT_EQ(q[1].queue_name, "hold");
  // The bounce in transit: from the null sender to the original sender.
  EXPECT_EQ(q[2].queue_id, "80e41df6-bounce");
  EXPECT_EQ(q[2].sender, "");
  ASSERT_EQ(q[2].recipients.size(), 1u);
  EXPECT_EQ(q[2].recipients[0].address, "a@b.example");

  EXPECT_TRUE(parse_smtpctl_queue("\n").empty());
  EXPECT_THROW(parse_smtpctl_queue("80e41df6|local|mta\n"), std::runtime_error);
  EXPECT_THROW(parse_smtpctl_queue("xyz41df694ddb89e|local|mta|auth|a@b|c@d|c@d|1|1|1|0|inflight|1|\n"), std::runtime_error);
  EXPECT_EQ(parse_queue("smtpctl-queue", text).size(), 3u);
  EXPECT_EQ(parse_queue("exim-bp", "").size(), 0u);
  EXPECT_THROW(parse_queue("mailq", ""), std::runtime_error);
}
}  // namespace
}  // namespace mxlab::runner
