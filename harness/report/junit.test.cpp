// The JUnit writer: lit's shape, counts, outcome elements, control
// characters dropped, and the result file round trip.
#include "report/junit.hpp"
#include "runner/result.hpp"

#include <pugixml.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace mxlab::report {
namespace {

using runner::CaseResult;
using runner::Status;

CaseResult make(const std::string& id, const std::string& area, Status s) {
  CaseResult r;
  r.id = id;
  r.area = area;
  r.status = s;
  r.seconds = 1.5;
  r.file = "suites/" + area + "/" + id + ".xml";
  return r;
}

class JunitTest : public ::testing::Test {};

TEST_F(JunitTest, HasLitShapeAndCounts) {
  std::vector<CaseResult> rs;
  rs.push_back(make("seed.ok", "seed", Status::pass));
  auto f = make("seed.bad", "seed", Status::fail);
  f.step = "step 3: <dialog host=\"mail.example.com\"> (line 12)";
  f.message = "dialog line 14: reply differs";
  f.expected = "554 5.7.1 <b@elsewhere.test>: Relay access denied";
  f.actual = std::string("250 2.1.5 Ok\x01\x02");  // control characters must not break the XML
  f.output = "C: RCPT TO:<b@elsewhere.test>\nS: 250 2.1.5 Ok\n";
  rs.push_back(f);
  auto u = make("seed.skip", "seed", Status::unsupported);
  u.message = "requires clock, which adapter x lacks";
  rs.push_back(u);
  auto e = make("smtpd.err", "smtpd", Status::error);
  e.message = "topology did not start: no SMTP banner";
  rs.push_back(e);
  rs.push_back(make("smtpd.xf", "smtpd", Status::xfail));
  rs.push_back(make("smtpd.xp", "smtpd", Status::xpass));

  std::string xml = junit_xml(rs, "reference");
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str())) << xml;
  auto suites = doc.child("testsuites");
  ASSERT_TRUE(suites);
  EXPECT_EQ(suites.attribute("tests").as_int(), 6);
  EXPECT_EQ(suites.attribute("failures").as_int(), 2);
  EXPECT_EQ(suites.attribute("errors").as_int(), 1);
  EXPECT_EQ(suites.attribute("skipped").as_int(), 1);
  int nsuites = 0;
  for (auto s : suites.children("testsuite")) {
    ++nsuites;
    std::string name = s.attribute("name").value();
    int n = 0;
    for (auto tc : s.children("testcase")) {
      ++n;
      EXPECT_EQ(std::string(tc.attribute("classname").value()), name);
      EXPECT_TRUE(tc.attribute("time"));
    }
    EXPECT_EQ(s.attribute("tests").as_int(), n);
  }
  EXPECT_EQ(nsuites, 2);
  auto seed = suites.find_child_by_attribute("testsuite", "name", "mxlab.reference.seed");
  ASSERT_TRUE(seed);
  EXPECT_EQ(seed.attribute("failures").as_int(), 1);
  EXPECT_EQ(seed.attribute("skipped").as_int(), 1);
  auto bad = seed.find_child_by_attribute("testcase", "name", "seed.bad");
  auto failure = bad.child("failure");
  ASSERT_TRUE(failure);
  std::string body = failure.text().get();
  EXPECT_NE(body.find("step 3: <dialog"), std::string::npos);
  EXPECT_NE(body.find("expected:\n554 5.7.1"), std::string::npos);
  EXPECT_NE(body.find("actual:\n250 2.1.5 Ok\n"), std::string::npos);  // \x01\x02 dropped
  EXPECT_NE(std::string(bad.child("system-out").text().get()).find("C: RCPT TO"), std::string::npos);
  EXPECT_STREQ(seed.find_child_by_attribute("testcase", "name", "seed.skip").child("skipped").attribute("message").value(),
               "requires clock, which adapter x lacks");
  EXPECT_FALSE(seed.find_child_by_attribute("testcase", "name", "seed.ok").first_child());
  auto smtpd = suites.find_child_by_attribute("testsuite", "name", "mxlab.reference.smtpd");
  EXPECT_TRUE(smtpd.find_child_by_attribute("testcase", "name", "smtpd.err").child("error"));
  EXPECT_FALSE(smtpd.find_child_by_attribute("testcase", "name", "smtpd.xf").child("failure"));
  EXPECT_TRUE(smtpd.find_child_by_attribute("testcase", "name", "smtpd.xp").child("failure"));
  EXPECT_EQ(xml.substr(0, 38), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
  EXPECT_EQ(xml.find("<?xml", 1), std::string::npos) << "one XML declaration only";
  pugi::xml_document strict;
  EXPECT_TRUE(strict.load_string(xml.c_str(), pugi::parse_default | pugi::parse_declaration));
}

TEST_F(JunitTest, ResultFilesRoundTripAndXfailFlips) {
  char tmpl[] = "/tmp/mxlab-junit-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string p = std::string(tmpl) + "/r.xml";
  auto r = make("a.b", "a", Status::fail);
  r.message = "m";
  r.expected = "e\n";
  r.actual = "<a & b>";
  r.output = "out";
  runner::write_result(r, p);
  auto back = runner::read_result(p);
  EXPECT_EQ(back.id, "a.b");
  EXPECT_EQ(back.status, Status::fail);
  EXPECT_EQ(back.actual, "<a & b>");
  EXPECT_EQ(back.expected, "e\n");
  EXPECT_DOUBLE_EQ(back.seconds, 1.5);
  runner::apply_xfail(back, true);
  EXPECT_EQ(back.status, Status::xfail);
  auto pass = make("a.c", "a", Status::pass);
  runner::apply_xfail(pass, true);
  EXPECT_EQ(pass.status, Status::xpass);
  EXPECT_TRUE(runner::is_failure(pass.status));
  std::filesystem::remove_all(tmpl);
}


TEST_F(JunitTest, SeveralMtasGetSuitesOfTheirOwn) {
  std::vector<CaseResult> rs;
  for (const char* m : {"reference", "exim"}) {
    auto r = make("seed.ok", "seed", std::string(m) == "exim" ? Status::unsupported : Status::pass);
    r.mta = m;
    r.message = "requires postfix-replies (profile postfix), which adapter exim lacks";
    rs.push_back(r);
  }
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(junit_xml(rs, "reference").c_str()));
  auto suites = doc.child("testsuites");
  EXPECT_STREQ(suites.attribute("name").value(), "mxlab");
  EXPECT_EQ(suites.attribute("tests").as_int(), 2);
  EXPECT_EQ(suites.attribute("skipped").as_int(), 1);
  std::vector<std::string> names;
  for (auto s : suites.children("testsuite")) names.push_back(s.attribute("name").value());
  EXPECT_EQ(names, (std::vector<std::string>{"mxlab.exim.seed", "mxlab.reference.seed"}));
  auto exim = suites.find_child_by_attribute("testsuite", "name", "mxlab.exim.seed");
  EXPECT_EQ(exim.attribute("skipped").as_int(), 1);
  EXPECT_STREQ(exim.child("testcase").attribute("classname").value(), "mxlab.exim.seed");
  EXPECT_TRUE(exim.child("testcase").child("skipped"));
}
}  // namespace
}  // namespace mxlab::report
