#include "dns/resolv_conf.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

using namespace mta::dns;

TEST(ResolvConfTest, NameserversAndOptions) {
  std::vector<std::string> w;
  auto rc = parse_resolv_conf(
      "# lab resolver\n"
      "search lab.example\n"
      "nameserver 127.0.0.53\n"
      "nameserver fe80::1%eth0   # link-local with a scope\n"
      "options timeout:1 attempts:3 rotate ndots:2\n",
      "resolv.conf", &w);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(rc.nameservers, (std::vector<std::string>{"127.0.0.53", "fe80::1"}));
  EXPECT_EQ(rc.timeout_sec, 1);
  EXPECT_EQ(rc.attempts, 3);
  EXPECT_TRUE(rc.rotate);
}

TEST(ResolvConfTest, DefaultsAndLimitsAsGlibc) {
  auto rc = parse_resolv_conf("", "resolv.conf");
  EXPECT_EQ(rc.nameservers, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(rc.timeout_sec, 5);
  EXPECT_EQ(rc.attempts, 2);
  EXPECT_FALSE(rc.rotate);

  std::vector<std::string> w;
  rc = parse_resolv_conf(
      "nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n"
      "options timeout:99 attempts:9\n",
      "rc", &w);
  EXPECT_EQ(rc.nameservers.size(), 3u);
  EXPECT_EQ(rc.timeout_sec, 30);
  EXPECT_EQ(rc.attempts, 5);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "rc, line 4: too many nameservers, ignoring 10.0.0.4");
}

TEST(ResolvConfTest, BadLinesAreWarningsWithFileAndLine) {
  std::vector<std::string> w;
  auto rc = parse_resolv_conf("nameserver ns.example\noptions timeout:x attempts:0\nnameserver\n", "/etc/rc", &w);
  EXPECT_EQ(rc.nameservers, std::vector<std::string>{"127.0.0.1"});
  EXPECT_EQ(rc.timeout_sec, 5);
  EXPECT_EQ(rc.attempts, 2);
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0], "/etc/rc, line 1: bad nameserver address: ns.example");
  EXPECT_EQ(w[1], "/etc/rc, line 2: bad option value: timeout:x");
  EXPECT_EQ(w[2], "/etc/rc, line 2: bad option value: attempts:0");
  EXPECT_EQ(w[3], "/etc/rc, line 3: nameserver without an address");
}

TEST(ResolvConfTest, ReadsAFileAndToleratesAMissingOne) {
  char dir[] = "/tmp/mxresolvXXXXXX";
  ASSERT_TRUE(::mkdtemp(dir));
  std::string path = std::string(dir) + "/resolv.conf";
  std::ofstream(path) << "nameserver 192.0.2.53\noptions attempts:1\n";
  auto rc = read_resolv_conf(path);
  EXPECT_EQ(rc.nameservers, std::vector<std::string>{"192.0.2.53"});
  EXPECT_EQ(rc.attempts, 1);
  std::vector<std::string> w;
  rc = read_resolv_conf(std::string(dir) + "/absent", &w);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(rc.nameservers, std::vector<std::string>{"127.0.0.1"});
  std::system(("rm -rf " + std::string(dir)).c_str());
}
