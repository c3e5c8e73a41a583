#include "local/command.hpp"

#include "local/testing.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>

using namespace mta::local;
using mta::local::testing::slurp;
using mta::local::testing::TempDir;

class CommandTest : public ::testing::Test {
 protected:
  TempDir t;
  CommandSpec spec(const std::string& cmd) {
    CommandSpec c;
    c.command = cmd;
    c.time_limit = 20;
    return c;
  }
};

TEST_F(CommandTest, ReadsTheMessageOnStdin) {
  std::string out = t / "out";
  auto s = run_command(spec("cat > " + out), "From a  Sat\nSubject: x\n\nbody\n");
  ASSERT_TRUE(s.ok()) << s.text;
  EXPECT_EQ(slurp(out), "From a  Sat\nSubject: x\n\nbody\n");
}

TEST_F(CommandTest, EnvironmentIsCleanAndExplicit) {
  std::string out = t / "env";
  ::chmod(t.path.c_str(), 0777);
  setenv("MXLAB_SECRET_TEST", "leak", 1);
  setenv("LANG", "C.UTF-8", 1);
  CommandSpec c = spec("env > " + out);
  c.export_names = {"TZ", "MAIL_CONFIG", "LANG"};
  c.env = {{"HOME", "/home/alice"}, {"USER", "alice"}, {"RECIPIENT", "alice@example.test"}};
  c.uid = mta::local::testing::user_uid();
  c.gid = mta::local::testing::user_gid();
  auto s = run_command(c, "x\n");
  ASSERT_TRUE(s.ok()) << s.text;
  std::string env = slurp(out);
  EXPECT_NE(env.find("PATH=/usr/bin:/bin\n"), std::string::npos) << env;
  EXPECT_NE(env.find("HOME=/home/alice\n"), std::string::npos);
  EXPECT_NE(env.find("USER=alice\n"), std::string::npos);
  EXPECT_NE(env.find("RECIPIENT=alice@example.test\n"), std::string::npos);
  EXPECT_NE(env.find("LANG=C.UTF-8\n"), std::string::npos);
  EXPECT_EQ(env.find("MXLAB_SECRET_TEST"), std::string::npos);
  if (mta::local::testing::is_root()) {
    struct stat st;
    ASSERT_EQ(::stat(out.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 4242u);  // ran with the user's rights
  }
}

TEST_F(CommandTest, ExitStatusesMapThroughSysexits) {
  auto s = run_command(spec("exit 75"), "x\n");
  EXPECT_EQ(s.kind, '4');
  EXPECT_EQ(s.dsn, "4.3.0");
  EXPECT_EQ(s.text, "temporary failure");
  s = run_command(spec("exit 67"), "x\n");
  EXPECT_EQ(s.kind, '5');
  EXPECT_EQ(s.dsn, "5.1.1");
  EXPECT_EQ(s.text, "user unknown");
  s = run_command(spec("echo no such mailbox; exit 67"), "x\n");
  EXPECT_EQ(s.text, "user unknown. Command output: no such mailbox ");
  s = run_command(spec("exit 1"), "x\n");
  EXPECT_EQ(s.kind, '5');
  EXPECT_EQ(s.dsn, "5.3.0");
  EXPECT_EQ(s.text, "Command died with status 1: \"exit 1\"");
  s = run_command(spec("printf 'oops\\tbad\\001'; exit 3"), "x\n");
  EXPECT_EQ(s.text, "Command died with status 3: \"printf 'oops\\tbad\\001'; exit 3\". Command output: oops bad_");
  // A command that speaks DSN.
  s = run_command(spec("echo 4.2.1 mailbox busy; exit 1"), "x\n");
  EXPECT_EQ(s.kind, '4');
  EXPECT_EQ(s.dsn, "4.2.1");
  EXPECT_EQ(s.text, "mailbox busy");
}

TEST_F(CommandTest, SignalDefers) {
  auto s = run_command(spec("kill -TERM $$"), "x\n");
  EXPECT_EQ(s.kind, '4');
  EXPECT_EQ(s.text, "Command died with signal 15: \"kill -TERM $$\"");
}

TEST_F(CommandTest, TimeLimitKillsTheWholeSession) {
  std::string pidfile = t / "pid";
  CommandSpec c = spec("sleep 60 & echo $! > " + pidfile + "; wait");
  c.time_limit = 1;
  auto start = std::chrono::steady_clock::now();
  auto s = run_command(c, "x\n");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_EQ(s.kind, '5');
  EXPECT_EQ(s.dsn, "5.3.0");
  EXPECT_EQ(s.text, "Command time limit exceeded: \"" + c.command + "\"");
  // The background sleep was killed with its session.
  std::string pid = slurp(pidfile);
  ASSERT_FALSE(pid.empty());
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ::kill(std::stoi(pid), 0) != 0 || slurp("/proc/" + std::to_string(std::stoi(pid)) + "/stat").find(" Z ") != std::string::npos;
    if (!gone) ::usleep(20000);
  }
  EXPECT_TRUE(gone);
}

TEST_F(CommandTest, CommandThatStopsReadingIsNotAnError) {
  std::string big(1 << 20, 'x');
  auto s = run_command(spec("head -c 10 > /dev/null"), big);
  EXPECT_TRUE(s.ok()) << s.text;
}

TEST_F(CommandTest, LocalCommandShellIsUsed) {
  // local_command_shell is split at blanks and the command appended:
  // "/bin/ls -d" + "/no/such/path" runs ls, not sh.
  CommandSpec c = spec("/no/such/path");
  c.shell = "/bin/ls -d";
  auto s = run_command(c, "x\n");
  EXPECT_EQ(s.dsn, "5.3.0");
  EXPECT_EQ(s.text.rfind("Command died with status 2: \"/no/such/path\". Command output: ", 0), 0u) << s.text;
  EXPECT_NE(s.text.find("cannot access"), std::string::npos) << s.text;
}

TEST_F(CommandTest, BadWorkingDirectoryDefers) {
  CommandSpec c = spec("true");
  c.cwd = t / "nonexistent";
  auto s = run_command(c, "x\n");
  EXPECT_EQ(s.kind, '4');
  EXPECT_EQ(s.dsn, "4.3.0");
  EXPECT_EQ(s.text.rfind("temporary failure. Command output: cannot change directory to \"" + c.cwd + "\"", 0), 0u)
      << s.text;
}

TEST_F(CommandTest, SigpipeDoesNotReachTheProcess) {
  // If SIGPIPE escaped, this test binary would die here.
  std::string big(4 << 20, 'y');
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(run_command(spec("exit 0"), big).ok());
  sigset_t pending;
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

TEST_F(CommandTest, SysexitsTable) {
  EXPECT_EQ(sys_exits_detail(78).first, "5.3.5");
  EXPECT_EQ(sys_exits_detail(78).second, "local configuration error");
  EXPECT_EQ(sys_exits_detail(71).first, "4.3.0");
  EXPECT_EQ(sys_exits_detail(5).second, "unknown mail system error 5");
}

TEST_F(CommandTest, OnlyStandardDescriptorsAreInherited) {
  int leak = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC, as careless code would
  ASSERT_GE(leak, 3);
  std::string out = t / "fds";
  auto s = run_command(spec("ls /proc/$$/fd > " + out), "x\n");
  ::close(leak);
  ASSERT_TRUE(s.ok()) << s.text;
  // sh itself may open one descriptor for the redirection; ours is not there.
  std::string fds = "\n" + slurp(out);
  EXPECT_EQ(fds.find("\n" + std::to_string(leak) + "\n"), std::string::npos) << fds;
}
