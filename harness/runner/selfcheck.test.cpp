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
  EXPECT_FALSE(by["seed.a"].catches());
  EXPECT_EQ(by["seed.b"].status, "FAIL");
  EXPECT_EQ(by["seed.b"].message, "dialog line 12: reply differs");
  EXPECT_TRUE(by["seed.b"].catches());
  EXPECT_EQ(by["smtpd.c"].status, "ERROR");
  EXPECT_EQ(by["smtpd.c"].message, "topology did not start: no banner");
  // A case that could not run checked nothing: it never catches a fault.
  EXPECT_FALSE(by["smtpd.c"].catches());
  EXPECT_TRUE(by["smtpd.c"].errored());
  EXPECT_EQ(by["smtpd.d"].status, "UNSUPPORTED");
  EXPECT_FALSE(by["smtpd.d"].catches());
  EXPECT_EQ(by["smtpd.e"].status, "XFAIL");
  EXPECT_FALSE(by["smtpd.e"].catches());
  EXPECT_EQ(by["smtpd.f"].status, "XPASS");
  EXPECT_TRUE(by["smtpd.f"].catches());
  EXPECT_FALSE(by["smtpd.f"].errored());
}

TEST_F(SelfcheckTest, KnowsTheCasesWrittenForTheSelfcheck) {
  EXPECT_TRUE(is_selfcheck_case("smtpd.9004.hop-limit"));
  EXPECT_TRUE(is_selfcheck_case("routing.9001.mx-preference"));
  EXPECT_FALSE(is_selfcheck_case("smtpd.hop-limit"));
  EXPECT_FALSE(is_selfcheck_case("smtpd.0900.x"));
  EXPECT_FALSE(is_selfcheck_case("smtpd.90041.x"));
  EXPECT_FALSE(is_selfcheck_case("smtpd.9a01.x"));
  EXPECT_FALSE(is_selfcheck_case("9001.x"));
  EXPECT_FALSE(is_selfcheck_case("seed"));
  EXPECT_TRUE(is_selfcheck_case("a.9999"));
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
                     "",
                     {},
                     {}};
  // A fault that only makes cases ERROR, or fail once, is a hole: the
  // suites' assertions did not reliably see it.
  FaultResult hole{{"wrong_ehlo", "EHLO does not advertise <PIPELINING>"},
                   {},
                   25,
                   "",
                   {outcome("seed.ehlo", "ERROR", "topology did not start")},
                   {outcome("seed.flaky", "PASS")}};
  FaultResult only9{{"no_hop_limit", "hopcount_limit is not enforced"},
                    {outcome("smtpd.9004.hop-limit", "FAIL", "reply differs")},
                    20,
                    "",
                    {},
                    {}};
  r.faults = {caught, hole, only9};
  EXPECT_EQ(r.holes(), std::vector<std::string>{"wrong_ehlo"});
  EXPECT_EQ(r.only_9nnn(), std::vector<std::string>{"no_hop_limit"});
  EXPECT_EQ(caught.caught_by_area_cases(), 1u);
  EXPECT_EQ(only9.caught_by_area_cases(), 0u);
  EXPECT_TRUE(r.baseline_failures().empty());
  EXPECT_EQ(r.exit_status(), 1);

  std::string md = r.markdown();
  EXPECT_NE(md.find("| `open_relay` | reject_unauth_destination permits every client | 1 | seed.relay-denied | 1 | - |"),
            std::string::npos)
      << md;
  // "<...>" would be an HTML tag in the rendered page.
  EXPECT_NE(md.find("| `wrong_ehlo` | EHLO does not advertise &lt;PIPELINING&gt; | **HOLE** | - | 0 | "
                    "seed.ehlo (ERROR), seed.flaky (not again) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("- PASS the second time `seed.flaky`"), std::string::npos) << md;
  EXPECT_NE(md.find("| confirmation | none (--no-confirm)"), std::string::npos) << md;
  EXPECT_NE(md.find("| `no_hop_limit` | hopcount_limit is not enforced | 1 | smtpd.9004.hop-limit | 0 | - |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("- ERROR `seed.ehlo`: topology did not start"), std::string::npos) << md;
  EXPECT_NE(md.find("## Caught only by cases written for the self-check"), std::string::npos) << md;
  EXPECT_NE(md.find("| faults | 3 run, 2 caught, 1 holes, 1 caught only by 9NNN cases |"), std::string::npos) << md;
  EXPECT_NE(md.find("## Holes"), std::string::npos);
  EXPECT_NE(md.find("- `wrong_ehlo`"), std::string::npos);
  EXPECT_NE(md.find("| baseline | 2 PASS, 1 UNSUPPORTED (12.5 s) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| total time | 200 s (3m20s) |"), std::string::npos) << md;
  // A '|' in a reason cannot break the table.
  EXPECT_NE(md.find("- FAIL `seed.relay-denied`: dialog line 9: reply differs | 250 2.1.5 Ok"), std::string::npos);
  std::string t = r.table();
  EXPECT_NE(t.find("open_relay    1       1     seed.relay-denied"), std::string::npos) << t;
  EXPECT_NE(t.find("wrong_ehlo    0       0     HOLE"), std::string::npos) << t;

  r.faults = {caught};
  EXPECT_EQ(r.exit_status(), 0);
  EXPECT_NE(r.markdown().find("No holes"), std::string::npos);
  EXPECT_EQ(r.markdown().find("## Caught only by"), std::string::npos);
}

// A catch counts only when the case fails again with the fault: a case that
// passes (or cannot run) the second time failed for some other reason.
TEST_F(SelfcheckTest, ConfirmationKeepsOnlyWhatFailsAgain) {
  FaultResult fr{{"f", "w"},
                 {outcome("a.both", "FAIL", "first"), outcome("a.once", "FAIL", "first"),
                  outcome("a.xpass", "XPASS"), outcome("a.gone", "FAIL"), outcome("a.err", "FAIL")},
                 1,
                 "",
                 {},
                 {}};
  confirm_catches(fr, {outcome("a.both", "FAIL", "second"), outcome("a.once", "PASS"), outcome("a.xpass", "XPASS"),
                       outcome("a.err", "ERROR", "topology did not start")});
  ASSERT_EQ(fr.caught.size(), 2u);
  EXPECT_EQ(fr.caught[0].id, "a.both");
  EXPECT_EQ(fr.caught[0].message, "first");  // the first run's reason is the one reported
  EXPECT_EQ(fr.caught[1].id, "a.xpass");
  ASSERT_EQ(fr.not_again.size(), 3u);
  EXPECT_EQ(fr.not_again[0].id, "a.once");
  EXPECT_EQ(fr.not_again[0].status, "PASS");
  EXPECT_EQ(fr.not_again[1].id, "a.gone");
  EXPECT_EQ(fr.not_again[1].status, "ERROR");
  EXPECT_EQ(fr.not_again[2].id, "a.err");
  EXPECT_EQ(fr.not_again[2].message, "topology did not start");

  SelfcheckReport r;
  r.confirmed = true;
  r.faults = {fr};
  std::string md = r.markdown();
  EXPECT_NE(md.find("a.once (not again), a.gone (not again), a.err (not again)"), std::string::npos) << md;
  EXPECT_NE(md.find("| confirmation | every catch run a second time"), std::string::npos) << md;
}

TEST_F(SelfcheckTest, BaselineFailuresAndBrokenRunsAreNotClean) {
  SelfcheckReport r;
  r.baseline = {outcome("a.x", "PASS"), outcome("a.y", "FAIL", "reply differs"), outcome("a.z", "XFAIL")};
  r.faults = {FaultResult{{"f", "w"}, {outcome("a.x", "FAIL")}, 1, "", {}, {}}};
  ASSERT_EQ(r.baseline_failures().size(), 1u);
  EXPECT_EQ(r.baseline_failures()[0].id, "a.y");
  EXPECT_EQ(r.exit_status(), 1);
  EXPECT_NE(r.markdown().find("## Baseline failures"), std::string::npos);
  r.faults.push_back(FaultResult{{"g", "w"}, {}, 1, "mxlab run exited 2 without results", {}, {}});
  EXPECT_EQ(r.exit_status(), 2);
  EXPECT_TRUE(r.holes().empty());  // a broken run is not a hole: it proved nothing either way
  EXPECT_NE(r.markdown().find("**run broken**"), std::string::npos);
}

}  // namespace
}  // namespace mxlab::runner
