// The self-check's pieces: the fault catalogue, reading back the JUnit that
// `mxlab run` writes (through the real writer), sharing -j between runs,
// and the report. The whole command runs end to end in e2e.test.cpp.
#include "runner/selfcheck.hpp"

#include "report/junit.hpp"

#include <gtest/gtest.h>

#include <map>

namespace mxlab::runner {
namespace {

class SelfcheckTest : public ::testing::Test {
 protected:
  static CaseResult result(const std::string& id, Status s, const std::string& message = "") {
    CaseResult r;
    r.id = id;
    r.area = id.substr(0, id.find('.'));
    r.status = s;
    r.message = message;
    r.step = "step 1: <dialog> (line 3)";
    return r;
  }
  static CaseOutcome outcome(const std::string& id, const std::string& status, const std::string& msg = "") {
    return CaseOutcome{id, status, msg};
  }
};

TEST_F(SelfcheckTest, ParsesTheFaultCatalogue) {
  auto v = parse_fault_list("open_relay\treject_unauth_destination permits every client\n\nwrong_ehlo\tEHLO lies\nbare\n");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0].name, "open_relay");
  EXPECT_EQ(v[0].what, "reject_unauth_destination permits every client");
  EXPECT_EQ(v[1].name, "wrong_ehlo");
  EXPECT_EQ(v[2].name, "bare");
  EXPECT_EQ(v[2].what, "");
  EXPECT_TRUE(parse_fault_list("").empty());
  EXPECT_TRUE(parse_fault_list("\n  \n").empty());
}

TEST_F(SelfcheckTest, ReadsBackEveryOutcomeOfTheJunitWriter) {
  std::vector<CaseResult> rs = {result("seed.a", Status::pass),
                                result("seed.b", Status::fail, "dialog line 12: reply differs"),
                                result("smtpd.c", Status::error, "topology did not start: no banner"),
                                result("smtpd.d", Status::unsupported, "requires clock"),
                                result("smtpd.e", Status::xfail, "known"),
                                result("smtpd.f", Status::xpass, "")};
  auto v = parse_junit_outcomes(report::junit_xml(rs, "reference"));
  ASSERT_EQ(v.size(), 6u);
  std::map<std::string, CaseOutcome> by;
  for (const auto& c : v) by[c.id] = c;
  EXPECT_EQ(by["seed.a"].status, "PASS");
  EXPECT_FALSE(by["seed.a"].failed());
  EXPECT_EQ(by["seed.b"].status, "FAIL");
  EXPECT_EQ(by["seed.b"].message, "dialog line 12: reply differs");
  EXPECT_TRUE(by["seed.b"].failed());
  EXPECT_EQ(by["smtpd.c"].status, "ERROR");
  EXPECT_EQ(by["smtpd.c"].message, "topology did not start: no banner");
  EXPECT_TRUE(by["smtpd.c"].failed());
  EXPECT_EQ(by["smtpd.d"].status, "UNSUPPORTED");
  EXPECT_FALSE(by["smtpd.d"].failed());
  EXPECT_EQ(by["smtpd.e"].status, "XFAIL");
  EXPECT_FALSE(by["smtpd.e"].failed());
  EXPECT_EQ(by["smtpd.f"].status, "XPASS");
  EXPECT_TRUE(by["smtpd.f"].failed());
}

TEST_F(SelfcheckTest, RefusesWhatIsNotJunit) {
  EXPECT_THROW(parse_junit_outcomes(""), std::runtime_error);
  EXPECT_THROW(parse_junit_outcomes("<testsuites><testsuite>"), std::runtime_error);
  EXPECT_THROW(parse_junit_outcomes("<report/>"), std::runtime_error);
  EXPECT_TRUE(parse_junit_outcomes("<testsuites/>").empty());
}

TEST_F(SelfcheckTest, SharesTheJobsBetweenRuns) {
  auto p = plan_runs(2, 20);
  EXPECT_EQ(p.concurrent, 2);
  EXPECT_EQ(p.jobs, 1);
  p = plan_runs(8, 1);  // one fault: all the jobs go to its cases
  EXPECT_EQ(p.concurrent, 1);
  EXPECT_EQ(p.jobs, 8);
  p = plan_runs(8, 3);
  EXPECT_EQ(p.concurrent, 3);
  EXPECT_EQ(p.jobs, 2);
  p = plan_runs(0, 0);
  EXPECT_EQ(p.concurrent, 1);
  EXPECT_EQ(p.jobs, 1);
}

TEST_F(SelfcheckTest, ReportNamesCatchersAndHoles) {
  SelfcheckReport r;
  r.mta = "reference";
  r.binary = "build-faults/bin/mxmta";
  r.paths = "suites";
  r.started = "2026-11-30 08:00:00 UTC";
  r.jobs = 2;
  r.baseline = {outcome("seed.relay-denied", "PASS"), outcome("seed.ehlo", "PASS"), outcome("seed.clock", "UNSUPPORTED")};
  r.baseline_seconds = 12.5;
  r.total_seconds = 200;
  FaultResult caught{{"open_relay", "reject_unauth_destination permits every client"},
                     {outcome("seed.relay-denied", "FAIL", "dialog line 9: reply differs | 250 2.1.5 Ok")},
                     30,
                     ""};
  FaultResult hole{{"wrong_ehlo", "EHLO does not advertise <PIPELINING>"}, {}, 25, ""};
  r.faults = {caught, hole};
  EXPECT_EQ(r.holes(), std::vector<std::string>{"wrong_ehlo"});
  EXPECT_TRUE(r.baseline_failures().empty());
  EXPECT_EQ(r.exit_status(), 1);

  std::string md = r.markdown();
  EXPECT_NE(md.find("| `open_relay` | reject_unauth_destination permits every client | 1 | seed.relay-denied |"),
            std::string::npos)
      << md;
  // "<...>" would be an HTML tag in the rendered page.
  EXPECT_NE(md.find("| `wrong_ehlo` | EHLO does not advertise &lt;PIPELINING&gt; | **HOLE** | - |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("## Holes"), std::string::npos);
  EXPECT_NE(md.find("- `wrong_ehlo`"), std::string::npos);
  EXPECT_NE(md.find("| baseline | 2 PASS, 1 UNSUPPORTED (12.5 s) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| total time | 200 s (3m20s) |"), std::string::npos) << md;
  // A '|' in a reason cannot break the table.
  EXPECT_NE(md.find("- FAIL `seed.relay-denied`: dialog line 9: reply differs | 250 2.1.5 Ok"), std::string::npos);
  std::string t = r.table();
  EXPECT_NE(t.find("open_relay  1       seed.relay-denied"), std::string::npos) << t;
  EXPECT_NE(t.find("wrong_ehlo  0       HOLE"), std::string::npos) << t;

  r.faults = {caught};
  EXPECT_EQ(r.exit_status(), 0);
  EXPECT_NE(r.markdown().find("No holes"), std::string::npos);
}

TEST_F(SelfcheckTest, BaselineFailuresAndBrokenRunsAreNotClean) {
  SelfcheckReport r;
  r.baseline = {outcome("a.x", "PASS"), outcome("a.y", "FAIL", "reply differs"), outcome("a.z", "XFAIL")};
  r.faults = {FaultResult{{"f", "w"}, {outcome("a.x", "FAIL")}, 1, ""}};
  ASSERT_EQ(r.baseline_failures().size(), 1u);
  EXPECT_EQ(r.baseline_failures()[0].id, "a.y");
  EXPECT_EQ(r.exit_status(), 1);
  EXPECT_NE(r.markdown().find("## Baseline failures"), std::string::npos);
  r.faults.push_back(FaultResult{{"g", "w"}, {}, 1, "mxlab run exited 2 without results"});
  EXPECT_EQ(r.exit_status(), 2);
  EXPECT_TRUE(r.holes().empty());  // a broken run is not a hole: it proved nothing either way
  EXPECT_NE(r.markdown().find("**run broken**"), std::string::npos);
}

}  // namespace
}  // namespace mxlab::runner
