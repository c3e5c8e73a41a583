// The runner end to end: `mxlab run` on the test cases in testdata/
// against fake_mta (a test double at the adapter seam), in real
// namespaces, checking outcomes, progress lines, exit status and JUnit.
#include "model/text.hpp"

#include <pugixml.hpp>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Output {
  int status = -1;
  std::string out;
};

Output run(const std::string& args) {
  Output r;
  std::string cmd = std::string(MXLAB_BIN) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class RunnerEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mxlab-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
  const std::string data_ = TESTDATA;
  std::string common() { return "--mta " + data_ + "/fake.xml --mta-bin " + FAKE_MTA_BIN + " --run-dir " + dir_; }
};

TEST_F(RunnerEndToEndTest, RunsCasesInParallelAndWritesJunit) {
  Output r = run("run " + common() + " -j 3 --junit " + dir_ + "/junit.xml " + data_ + "/cases");
  EXPECT_EQ(r.status, 1) << r.out;  // runner.fail fails
  EXPECT_NE(r.out.find("PASS: runner.pass ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS: runner.loopback ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL: runner.fail ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("XFAIL: runner.xfail ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UNSUPPORTED: runner.unsupported ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" of 5)"), std::string::npos);
  EXPECT_NE(r.out.find("dialog line 7: reply differs"), std::string::npos) << r.out;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir_ + "/junit.xml").c_str()));
  auto suites = doc.child("testsuites");
  EXPECT_EQ(suites.attribute("tests").as_int(), 5);
  EXPECT_EQ(suites.attribute("failures").as_int(), 1);
  EXPECT_EQ(suites.attribute("skipped").as_int(), 1);
  EXPECT_EQ(suites.attribute("errors").as_int(), 0);
  auto fail = suites.find_node([](pugi::xml_node n) {
    return std::string(n.name()) == "testcase" && std::string(n.attribute("name").value()) == "runner.fail";
  });
  ASSERT_TRUE(fail);
  std::string body = fail.child("failure").text().get();
  EXPECT_NE(body.find("step 1: <dialog host=\"mx.test.example\"> (line 4)"), std::string::npos) << body;
  EXPECT_NE(body.find("expected:\n250 someone.else\nactual:\n250 mx.test.example\n"), std::string::npos) << body;
  std::string out = fail.child("system-out").text().get();
  EXPECT_NE(out.find("C: HELO client.example"), std::string::npos) << out;
  EXPECT_NE(out.find("==== mx.test.example: /var/log/maillog"), std::string::npos) << out;
  // Nothing is left: the run directory base is empty again.
  EXPECT_TRUE(fs::is_empty(dir_) || (fs::directory_iterator(dir_)->path().filename() == "junit.xml"));
}

// Two MTAs in one run: every case against each, progress naming the MTA,
// JUnit suites per MTA, and the matrix in both formats. On the adapter
// without postfix-replies the (default) postfix-profile cases are skipped.
TEST_F(RunnerEndToEndTest, SeveralMtasMakeAMatrix) {
  std::string md = dir_ + "/m/matrix.md", html = dir_ + "/m/matrix.html";
  Output r = run("run --mta " + data_ + "/fake.xml," + data_ + "/fake-plain.xml --mta-bin " + FAKE_MTA_BIN +
                 " --run-dir " + dir_ + " -j 3 --junit " + dir_ + "/junit.xml --matrix " + md + " --matrix-html " +
                 html + " " + data_ + "/cases");
  EXPECT_EQ(r.status, 1) << r.out;  // runner.fail fails on fake
  EXPECT_NE(r.out.find("PASS: runner.pass on fake ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UNSUPPORTED: runner.pass on fake-plain ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("requires postfix-replies (profile postfix), which adapter fake-plain lacks"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" of 10)"), std::string::npos) << r.out;
  std::string m = mxlab::model::read_file(md);
  EXPECT_NE(m.find("| case | profile | fake | fake-plain |\n"), std::string::npos) << m;
  EXPECT_NE(m.find("| runner.pass | postfix | PASS | SKIP ["), std::string::npos) << m;
  EXPECT_NE(m.find("| runner.fail | postfix | FAIL ["), std::string::npos) << m;
  EXPECT_NE(m.find("| fake | 2 | 1 | 1 | 1 | 0 | 0 | 5 |\n"), std::string::npos) << m;
  EXPECT_NE(m.find("| fake-plain | 0 | 0 | 5 | 0 | 0 | 0 | 5 |\n"), std::string::npos) << m;
  // The run's wall time in the first line, each MTA's time in cases.
  EXPECT_NE(m.find(" MTAs, "), std::string::npos) << m;
  EXPECT_NE(m.find(", wall time "), std::string::npos) << m;
  auto time_table = m.find("## Time by MTA\n");
  ASSERT_NE(time_table, std::string::npos) << m;
  EXPECT_NE(m.find("\n| fake-plain | ", time_table), std::string::npos) << m;
  std::string h = mxlab::model::read_file(html);
  EXPECT_NE(h.find("<td class=\"fail\""), std::string::npos);
  EXPECT_EQ(h.find("<script"), std::string::npos);
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file((dir_ + "/junit.xml").c_str()));
  auto suites = doc.child("testsuites");
  EXPECT_EQ(suites.attribute("tests").as_int(), 10);
  int n = 0;
  for (auto s : suites.children("testsuite")) {
    std::string name = s.attribute("name").value();
    EXPECT_TRUE(name.rfind("mxlab.fake.", 0) == 0 || name.rfind("mxlab.fake-plain.", 0) == 0) << name;
    ++n;
  }
  EXPECT_GE(n, 2);
}

// A topology that sets main.cf lines configures a Postfix-compatible MTA;
// an adapter without postfix-config would run the case unconfigured, so
// the case is skipped there, and runs where the lines are read.
TEST_F(RunnerEndToEndTest, MainCfLinesNeedPostfixConfig) {
  std::string topo = mxlab::model::read_file(data_ + "/topology.xml");
  auto at = topo.find("    <user name=\"bob\"/>\n");
  ASSERT_NE(at, std::string::npos);
  topo.insert(at, "    <main-cf>smtpd_banner = $myhostname ESMTP</main-cf>\n");
  fs::create_directories(dir_ + "/t/cases");
  mxlab::model::write_file(dir_ + "/t/topology.xml", topo);
  mxlab::model::write_file(dir_ + "/t/cases/c.xml",
                           "<case id=\"runner.maincf\" area=\"runner\" profile=\"rfc\">\n  <summary>s</summary>\n"
                           "  <topology ref=\"../topology.xml\"/>\n"
                           "  <verify><queue host=\"mx.test.example\" empty=\"true\"/></verify>\n</case>\n");
  std::string plain = mxlab::model::read_file(data_ + "/fake-plain.xml");
  auto cap = plain.find(" postfix-config");
  ASSERT_NE(cap, std::string::npos);
  plain.erase(cap, std::string(" postfix-config").size());
  // {adapterdir} must still find the role templates of testdata/
  auto roles = plain.find("{adapterdir}/roles/");
  ASSERT_NE(roles, std::string::npos);
  plain.replace(roles, std::string("{adapterdir}").size(), data_);
  mxlab::model::write_file(dir_ + "/t/other.xml", plain);
  Output r = run("run --mta " + data_ + "/fake.xml," + dir_ + "/t/other.xml --mta-bin " + FAKE_MTA_BIN +
                 " --run-dir " + dir_ + " --matrix " + dir_ + "/m.md " + dir_ + "/t/cases");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("PASS: runner.maincf on fake ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UNSUPPORTED: runner.maincf on fake-plain (2 of 2) [host mx.test.example is configured with "
                       "main.cf lines, which adapter fake-plain does not read (it lacks postfix-config)]"),
            std::string::npos)
      << r.out;
  // portable="true": the lines only tune; the case runs on both.
  std::string c = mxlab::model::read_file(dir_ + "/t/cases/c.xml");
  c.replace(c.find("profile=\"rfc\""), 13, "profile=\"rfc\" portable=\"true\"");
  mxlab::model::write_file(dir_ + "/t/cases/c.xml", c);
  r = run("run --mta " + data_ + "/fake.xml," + dir_ + "/t/other.xml --mta-bin " + FAKE_MTA_BIN + " --run-dir " + dir_ +
          " --matrix " + dir_ + "/m.md " + dir_ + "/t/cases");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("PASS: runner.maincf on fake-plain ("), std::string::npos) << r.out;
}

TEST_F(RunnerEndToEndTest, BadFilesAreRefusedBeforeAnythingStarts) {
  Output r = run("run " + common() + " " + data_ + "/bad " + data_ + "/cases/pass.xml");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(data_ + "/bad/broken.xml:7: unknown dialog directive"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("PASS:"), std::string::npos) << r.out;
  Output l = run("list " + data_ + "/cases");
  EXPECT_EQ(l.status, 0);
  EXPECT_NE(l.out.find("runner.loopback\trunner-net\t"), std::string::npos) << l.out;
  Output missing = run("run " + common() + " --filter 'nothing*' " + data_ + "/cases");
  EXPECT_EQ(missing.status, 2);
  Output nobin = run("run --mta " + data_ + "/fake.xml --mta-bin /nonexistent --run-dir " + dir_ + " " + data_ + "/cases/xfail.xml");
  EXPECT_EQ(nobin.status, 2) << nobin.out;
  EXPECT_NE(nobin.out.find("ERROR: runner.xfail"), std::string::npos) << nobin.out;
  EXPECT_NE(nobin.out.find("MTA binary"), std::string::npos) << nobin.out;
}

TEST_F(RunnerEndToEndTest, PeerSessionsAreCounted) {
  Output r = run("run " + common() + " -j 2 " + data_ + "/services");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("PASS: runner.peer-sessions ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("XFAIL: runner.peer-sessions-fail ("), std::string::npos) << r.out;
}

// <run>: a tool of the adapter runs in the host; status, stdout and stderr
// are checked, a wrong expectation fails, a tool the adapter lacks makes
// the case unsupported.
TEST_F(RunnerEndToEndTest, RunStepChecksStatusAndOutput) {
  Output r = run("run " + common() + " -j 2 " + data_ + "/run");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("PASS: runner.run ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL: runner.run-fail ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stdout is not containing \"goodbye\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("UNSUPPORTED: runner.run-no-tool ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("runs postconf, a tool adapter fake does not name"), std::string::npos) << r.out;
}

// Processes running the given executable.
int processes_of(const std::string& exe) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::error_code ec;
    auto target = fs::read_symlink(e.path() / "exe", ec);
    if (!ec && target == fs::path(exe)) ++n;
  }
  return n;
}

TEST_F(RunnerEndToEndTest, SigtermStopsTheRunAndLeavesNothing) {
  std::string cmd = std::string(MXLAB_BIN);
  std::string out = dir_ + "/out.txt";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    FILE* f = std::freopen(out.c_str(), "w", stdout);
    (void)f;
    std::string mta = data_ + "/fake.xml", bin = FAKE_MTA_BIN, c = data_ + "/slow/slow.xml";
    ::execl(cmd.c_str(), cmd.c_str(), "run", "--mta", mta.c_str(), "--mta-bin", bin.c_str(), "--run-dir", dir_.c_str(),
            c.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Up = the fake MTA of the slow case has logged its start.
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->path().filename() == "maillog" && mxlab::model::read_file(it->path().string()).find("daemon started") != std::string::npos)
        up = true;
  }
  ASSERT_TRUE(up);
  EXPECT_GE(processes_of(FAKE_MTA_BIN), 1);
  ::kill(pid, SIGTERM);
  int st = 0;
  ::waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 128 + SIGTERM);
  EXPECT_NE(mxlab::model::read_file(out).find("ERROR: runner.slow"), std::string::npos) << mxlab::model::read_file(out);
  EXPECT_EQ(processes_of(FAKE_MTA_BIN), 0);
  int left = 0;
  for (const auto& e : fs::directory_iterator(dir_)) left += e.path().filename() != "out.txt";
  EXPECT_EQ(left, 0) << "run directory left behind";
}

// The self-check against fake_mta: its open_relay fault is caught by the
// relay case, its log_only fault by nothing (a hole: exit 1), and its
// no_start fault makes every case ERROR, which catches nothing (another
// hole); the fault reaches the MTA only through `mxlab run --mta-env`.
TEST_F(RunnerEndToEndTest, SelfcheckFindsCatchersAndHoles) {
  std::string report = dir_ + "/out/selfcheck.md";
  Output r = run("selfcheck --mta " + data_ + "/fake.xml --faults-bin " + FAKE_MTA_BIN + " --run-dir " + dir_ +
                 " -j 2 --report " + report + " " + data_ + "/selfcheck");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("baseline: 2 cases, 2 pass, 0 did not pass"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("caught by 1 (1 area cases): selfcheck.relay-denied"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fault log_only ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("): HOLE, no case caught it"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not counted as caught: selfcheck."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3 faults, 1 caught, 2 holes (log_only, no_start)"), std::string::npos) << r.out;
  std::string md = mxlab::model::read_file(report);
  EXPECT_NE(md.find("| `open_relay` | relaying is accepted | 1 | selfcheck.relay-denied | 1 | - |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| `log_only` | logs a line that no case checks | **HOLE** | - | 0 | - |"), std::string::npos) << md;
  EXPECT_NE(md.find("| `no_start` | the daemon does not start | **HOLE** | - | 0 | "), std::string::npos) << md;
  EXPECT_NE(md.find("selfcheck.relay-denied (ERROR)"), std::string::npos) << md;
  EXPECT_NE(md.find("- FAIL `selfcheck.relay-denied`: dialog line 11: reply differs"), std::string::npos) << md;
  // The catch was confirmed by a second run of the catcher with the fault.
  EXPECT_NE(md.find("| confirmation | every catch run a second time"), std::string::npos) << md;
  // Only the report is left in the run directory base.
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().filename(), "out") << e.path();

  Output one = run("selfcheck --mta " + data_ + "/fake.xml --faults-bin " + FAKE_MTA_BIN + " --run-dir " + dir_ +
                   " --fault open_relay --no-confirm --report " + report + " " + data_ + "/selfcheck");
  EXPECT_EQ(one.status, 0) << one.out;
  EXPECT_NE(one.out.find("1 faults, 1 caught, 0 holes"), std::string::npos) << one.out;
  EXPECT_NE(mxlab::model::read_file(report).find("| confirmation | none (--no-confirm)"), std::string::npos);
}

TEST_F(RunnerEndToEndTest, SelfcheckRefusesABinaryWithoutFaults) {
  Output missing = run("selfcheck --faults-bin " + dir_ + "/nonexistent --report " + dir_ + "/r.md " + data_ + "/selfcheck");
  EXPECT_EQ(missing.status, 2) << missing.out;
  EXPECT_NE(missing.out.find("cmake --preset faults"), std::string::npos) << missing.out;
  Output plain = run("selfcheck --mta " + data_ + "/fake.xml --faults-bin /bin/true --run-dir " + dir_ + " --report " +
                     dir_ + "/r.md " + data_ + "/selfcheck");
  EXPECT_EQ(plain.status, 2) << plain.out;
  EXPECT_NE(plain.out.find("was not built with MX_FAULTS"), std::string::npos) << plain.out;
  Output unknown = run("selfcheck --mta " + data_ + "/fake.xml --faults-bin " + FAKE_MTA_BIN + " --run-dir " + dir_ +
                       " --fault no_such_fault " + data_ + "/selfcheck");
  EXPECT_EQ(unknown.status, 64) << unknown.out;
  EXPECT_NE(unknown.out.find("unknown fault \"no_such_fault\""), std::string::npos) << unknown.out;
  EXPECT_FALSE(fs::exists(dir_ + "/r.md"));
}

}  // namespace
