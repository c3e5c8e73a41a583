// NAME
//   tools/queue/queue_tools_fixture - test fixture: a real queue directory and main.cf
// DESCRIPTION
//   For the queue tools' unit tests only. SetUp() makes a temporary
//   directory with etc/main.cf (queue_directory, maillog_file, myhostname)
//   and spool/ laid out by QueueStore::ensure_dirs(); put() writes real queue
//   files with queue::serialize(); run() calls a tool's main function
//   in-process and captures its exit status, stdout and stderr; the clock's
//   zone is UTC so asctime() and Date: output are fixed.
#pragma once
#include "queue/queue_file.hpp"
#include "queue/queue_store.hpp"
#include "util/safe_io.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace mta::tools::queue::testing {

struct ToolRun {
  int rc = -1;
  std::string out;
  std::string err;
};

struct Rcpt {
  std::string address;
  std::string status;  // "4.4.1", "" untried, "2.0.0"/"5.1.1" done
  std::string reason;
};

class QueueToolsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);
    tzset();
    unsetenv("MAIL_CONFIG");
    char t[] = "/tmp/mxqtoolsXXXXXX";
    root_ = ::mkdtemp(t);
    etc_ = root_ + "/etc";
    spool_ = root_ + "/spool";
    maillog_ = root_ + "/maillog";
    ASSERT_FALSE(util::make_dirs(etc_));
    ASSERT_FALSE(util::write_file_atomic(etc_ + "/main.cf",
                                         "myhostname = mx.example.test\n"
                                         "mydomain = example.test\n"
                                         "queue_directory = " +
                                             spool_ + "\nmaillog_file = " + maillog_ + "\n"));
    store_ = std::make_unique<::mta::queue::QueueStore>(spool_);
    ASSERT_FALSE(store_->ensure_dirs());
  }
  void TearDown() override { std::system(("rm -rf " + root_).c_str()); }

  // A queue file with `size` bytes of content.
  void put(::mta::queue::Q q, const std::string& id, const std::string& sender, int64_t arrival,
           const std::vector<Rcpt>& rcpts, size_t size = 300, bool force_expired = false) {
    core::Message m;
    m.env.id = id;
    m.env.arrival = {arrival, 0};
    m.env.sender = sender;
    m.env.force_expired = force_expired;
    for (const auto& r : rcpts) {
      core::Recipient rc;
      rc.address = r.address;
      rc.dsn_status = r.status;
      rc.reason = r.reason;
      m.env.rcpts.push_back(rc);
    }
    std::string c = "Subject: test\n\n";
    while (c.size() < size) c += "x";
    c.resize(size);
    m.content = c;
    ASSERT_FALSE(util::write_file_atomic(store_->path(q, id), ::mta::queue::serialize(m), 0700));
  }

  core::Envelope read(::mta::queue::Q q, const std::string& id) {
    core::Envelope e;
    auto r = ::mta::queue::read_queue_file(store_->path(q, id), e, nullptr);
    EXPECT_TRUE(r.ok()) << r.bad << r.ec.message();
    return e;
  }

  ToolRun run(int (*tool)(int, char**), std::initializer_list<std::string> args) {
    std::vector<std::string> a(args);
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    ToolRun r;
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    r.rc = tool(static_cast<int>(a.size()), argv.data());
    std::fflush(stdout);
    r.out = ::testing::internal::GetCapturedStdout();
    r.err = ::testing::internal::GetCapturedStderr();
    return r;
  }

  std::string maillog() {
    std::string s;
    (void)util::read_file(maillog_, s);
    return s;
  }

  std::string root_, etc_, spool_, maillog_;
  std::unique_ptr<::mta::queue::QueueStore> store_;
};

}  // namespace mta::tools::queue::testing
