#include "core/maps.hpp"

#include "core/main_cf.hpp"
#include "util/safe_io.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

using namespace mta::core;

TEST(MapsTest, HashDbRoundTripAndReloadOnChange) {
  char t[] = "/tmp/mxmapsXXXXXX";
  std::string d = ::mkdtemp(t);
  std::string src = d + "/aliases";
  write_hash_db(hash_db_path(src), {{"sales", "alice, bob"}, {"weird:key", "v\nwith newline"}});
  auto tab = open_table("hash:" + src);
  EXPECT_EQ(tab->lookup("sales"), "alice, bob");
  EXPECT_EQ(tab->lookup("weird:key"), "v\nwith newline");
  EXPECT_FALSE(tab->lookup("nobody"));
  write_hash_db(hash_db_path(src), {{"sales", "carol"}, {"support", "dave"}});
  EXPECT_EQ(tab->lookup("sales"), "carol");
  EXPECT_EQ(tab->lookup("support"), "dave");
  std::system(("rm -rf " + d).c_str());
}

TEST(MapsTest, DamagedDbIsAnError) {
  char t[] = "/tmp/mxmapsXXXXXX";
  std::string d = ::mkdtemp(t);
  ASSERT_FALSE(mta::util::write_file_atomic(d + "/x.db", "MXDB1\n5:sales3:ab", 0644));
  EXPECT_THROW(read_hash_db(d + "/x.db"), ConfigError);
  ASSERT_FALSE(mta::util::write_file_atomic(d + "/y.db", "garbage", 0644));
  EXPECT_THROW(read_hash_db(d + "/y.db"), ConfigError);
  EXPECT_THROW(open_table("hash:" + d + "/missing"), ConfigError);
  EXPECT_NO_THROW(open_table("hash:" + d + "/missing", true));
  std::system(("rm -rf " + d).c_str());
}

TEST(MapsTest, InlineStaticAndUnsupported) {
  auto t = open_table("inline:{ example.com=smtp:[mx1.example.com], { b = c d } }");
  EXPECT_EQ(t->lookup("example.com"), "smtp:[mx1.example.com]");
  EXPECT_EQ(t->lookup("b"), "c d");
  EXPECT_EQ(open_table("static:{x y}")->lookup("anything"), "x y");
  EXPECT_THROW(open_table("nis:mail.aliases"), ConfigError);
  EXPECT_THROW(open_table("noType"), ConfigError);
}

TEST(MapsTest, PasswdKnowsRoot) {
  auto t = open_table("proxy:unix:passwd.byname");
  auto v = t->lookup("root");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->substr(0, 7), "root:x:");
  EXPECT_FALSE(t->lookup("no-such-user-xyz"));
}

TEST(MapsTest, TextTable) {
  std::vector<std::string> w;
  auto e = parse_text_table("# c\nexample.com smtp:[a]\n  :25\nbad\n", "f", &w);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].second, "smtp:[a] :25");
  ASSERT_EQ(w.size(), 1u);
}
