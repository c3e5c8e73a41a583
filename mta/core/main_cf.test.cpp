#include "core/main_cf.hpp"

#include <gtest/gtest.h>

using namespace mta::core;

TEST(MainCfTest, ContinuationLinesJoinWithOneSpace) {
  // Observed on Postfix 3.7: "a,"/"   b,"/"  c"/"\td" -> "a, b, c d"
  auto e = parse_main_cf("x = a,\n   b,\n  c\n\td\n", "main.cf", nullptr);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].value, "a, b, c d");
}

TEST(MainCfTest, CommentsAndBlankLinesDoNotEndContinuation) {
  auto e = parse_main_cf("x = a\n# comment\n\n    # indented comment\n  b\ny = 1\n", "main.cf", nullptr);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].value, "a b");
  EXPECT_EQ(e[1].name, "y");
  EXPECT_EQ(e[1].line, 6);
}

TEST(MainCfTest, HashAfterValueIsData) {
  auto e = parse_main_cf("alias_maps = hash:/etc/aliases # x\n", "main.cf", nullptr);
  EXPECT_EQ(e[0].value, "hash:/etc/aliases # x");
}

TEST(MainCfTest, EmptyValueAndWhitespaceAroundEquals) {
  auto e = parse_main_cf("mydestination =\nrelayhost=   [a]:25   \n", "main.cf", nullptr);
  EXPECT_EQ(e[0].value, "");
  EXPECT_EQ(e[1].value, "[a]:25");
}

TEST(MainCfTest, LastDefinitionWinsWithWarning) {
  std::vector<std::string> w;
  auto e = parse_main_cf("mynetworks = 127.0.0.0/8\nmynetworks = 10.0.0.0/8\n", "/etc/mxmta/main.cf", &w);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].value, "10.0.0.0/8");
  EXPECT_EQ(e[0].line, 2);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "/etc/mxmta/main.cf, line 2: overriding earlier entry: mynetworks=127.0.0.0/8");
}

TEST(MainCfTest, MissingEqualsIsFatalWithLine) {
  try {
    parse_main_cf("a = 1\n\nbad line\n", "/etc/mxmta/main.cf", nullptr);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/etc/mxmta/main.cf, line 3: missing '=' after attribute name: \"bad line\"");
  }
  EXPECT_THROW(parse_main_cf("=x\n", "f", nullptr), ConfigError);
}

TEST(MainCfTest, LeadingWhitespaceWithoutEntryWarnsAndIsIgnored) {
  std::vector<std::string> w;
  auto e = parse_main_cf("  x = y\nz = 1\n", "/m", &w);
  ASSERT_EQ(e.size(), 1u);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "/m: logical line must not start with whitespace: \"  x = y\"");
}

TEST(MainCfEditorTest, SetReplacesInPlaceDroppingContinuations) {
  MainCfEditor ed("/m", {"# head", "myorigin = a", "   b", "other = 1"});
  EXPECT_EQ(ed.set("myorigin", "example.com"), 1);
  EXPECT_EQ(ed.text(), "# head\nmyorigin = example.com\nother = 1\n");
  EXPECT_EQ(ed.set("newname", "v"), 0);
  EXPECT_EQ(ed.text(), "# head\nmyorigin = example.com\nother = 1\nnewname = v\n");
}

TEST(MainCfEditorTest, CommentOutAndRemove) {
  MainCfEditor ed("/m", {"relayhost = r", "  cont", "x = 1"});
  EXPECT_EQ(ed.comment_out("relayhost"), 1);
  EXPECT_EQ(ed.text(), "#relayhost = r\n#  cont\nx = 1\n");
  MainCfEditor ed2("/m", {"relayhost = r", "  cont", "x = 1"});
  EXPECT_EQ(ed2.remove("relayhost"), 1);
  EXPECT_EQ(ed2.text(), "x = 1\n");
}
