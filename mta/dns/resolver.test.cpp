#include "dns/resolver.hpp"

#include "dns/message.hpp"
#include "dns/test_dns_server.hpp"
#include "util/asio.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>

using namespace mta;
using dns::Answer;
using dns::Status;
using dns::testing::Fault;

class ResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/mxresolverXXXXXX";
    dir_ = ::mkdtemp(t);
    srv_ = std::make_unique<dns::testing::TestDnsServer>(io_);
    conf_ = dir_ + "/resolv.conf";
    std::ofstream(conf_) << srv_->resolv_conf_text(1, 1);
    resolver_ = std::make_unique<dns::Resolver>(io_, dns::ResolverOptions{conf_, srv_->port(), 0, 0});
  }
  void TearDown() override {
    resolver_.reset();
    srv_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }

  // Runs the loop until the callback has fired (bounded, so a lost callback
  // fails the test instead of hanging it).
  Answer wait(const std::function<void(dns::Resolver::Callback)>& start, double* seconds = nullptr) {
    std::optional<Answer> got;
    auto t0 = std::chrono::steady_clock::now();
    start([&](Answer a) { got = std::move(a); });
    io_.restart();
    while (!got && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20))
      io_.run_one_for(std::chrono::milliseconds(100));
    if (seconds) *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_TRUE(got.has_value()) << "callback never ran";
    return got.value_or(Answer{});
  }
  Answer mx(const std::string& name, double* secs = nullptr) {
    return wait([&](auto cb) { resolver_->lookup_mx(name, cb); }, secs);
  }
  Answer addr(const std::string& name, int family) {
    return wait([&](auto cb) { resolver_->lookup_addr(name, family, cb); });
  }

  net::io_context io_;
  std::string dir_, conf_;
  std::unique_ptr<dns::testing::TestDnsServer> srv_;
  std::unique_ptr<dns::Resolver> resolver_;
};

TEST_F(ResolverTest, ReadsNameserverAndOptionsFromResolvConf) {
  EXPECT_EQ(resolver_->config().nameservers, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(resolver_->config().timeout_sec, 1);
  EXPECT_EQ(resolver_->config().attempts, 1);
}

TEST_F(ResolverTest, MxRecordsWithPreference) {
  srv_->add("example.com", "MX", "20 mx2.example.com");
  srv_->add("example.com", "MX", "10 mx1.example.com.");
  auto a = mx("Example.COM.");
  EXPECT_EQ(a.status, Status::ok);
  ASSERT_EQ(a.mx.size(), 2u);
  EXPECT_EQ(a.mx[0].pref, 20);
  EXPECT_EQ(a.mx[0].host, "mx2.example.com");
  EXPECT_EQ(a.mx[1].host, "mx1.example.com");
  EXPECT_FALSE(a.null_mx);
  ASSERT_FALSE(srv_->log().empty());
  EXPECT_EQ(srv_->log()[0].type, "MX");
  EXPECT_EQ(srv_->log()[0].transport, "udp");
}

TEST_F(ResolverTest, NullMxIsRecognised) {
  srv_->add("nomail.example", "MX", "0 .");
  auto a = mx("nomail.example");
  EXPECT_EQ(a.status, Status::ok);
  EXPECT_TRUE(a.null_mx);
  EXPECT_TRUE(a.mx.empty());
}

TEST_F(ResolverTest, NxdomainAndNodataAreDifferent) {
  srv_->add("hostonly.example", "A", "192.0.2.9");
  auto n = mx("nosuchdomain.invalid");
  EXPECT_EQ(n.status, Status::nxdomain);
  EXPECT_FALSE(n.temporary());
  EXPECT_EQ(dns::describe_failure(n),
            "Host or domain name not found. Name service error for name=nosuchdomain.invalid type=MX: "
            "Host not found");
  auto d = mx("hostonly.example");
  EXPECT_EQ(d.status, Status::nodata);
  EXPECT_EQ(dns::describe_failure(d),
            "Host or domain name not found. Name service error for name=hostonly.example type=MX: "
            "Host found but no data record of requested type");
}

TEST_F(ResolverTest, ServfailRefusedFormerr) {
  srv_->add("broken.example", "MX", "10 mx.broken.example");
  srv_->rule("broken.example", "MX", Fault{Fault::servfail});
  auto s = mx("broken.example");
  EXPECT_EQ(s.status, Status::servfail);
  EXPECT_TRUE(s.temporary());
  EXPECT_EQ(dns::describe_failure(s),
            "Host or domain name not found. Name service error for name=broken.example type=MX: "
            "Host not found, try again");
  srv_->rule("broken.example", "MX", Fault{Fault::refused});
  EXPECT_EQ(mx("broken.example").status, Status::refused);
  srv_->rule("broken.example", "MX", Fault{Fault::formerr});
  auto f = mx("broken.example");
  EXPECT_EQ(f.status, Status::error);
  EXPECT_EQ(f.why, dns::Why::formerr);
  EXPECT_FALSE(f.temporary());
  EXPECT_EQ(dns::status_text(f), "Non-recoverable error");
}

TEST_F(ResolverTest, DroppedQueryTimesOutAfterTheConfiguredTime) {
  srv_->rule("slow.example", "*", Fault{Fault::drop});
  double secs = 0;
  auto a = mx("slow.example", &secs);
  EXPECT_EQ(a.status, Status::timeout);
  EXPECT_TRUE(a.temporary());
  EXPECT_GE(secs, 0.9);
  EXPECT_LT(secs, 4.0) << "timeout:1 attempts:1 must not wait for the defaults";
}

TEST_F(ResolverTest, FirstQueriesFailThenAnswer) {
  // attempts:2 and a short timeout: the first try is dropped, the retry works.
  resolver_ = std::make_unique<dns::Resolver>(io_, dns::ResolverOptions{conf_, srv_->port(), 300, 2});
  srv_->add("flaky.example", "A", "192.0.2.44");
  srv_->rule("flaky.example", "A", Fault{Fault::drop, 1});
  auto a = addr("flaky.example", AF_INET);
  EXPECT_EQ(a.status, Status::ok);
  EXPECT_EQ(a.addrs, std::vector<std::string>{"192.0.2.44"});
  EXPECT_EQ(srv_->queries("udp"), 2);
}

TEST_F(ResolverTest, ServfailAndRefusedAreAskedAgainOncePerAttempt) {
  // As glibc's res_send() (so Postfix): attempts:2 sends a question twice
  // before a SERVFAIL or REFUSED is final (found by dns.servfail-defers-then-delivered).
  resolver_ = std::make_unique<dns::Resolver>(io_, dns::ResolverOptions{conf_, srv_->port(), 300, 2});
  srv_->add("flaky.example", "MX", "10 mx.flaky.example");
  srv_->rule("flaky.example", "MX", Fault{Fault::servfail, 1});
  auto a = mx("flaky.example");
  EXPECT_EQ(a.status, Status::ok);
  EXPECT_EQ(srv_->queries("udp"), 2);
  srv_->rule("flaky.example", "MX", Fault{Fault::refused});
  EXPECT_EQ(mx("flaky.example").status, Status::refused);
  EXPECT_EQ(srv_->queries("udp"), 4);
  srv_->rule("flaky.example", "MX", Fault{Fault::servfail});
  EXPECT_EQ(mx("flaky.example").status, Status::servfail);
  EXPECT_EQ(srv_->queries("udp"), 6);
}

TEST_F(ResolverTest, TruncatedUdpReplyIsRetriedOverTcp) {
  for (int i = 1; i <= 40; ++i)
    srv_->add("big.example", "MX", std::to_string(i) + " mx" + std::to_string(i) + ".big.example");
  srv_->rule("big.example", "MX", Fault{Fault::truncate});
  auto a = mx("big.example");
  EXPECT_EQ(a.status, Status::ok);
  EXPECT_EQ(a.mx.size(), 40u);
  EXPECT_GE(srv_->queries("udp"), 1);
  EXPECT_GE(srv_->queries("tcp"), 1);
}

TEST_F(ResolverTest, CnameChainInOneReply) {
  srv_->add("www.example.com", "CNAME", "web.example.net");
  srv_->add("web.example.net", "CNAME", "host.example.org");
  srv_->add("host.example.org", "A", "192.0.2.80");
  auto a = addr("www.example.com", AF_INET);
  EXPECT_EQ(a.status, Status::ok);
  EXPECT_EQ(a.addrs, std::vector<std::string>{"192.0.2.80"});
  EXPECT_EQ(a.canonical, "host.example.org");
  EXPECT_EQ(srv_->queries("udp"), 1);
}

TEST_F(ResolverTest, CnameWithoutTargetIsFollowedByAnotherQuery) {
  srv_->add("alias.example", "CNAME", "real.example");
  srv_->no_chase("alias.example");
  srv_->add("real.example", "MX", "10 mx.real.example");
  auto a = mx("alias.example");
  EXPECT_EQ(a.status, Status::ok);
  ASSERT_EQ(a.mx.size(), 1u);
  EXPECT_EQ(a.mx[0].host, "mx.real.example");
  auto log = srv_->log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].name, "real.example");
  // A dangling alias reports the target's failure under the target's name.
  srv_->add("dangling.example", "CNAME", "gone.example");
  auto d = mx("dangling.example");
  EXPECT_EQ(d.status, Status::nxdomain);
  EXPECT_EQ(d.canonical, "gone.example");
}

TEST_F(ResolverTest, CnameLoopStops) {
  srv_->add("loop1.example", "CNAME", "loop2.example");
  srv_->add("loop2.example", "CNAME", "loop1.example");
  srv_->no_chase("loop1.example");
  srv_->no_chase("loop2.example");
  auto a = mx("loop1.example");
  EXPECT_EQ(a.status, Status::nodata);
  EXPECT_EQ(a.why, dns::Why::cname_loop);
  EXPECT_EQ(srv_->queries("udp"), 11);
}

TEST_F(ResolverTest, QueryIdAndQuestionAreChecked) {
  srv_->add("idcheck.example", "A", "192.0.2.1");
  srv_->rule("idcheck.example", "A", Fault{Fault::bad_id});
  auto a = addr("idcheck.example", AF_INET);
  EXPECT_EQ(a.status, Status::ok) << "the reply with the wrong id must be ignored, the right one used";
  EXPECT_EQ(a.addrs, std::vector<std::string>{"192.0.2.1"});
  srv_->add("qcheck.example", "A", "192.0.2.2");
  srv_->rule("qcheck.example", "A", Fault{Fault::bad_question});
  auto b = addr("qcheck.example", AF_INET);
  EXPECT_EQ(b.status, Status::ok);
  EXPECT_EQ(b.addrs, std::vector<std::string>{"192.0.2.2"});
}

TEST_F(ResolverTest, MalformedReplyIsATemporaryError) {
  srv_->add("garbled.example", "MX", "10 mx.garbled.example");
  srv_->rule("garbled.example", "MX", Fault{Fault::garbage});
  auto a = mx("garbled.example");
  EXPECT_EQ(a.status, Status::error);
  EXPECT_EQ(a.why, dns::Why::malformed);
  EXPECT_TRUE(a.temporary());
  EXPECT_EQ(dns::describe_failure(a),
            "Name service error for name=garbled.example type=MX: Malformed or unexpected name server reply");
}

TEST_F(ResolverTest, BothFamiliesAsPostfixReportsThem) {
  srv_->add("dual.example", "A", "192.0.2.10");
  srv_->add("dual.example", "AAAA", "2001:db8::10");
  auto a = addr("dual.example", AF_UNSPEC);
  EXPECT_EQ(a.status, Status::ok);
  EXPECT_EQ(a.addrs, (std::vector<std::string>{"192.0.2.10", "2001:db8::10"}));
  srv_->add("v4only.example", "A", "192.0.2.11");
  auto b = addr("v4only.example", AF_UNSPEC);
  EXPECT_EQ(b.status, Status::ok);
  EXPECT_EQ(b.addrs, std::vector<std::string>{"192.0.2.11"});
  EXPECT_EQ(addr("v4only.example", AF_INET6).status, Status::nodata);
  // Both fail alike: the AAAA (last) failure is reported, as dns_lookup_v does.
  auto c = addr("nosuch.invalid", AF_UNSPEC);
  EXPECT_EQ(c.status, Status::nxdomain);
  EXPECT_EQ(dns::describe_failure(c),
            "Host or domain name not found. Name service error for name=nosuch.invalid type=AAAA: Host not found");
  auto d = addr("nosuch.invalid", AF_INET);
  EXPECT_EQ(dns::describe_failure(d),
            "Host or domain name not found. Name service error for name=nosuch.invalid type=A: Host not found");
  // A temporary failure ranks above "not found".
  srv_->add("half.example", "MX", "10 x.example");
  srv_->rule("half.example", "A", Fault{Fault::servfail});
  auto e = addr("half.example", AF_UNSPEC);
  EXPECT_EQ(e.status, Status::servfail);
  EXPECT_EQ(e.qtype, dns::type_a);
}

TEST_F(ResolverTest, PtrLookup) {
  srv_->add("25.2.0.192.in-addr.arpa", "PTR", "mail.example.com");
  auto a = wait([&](auto cb) { resolver_->lookup_ptr("192.0.2.25", cb); });
  EXPECT_EQ(a.status, Status::ok);
  EXPECT_EQ(a.names, std::vector<std::string>{"mail.example.com"});
}

TEST_F(ResolverTest, InvalidNamesAreRefusedWithoutAQuery) {
  auto a = mx("192.0.2.1");
  EXPECT_EQ(a.status, Status::nxdomain);
  EXPECT_FALSE(a.temporary());
  EXPECT_EQ(a.why, dns::Why::invalid_name);
  EXPECT_EQ(dns::describe_failure(a), "Name service error for 192.0.2.1: invalid host or domain name");
  auto b = mx("bad name.example");
  EXPECT_EQ(b.why, dns::Why::invalid_name);
  EXPECT_EQ(srv_->queries("udp"), 0);
}

TEST_F(ResolverTest, ReloadSwitchesToTheNewNameserver) {
  dns::testing::TestDnsServer other(io_, "127.0.0.2", srv_->port());
  srv_->add("which.example", "A", "192.0.2.1");
  other.add("which.example", "A", "192.0.2.2");
  EXPECT_EQ(addr("which.example", AF_INET).addrs, std::vector<std::string>{"192.0.2.1"});
  std::ofstream(conf_) << other.resolv_conf_text(1, 1);
  resolver_->reload();
  EXPECT_EQ(resolver_->config().nameservers, std::vector<std::string>{"127.0.0.2"});
  EXPECT_EQ(addr("which.example", AF_INET).addrs, std::vector<std::string>{"192.0.2.2"});
}

TEST_F(ResolverTest, ManyConcurrentLookups) {
  for (int i = 0; i < 50; ++i) srv_->add("h" + std::to_string(i) + ".example", "A", "192.0.2." + std::to_string(i));
  int done = 0, ok = 0;
  for (int i = 0; i < 50; ++i)
    resolver_->lookup_addr("h" + std::to_string(i) + ".example", AF_INET, [&, i](Answer a) {
      ++done;
      if (a.status == Status::ok && a.addrs.size() == 1 && a.addrs[0] == "192.0.2." + std::to_string(i)) ++ok;
    });
  EXPECT_EQ(resolver_->pending(), 50u);
  auto t0 = std::chrono::steady_clock::now();
  while (done < 50 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10))
    io_.run_one_for(std::chrono::milliseconds(100));
  EXPECT_EQ(ok, 50);
  EXPECT_EQ(resolver_->pending(), 0u);
}

TEST_F(ResolverTest, DestroyingTheResolverAnswersPendingLookups) {
  srv_->rule("never.example", "*", Fault{Fault::drop});
  std::optional<Answer> got;
  resolver_->lookup_mx("never.example", [&](Answer a) { got = a; });
  io_.run_for(std::chrono::milliseconds(50));
  resolver_.reset();
  io_.restart();
  io_.run_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status, Status::error);
  EXPECT_EQ(got->why, dns::Why::shutdown);
}
