#include "local/local.hpp"

#include "core/aliases.hpp"
#include "core/maps.hpp"
#include "local/testing.hpp"
#include "util/asio.hpp"
#include "util/log.hpp"

#include <fmt/core.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>

using namespace mta;
using namespace mta::local;
using local::testing::FakeUsers;
using local::testing::make_home;
using local::testing::slurp;
using local::testing::TempDir;

namespace {

// A transport that accepts everything (fallback_transport's agent).
class FakeAgent : public core::DeliveryAgent {
 public:
  std::vector<core::DeliveryRequest> seen;
  void deliver(core::DeliveryRequest req, core::DeliveryDone done) override {
    std::vector<core::DeliveryResult> rs;
    for (size_t r : req.rcpts) {
      core::DeliveryResult x;
      x.rcpt = r;
      x.dsn = "2.0.0";
      x.relay = "lmtp";
      x.reason = "delivered via " + req.transport + ":" + req.nexthop;
      rs.push_back(x);
    }
    seen.push_back(std::move(req));
    done(std::move(rs));
  }
};

}  // namespace

class LocalAgentTest : public ::testing::Test {
 protected:
  TempDir t;
  std::string spool, aliases;
  std::shared_ptr<FakeUsers> users = std::make_shared<FakeUsers>();
  std::unique_ptr<queue::QueueStore> store;
  net::io_context io;

  void SetUp() override {
    setenv("TZ", "UTC", 1);
    log::Target lt = log::target();
    lt.to_stderr = false;
    log::configure(lt);
    spool = t / "spool";
    ::mkdir(spool.c_str(), 01777);
    ::chmod(spool.c_str(), 01777);
    store = std::make_unique<queue::QueueStore>(t / "queue");
    ASSERT_FALSE(store->ensure_dirs());
    aliases = t / "aliases";
    for (const char* u : {"alice", "bob"}) users->add(u, make_home(t, u));
    users->add("nobody", "/nonexistent", local::testing::nobody_uid(), local::testing::nobody_uid());
    std::string text = "fwd: alice, dave@remote.example\nslow: \"|sleep 1\"\n";
    ASSERT_FALSE(util::write_file_atomic(aliases, text, 0644));
    core::write_hash_db(core::hash_db_path(aliases),
                        core::alias_table(core::parse_aliases(text, aliases, nullptr), "", nullptr));
  }

  std::shared_ptr<const core::Config> config(const std::string& extra = "") {
    return std::make_shared<const core::Config>(core::Config::from_text(
        fmt::format("myhostname = mx.example.test\nmydomain = example.test\nmyorigin = $mydomain\n"
                    "mydestination = $mydomain\ninet_interfaces = 127.0.0.1\nmail_spool_directory = {}\n"
                    "alias_maps = hash:{}\n{}",
                    spool, aliases, extra)));
  }

  core::DeliveryRequest request(std::vector<std::string> rcpts) {
    auto m = std::make_shared<core::Message>();
    m->env.id = "5B2E1104017";
    m->env.sender = "x@example.net";
    core::DeliveryRequest req;
    for (size_t i = 0; i < rcpts.size(); ++i) {
      core::Recipient r;
      r.address = rcpts[i];
      m->env.rcpts.push_back(r);
      req.rcpts.push_back(i);
      req.addresses.push_back(rcpts[i]);
    }
    m->content = "Subject: hi\n\nhello\n";
    req.msg = m;
    req.transport = "local";
    req.nexthop = "mx.example.test";
    return req;
  }
};

TEST_F(LocalAgentTest, OneResultPerRecipientAndQueuedCopiesFirst) {
  std::vector<std::string> events;
  LocalAgent agent(io, config(), *store, [&](const std::string& id) { events.push_back("queued " + id); }, users);
  std::vector<std::string> leaves;
  agent.set_leaf_observer([&](const core::Message&, size_t rcpt, const Leaf& l) {
    leaves.push_back(fmt::format("{} {} {}", rcpt, l.address, l.status.dsn));
  });
  int calls = 0;
  std::vector<core::DeliveryResult> got;
  agent.deliver(request({"alice@example.test", "fwd@example.test", "nosuch@example.test"}),
                [&](std::vector<core::DeliveryResult> r) {
                  ++calls;
                  got = std::move(r);
                  events.push_back("done");
                });
  io.run();
  ASSERT_EQ(calls, 1);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].rcpt, 0u);
  EXPECT_EQ(got[0].reason, "delivered to mailbox");
  EXPECT_EQ(got[0].relay, "local");
  EXPECT_EQ(got[1].rcpt, 1u);
  ASSERT_EQ(events.size(), 2u);
  std::string id = events[0].substr(7);
  EXPECT_EQ(events[0], "queued " + id);
  EXPECT_EQ(events[1], "done");
  EXPECT_EQ(got[1].reason, "delivered to mailbox; forwarded as " + id);
  EXPECT_TRUE(store->locate(id).has_value());
  EXPECT_EQ(got[2].dsn, "5.1.1");
  EXPECT_EQ(got[2].diagnostic, "");  // bounce writes "X-$mail_name; unknown user: ..."
  // The forwarded copy is reported once, for the queue recipient (Postfix
  // logs "to=<fwd@...>, ... (forwarded as ID)"), not for dave.
  EXPECT_EQ(leaves, (std::vector<std::string>{"0 alice@example.test 2.0.0", "1 alice@example.test 2.0.0",
                                              "1 fwd@example.test 2.0.0", "2 nosuch@example.test 5.1.1"}));
  EXPECT_EQ(slurp(spool + "/alice").find("\nDelivered-To: fwd@example.test\n") != std::string::npos, true);
}

TEST_F(LocalAgentTest, BlockingWorkDoesNotStallTheLoop) {
  LocalAgent agent(io, config(), *store, nullptr, users);
  auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration timer_at{}, done_at{};
  net::steady_timer timer(io, std::chrono::milliseconds(100));
  timer.async_wait([&](const boost::system::error_code&) { timer_at = std::chrono::steady_clock::now() - start; });
  agent.deliver(request({"slow@example.test"}), [&](std::vector<core::DeliveryResult> r) {
    done_at = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].reason, "delivered to command: sleep 1");
  });
  io.run();
  EXPECT_GT(done_at, std::chrono::milliseconds(900));
  EXPECT_LT(timer_at, std::chrono::milliseconds(800));  // fired while the command ran
}

TEST_F(LocalAgentTest, FallbackTransportGetsUnknownUsers) {
  LocalAgent agent(io, config("fallback_transport = lmtp:unix:private/dovecot\n"), *store, nullptr, users);
  FakeAgent lmtp;
  agent.set_agent_lookup([&](const std::string& transport) -> core::DeliveryAgent* { return transport == "lmtp" ? &lmtp : nullptr; });
  std::vector<core::DeliveryResult> got;
  agent.deliver(request({"alice@example.test", "nosuch@example.test"}),
                [&](std::vector<core::DeliveryResult> r) { got = std::move(r); });
  io.run();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].reason, "delivered to mailbox");
  EXPECT_EQ(got[1].dsn, "2.0.0");
  EXPECT_EQ(got[1].reason, "delivered via lmtp:unix:private/dovecot");
  ASSERT_EQ(lmtp.seen.size(), 1u);
  EXPECT_EQ(lmtp.seen[0].rcpts, std::vector<size_t>{1});
  EXPECT_EQ(lmtp.seen[0].addresses, std::vector<std::string>{"nosuch@example.test"});
}

TEST_F(LocalAgentTest, MissingFallbackAgentDefers) {
  LocalAgent agent(io, config("fallback_transport = lmtp:unix:private/dovecot\n"), *store, nullptr, users);
  std::vector<core::DeliveryResult> got;
  agent.deliver(request({"nosuch@example.test"}), [&](std::vector<core::DeliveryResult> r) { got = std::move(r); });
  io.run();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].dsn, "4.3.0");
  EXPECT_EQ(got[0].reason, "mail transport unavailable");
}

TEST_F(LocalAgentTest, RefusedSettingsThrowAtConstruction) {
  EXPECT_THROW(LocalAgent(io, config("allow_mail_to_files = everything\n"), *store, nullptr, users), core::ConfigError);
}
