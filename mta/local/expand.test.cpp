#include "local/expand.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace mta::local;

namespace {
AttrLookup table(std::map<std::string, std::string> m) {
  return [m](std::string_view n) -> std::optional<std::string> {
    auto it = m.find(std::string(n));
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}
}  // namespace

TEST(ExpandTest, ForwardPathDefault) {
  const char* fp = "$home/.forward${recipient_delimiter}${extension}";
  auto with_ext = table({{"home", "/home/alice"}, {"recipient_delimiter", "+"}, {"extension", "lists"}});
  auto r = local_expand(fp, with_ext, "");
  EXPECT_EQ(r.text, "/home/alice/.forward+lists");
  EXPECT_FALSE(r.undefined);
  EXPECT_TRUE(r.extension_matched);
  // No extension: the entry is undefined and local(8) skips it.
  r = local_expand(fp, table({{"home", "/home/alice"}}), "");
  EXPECT_TRUE(r.undefined);
}

TEST(ExpandTest, ConditionalsAndDollar) {
  auto t = table({{"user", "alice"}, {"extension", "x"}, {"domain", ""}});
  EXPECT_EQ(local_expand("${extension?+$extension}", t, "").text, "+x");
  EXPECT_EQ(local_expand("${domain:none}", t, "").text, "none");
  EXPECT_EQ(local_expand("${shell?{has}:{no shell}}", t, "").text, "no shell");
  EXPECT_EQ(local_expand("cost $$5 for $(user)", t, "").text, "cost $5 for alice");
  EXPECT_FALSE(local_expand("${extension?x}", t, "").extension_matched);  // a test is not a use
  EXPECT_TRUE(local_expand("${unbalanced", t, "").error);
}

TEST(ExpandTest, FilterAppliesToValuesOnly) {
  auto t = table({{"user", "al ice;rm"}});
  EXPECT_EQ(local_expand("/x y/$user", t, "abcdefghijklmnopqrstuvwxyz").text, "/x y/al_ice_rm");
}
