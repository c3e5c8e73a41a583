#include "core/aliases.hpp"

#include <gtest/gtest.h>

using namespace mta::core;

TEST(AliasesTest, NameValueContinuationAndComments) {
  std::vector<std::string> w;
  auto e = parse_aliases(
      "# system aliases\n"
      "postmaster: root\n"
      "team: alice,\n"
      "   # a comment inside the continuation does not end it\n"
      "\n"
      "   bob\n"
      "Sales :  Carol ,dave@example.net\n",
      "/etc/aliases", &w);
  EXPECT_TRUE(w.empty());
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].name, "postmaster");
  EXPECT_EQ(e[0].value, "root");
  EXPECT_EQ(e[0].line, 2);
  EXPECT_EQ(e[1].name, "team");
  EXPECT_EQ(e[1].value, "alice, bob");
  EXPECT_EQ(e[1].line, 6);  // Postfix counts the last physical line
  EXPECT_EQ(e[2].name, "sales");  // keys are lower-cased
  EXPECT_EQ(e[2].value, "Carol, dave@example.net");
}

TEST(AliasesTest, QuotedNamesAndValues) {
  std::vector<std::string> w;
  auto e = parse_aliases(
      "\"odd name\": alice\n"
      "\"a:b\": bob\n"
      "vac: \"|/usr/bin/vacation alice, bob\", alice\n",
      "aliases", &w);
  EXPECT_TRUE(w.empty());
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].name, "odd name");
  EXPECT_EQ(e[1].name, "a:b");  // the ':' inside quotes is part of the name
  EXPECT_EQ(e[2].value, "\"|/usr/bin/vacation alice, bob\", alice");
  auto t = parse_alias_value(e[2].value);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].kind, AliasTargetKind::command);
  EXPECT_EQ(t[0].text, "/usr/bin/vacation alice, bob");
  EXPECT_EQ(t[1].kind, AliasTargetKind::address);
  EXPECT_EQ(t[1].text, "alice");
}

TEST(AliasesTest, MalformedLinesAreWarnedAndSkipped) {
  std::vector<std::string> w;
  auto e = parse_aliases(
      "good: alice\n"
      "no colon here\n"
      ": nothing before\n"
      "empty:\n"
      "a, b: multi-address key\n"
      "user@remote.example: alice\n"
      "  stray continuation\n"
      "last: bob\n",
      "/etc/aliases", &w);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].name, "good");
  EXPECT_EQ(e[1].name, "last");
  ASSERT_EQ(w.size(), 5u);
  EXPECT_EQ(w[0], "/etc/aliases, line 2: need name:value pair");
  EXPECT_EQ(w[1], "/etc/aliases, line 3: need name:value pair");
  EXPECT_EQ(w[2], "/etc/aliases, line 4: need name:value pair");
  EXPECT_EQ(w[3], "/etc/aliases, line 5: need name:value pair");
  // The stray continuation belongs to the remote-name line, so line 7.
  EXPECT_EQ(w[4], "/etc/aliases, line 7: name must be local");
}

TEST(AliasesTest, LeadingContinuationIsDropped) {
  std::vector<std::string> w;
  auto e = parse_aliases("   orphan\nx: y\n", "f", &w);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].name, "x");
}

TEST(AliasesTest, DuplicatesFirstKept) {
  std::vector<std::string> w;
  auto e = parse_aliases("sales: alice\nsupport: carol\nSALES: bob\n", "/etc/aliases", &w);
  ASSERT_EQ(e.size(), 3u);
  auto t = alias_table(e, "/etc/aliases.db", &w);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "/etc/aliases.db: duplicate entry: \"sales\"");
  EXPECT_EQ(t.at("sales"), "alice");
  EXPECT_EQ(t.at("support"), "carol");
}

TEST(AliasesTest, ValueKinds) {
  auto t = parse_alias_value(
      "/var/mail/archive, /srv/maildir/, ~/inbox, |/bin/cat, \":include:/etc/mail/list\", "
      ":include: /etc/other, \\alice, Bob Smith <bob@example.com>, carol (Carol C.), , "
      "\"odd name\"@example.com");
  ASSERT_EQ(t.size(), 10u);
  EXPECT_EQ(t[0].kind, AliasTargetKind::file);
  EXPECT_EQ(t[0].text, "/var/mail/archive");
  EXPECT_EQ(t[1].kind, AliasTargetKind::file);
  EXPECT_EQ(t[1].text, "/srv/maildir/");
  EXPECT_EQ(t[2].kind, AliasTargetKind::file);
  EXPECT_EQ(t[2].text, "~/inbox");
  EXPECT_EQ(t[3].kind, AliasTargetKind::command);
  EXPECT_EQ(t[3].text, "/bin/cat");
  EXPECT_EQ(t[4].kind, AliasTargetKind::include);
  EXPECT_EQ(t[4].text, "/etc/mail/list");
  EXPECT_EQ(t[5].kind, AliasTargetKind::include);
  EXPECT_EQ(t[5].text, "/etc/other");
  EXPECT_EQ(t[6].kind, AliasTargetKind::address);
  EXPECT_TRUE(t[6].no_expand);
  EXPECT_EQ(t[6].text, "alice");
  EXPECT_EQ(t[7].text, "bob@example.com");
  EXPECT_EQ(t[8].text, "carol");  // the comment is dropped
  EXPECT_EQ(t[9].kind, AliasTargetKind::address);
  EXPECT_EQ(t[9].text, "\"odd name\"@example.com");  // addresses keep their quotes
}

TEST(AliasesTest, ForwardFileIsLineByLine) {
  auto t = parse_forward_file("# my forward\nalice@example.com\n\"|/usr/bin/procmail\"\r\n  # indented is not a comment\nbob, carol\n");
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[0].text, "alice@example.com");
  EXPECT_EQ(t[1].kind, AliasTargetKind::command);
  EXPECT_EQ(t[1].text, "/usr/bin/procmail");
  EXPECT_EQ(t[2].text, "# indented is not a comment");
  EXPECT_EQ(t[3].text, "bob");
  EXPECT_EQ(t[4].text, "carol");
}

TEST(AliasesTest, KeyIsUnquotedAndLowerCased) {
  EXPECT_EQ(alias_key("Sales"), "sales");
  EXPECT_EQ(alias_key("\"Odd Name\""), "odd name");
}
