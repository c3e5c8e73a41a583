#include "qmgr/qmgr.hpp"

#include "cleanup/cleanup.hpp"
#include "qmgr/agents.hpp"
#include "queue/queue_file.hpp"
#include "util/asio.hpp"
#include "util/clock.hpp"
#include "util/safe_io.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <functional>

using namespace mta;

namespace {

// A delivery agent at the seam: answers from a script, records requests.
class ScriptedAgent : public core::DeliveryAgent {
 public:
  std::function<std::string(const std::string& rcpt)> answer = [](const std::string&) { return "2.0.0"; };
  bool dead = false;
  // As the SMTP client reports a success: "relayed", and whether the server
  // offered DSN (so that NOTIFY went on with the RCPT).
  std::function<bool(const std::string& rcpt)> dsn_offered = [](const std::string&) { return false; };
  std::vector<core::DeliveryRequest> seen;
  void deliver(core::DeliveryRequest req, core::DeliveryDone done) override {
    seen.push_back(req);
    std::vector<core::DeliveryResult> out;
    for (size_t k = 0; k < req.rcpts.size(); ++k) {
      core::DeliveryResult r;
      r.rcpt = req.rcpts[k];
      r.dsn = answer(req.addresses[k]);
      r.reason = r.dsn[0] == '2' ? "250 2.0.0 Ok" : r.dsn[0] == '4' ? "connect to x[192.0.2.1]:25: Connection refused"
                                                                   : "host x said: 550 5.1.1 no such user";
      r.relay = "x[192.0.2.1]:25";
      r.dead_destination = dead && r.dsn[0] == '4';
      if (r.dsn[0] == '2') {
        r.action = "relayed";
        r.next_hop_dsn = dsn_offered(req.addresses[k]);
      }
      out.push_back(r);
    }
    done(std::move(out));
  }
};

core::Recipient rcpt(const std::string& a) {
  core::Recipient r;
  r.address = a;
  return r;
}

}  // namespace

class QmgrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    char t[] = "/tmp/mxqmgrXXXXXX";
    root_ = ::mkdtemp(t);
    store_ = std::make_unique<queue::QueueStore>(root_);
    ASSERT_FALSE(store_->ensure_dirs());
    cfg_ = std::make_shared<core::Config>(core::Config::from_text(
        "myhostname = mx.example.test\nmydestination =\nqueue_directory = " + root_ + "\n"));
    agent_ = std::make_shared<ScriptedAgent>();
  }
  void TearDown() override { std::system(("rm -rf " + root_).c_str()); }

  void make_qmgr() {
    qmgr_ = std::make_unique<qmgr::Qmgr>(io_, cfg_, *store_, [this](const qmgr::NoticeRequest& r, int64_t) {
      notices_.push_back(r);
      std::vector<core::Message> out;
      if (r.original->env.sender.empty()) return out;
      core::Message m;
      m.env.sender = "";
      m.env.rcpts.push_back(rcpt(r.original->env.sender));
      m.content = "Subject: notice\n\nx\n";
      out.push_back(m);
      return out;
    });
    qmgr_->add_agent("smtp", agent_);
  }

  std::string inject(const std::vector<std::string>& rcpts, int64_t arrival = 0, const std::string& sender = "a@example.test",
                     queue::Q where = queue::Q::incoming, unsigned notify = 0) {
    core::Message m;
    m.env.sender = sender;
    for (auto& r : rcpts) {
      m.env.rcpts.push_back(rcpt(r));
      m.env.rcpts.back().notify = notify;
    }
    m.content = "Subject: t\n\nbody\n";
    queue::QueueWriter w;
    EXPECT_FALSE(queue::QueueWriter::create(*store_, where, w));
    m.env.id = w.id();
    m.env.arrival = {arrival ? arrival : util::now_sec(), 0};
    m.env.content_size = static_cast<int64_t>(m.content.size());
    EXPECT_FALSE(w.write(queue::serialize(m)));
    EXPECT_FALSE(w.commit());
    return m.env.id;
  }

  bool run_until(const std::function<bool()>& pred, int ms = 3000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < end) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(10));
      if (pred()) return true;
    }
    return false;
  }

  core::Envelope read(queue::Q q, const std::string& id) {
    core::Envelope e;
    auto r = queue::read_queue_file(store_->path(q, id), e, nullptr);
    EXPECT_TRUE(r.ok()) << r.bad << r.ec.message();
    return e;
  }

  std::string root_;
  std::unique_ptr<queue::QueueStore> store_;
  std::shared_ptr<core::Config> cfg_;
  std::shared_ptr<ScriptedAgent> agent_;
  net::io_context io_;
  std::unique_ptr<qmgr::Qmgr> qmgr_;
  std::vector<qmgr::NoticeRequest> notices_;
};

TEST_F(QmgrTest, DeliveredMessageIsRemoved) {
  make_qmgr();
  std::string id = inject({"b@remote.test", "c@remote.test"});
  qmgr_->start();
  ASSERT_TRUE(run_until([&] { return !store_->locate(id); }));
  ASSERT_EQ(agent_->seen.size(), 1u) << "both recipients share one next hop and one delivery";
  EXPECT_EQ(agent_->seen[0].rcpts.size(), 2u);
  EXPECT_EQ(agent_->seen[0].nexthop, "remote.test");
  EXPECT_TRUE(notices_.empty());
}

TEST_F(QmgrTest, PartialDeferralKeepsOnlyPendingRecipientsWithBackoff) {
  agent_->answer = [](const std::string& r) { return r[0] == 'b' ? std::string("2.0.0") : std::string("4.4.1"); };
  make_qmgr();
  std::string id = inject({"b@remote.test", "c@remote.test"});
  int64_t before = util::now_sec();
  qmgr_->start();
  ASSERT_TRUE(run_until([&] { return store_->locate(id) == queue::Q::deferred; }));
  auto e = read(queue::Q::deferred, id);
  ASSERT_EQ(e.rcpts.size(), 1u);
  EXPECT_EQ(e.rcpts[0].address, "c@remote.test");
  EXPECT_EQ(e.rcpts[0].dsn_status, "4.4.1");
  EXPECT_EQ(e.rcpts[0].reason, "connect to x[192.0.2.1]:25: Connection refused");
  EXPECT_EQ(e.attempts, 1);
  struct stat st;
  ASSERT_EQ(::stat(store_->path(queue::Q::deferred, id).c_str(), &st), 0);
  EXPECT_GE(st.st_mtime, before + 300) << "minimal_backoff_time";
  EXPECT_LE(st.st_mtime, util::now_sec() + 301);
  // Not due: a normal scan leaves it alone; a flush retries it now.
  agent_->answer = [](const std::string&) { return std::string("2.0.0"); };
  qmgr_->request('D');
  run_until([] { return false; }, 100);
  EXPECT_EQ(store_->locate(id), queue::Q::deferred);
  qmgr_->request('F');
  ASSERT_TRUE(run_until([&] { return !store_->locate(id); }));
}

TEST_F(QmgrTest, HardFailureQueuesANoticeBeforeRemoving) {
  agent_->answer = [](const std::string& r) { return r[0] == 'n' ? std::string("5.1.1") : std::string("2.0.0"); };
  make_qmgr();
  std::string id = inject({"nobody@remote.test", "ok@remote.test"});
  qmgr_->start();
  ASSERT_TRUE(run_until([&] { return !store_->locate(id) && agent_->seen.size() >= 2; }));
  ASSERT_GE(notices_.size(), 1u);
  EXPECT_EQ(notices_[0].kind, qmgr::NoticeKind::failure);
  ASSERT_EQ(notices_[0].rcpts.size(), 1u);
  EXPECT_EQ(notices_[0].rcpts[0].first.address, "nobody@remote.test");
  // The notice itself was queued and delivered to the sender's domain.
  EXPECT_EQ(agent_->seen[1].addresses[0], "a@example.test");
  EXPECT_EQ(agent_->seen[1].msg->env.sender, "");
}

TEST_F(QmgrTest, ExpiredMessageIsReturned) {
  agent_->answer = [](const std::string&) { return std::string("4.4.1"); };
  make_qmgr();
  std::string id = inject({"c@remote.test"}, util::now_sec() - 6 * 86400);
  qmgr_->start();
  ASSERT_TRUE(run_until([&] { return !store_->locate(id); }));
  ASSERT_EQ(notices_.size(), 1u);
  EXPECT_EQ(notices_[0].kind, qmgr::NoticeKind::failure);
  EXPECT_EQ(notices_[0].rcpts[0].second.dsn, "4.4.1") << "the last temporary status is kept";
}

TEST_F(QmgrTest, NullSenderFailureIsNotReturned) {
  agent_->answer = [](const std::string&) { return std::string("5.1.1"); };
  make_qmgr();
  std::string id = inject({"c@remote.test"}, 0, "");
  qmgr_->start();
  ASSERT_TRUE(run_until([&] { return !store_->locate(id); }));
  ASSERT_EQ(notices_.size(), 1u);  // asked (for postmaster copies) ...
  EXPECT_EQ(agent_->seen.size(), 1u) << "... but nothing goes back to <>";
}

TEST_F(QmgrTest, DeadDestinationSuspendsOtherMessages) {
  agent_->answer = [](const std::string&) { return std::string("4.4.1"); };
  agent_->dead = true;
  cfg_->set("smtp_destination_concurrency_limit", "1");
  make_qmgr();
  std::string a = inject({"x@dead.test"});
  std::string b = inject({"y@dead.test"});
  qmgr_->start();
  ASSERT_TRUE(run_until([&] {
    return store_->locate(a) == queue::Q::deferred && store_->locate(b) == queue::Q::deferred;
  }));
  EXPECT_EQ(agent_->seen.size(), 1u) << "the second message must not reach the agent";
  auto e = read(queue::Q::deferred, agent_->seen[0].msg->env.id == a ? b : a);
  EXPECT_EQ(e.rcpts[0].reason.rfind("delivery temporarily suspended: connect to", 0), 0u) << e.rcpts[0].reason;
}

// Postfix's feedback with the defaults (initial concurrency 5, one failed
// cohort): at most 5 deliveries start, the window shrinks with each
// failure, and the 4th failure (1/5 + 1/4 + 1/3 + 1/2 >= 1) kills the
// destination, so the 6th message is suspended without a delivery.
TEST_F(QmgrTest, DestinationDiesAfterAFailedCohort) {
  agent_->answer = [](const std::string&) { return std::string("4.4.1"); };
  agent_->dead = true;
  make_qmgr();
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(inject({"x" + std::to_string(i) + "@dead.test"}));
  qmgr_->start();
  ASSERT_TRUE(run_until([&] {
    for (const auto& id : ids)
      if (store_->locate(id) != queue::Q::deferred) return false;
    return true;
  }));
  EXPECT_EQ(agent_->seen.size(), 5u);
  int suspended = 0;
  for (const auto& id : ids)
    suspended += read(queue::Q::deferred, id).rcpts[0].reason.rfind("delivery temporarily suspended: ", 0) == 0;
  EXPECT_EQ(suspended, 1);
}

// Postfix discards an idle destination's queue and its failure counts
// with it: one message at a time to an unreachable host, each is tried
// (found by requeue.dead-destination-forgotten-when-idle).
TEST_F(QmgrTest, IdleDestinationForgetsItsFailures) {
  agent_->answer = [](const std::string&) { return std::string("4.4.1"); };
  agent_->dead = true;
  make_qmgr();
  std::string a = inject({"x@dead.test"});
  qmgr_->start();
  ASSERT_TRUE(run_until([&] { return store_->locate(a) == queue::Q::deferred; }));
  std::string b = inject({"y@dead.test"});
  qmgr_->incoming(b);
  ASSERT_TRUE(run_until([&] { return store_->locate(b) == queue::Q::deferred; }));
  EXPECT_EQ(agent_->seen.size(), 2u);
  EXPECT_EQ(read(queue::Q::deferred, b).rcpts[0].reason, "connect to x[192.0.2.1]:25: Connection refused");
}

TEST_F(QmgrTest, RecoveryRequeuesActiveDropsTempAndQuarantinesCorrupt) {
  std::string id = inject({"b@remote.test"}, 0, "a@example.test", queue::Q::incoming);
  ASSERT_FALSE(store_->move(queue::Q::incoming, queue::Q::active, id));
  ASSERT_FALSE(util::write_file_atomic(root_ + "/incoming/.half-written.tmp", "V1:1\n", 0600));
  ASSERT_FALSE(util::write_file_atomic(root_ + "/incoming/ABCDE123", "garbage", 0700));
  agent_->answer = [](const std::string&) { return std::string("4.4.1"); };
  make_qmgr();
  qmgr_->start();
  EXPECT_FALSE(util::exists(root_ + "/incoming/.half-written.tmp"));
  EXPECT_TRUE(util::exists(root_ + "/corrupt/ABCDE123"));
  ASSERT_TRUE(run_until([&] { return store_->locate(id) == queue::Q::deferred; }));
}

TEST_F(QmgrTest, ErrorTransportBounces) {
  cfg_->set("default_transport", "error:5.7.1 no outside mail here");
  make_qmgr();
  qmgr_->add_agent("error", std::make_shared<qmgr::ErrorAgent>(false));
  std::string id = inject({"x@remote.test"});
  qmgr_->start();
  ASSERT_TRUE(run_until([&] { return !store_->locate(id); }));
  ASSERT_GE(notices_.size(), 1u);
  EXPECT_EQ(notices_[0].rcpts[0].second.dsn, "5.7.1");
  EXPECT_EQ(notices_[0].rcpts[0].second.reason, "no outside mail here");
}

// Slow start: a destination gets initial_destination_concurrency deliveries at
// once, not its full limit, until deliveries succeed.
class HoldingAgent : public core::DeliveryAgent {
 public:
  std::vector<core::DeliveryDone> pending;
  size_t max_parallel = 0;
  void deliver(core::DeliveryRequest req, core::DeliveryDone done) override {
    std::vector<core::DeliveryResult> out;
    for (size_t i : req.rcpts) {
      core::DeliveryResult r;
      r.rcpt = i;
      r.dsn = "2.0.0";
      r.reason = "250 ok";
      out.push_back(r);
    }
    pending.push_back([done, out]([[maybe_unused]] std::vector<core::DeliveryResult> ignored) { done(out); });
    max_parallel = std::max(max_parallel, pending.size());
  }
};

TEST_F(QmgrTest, ConcurrencyStartsAtInitialDestinationConcurrency) {
  cfg_->set("initial_destination_concurrency", "2");
  auto holder = std::make_shared<HoldingAgent>();
  make_qmgr();
  qmgr_->add_agent("smtp", holder);
  for (int i = 0; i < 6; ++i) inject({"x" + std::to_string(i) + "@one.test"});
  qmgr_->start();
  run_until([] { return false; }, 100);
  EXPECT_EQ(holder->pending.size(), 2u) << "limit is 20, but the window starts at 2";
  // Completing deliveries widens the window.
  for (int round = 0; round < 10 && !holder->pending.empty(); ++round) {
    auto batch = std::move(holder->pending);
    holder->pending.clear();
    for (auto& d : batch) d({});
    run_until([] { return false; }, 50);
  }
  EXPECT_GE(holder->max_parallel, 2u);
}

// Postfix's on-demand connection caching: a delivery that starts within a
// second of the previous one to the same destination may reuse and cache
// connections; a lone message does not, and an emptied destination forgets.
TEST_F(QmgrTest, ConnectionCacheHintsForBackToBackDeliveries) {
  cfg_->set("smtp_destination_concurrency_limit", "1");
  make_qmgr();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(inject({"x" + std::to_string(i) + "@one.test"}));
  qmgr_->start();
  ASSERT_TRUE(run_until([&] { return agent_->seen.size() == 3 && qmgr_->stats().active == 0; }));
  EXPECT_FALSE(agent_->seen[0].conn_load);
  EXPECT_FALSE(agent_->seen[0].conn_store) << "the first delivery has nobody to share with";
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_TRUE(agent_->seen[i].conn_load) << i;
    EXPECT_TRUE(agent_->seen[i].conn_store) << i << ": back to back with the previous delivery";
  }
  // Nothing queued or in flight any more: the next message starts afresh.
  std::string later = inject({"y@one.test"});
  qmgr_->incoming(later);
  ASSERT_TRUE(run_until([&] { return agent_->seen.size() == 4; }));
  EXPECT_FALSE(agent_->seen[3].conn_load);
  EXPECT_FALSE(agent_->seen[3].conn_store);
}

// RFC 3461 6.2.1, Postfix's smtp_rcpt_done(): a NOTIFY=SUCCESS recipient
// relayed to a server that offered DSN had its NOTIFY passed on, so the next
// hop reports and the queue manager sends nothing; relayed to a server
// without DSN, the sender gets a report that says "relayed".
TEST_F(QmgrTest, SuccessNoticeOnlyWhenTheNextHopDidNotOfferDsn) {
  agent_->dsn_offered = [](const std::string& r) { return r.find("@dsn.test") != std::string::npos; };
  make_qmgr();
  std::string id = inject({"x@dsn.test", "y@plain.test", "z@dsn.test"}, 0, "a@example.test", queue::Q::incoming,
                          core::notify_success);
  qmgr_->start();
  ASSERT_TRUE(run_until([&] { return !store_->locate(id) && agent_->seen.size() >= 3; }));
  ASSERT_EQ(notices_.size(), 1u);
  EXPECT_EQ(notices_[0].kind, qmgr::NoticeKind::success);
  ASSERT_EQ(notices_[0].rcpts.size(), 1u) << "only the recipient relayed without DSN";
  EXPECT_EQ(notices_[0].rcpts[0].first.address, "y@plain.test");
  EXPECT_EQ(notices_[0].rcpts[0].second.action, "relayed");
  EXPECT_FALSE(notices_[0].rcpts[0].second.next_hop_dsn);
  // The notice went to the sender (the third delivery).
  EXPECT_EQ(agent_->seen[2].addresses[0], "a@example.test");
  EXPECT_EQ(agent_->seen[2].msg->env.sender, "");
}

TEST_F(QmgrTest, NoSuccessNoticeWhenEveryNextHopOfferedDsn) {
  agent_->dsn_offered = [](const std::string&) { return true; };
  make_qmgr();
  std::string id = inject({"x@dsn.test"}, 0, "a@example.test", queue::Q::incoming,
                          core::notify_success | core::notify_failure);
  qmgr_->start();
  ASSERT_TRUE(run_until([&] { return !store_->locate(id); }));
  run_until([] { return false; }, 100);
  EXPECT_TRUE(notices_.empty());
  EXPECT_EQ(agent_->seen.size(), 1u) << "no notice was queued";
}

// A final delivery (the local agent leaves action empty and says nothing of
// DSN) is reported as before.
TEST_F(QmgrTest, SuccessNoticeForFinalDelivery) {
  auto local = std::make_shared<HoldingAgent>();
  cfg_->set("mydestination", "example.test");
  make_qmgr();
  qmgr_->add_agent("local", local);
  std::string id = inject({"bob@example.test"}, 0, "a@example.test", queue::Q::incoming, core::notify_success);
  qmgr_->start();
  ASSERT_TRUE(run_until([&] { return local->pending.size() == 1; }));
  local->pending[0]({});
  ASSERT_TRUE(run_until([&] { return !store_->locate(id) && !notices_.empty(); }));
  ASSERT_EQ(notices_.size(), 1u);
  EXPECT_EQ(notices_[0].kind, qmgr::NoticeKind::success);
  EXPECT_EQ(notices_[0].rcpts[0].second.action, "");
  EXPECT_FALSE(notices_[0].rcpts[0].second.next_hop_dsn);
}
