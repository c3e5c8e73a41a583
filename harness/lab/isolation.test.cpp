// The isolation layer end to end: a supervised topology with two hosts
// whose "MTAs" are shell scripts. Proves host-to-host reachability, that
// no namespace has a way out (no interface but lo, br0, veths), per-host
// mounts and hostnames, the faked clock seen by `date`, and that teardown
// leaves no process and no mount behind, also on SIGTERM.
#include "lab/clock.hpp"
#include "lab/host.hpp"
#include "lab/process.hpp"
#include "lab/sandbox.hpp"
#include "model/text.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <dirent.h>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

namespace mxlab::lab {
namespace {

namespace fs = std::filesystem;
using model::read_file;
using model::write_file;

const char* kScript = R"SH(#!/bin/sh
# A fake MTA: report what this host looks like, then stay alive.
out=/var/log/report
{
  echo "hostname=$(hostname)"
  echo "date=$(date +%s)"
  echo "resolv=$(grep nameserver /etc/resolv.conf)"
  echo "alice=$(grep -c '^alice:' /etc/passwd)"
  test -d /etc/mxmta && echo "confdir=yes"
  echo "maincf=$(cat /etc/mxmta/main.cf)"
  echo probe > /var/spool/mxmta/probe && echo "spoolwrite=yes"
  echo db > /etc/mxlab-probe.db && echo "etcwrite=yes"
  echo "clock=$(cat /var/lib/mxlab/clock/offset)"
  echo "links=$(ip -o link show | sed 's/^[0-9]*: \([^:@]*\).*/\1/' | tr '\n' ' ')"
  echo "routes=$(ip route show | tr '\n' ';')"
} > $out.tmp
mv $out.tmp $out
exec sleep 300
)SH";

std::map<std::string, std::string> key_values(const std::string& text) {
  std::map<std::string, std::string> m;
  for (const auto& l : model::split_lines(text)) {
    auto eq = l.find('=');
    if (eq != std::string::npos) m[l.substr(0, eq)] = l.substr(eq + 1);
  }
  return m;
}

// Processes on the machine whose environment carries the marker.
int processes_with(const std::string& marker) {
  int n = 0;
  DIR* d = ::opendir("/proc");
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string env;
    try {
      env = read_file(std::string("/proc/") + e->d_name + "/environ");
    } catch (...) {
      continue;
    }
    if (env.find(marker) != std::string::npos) ++n;
  }
  ::closedir(d);
  return n;
}

class IsolationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/var/tmp/mxlab-iso-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    run_ = tmpl;
    marker_ = "MXLAB_ISOLATION_MARKER=" + fs::path(run_).filename().string();
    write_file(run_ + "/mta.sh", kScript, 0755);
    fs::create_directories(run_ + "/clock");
    fs::create_directories(run_ + "/scratch");
  }
  void TearDown() override { remove_tree(run_); }

  // Builds one host folder and its mounts, as the runner does.
  std::unique_ptr<Host> make_host(const std::string& name, const std::string& addr, int index) {
    std::string h = run_ + "/hosts/" + name;
    for (const char* d : {"etc/mxmta", "spool", "lib", "mail", "log", "tmp"}) fs::create_directories(h + "/" + d);
    write_file(h + "/etc/resolv.conf", "nameserver 192.168.0.53\noptions timeout:1 attempts:2\n");
    write_file(h + "/etc/hosts", "127.0.0.1 localhost\n" + addr + " " + name + "\n");
    write_file(h + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nalice:x:1001:1001:alice:/home/alice:/bin/sh\n");
    write_file(h + "/etc/group", "root:x:0:\n");
    write_file(h + "/etc/aliases", "postmaster: root\n");
    write_file(h + "/etc/mxmta/main.cf", "myhostname = " + name + "\n");
    std::vector<Mount> m = {
        {Mount::Kind::bind, h + "/etc/resolv.conf", "/etc/resolv.conf", true},
        {Mount::Kind::bind, h + "/etc/hosts", "/etc/hosts", true},
        {Mount::Kind::bind, h + "/etc/passwd", "/etc/passwd", true},
        {Mount::Kind::bind, h + "/etc/group", "/etc/group", true},
        {Mount::Kind::bind, h + "/etc/aliases", "/etc/aliases", true},
        {Mount::Kind::bind, h + "/etc/mxmta", "/etc/mxmta", false},
        {Mount::Kind::bind, h + "/spool", "/var/spool/mxmta", false},
        {Mount::Kind::bind, h + "/lib", "/var/lib/mxmta", false},
        {Mount::Kind::bind, h + "/mail", "/var/mail", false},
        {Mount::Kind::bind, h + "/log", "/var/log", false},
        {Mount::Kind::bind, run_ + "/clock", "/var/lib/mxlab/clock", false},
        {Mount::Kind::tmpfs, "", "/dev/shm", false},
        {Mount::Kind::bind, h + "/tmp", "/tmp", false},
    };
    auto host = std::make_unique<Host>(name, h, m, std::vector<std::string>{"/etc", "/var"});
    host->attach_network("br0", index, {addr}, run_ + "/scratch");
    return host;
  }

  Env mta_env() {
    return base_env({{"LD_PRELOAD", MX_FAKETIME_LIB},
                     {"FAKETIME_TIMESTAMP_FILE", "/var/lib/mxlab/clock/offset"},
                     {"FAKETIME_NO_CACHE", "1"},
                     {"NO_FAKE_STAT", "1"},
                     {marker_.substr(0, marker_.find('=')), marker_.substr(marker_.find('=') + 1)}});
  }

  std::string run_, marker_;
};

bool wait_file(const std::string& p, int ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (fs::exists(p)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST_F(IsolationTest, TwoHostsReachEachOtherAndNothingElse) {
  const int64_t year = 365 * 86400;
  const int64_t start = static_cast<int64_t>(std::time(nullptr)) + year;
  int status = run_supervised(
      [&]() -> int {
        std::ostringstream f;
        NsFds lab;
        std::string scratch = run_ + "/scratch";
        ip({"link", "set", "lo", "up"}, lab, scratch);
        ip({"link", "add", "br0", "type", "bridge"}, lab, scratch);
        ip({"link", "set", "br0", "up"}, lab, scratch);
        ip({"addr", "add", "192.168.0.53/32", "dev", "lo"}, lab, scratch);
        ip({"route", "add", "default", "dev", "br0", "src", "192.168.0.53"}, lab, scratch);
        f << "own_netns=" << (current_netns() != initial_netns()) << "\n";
        f << "pid1=" << ::getpid() << "\n";
        Clock clock(run_ + "/clock", start);
        auto a = make_host("a.example.com", "192.168.0.10", 1);
        auto b = make_host("b.example.com", "192.168.0.25", 2);
        auto pa = spawn({run_ + "/mta.sh"}, mta_env(), a->ns(), "", run_ + "/a.out", run_ + "/a.err");
        auto pb = spawn({run_ + "/mta.sh"}, mta_env(), b->ns(), "", run_ + "/b.out", run_ + "/b.err");
        f << "reports=" << (wait_file(a->folder() + "/log/report", 10000) && wait_file(b->folder() + "/log/report", 10000))
          << "\n";
        std::string err;
        // b -> a on a's LAN address, from b's own address
        int la = listen_in(a->ns().net, "192.168.0.10", 25, err);
        int c = connect_in(b->ns().net, "192.168.0.10", 25, "192.168.0.25", 3000, err);
        f << "b_to_a=" << (la >= 0 && c >= 0) << " " << err << "\n";
        if (la >= 0 && c >= 0) {
          sockaddr_in peer{};
          socklen_t len = sizeof peer;
          int s = ::accept(la, reinterpret_cast<sockaddr*>(&peer), &len);
          char buf[32];
          inet_ntop(AF_INET, &peer.sin_addr, buf, sizeof buf);
          f << "a_sees=" << buf << "\n";
          ::close(s);
        }
        if (c >= 0) ::close(c);
        // the lab reaches a host, a host reaches the lab
        int c2 = connect_in(-1, "192.168.0.10", 25, "192.168.0.53", 3000, err);
        f << "lab_to_a=" << (c2 >= 0) << "\n";
        if (c2 >= 0) ::close(c2);
        int ll = listen_in(-1, "192.168.0.53", 53, err);
        int c3 = connect_in(a->ns().net, "192.168.0.53", 53, "", 3000, err);
        f << "a_to_lab=" << (ll >= 0 && c3 >= 0) << "\n";
        if (c3 >= 0) ::close(c3);
        // each host has its own 127.0.0.1
        int lo = listen_in(a->ns().net, "127.0.0.1", 2525, err);
        int c4 = connect_in(b->ns().net, "127.0.0.1", 2525, "", 1000, err);
        f << "b_loopback_is_own=" << (lo >= 0 && c4 < 0) << " " << err << "\n";
        int c5 = connect_in(a->ns().net, "127.0.0.1", 2525, "", 1000, err);
        f << "a_loopback=" << (c5 >= 0) << "\n";
        // the lab namespace's links
        auto links = run({"ip", "-o", "link", "show"}, base_env(), lab, "", 5000, scratch);
        f << "lab_links=";
        for (const auto& l : model::split_lines(links.out)) {
          auto s = l.find(": ");
          auto e = l.find_first_of(":@", s + 2);
          f << l.substr(s + 2, e - s - 2) << " ";
        }
        f << "\n";
        // the clock moves for running processes without a restart
        clock.advance(3600);
        auto d = run({"date", "+%s"}, mta_env(), a->ns(), "", 5000, scratch);
        f << "advanced=" << model::trim(d.out) << "\n";
        f << "lab_now=" << clock.now() << "\n";
        write_file(run_ + "/findings", f.str());
        return 0;
      },
      run_, /*keep=*/true);
  ASSERT_EQ(status, 0) << (fs::exists(run_ + "/supervisor.err") ? read_file(run_ + "/supervisor.err") : "");
  auto f = key_values(read_file(run_ + "/findings"));
  EXPECT_EQ(f["own_netns"], "1");
  EXPECT_EQ(f["pid1"], "1");
  ASSERT_EQ(f["reports"], "1");
  EXPECT_EQ(f["b_to_a"].substr(0, 1), "1") << f["b_to_a"];
  EXPECT_EQ(f["a_sees"], "192.168.0.25");
  EXPECT_EQ(f["lab_to_a"], "1");
  EXPECT_EQ(f["a_to_lab"], "1");
  EXPECT_EQ(f["b_loopback_is_own"].substr(0, 1), "1") << f["b_loopback_is_own"];
  EXPECT_EQ(f["a_loopback"], "1");
  // No interface leads out: the lab has lo, the bridge and the hosts' veths.
  EXPECT_EQ(f["lab_links"], "lo br0 vh1 vh2 ");
  for (const char* h : {"a.example.com", "b.example.com"}) {
    SCOPED_TRACE(h);
    std::string folder = run_ + "/hosts/" + h;
    auto r = key_values(read_file(folder + "/log/report"));
    EXPECT_EQ(r["hostname"], h);
    EXPECT_EQ(r["resolv"], "nameserver 192.168.0.53");
    EXPECT_EQ(r["alice"], "1");
    EXPECT_EQ(r["confdir"], "yes");
    EXPECT_EQ(r["maincf"], std::string("myhostname = ") + h);
    EXPECT_EQ(r["spoolwrite"], "yes");
    EXPECT_EQ(read_file(folder + "/spool/probe"), "probe\n");
    EXPECT_EQ(r["etcwrite"], "yes");  // /etc is writable in the host, into its own overlay layer
    EXPECT_TRUE(fs::exists(folder + "/.overlay/0/upper/mxlab-probe.db"));
    EXPECT_EQ(r["links"], "lo eth0 ");
    EXPECT_EQ(r["routes"], std::string("default dev eth0 scope link src ") +
                               (std::string(h) == "a.example.com" ? "192.168.0.10" : "192.168.0.25") + " ;");
    // libfaketime: the host's `date` is a year ahead (within a minute)
    long long d = std::stoll(r["date"]);
    EXPECT_NEAR(static_cast<double>(d), static_cast<double>(start), 60.0);
  }
  EXPECT_NEAR(std::stod(f["advanced"]), std::stod(f["lab_now"]), 5.0);
  EXPECT_NEAR(std::stod(f["advanced"]), static_cast<double>(start + 3600), 60.0);
  // Nothing of the machine changed: the mount points exist only in the hosts.
  EXPECT_FALSE(fs::exists("/etc/mxmta"));
  EXPECT_FALSE(fs::exists("/var/spool/mxmta"));
  EXPECT_FALSE(fs::exists("/var/lib/mxlab"));
  EXPECT_FALSE(fs::exists("/etc/mxlab-probe.db"));
  // Teardown: no process of the topology, no mount of the run directory.
  EXPECT_EQ(processes_with(marker_), 0);
  EXPECT_EQ(read_file("/proc/self/mountinfo").find(run_), std::string::npos);
}

// What OpenSMTPD needs (feasibility.md section 1): a private tmpfs on
// /var/lib with mounts below it made by the anchor, a bind below a bound
// folder, and a read-only overlay that stacks an MTA's helpers above the
// machine's /usr/libexec.
TEST_F(IsolationTest, TmpfsOverlayAndMountsBelowEarlierMounts) {
  std::string h = run_ + "/hosts/c.example.com";
  fs::create_directories(h + "/spool");
  fs::create_directories(run_ + "/libexec/mxlab-probe");
  write_file(run_ + "/libexec/mxlab-probe/helper", "#!/bin/sh\necho helper\n", 0755);
  write_file(run_ + "/clock/offset", "+0\n");
  write_file(h + "/hosts", "127.0.0.1 localhost\n");
  int status = run_supervised(
      [&]() -> int {
        std::vector<Mount> m = {
            {Mount::Kind::bind, h + "/hosts", "/etc/hosts", true},
            {Mount::Kind::tmpfs, "mode=0755", "/var/lib", false},
            {Mount::Kind::bind, run_ + "/clock", "/var/lib/mxlab-probe/empty/var/lib/mxlab/clock", false},
            {Mount::Kind::bind, h + "/spool", "/var/spool/mxlab-probe", false},
            {Mount::Kind::bind, run_ + "/clock", "/var/spool/mxlab-probe/sub/clock", false},
            {Mount::Kind::bind, h + "/hosts", "/var/spool/mxlab-probe/sub/hosts", true},
            {Mount::Kind::overlay, run_ + "/libexec:/usr/libexec", "/usr/libexec", false},
            {Mount::Kind::bind, run_ + "/clock", "/var/lib/mxlab/clock", false},
        };
        Host c("c.example.com", h, m, {"/etc", "/var"});
        const char* script =
            "echo \"varlib=$(ls /var/lib | tr '\\n' ' ')\"; "
            "echo \"chroot_clock=$(cat /var/lib/mxlab-probe/empty/var/lib/mxlab/clock/offset)\"; "
            "echo \"clock=$(cat /var/lib/mxlab/clock/offset)\"; "
            "echo \"spool_clock=$(cat /var/spool/mxlab-probe/sub/clock/offset)\"; "
            "echo \"spool_file=$(cat /var/spool/mxlab-probe/sub/hosts)\"; "
            "echo \"helper=$(/usr/libexec/mxlab-probe/helper)\"; "
            "echo \"machine_libexec=$(ls /usr/libexec | grep -vc mxlab-probe)\"; "
            "touch /usr/libexec/x 2>/dev/null && echo libexec_rw=yes || echo libexec_rw=no; "
            "echo varlib_probe > /var/lib/probe && echo varlib_write=yes";
        auto r = run({"/bin/sh", "-c", script}, base_env(), c.ns(), "", 10000, run_ + "/scratch");
        write_file(run_ + "/findings", r.out + "status=" + std::to_string(r.status) + "\nerr=" + r.err + "\n");
        return 0;
      },
      run_, /*keep=*/true);
  ASSERT_EQ(status, 0) << (fs::exists(run_ + "/supervisor.err") ? read_file(run_ + "/supervisor.err") : "");
  std::string text = read_file(run_ + "/findings");
  auto f = key_values(text);
  EXPECT_EQ(f["status"], "0") << text;
  // The machine's /var/lib is hidden: only what the mounts made is there.
  EXPECT_EQ(f["varlib"], "mxlab mxlab-probe ");
  EXPECT_EQ(f["chroot_clock"], "+0");
  EXPECT_EQ(f["clock"], "+0");
  EXPECT_EQ(f["spool_clock"], "+0");
  EXPECT_EQ(f["spool_file"], "127.0.0.1 localhost");
  EXPECT_EQ(f["helper"], "helper");
  EXPECT_NE(f["machine_libexec"], "0");  // the machine's helpers are still there, below
  EXPECT_EQ(f["libexec_rw"], "no");
  EXPECT_EQ(f["varlib_write"], "yes");
  // The mount points below the bound spool folder were made in the host folder.
  EXPECT_TRUE(fs::is_directory(h + "/spool/sub/clock"));
  EXPECT_TRUE(fs::is_regular_file(h + "/spool/sub/hosts"));
  // Nothing of the machine changed.
  EXPECT_FALSE(fs::exists("/var/lib/mxlab-probe"));
  EXPECT_FALSE(fs::exists("/var/lib/probe"));
  EXPECT_FALSE(fs::exists("/var/spool/mxlab-probe"));
  EXPECT_FALSE(fs::exists("/usr/libexec/mxlab-probe"));
  EXPECT_FALSE(fs::exists("/usr/libexec/x"));
  EXPECT_EQ(read_file("/proc/self/mountinfo").find(run_), std::string::npos);
}

TEST_F(IsolationTest, TeardownOnSigtermRemovesEverything) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct sigaction sa {};
    sa.sa_handler = [](int) { kill_supervisors(); };
    ::sigaction(SIGTERM, &sa, nullptr);
    int st = run_supervised(
        [&]() -> int {
          NsFds lab;
          ip({"link", "set", "lo", "up"}, lab, run_ + "/scratch");
          ip({"link", "add", "br0", "type", "bridge"}, lab, run_ + "/scratch");
          Clock clock(run_ + "/clock", 0);
          auto a = make_host("a.example.com", "192.168.0.10", 1);
          auto p = spawn({run_ + "/mta.sh"}, mta_env(), a->ns(), "", "", "");
          ::sleep(120);  // killed long before
          return 3;
        },
        run_, /*keep=*/false);
    ::_exit(st == 3 ? 3 : 0);
  }
  // The topology is up once the fake MTA wrote its report.
  ASSERT_TRUE(wait_file(run_ + "/hosts/a.example.com/log/report", 15000));
  EXPECT_GE(processes_with(marker_), 1);
  ::kill(child, SIGTERM);
  int st = 0;
  ::waitpid(child, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  EXPECT_EQ(processes_with(marker_), 0);
  EXPECT_FALSE(fs::exists(run_)) << "run directory left behind";
  fs::create_directories(run_);  // for TearDown
}

}  // namespace
}  // namespace mxlab::lab
