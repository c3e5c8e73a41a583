// The fake DNS server over real loopback sockets, queried by the harness's
// own client, by glibc's resolver (res_nquery) and by dig when installed.
#include "dns/client.hpp"
#include "dns/fake_dns.hpp"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace mxlab::dns;
namespace w = mxlab::dns::wire;

namespace {

// mkdtemp template in $TMPDIR (or /tmp).
std::string temp_dir_template(const char* prefix) {
  return (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
}

std::string lab_zone() {
  std::string z =
      "$ORIGIN example.com\n"
      "@ MX 10 mail\n"
      "@ MX 20 backup.example.com.\n"
      "mail A 127.0.0.25\n"
      "backup A 127.0.0.26\n"
      "www CNAME mail\n"
      "@ TXT \"v=spf1 -all\"\n"
      "$ORIGIN null.test\n"
      "@ MX 0 .\n"
      "$ORIGIN big.test\n";
  for (int i = 0; i < 12; ++i) z += "@ TXT \"" + std::string(60, static_cast<char>('a' + i)) + "\"\n";
  return z;
}

class FakeDnsServerTest : public ::testing::Test {
 protected:
  FakeDnsServerTest() : server_(parse_zone_text(lab_zone(), "lab.zone")) { server_.start("127.0.0.1", 0); }
  ~FakeDnsServerTest() override { server_.stop(); }
  uint16_t port() const { return server_.port(); }
  w::Message q(std::string_view name, uint16_t type, QueryOptions o = {}) {
    return query("127.0.0.1", port(), name, type, o);
  }
  Server server_;
};

QueryOptions opts(bool tcp, int timeout_ms = 2000, std::optional<uint16_t> edns = std::nullopt) {
  QueryOptions o;
  o.tcp = tcp;
  o.timeout_ms = timeout_ms;
  o.edns_udp_size = edns;
  return o;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// glibc's stub resolver pointed at the server (no /etc/resolv.conf involved).
struct GlibcResolver {
  explicit GlibcResolver(uint16_t port, bool tcp = false) {
    std::memset(&st, 0, sizeof st);
    res_ninit(&st);
    st.nscount = 1;
    st.nsaddr_list[0].sin_family = AF_INET;
    st.nsaddr_list[0].sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &st.nsaddr_list[0].sin_addr);
    st.retry = 1;
    st.retrans = 2;
    if (tcp) st.options |= RES_USEVC;
  }
  ~GlibcResolver() { res_nclose(&st); }
  // Returns the answer length, or -1 with h_errno-like code in err.
  int query(const char* name, int type, std::vector<uint8_t>& buf) {
    buf.resize(65536);
    int n = res_nquery(&st, name, ns_c_in, type, buf.data(), static_cast<int>(buf.size()));
    err = st.res_h_errno;
    if (n >= 0) buf.resize(static_cast<size_t>(n));
    return n;
  }
  struct __res_state st;
  int err = 0;
};

}  // namespace

TEST_F(FakeDnsServerTest, UdpAndTcpWithOwnClient) {
  EXPECT_NE(port(), 0);
  auto a = q("mail.example.com", w::t_a);
  ASSERT_EQ(a.answers.size(), 1u);
  EXPECT_EQ(a.answers[0].data, "127.0.0.25");
  EXPECT_TRUE(a.header.aa);
  auto mx = q("example.com", w::t_mx, opts(true));
  ASSERT_EQ(mx.answers.size(), 2u);
  EXPECT_EQ(mx.answers[0].data, "10 mail.example.com.");
  EXPECT_EQ(mx.answers[1].data, "20 backup.example.com.");
  auto log = server_.log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].transport, "udp");
  EXPECT_EQ(log[0].name, "mail.example.com");
  EXPECT_EQ(log[0].type, "A");
  EXPECT_EQ(log[0].result, "NOERROR");
  EXPECT_EQ(log[0].client.rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(log[1].transport, "tcp");
  EXPECT_EQ(log[1].answers, 2);
  EXPECT_GT(log[1].time, 1.5e9);
  server_.clear_log();
  EXPECT_TRUE(server_.log().empty());
}

TEST_F(FakeDnsServerTest, SeveralQueriesOnOneTcpConnection) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port());
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  // Three queries in one write; the answers come back in order.
  std::vector<uint8_t> all;
  const char* names[] = {"mail.example.com", "backup.example.com", "nosuch.example.com"};
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> m;
    w::Writer wr(m);
    w::Header h;
    h.id = static_cast<uint16_t>(100 + i);
    wr.header(h);
    wr.question(names[i], w::t_a, w::class_in);
    all.push_back(static_cast<uint8_t>(m.size() >> 8));
    all.push_back(static_cast<uint8_t>(m.size()));
    all.insert(all.end(), m.begin(), m.end());
  }
  ASSERT_EQ(::send(fd, all.data(), all.size(), 0), static_cast<ssize_t>(all.size()));
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto read_n = [&](uint8_t* p, size_t n) {
    while (n) {
      ssize_t r = ::recv(fd, p, n, 0);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<size_t>(r);
    }
    return true;
  };
  for (int i = 0; i < 3; ++i) {
    uint8_t len[2];
    ASSERT_TRUE(read_n(len, 2));
    std::vector<uint8_t> resp(static_cast<size_t>(len[0] << 8 | len[1]));
    ASSERT_TRUE(read_n(resp.data(), resp.size()));
    auto m = w::parse(resp);
    EXPECT_EQ(m.header.id, 100 + i);
    EXPECT_EQ(m.header.rcode, i == 2 ? w::nxdomain : w::noerror);
  }
  ::close(fd);
}

TEST_F(FakeDnsServerTest, TruncatedOverUdpThenFullOverTcp) {
  auto u = q("big.test", w::t_txt);
  EXPECT_TRUE(u.header.tc);
  EXPECT_TRUE(u.answers.empty());
  auto t = q("big.test", w::t_txt, opts(true));
  EXPECT_FALSE(t.header.tc);
  EXPECT_EQ(t.answers.size(), 12u);
  auto e = q("big.test", w::t_txt, opts(false, 2000, 4096));
  EXPECT_FALSE(e.header.tc);
  EXPECT_EQ(e.answers.size(), 12u);
  auto log = server_.log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].result, "TRUNCATED");
  EXPECT_EQ(log[1].result, "NOERROR");
}

TEST_F(FakeDnsServerTest, GlibcResolverInteroperates) {
  GlibcResolver r(port());
  std::vector<uint8_t> buf;
  ASSERT_GT(r.query("example.com", ns_t_mx, buf), 0);
  ns_msg msg;
  ASSERT_EQ(ns_initparse(buf.data(), static_cast<int>(buf.size()), &msg), 0);
  ASSERT_EQ(ns_msg_count(msg, ns_s_an), 2);
  ns_rr rr;
  ASSERT_EQ(ns_parserr(&msg, ns_s_an, 0, &rr), 0);
  EXPECT_EQ(ns_get16(ns_rr_rdata(rr)), 10);
  char exch[NS_MAXDNAME];
  ASSERT_GT(ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2, exch, sizeof exch), 0);
  EXPECT_STREQ(exch, "mail.example.com");

  ASSERT_GT(r.query("www.example.com", ns_t_a, buf), 0);  // through the CNAME
  ASSERT_EQ(ns_initparse(buf.data(), static_cast<int>(buf.size()), &msg), 0);
  ASSERT_EQ(ns_msg_count(msg, ns_s_an), 2);
  ASSERT_EQ(ns_parserr(&msg, ns_s_an, 1, &rr), 0);
  EXPECT_EQ(ns_rr_type(rr), ns_t_a);
  char addr[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, ns_rr_rdata(rr), addr, sizeof addr);
  EXPECT_STREQ(addr, "127.0.0.25");

  EXPECT_LT(r.query("nosuch.example.com", ns_t_a, buf), 0);
  EXPECT_EQ(r.err, HOST_NOT_FOUND);
  EXPECT_LT(r.query("mail.example.com", ns_t_mx, buf), 0);
  EXPECT_EQ(r.err, NO_DATA);

  // Null MX reaches glibc intact.
  ASSERT_GT(r.query("null.test", ns_t_mx, buf), 0);
  ASSERT_EQ(ns_initparse(buf.data(), static_cast<int>(buf.size()), &msg), 0);
  ASSERT_EQ(ns_parserr(&msg, ns_s_an, 0, &rr), 0);
  EXPECT_EQ(ns_get16(ns_rr_rdata(rr)), 0);
  EXPECT_EQ(ns_rr_rdlen(rr), 3);  // preference + the root label
}

TEST_F(FakeDnsServerTest, GlibcRetriesOverTcpAfterTruncation) {
  GlibcResolver r(port());
  std::vector<uint8_t> buf;
  int n = r.query("big.test", ns_t_txt, buf);
  ASSERT_GT(n, 512);
  ns_msg msg;
  ASSERT_EQ(ns_initparse(buf.data(), n, &msg), 0);
  EXPECT_EQ(ns_msg_count(msg, ns_s_an), 12);
  auto log = server_.log();
  ASSERT_GE(log.size(), 2u);
  EXPECT_EQ(log.front().transport, "udp");
  EXPECT_EQ(log.front().result, "TRUNCATED");
  EXPECT_EQ(log.back().transport, "tcp");
  EXPECT_EQ(log.back().result, "NOERROR");

  GlibcResolver vc(port(), true);  // RES_USEVC: TCP from the start
  ASSERT_GT(vc.query("mail.example.com", ns_t_a, buf), 0);
  EXPECT_EQ(server_.log().back().transport, "tcp");
}

TEST_F(FakeDnsServerTest, DigInteroperates) {
  if (std::system("command -v dig >/dev/null 2>&1") != 0) GTEST_SKIP() << "dig is not installed (bind9-dnsutils)";
  std::string cmd = "dig @127.0.0.1 -p " + std::to_string(port()) + " +time=2 +tries=1 +short MX example.com";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  EXPECT_EQ(::pclose(p), 0);
  EXPECT_EQ(out, "10 mail.example.com.\n20 backup.example.com.\n");
  cmd = "dig @127.0.0.1 -p " + std::to_string(port()) + " +time=2 +tries=1 +tcp nosuch.example.com A";
  p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  out.clear();
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  ::pclose(p);
  EXPECT_NE(out.find("status: NXDOMAIN"), std::string::npos) << out;
  EXPECT_NE(out.find("flags: qr aa rd ra"), std::string::npos) << out;
  EXPECT_NE(out.find("example.com.\t\t60\tIN\tSOA\tns.example.com. hostmaster.example.com."), std::string::npos) << out;
  // dig's own EDNS0 (1232) lets the big answer through UDP.
  cmd = "dig @127.0.0.1 -p " + std::to_string(port()) + " +time=2 +tries=1 +short TXT big.test";
  p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  int lines = 0;
  while (std::fgets(buf, sizeof buf, p)) ++lines;
  ::pclose(p);
  EXPECT_EQ(lines, 12);
}

TEST_F(FakeDnsServerTest, FaultsOverTheWire) {
  server_.set_faults({
      Fault{"example.com", "MX", FaultKind::servfail, 2, 0},
      Fault{"mail.example.com", "A", FaultKind::drop, 1, 0},
      Fault{"backup.example.com", "A", FaultKind::delay, 0, 300},
      Fault{"example.com", "TXT", FaultKind::truncate, 0, 0},
  });
  EXPECT_EQ(q("example.com", w::t_mx).header.rcode, w::servfail);
  EXPECT_EQ(q("example.com", w::t_mx, opts(true)).header.rcode, w::servfail);
  EXPECT_EQ(q("example.com", w::t_mx).answers.size(), 2u);  // "SERVFAIL twice, then the record"

  EXPECT_THROW(q("mail.example.com", w::t_a, opts(false, 300)), std::runtime_error);
  EXPECT_EQ(q("mail.example.com", w::t_a).answers.size(), 1u);

  double t0 = now_s();
  auto d = q("backup.example.com", w::t_a);
  double took = now_s() - t0;
  EXPECT_EQ(d.answers.size(), 1u);
  EXPECT_GE(took, 0.29);
  EXPECT_LT(took, 1.5);
  // A delayed UDP answer does not hold up the others: the query sent after
  // it is answered first.
  double slow_done = 0;
  std::thread slow([&] {
    q("backup.example.com", w::t_a);
    slow_done = now_s();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  q("example.com", w::t_mx);
  const double fast_done = now_s();
  slow.join();
  EXPECT_LT(fast_done, slow_done);

  auto tc = q("example.com", w::t_txt);
  EXPECT_TRUE(tc.header.tc);
  EXPECT_EQ(q("example.com", w::t_txt, opts(true)).answers.size(), 1u);

  auto log = server_.log();
  ASSERT_GE(log.size(), 6u);
  EXPECT_EQ(log[0].result, "SERVFAIL");
  EXPECT_EQ(log[1].result, "SERVFAIL");
  EXPECT_EQ(log[1].transport, "tcp");
  EXPECT_EQ(log[2].result, "NOERROR");
  EXPECT_EQ(log[3].result, "DROPPED");
  EXPECT_EQ(log[4].result, "NOERROR");
}

TEST_F(FakeDnsServerTest, DozensOfConcurrentClients) {
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 40; ++i)
    ts.emplace_back([&, i] {
      for (int k = 0; k < 10; ++k) {
        try {
          auto m = q(k % 2 ? "example.com" : "mail.example.com", k % 2 ? w::t_mx : w::t_a,
                     opts((i + k) % 3 == 0, 5000));
          (m.answers.empty() ? bad : ok)++;
        } catch (const std::exception&) {
          bad++;
        }
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 400);
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(server_.log().size(), 400u);
}

TEST(FakeDnsServerLifeTest, BindFailureIsASystemError) {
  Server a(ZoneSet{});
  a.start("127.0.0.1", 0);
  Server b(ZoneSet{});
  EXPECT_THROW(b.start("127.0.0.1", a.port()), std::system_error);
  EXPECT_THROW(b.start("not-an-address", 0), std::system_error);
  a.stop();
  a.stop();  // idempotent
  // The port is free again.
  Server c(ZoneSet{});
  EXPECT_NO_THROW(c.start("127.0.0.1", 0));
}

TEST(FakeDnsServerLifeTest, StopWithOpenConnectionsAndPendingDelays) {
  auto zs = parse_zone_text("x.test A 192.0.2.1\n!fault x.test A delay ms=5000\n", "z");
  Server s(zs);
  s.start("127.0.0.1", 0);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(s.port());
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  std::thread t([&] { EXPECT_THROW(query("127.0.0.1", s.port(), "x.test", w::t_a, opts(false, 400)), std::runtime_error); });
  t.join();
  double t0 = now_s();
  s.stop();
  EXPECT_LT(now_s() - t0, 1.0);
  ::close(fd);
}

TEST(DnsMainTest, ServesAZoneFileUntilSigterm) {
  std::string dir_s = temp_dir_template("mxlab-dns");
  char* dir = dir_s.data();
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string zone = std::string(dir) + "/lab.zone", logf = std::string(dir) + "/queries.log";
  std::ofstream(zone) << "$ORIGIN lab.test\n@ MX 10 mx\nmx A 127.0.0.9\n";
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::close(out[0]);
    std::string a0 = "dns", a2 = "--listen", a3 = "127.0.0.1:0", a4 = "--log";
    char* argv[] = {a0.data(), zone.data(), a2.data(), a3.data(), a4.data(), logf.data(), nullptr};
    ::_exit(dns_main(6, argv));
  }
  ::close(out[1]);
  FILE* f = ::fdopen(out[0], "r");
  char line[256] = {};
  ASSERT_NE(std::fgets(line, sizeof line, f), nullptr);
  std::string l = line;
  ASSERT_EQ(l.rfind("mxlab dns: listening on 127.0.0.1:", 0), 0u) << l;
  uint16_t port = static_cast<uint16_t>(std::atoi(l.c_str() + std::strlen("mxlab dns: listening on 127.0.0.1:")));
  auto m = query("127.0.0.1", port, "lab.test", w::t_mx);
  ASSERT_EQ(m.answers.size(), 1u);
  EXPECT_EQ(m.answers[0].data, "10 mx.lab.test.");
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::fclose(f);
  std::ifstream lf(logf);
  std::string logline;
  ASSERT_TRUE(std::getline(lf, logline));
  EXPECT_NE(logline.find(" udp 127.0.0.1:"), std::string::npos) << logline;
  EXPECT_NE(logline.find(" lab.test MX NOERROR answers=1"), std::string::npos) << logline;
  std::remove(logf.c_str());
  std::remove(zone.c_str());
  ::rmdir(dir);
}

TEST(DnsMainTest, BadZoneFileIsReportedWithFileAndLine) {
  std::string dir_s = temp_dir_template("mxlab-dns");
  char* dir = dir_s.data();
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string zone = std::string(dir) + "/bad.zone";
  std::ofstream(zone) << "ok.test A 192.0.2.1\nbad.test A 999.0.0.1\n";
  int err[2];
  ASSERT_EQ(::pipe(err), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(err[1], 2);
    std::string a0 = "dns", a2 = "--listen", a3 = "127.0.0.1:0";
    char* argv[] = {a0.data(), zone.data(), a2.data(), a3.data(), nullptr};
    ::_exit(dns_main(4, argv));
  }
  ::close(err[1]);
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = ::read(err[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(err[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 65);
  EXPECT_EQ(text, "mxlab dns: " + zone + ":2: A bad IPv4 address \"999.0.0.1\"\n");
  std::remove(zone.c_str());
  ::rmdir(dir);
}
