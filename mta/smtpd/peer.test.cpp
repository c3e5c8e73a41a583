#include "smtpd/peer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

using namespace mta;
using smtpd::HostsNameCache;

class HostsNameCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char t[] = "/tmp/mxpeerXXXXXX";
    etc_ = ::mkdtemp(t);
    write("nsswitch.conf", "passwd: files\nhosts:          files dns   # comment\n");
    write("hosts", "# local\n127.0.0.1 localhost\n127.0.0.1 other\n10.0.0.5\tbox.example box\n::1 ip6-localhost\n");
  }
  void TearDown() override { std::system(("rm -rf " + etc_).c_str()); }
  void write(const std::string& name, const std::string& text) { std::ofstream(etc_ + "/" + name) << text; }
  static core::IpAddr ip(const char* s) { return *core::IpAddr::parse(s); }

  std::string etc_;
};

TEST_F(HostsNameCacheTest, RemembersNamesThatComeFromEtcHosts) {
  HostsNameCache c(etc_);
  EXPECT_FALSE(c.find(ip("127.0.0.1"))) << "nothing is known before a lookup";
  c.learn(ip("127.0.0.1"), "localhost");
  c.learn(ip("10.0.0.5"), "box.example");
  c.learn(ip("::1"), "ip6-localhost");
  EXPECT_EQ(c.find(ip("127.0.0.1")).value_or("-"), "localhost");
  EXPECT_EQ(c.find(ip("::ffff:127.0.0.1")).value_or("-"), "localhost") << "IPv4-mapped clients too";
  EXPECT_EQ(c.find(ip("10.0.0.5")).value_or("-"), "box.example");
  EXPECT_EQ(c.find(ip("::1")).value_or("-"), "ip6-localhost");
}

TEST_F(HostsNameCacheTest, AnswersFromElsewhereAreNotRemembered) {
  HostsNameCache c(etc_);
  c.learn(ip("192.0.2.7"), "mail.example");  // not in /etc/hosts: came from DNS
  c.learn(ip("10.0.0.5"), "box");             // not the first line's canonical name
  c.learn(ip("127.0.0.1"), "unknown");        // forward confirmation failed
  EXPECT_FALSE(c.find(ip("192.0.2.7")));
  EXPECT_FALSE(c.find(ip("10.0.0.5")));
  EXPECT_FALSE(c.find(ip("127.0.0.1")));
}

TEST_F(HostsNameCacheTest, AChangedFileEmptiesTheCache) {
  HostsNameCache c(etc_);
  c.learn(ip("127.0.0.1"), "localhost");
  ASSERT_TRUE(c.find(ip("127.0.0.1")));
  write("hosts", "127.0.0.1 renamed.example localhost\n");
  EXPECT_FALSE(c.find(ip("127.0.0.1")));
  c.learn(ip("127.0.0.1"), "localhost");
  EXPECT_FALSE(c.find(ip("127.0.0.1"))) << "no longer what /etc/hosts says";
  c.learn(ip("127.0.0.1"), "renamed.example");
  EXPECT_EQ(c.find(ip("127.0.0.1")).value_or("-"), "renamed.example");
  write("host.conf", "multi on\n");
  EXPECT_FALSE(c.find(ip("127.0.0.1"))) << "host.conf decides forward confirmation";
}

// probably_known() answers from memory, without checking the files: smtpd
// uses it to decide whether the greeting may go before the lookup.
TEST_F(HostsNameCacheTest, ProbablyKnownAnswersFromMemory) {
  HostsNameCache c(etc_);
  EXPECT_FALSE(c.probably_known(ip("127.0.0.1"))) << "nothing loaded yet";
  c.learn(ip("127.0.0.1"), "localhost");
  c.learn(ip("192.0.2.7"), "mail.example");
  EXPECT_TRUE(c.probably_known(ip("127.0.0.1")));
  EXPECT_TRUE(c.probably_known(ip("::ffff:127.0.0.1")));
  EXPECT_FALSE(c.probably_known(ip("192.0.2.7"))) << "a DNS answer";
  write("hosts", "127.0.0.1 renamed.example\n");
  EXPECT_TRUE(c.probably_known(ip("127.0.0.1"))) << "the change is not seen until find()";
  EXPECT_FALSE(c.find(ip("127.0.0.1")));
  EXPECT_FALSE(c.probably_known(ip("127.0.0.1")));
}

TEST_F(HostsNameCacheTest, OnlyWhenFilesComeFirst) {
  for (const char* ns : {"hosts: dns files\n", "hosts: files [NOTFOUND=return] dns\n", "passwd: files\n"}) {
    write("nsswitch.conf", ns);
    HostsNameCache c(etc_);
    c.learn(ip("127.0.0.1"), "localhost");
    EXPECT_FALSE(c.find(ip("127.0.0.1"))) << ns;
  }
  ::unlink((etc_ + "/nsswitch.conf").c_str());
  HostsNameCache c(etc_);
  c.learn(ip("127.0.0.1"), "localhost");
  EXPECT_FALSE(c.find(ip("127.0.0.1"))) << "glibc's default without nsswitch.conf asks DNS first";
}

// The real lookup and the cache agree on this machine's 127.0.0.1.
TEST_F(HostsNameCacheTest, SystemLookupOfLoopback) {
  HostsNameCache c;
  auto a = ip("127.0.0.1");
  std::string name = smtpd::lookup_client_name(a);
  c.learn(a, name);
  auto hit = c.find(a);
  if (hit) {
    EXPECT_EQ(*hit, name);
  }
}
