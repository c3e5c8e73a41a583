// sendmail(1) run in-process on a temporary configuration and queue: the
// maildrop file is read back with queue::read_queue_file. stdin, stdout and
// stderr are redirected at the file-descriptor level. Other tools are reached
// through the ToolRunner seam; exec_tool itself is tested with /bin/sh.
#include "tools/sendmail/sendmail.hpp"

#include "core/envelope.hpp"
#include "queue/queue_file.hpp"
#include "queue/queue_store.hpp"
#include "tools/tools.hpp"
#include "util/safe_io.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

using namespace mta;
namespace sm = mta::tools::sendmail;

namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

std::string slurp(FILE* f) {
  std::string s;
  std::rewind(f);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  return s;
}

// Runs fn with `input` on fd 0 and fds 1 and 2 captured.
Result capture(const std::string& input, const std::function<int()>& fn) {
  std::fflush(stdout);
  std::fflush(stderr);
  FILE* i = std::tmpfile();
  std::fwrite(input.data(), 1, input.size(), i);
  std::fflush(i);
  std::rewind(i);
  FILE* o = std::tmpfile();
  FILE* e = std::tmpfile();
  int saved_in = ::dup(0), saved_out = ::dup(1), saved_err = ::dup(2);
  ::dup2(::fileno(i), 0);
  ::dup2(::fileno(o), 1);
  ::dup2(::fileno(e), 2);
  Result r;
  r.code = fn();
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(saved_in, 0);
  ::dup2(saved_out, 1);
  ::dup2(saved_err, 2);
  ::close(saved_in);
  ::close(saved_out);
  ::close(saved_err);
  r.out = slurp(o);
  r.err = slurp(e);
  std::fclose(i);
  std::fclose(o);
  std::fclose(e);
  return r;
}

std::string login() {
  struct passwd* pw = ::getpwuid(::getuid());
  return pw ? pw->pw_name : "";
}

}  // namespace

class SendmailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/mxsendmailXXXXXX";
    ASSERT_NE(::mkdtemp(t), nullptr);
    dir_ = t;
    queue_ = dir_ + "/queue";
    write_main("queue_directory = " + queue_ + "\nmyhostname = mx.example.test\n");
    ::unsetenv("MAIL_CONFIG");
    ::unsetenv("NAME");
    sm::set_tool_runner([this](const std::vector<std::string>& argv) {
      ran_.push_back(argv);
      const char* mc = std::getenv("MAIL_CONFIG");
      ran_env_.push_back(mc ? mc : "");
      return 0;
    });
  }
  void TearDown() override {
    sm::set_tool_runner({});
    ::unsetenv("MAIL_CONFIG");
    ::unsetenv("NAME");
    std::filesystem::remove_all(dir_);
  }

  void write_main(const std::string& text) { ASSERT_FALSE(util::write_file_atomic(dir_ + "/main.cf", text)); }

  Result run(std::vector<std::string> args, const std::string& input = "") {
    std::vector<std::string> a{"sendmail", "-c", dir_};
    a.insert(a.end(), args.begin(), args.end());
    std::vector<char*> av;
    for (auto& s : a) av.push_back(s.data());
    av.push_back(nullptr);
    return capture(input, [&] { return tools::sendmail_main(static_cast<int>(a.size()), av.data()); });
  }

  std::vector<std::string> maildrop() {
    queue::QueueStore store(queue_);
    return store.list(queue::Q::maildrop);
  }

  // The one message in maildrop/.
  core::Message queued() {
    core::Message m;
    auto ids = maildrop();
    EXPECT_EQ(ids.size(), 1u);
    if (ids.size() != 1) return m;
    auto r = queue::read_queue_file(queue::QueueStore(queue_).path(queue::Q::maildrop, ids[0]), m.env, &m.content);
    EXPECT_TRUE(r.ok()) << r.bad << r.ec.message();
    EXPECT_EQ(m.env.id, ids[0]);
    return m;
  }

  std::vector<std::string> addresses(const core::Envelope& e) {
    std::vector<std::string> out;
    for (const auto& r : e.rcpts) out.push_back(r.address);
    return out;
  }

  std::string dir_, queue_;
  std::vector<std::vector<std::string>> ran_;
  std::vector<std::string> ran_env_;
};

// ---- the maildrop file

TEST_F(SendmailTest, EnqueuesIntoMaildropWithPickupEnvelope) {
  auto r = run({"bob@example.test", "carol"}, "Subject: hi\n\nbody\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
  auto m = queued();
  EXPECT_EQ(m.env.origin, "pickup");
  EXPECT_EQ(m.env.uid, static_cast<int>(::getuid()));
  EXPECT_EQ(m.env.sender, login());
  EXPECT_EQ(addresses(m.env), (std::vector<std::string>{"bob@example.test", "carol"}))
      << "unqualified addresses are left to cleanup";
  EXPECT_EQ(m.content, "Subject: hi\n\nbody\n");
  EXPECT_EQ(m.env.content_size, static_cast<int64_t>(m.content.size()));
  EXPECT_EQ(m.env.attrs.count("extract_recipients"), 0u);
  EXPECT_GT(m.env.arrival.sec, 0);
  struct stat st;
  ASSERT_EQ(::stat((queue_ + "/maildrop/" + m.env.id).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "a complete queue file";
}

TEST_F(SendmailTest, FullNameFromPasswdNameVariableOrDashF) {
  ASSERT_EQ(run({"bob"}, "x\n").code, 0);
  struct passwd* pw = ::getpwuid(::getuid());
  ASSERT_NE(pw, nullptr);
  std::string gecos = pw->pw_gecos ? pw->pw_gecos : "";
  gecos = gecos.substr(0, gecos.find_first_of(",;%"));
  if (gecos.find('&') == std::string::npos) {
    EXPECT_EQ(queued().env.fullname, gecos);
  }
  std::filesystem::remove_all(queue_ + "/maildrop");
  ::setenv("NAME", "Env Name", 1);
  ASSERT_EQ(run({"bob"}, "x\n").code, 0);
  EXPECT_EQ(queued().env.fullname, "Env Name");
  std::filesystem::remove_all(queue_ + "/maildrop");
  ASSERT_EQ(run({"-F", "Alice Example", "bob"}, "x\n").code, 0);
  EXPECT_EQ(queued().env.fullname, "Alice Example");
}

TEST_F(SendmailTest, SenderFromDashFAndDashR) {
  ASSERT_EQ(run({"-f", "alice@example.test", "bob"}, "x\n").code, 0);
  EXPECT_EQ(queued().env.sender, "alice@example.test");
  std::filesystem::remove_all(queue_ + "/maildrop");
  ASSERT_EQ(run({"-ralice", "bob"}, "x\n").code, 0);
  EXPECT_EQ(queued().env.sender, "alice");
  std::filesystem::remove_all(queue_ + "/maildrop");
  ASSERT_EQ(run({"-f", "Alice <alice@example.test>", "bob"}, "x\n").code, 0);
  EXPECT_EQ(queued().env.sender, "alice@example.test");
}

TEST_F(SendmailTest, NullSender) {
  auto r = run({"-f", "<>", "bob"}, "x\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(queued().env.sender, "");
}

TEST_F(SendmailTest, MalformedSenderWarnsAndUsesFirstAddress) {
  auto r = run({"-f", "bad address", "bob"}, "x\n");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.err, "sendmail: warning: -f option specified malformed sender: bad address\n");
  EXPECT_EQ(queued().env.sender, "bad") << "cleanup qualifies it as bad@$myorigin";
}

TEST_F(SendmailTest, ExtractRecipientsFlag) {
  auto r = run({"-t"}, "To: bob@example.test\nBcc: eve@example.test\n\nbody\n");
  EXPECT_EQ(r.code, 0) << r.err;
  auto m = queued();
  EXPECT_EQ(m.env.attrs["extract_recipients"], "1");
  EXPECT_TRUE(m.env.rcpts.empty()) << "cleanup extracts them from the header";
  EXPECT_EQ(m.content, "To: bob@example.test\nBcc: eve@example.test\n\nbody\n") << "Bcc is cleanup's to remove";
  std::filesystem::remove_all(queue_ + "/maildrop");
  ASSERT_EQ(run({"-t", "carol@example.test"}, "To: bob@example.test\n\nx\n").code, 0);
  auto m2 = queued();
  EXPECT_EQ(addresses(m2.env), std::vector<std::string>{"carol@example.test"});
  EXPECT_EQ(m2.env.attrs["extract_recipients"], "1");
}

TEST_F(SendmailTest, DotLineEndsInputUnlessDashI) {
  ASSERT_EQ(run({"bob"}, "a\n..\n.\nb\n").code, 0);
  EXPECT_EQ(queued().content, "a\n..\n") << "only a lone dot ends the message";
  std::filesystem::remove_all(queue_ + "/maildrop");
  ASSERT_EQ(run({"-i", "bob"}, "a\n.\nb\n").code, 0);
  EXPECT_EQ(queued().content, "a\n.\nb\n");
  std::filesystem::remove_all(queue_ + "/maildrop");
  ASSERT_EQ(run({"-oi", "bob"}, "a\n.\nb\n").code, 0);
  EXPECT_EQ(queued().content, "a\n.\nb\n");
}

TEST_F(SendmailTest, CrlfBecomesLf) {
  ASSERT_EQ(run({"bob"}, "Subject: x\r\n\r\nline\r\n.\r\nafter\r\n").code, 0);
  EXPECT_EQ(queued().content, "Subject: x\n\nline\n") << "CRLF fixed, and .CRLF ends the input";
  std::filesystem::remove_all(queue_ + "/maildrop");
  write_main("queue_directory = " + queue_ + "\nsendmail_fix_line_endings = never\n");
  ASSERT_EQ(run({"bob"}, "a\r\nb\n").code, 0);
  EXPECT_EQ(queued().content, "a\r\nb\n");
  std::filesystem::remove_all(queue_ + "/maildrop");
  write_main("queue_directory = " + queue_ + "\nsendmail_fix_line_endings = strict\n");
  ASSERT_EQ(run({"bob"}, "a\nb\r\n").code, 0);
  EXPECT_EQ(queued().content, "a\nb\r\n") << "strict: the first line decides";
  write_main("queue_directory = " + queue_ + "\nsendmail_fix_line_endings = sometimes\n");
  auto bad = run({"bob"}, "a\n");
  EXPECT_EQ(bad.code, 75);
  EXPECT_EQ(bad.err, "sendmail: fatal: invalid sendmail_fix_line_endings value: sometimes\n");
}

TEST_F(SendmailTest, BodyOnlyMessageFromLineAndMissingFinalNewline) {
  ASSERT_EQ(run({"bob"}, "From alice Sat Nov 28 06:49:51 2026\n>From x\nno header here\nlast").code, 0);
  EXPECT_EQ(queued().content, "no header here\nlast\n");
}

TEST_F(SendmailTest, DsnOptions) {
  auto r = run({"-N", "success,delay", "-R", "hdrs", "-V", "env-42", "-B", "8BITMIME", "bob", "carol"}, "x\n");
  EXPECT_EQ(r.code, 0) << r.err;
  auto m = queued();
  ASSERT_EQ(m.env.rcpts.size(), 2u);
  for (const auto& rc : m.env.rcpts) EXPECT_EQ(rc.notify, core::notify_success | core::notify_delay);
  EXPECT_EQ(m.env.ret, "HDRS");
  EXPECT_EQ(m.env.envid, "env-42");
  EXPECT_EQ(m.env.body_type, "8BITMIME");
  std::filesystem::remove_all(queue_ + "/maildrop");
  ASSERT_EQ(run({"-N", "never", "-R", "FULL", "-B", "7BIT", "bob"}, "x\n").code, 0);
  auto n = queued();
  EXPECT_EQ(n.env.rcpts.at(0).notify, core::notify_never);
  EXPECT_EQ(n.env.ret, "FULL");
  EXPECT_EQ(n.env.body_type, "7BIT");
}

TEST_F(SendmailTest, BadDsnOptionsWarnOrFail) {
  auto r = run({"-N", "never,success", "-R", "some", "-V", std::string(101, 'v'), "bob"}, "x\n");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.err,
            "sendmail: warning: bad -N option value -- ignored\n"
            "sendmail: warning: bad -R option value -- ignored\n"
            "sendmail: warning: too long -V option value -- ignored\n");
  auto m = queued();
  EXPECT_EQ(m.env.rcpts.at(0).notify, 0u);
  EXPECT_EQ(m.env.ret, "");
  EXPECT_EQ(m.env.envid, "");
  auto b = run({"-B", "binary", "bob"}, "x\n");
  EXPECT_EQ(b.code, 75);
  EXPECT_EQ(b.err, "sendmail: fatal: -B option needs 8BITMIME or 7BIT\n");
}

TEST_F(SendmailTest, NoRecipientIsFatalAndQueuesNothing) {
  auto r = run({}, "Subject: x\n\nbody\n");
  EXPECT_EQ(r.code, 75);
  EXPECT_EQ(r.err, "sendmail: fatal: " + login() + "(" + std::to_string(::getuid()) +
                       "): Recipient addresses must be specified on the command line or via the -t option\n");
  EXPECT_TRUE(maildrop().empty());
  auto f = run({"-f", "alice@example.test"}, "x\n");
  EXPECT_EQ(f.err, "sendmail: fatal: alice@example.test(" + std::to_string(::getuid()) +
                       "): Recipient addresses must be specified on the command line or via the -t option\n");
}

TEST_F(SendmailTest, WakesPickupThroughItsFifo) {
  ASSERT_FALSE(queue::QueueStore(queue_).ensure_dirs());
  std::string fifo = queue_ + "/public/pickup";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0622), 0);
  int rd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(rd, 0);
  ASSERT_EQ(run({"bob"}, "x\n").code, 0);
  char buf[8] = {0};
  EXPECT_EQ(::read(rd, buf, sizeof buf), 1);
  EXPECT_EQ(buf[0], 'W');
  ::close(rd);
}

TEST_F(SendmailTest, WorksWithoutDaemonAndCreatesTheQueue) {
  // No queue directory and no pickup FIFO: the daemon has never run.
  ASSERT_FALSE(util::exists(queue_));
  auto r = run({"bob"}, "x\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(maildrop().size(), 1u);
}

TEST_F(SendmailTest, UnwritableQueueIsFatal) {
  write_main("queue_directory = /proc/nonexistent/queue\n");
  auto r = run({"bob"}, "x\n");
  EXPECT_EQ(r.code, 75);
  EXPECT_EQ(r.err.rfind("sendmail: fatal: " + login() + "(", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("unable to create queue directory /proc/nonexistent/queue"), std::string::npos) << r.err;
}

TEST_F(SendmailTest, ConfigDirectoryFromMailConfigAndMissingMainCf) {
  std::vector<std::string> a{"sendmail", "bob"};
  std::vector<char*> av{a[0].data(), a[1].data(), nullptr};
  ::setenv("MAIL_CONFIG", dir_.c_str(), 1);
  auto r = capture("x\n", [&] { return tools::sendmail_main(2, av.data()); });
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(maildrop().size(), 1u);
  std::filesystem::remove(dir_ + "/main.cf");
  auto m = run({"bob"}, "x\n");
  EXPECT_EQ(m.code, 75);
  EXPECT_EQ(m.err, "sendmail: fatal: open " + dir_ + "/main.cf: No such file or directory\n");
}

TEST_F(SendmailTest, SendmailStyleDashCNamesTheFile) {
  std::vector<std::string> a{"sendmail", "-C", dir_ + "/main.cf", "bob"};
  std::vector<char*> av{a[0].data(), a[1].data(), a[2].data(), a[3].data(), nullptr};
  auto r = capture("x\n", [&] { return tools::sendmail_main(4, av.data()); });
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(maildrop().size(), 1u);
}

TEST_F(SendmailTest, IgnoredAndBadOptions) {
  auto r = run({"-v", "-oem", "-G", "-x", "-odi", "bob"}, "x\n");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto z = run({"-z", "bob"}, "x\n");
  EXPECT_EQ(z.code, 75);
  EXPECT_EQ(z.err, "sendmail: invalid option -- 'z'\nsendmail: fatal: usage: sendmail [options]\n");
  EXPECT_EQ(run({"-n", "bob"}).err, "sendmail: fatal: -n option not supported\n");
  EXPECT_EQ(run({"-bs"}).err, "sendmail: fatal: unsupported: -bs\n");
  EXPECT_EQ(run({"-bv", "bob"}).err, "sendmail: fatal: unsupported: -bv\n");
  EXPECT_EQ(run({"-XV", "bob"}).err, "sendmail: fatal: unsupported: -XV\n");
  EXPECT_EQ(run({"-qX"}).err, "sendmail: fatal: -qX is not implemented\n");
  EXPECT_EQ(run({"-qR"}).err, "sendmail: fatal: specify: -qRsitename\n");
  EXPECT_EQ(maildrop().size(), 1u);
}

// ---- other modes run other tools

TEST_F(SendmailTest, ModesRunTheOtherTools) {
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> argv;
  };
  const Case cases[] = {
      {{"-bp"}, {"mailq"}},
      {{"-bi"}, {"newaliases"}},
      {{"-I"}, {"newaliases"}},
      {{"-oAhash:" + dir_ + "/aliases", "-bi"}, {"postalias", "hash:" + dir_ + "/aliases"}},
      {{"-q"}, {"postqueue", "-f"}},
      {{"-qIABC123"}, {"postqueue", "-i", "ABC123"}},
      {{"-qRexample.com"}, {"postqueue", "-f"}},
      {{"-bd"}, {"mxmta", "start"}},
      {{"-bl", "-q1h"}, {"mxmta", "start"}},
  };
  for (const auto& c : cases) {
    ran_.clear();
    ran_env_.clear();
    auto r = run(c.args);
    EXPECT_EQ(r.code, 0) << c.args[0] << ": " << r.err;
    ASSERT_EQ(ran_.size(), 1u) << c.args[0];
    EXPECT_EQ(ran_[0], c.argv) << c.args[0];
    EXPECT_EQ(ran_env_[0], dir_) << "the tool reads the same configuration";
  }
  EXPECT_TRUE(maildrop().empty());
}

TEST_F(SendmailTest, ModesThatDoNothing) {
  EXPECT_EQ(run({"-q1h"}).code, 0);
  EXPECT_EQ(run({"-bh"}).code, 0);
  write_main("queue_directory = " + queue_ + "\nalias_database =\n");
  EXPECT_EQ(run({"-bi"}).code, 0);
  EXPECT_TRUE(ran_.empty()) << "no alias database, nothing to build";
}

TEST_F(SendmailTest, ModeConflicts) {
  EXPECT_EQ(run({"-bp", "bob"}).err, "sendmail: fatal: display queue mode requires no recipient\n");
  EXPECT_EQ(run({"-q", "bob"}).err, "sendmail: fatal: flush queue mode requires no recipient\n");
  EXPECT_EQ(run({"-bd", "bob"}).err, "sendmail: fatal: daemon mode requires no recipient\n");
  EXPECT_EQ(run({"-bi", "bob"}).err, "sendmail: fatal: alias initialization mode requires no recipient\n");
  EXPECT_EQ(run({"-qRsite", "bob"}).err, "sendmail: fatal: flush site requires no recipient\n");
  EXPECT_EQ(run({"-t", "-bp"}).err, "sendmail: fatal: -t can be used only in delivery mode\n");
  EXPECT_EQ(run({"-qIX", "-bp"}).err, "sendmail: fatal: -qI can be used only in delivery mode\n");
  auto r = run({"-q", "-bd"});
  EXPECT_EQ(r.err, "sendmail: warning: ignoring -q option in daemon mode\n");
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(ran_.size() == 1 && ran_[0] == (std::vector<std::string>{"mxmta", "start"}));
}

TEST_F(SendmailTest, ExecToolSetsArgvZero) {
  std::string out = dir_ + "/argv0";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sm::exec_tool("/bin/sh", {"mailq", "-c", "printf %s \"$0\" > " + out});
    std::_Exit(99);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::string got;
  EXPECT_FALSE(util::read_file(out, got));
  EXPECT_EQ(got, "mailq");
  EXPECT_EQ(sm::exec_tool(dir_ + "/nosuch", {"x"}), ENOENT);
}

// ---- parsing helpers

TEST_F(SendmailTest, AddressListsAsTok822ReadsThem) {
  using V = std::vector<std::string>;
  EXPECT_EQ(sm::parse_addresses("a@x, b@y"), (V{"a@x", "b@y"}));
  EXPECT_EQ(sm::parse_addresses("a@x b@y"), (V{"a@x", "b@y"}));
  EXPECT_EQ(sm::parse_addresses("John Doe <john@x>"), (V{"john@x"}));
  EXPECT_EQ(sm::parse_addresses("\"John, Doe\" <john@x>, (c) b@y"), (V{"john@x", "b@y"}));
  EXPECT_EQ(sm::parse_addresses("\"a b\"@x"), (V{"\"a b\"@x"}));
  EXPECT_EQ(sm::parse_addresses("<>"), (V{""}));
  EXPECT_EQ(sm::parse_addresses("<@relay:u@x>"), (V{"u@x"}));
  EXPECT_EQ(sm::parse_addresses(""), V{});
}

TEST_F(SendmailTest, NotifyMasks) {
  EXPECT_EQ(sm::parse_notify("NEVER"), core::notify_never);
  EXPECT_EQ(sm::parse_notify("failure, delay"), core::notify_failure | core::notify_delay);
  EXPECT_EQ(sm::parse_notify("never,failure"), 0u);
  EXPECT_EQ(sm::parse_notify("sometimes"), 0u);
}
