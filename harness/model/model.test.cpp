// Parsers of topology, adapter and case files: the good shapes and every
// error path, each reported as FILE:LINE: reason.
#include "model/adapter.hpp"
#include "model/case.hpp"
#include "model/text.hpp"
#include "model/topology.hpp"
#include "model/xml.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace mxlab::model {
namespace {

namespace fs = std::filesystem;

class ModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mxlab-model-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/harness");
    fs::create_directories(dir_ + "/fixtures/topologies");
    fs::create_directories(dir_ + "/suites/a");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string put(const std::string& rel, const std::string& text) {
    std::string p = dir_ + "/" + rel;
    fs::create_directories(fs::path(p).parent_path());
    write_file(p, text);
    return p;
  }
  // The message of the ParseError thrown by f, or "" if none.
  template <class F>
  std::string error_of(F f) {
    try {
      f();
    } catch (const ParseError& e) {
      return e.what();
    }
    return "";
  }
  std::string good_topology() {
    return put("fixtures/topologies/t.xml", R"(<topology name="t" start="2026-11-28 06:00:00">
  <dns address="192.168.0.53"><![CDATA[
$ORIGIN example.com
example.com MX 10 mail.example.com.
]]></dns>
  <host name="Mail.Example.com" address="192.168.0.25" role="inbound">
    <user name="alice"/>
    <user name="bob" uid="2000"/>
    <aliases>
      sales: alice, bob
    </aliases>
    <main-cf>smtpd_banner = $myhostname ESMTP</main-cf>
  </host>
  <peer name="mx.outside.test" address="203.0.113.25">
CONNECT 421 4.3.2 busy x2; 220 mx ESMTP
  </peer>
  <client name="outside" address="203.0.113.7"/>
</topology>
)");
  }
  std::string dir_;
};

TEST_F(ModelTest, TopologyParsesEveryPart) {
  Topology t = load_topology(good_topology());
  EXPECT_EQ(t.name, "t");
  int64_t want = 0;
  ASSERT_TRUE(parse_date("2026-11-28T06:00:00Z", want));
  EXPECT_EQ(t.start, want);
  ASSERT_TRUE(t.dns.present);
  EXPECT_EQ(t.dns.address, "192.168.0.53");
  EXPECT_EQ(t.dns.zone_line, 2);  // the CDATA starts on line 2
  ASSERT_EQ(t.hosts.size(), 1u);
  const Host& h = t.hosts[0];
  EXPECT_EQ(h.name, "mail.example.com");
  EXPECT_EQ(h.users.size(), 2u);
  EXPECT_EQ(h.users[0].uid, 1001);
  EXPECT_EQ(h.users[1].uid, 2000);
  EXPECT_EQ(h.aliases, "sales: alice, bob\n");
  ASSERT_NE(h.config("main.cf"), nullptr);
  EXPECT_EQ(h.config("main.cf")->extra, "smtpd_banner = $myhostname ESMTP\n");
  ASSERT_EQ(t.peers.size(), 1u);
  EXPECT_EQ(t.peers[0].port, 25u);
  EXPECT_EQ(t.peers[0].rules_line, 14);  // the text starts right after <peer ...>
  EXPECT_EQ(t.lab_addresses(), (std::vector<std::string>{"192.168.0.53", "203.0.113.25", "203.0.113.7"}));
  EXPECT_EQ(t.host_by_address("192.168.0.25"), &t.hosts[0]);
  EXPECT_FALSE(t.loopback_only());
}

TEST_F(ModelTest, TopologyErrorsCarryFileAndLine) {
  auto p = put("x.xml", "<topology name=\"t\">\n  <host name=\"a\" address=\"10.0.0.1\">\n</topology>\n");
  std::string e = error_of([&] { load_topology(p); });
  EXPECT_NE(e.find(p + ":3: malformed XML"), std::string::npos) << e;

  p = put("x.xml", "<topology name=\"t\">\n\n  <host name=\"a\" adress=\"10.0.0.1\"/>\n</topology>\n");
  e = error_of([&] { load_topology(p); });
  EXPECT_EQ(e, p + ":3: <host>: unknown attribute \"adress\"");

  p = put("x.xml", "<topology name=\"t\">\n  <host name=\"a\" address=\"10.0.0.300\"/>\n</topology>\n");
  EXPECT_EQ(error_of([&] { load_topology(p); }), p + ":2: <host>: not an IPv4 address: \"10.0.0.300\"");

  p = put("x.xml",
          "<topology name=\"t\">\n  <host name=\"a\" address=\"10.0.0.1\"/>\n  <client name=\"c\" address=\"10.0.0.1\"/>\n</topology>\n");
  EXPECT_EQ(error_of([&] { load_topology(p); }), p + ":3: address 10.0.0.1 is used twice in this topology");

  p = put("x.xml", "<topology name=\"t\">\n  <host name=\"a\" address=\"10.0.0.1\"/>\n  <host name=\"A\" address=\"10.0.0.2\"/>\n</topology>\n");
  EXPECT_EQ(error_of([&] { load_topology(p); }), p + ":3: duplicate name \"a\"");

  p = put("x.xml", "<topology name=\"t\" start=\"yesterday\">\n  <host name=\"a\" address=\"10.0.0.1\"/>\n</topology>\n");
  EXPECT_NE(error_of([&] { load_topology(p); }).find(p + ":1: <topology>: start is not a date"), std::string::npos);

  p = put("x.xml", "<topology name=\"t\">\n  <router name=\"a\"/>\n</topology>\n");
  EXPECT_NE(error_of([&] { load_topology(p); }).find(p + ":2: <topology>: unknown element <router>"), std::string::npos);

  p = put("x.xml", "<topology name=\"t\">\n  <dns address=\"10.0.0.53\" zone-file=\"nope.zone\"/>\n  <host name=\"a\" address=\"10.0.0.1\"/>\n</topology>\n");
  EXPECT_NE(error_of([&] { load_topology(p); }).find(p + ":2: <dns>: zone-file:"), std::string::npos);

  p = put("x.xml", "<topology name=\"t\">\n  <host name=\"a\" address=\"127.0.0.1\"/>\n</topology>\n");
  EXPECT_NE(error_of([&] { load_topology(p); }).find(":2: <host>: 127.0.0.1 is every host's own loopback"), std::string::npos);

  p = put("x.xml", "<topology name=\"t\">\n  <host name=\"a\" address=\"10.0.0.1\"><user name=\"a b\"/></host>\n</topology>\n");
  EXPECT_NE(error_of([&] { load_topology(p); }).find(":2: <user>: bad user name"), std::string::npos);

  p = put("x.xml", "<topology name=\"t\"/>\n");
  EXPECT_NE(error_of([&] { load_topology(p); }).find(":1: <topology>: no <host>"), std::string::npos);

  p = put("x.xml", "<case/>\n");
  EXPECT_NE(error_of([&] { load_topology(p); }).find(":1: root element must be <topology>"), std::string::npos);

  EXPECT_NE(error_of([&] { load_topology(dir_ + "/missing.xml"); }).find("missing.xml: No such file"), std::string::npos);
}

TEST_F(ModelTest, AdapterParsesAndRejects) {
  auto p = put("harness/adapters/x.xml", R"(<adapter name="x" binary="mxmta">
  <capabilities>clock mbox</capabilities>
  <config dir="/etc/mxmta">
    <file name="main.cf" template="{repo}/fixtures/roles/{role}/main.cf">myhostname = {hostname}</file>
  </config>
  <mount path="/var/spool/mxmta"/>
  <start foreground="true" ready-timeout="20s">{bin} -c {confdir} start-fg</start>
  <queue parser="postqueue-json">{bin} postqueue -c {confdir} -j</queue>
  <submit>{bin} sendmail -c {confdir} {args}</submit>
  <mailbox format="mbox" path="/var/mail/{user}"/>
</adapter>
)");
  Adapter a = load_adapter(p);
  EXPECT_EQ(a.name, "x");
  EXPECT_TRUE(a.has_capability("clock"));
  EXPECT_FALSE(a.has_capability("maildir"));
  EXPECT_EQ(a.ready_timeout, 20);
  ASSERT_EQ(a.files.size(), 1u);
  EXPECT_EQ(substitute(a.files[0].text, {{"hostname", "h.example"}}), "myhostname = h.example\n");
  EXPECT_EQ(substitute("${x} {hostname} {nokey}", {{"hostname", "h"}}), "${x} h {nokey}");
  EXPECT_EQ(split_command("a 'b c' \"d \\\"e\\\"\"  f"), (std::vector<std::string>{"a", "b c", "d \"e\"", "f"}));

  p = put("x.xml", "<adapter name=\"x\">\n  <queue parser=\"mailq-text\">q</queue>\n  <start>s</start>\n</adapter>\n");
  EXPECT_NE(error_of([&] { load_adapter(p); }).find(":2: <queue>: unknown parser \"mailq-text\""), std::string::npos);
  p = put("x.xml", "<adapter name=\"x\">\n  <flush>f</flush>\n</adapter>\n");
  EXPECT_NE(error_of([&] { load_adapter(p); }).find(":1: <adapter>: no <start> command"), std::string::npos);
  p = put("x.xml", "<adapter name=\"x\">\n  <start>s 'unterminated</start>\n</adapter>\n");
  EXPECT_NE(error_of([&] { load_adapter(p); }).find(":2: unterminated quote"), std::string::npos);
  p = put("x.xml", "<adapter name=\"x\">\n  <start foreground=\"maybe\">s</start>\n</adapter>\n");
  EXPECT_NE(error_of([&] { load_adapter(p); }).find(":2: <start>: attribute \"foreground\" must be true or false"), std::string::npos);
}

TEST_F(ModelTest, CaseParsesStepsAndChecks) {
  good_topology();
  auto p = put("suites/a/one.xml", R"(<case id="a.one" area="a" rfc="5321#3.6.2" requires="clock" xfail="exim">
  <summary>One of everything</summary>
  <topology ref="fixtures/topologies/t.xml"/>
  <dialog host="mail.example.com" from="outside"><![CDATA[
<~ 220
-> EHLO x
<- 250-mail.example.com
<- 250 PIPELINING
]]></dialog>
  <sendmail host="mail.example.com" args="alice">
    Subject: hi

    body
  </sendmail>
  <advance by="1h30m"/>
  <advance-to date="2026-11-29 06:00:00"/>
  <wait-until timeout="20s"><mailbox host="mail.example.com" user="alice" count="1"/></wait-until>
  <verify>
    <mailbox host="mail.example.com" user="alice"><header name="Subject" equals="hi"/></mailbox>
    <dns><query name="example.com" type="MX"/><query name="mail.example.com" type="A"/></dns>
    <accounted/>
  </verify>
</case>
)");
  Case c = load_case(p);
  EXPECT_EQ(c.id, "a.one");
  EXPECT_EQ(c.tags, std::vector<std::string>{"rfc5321#3.6.2"});
  EXPECT_EQ(c.requires_, std::vector<std::string>{"clock"});
  EXPECT_EQ(c.xfail, std::vector<std::string>{"exim"});
  EXPECT_EQ(fs::path(c.topology_path), fs::path(dir_) / "fixtures/topologies/t.xml");
  ASSERT_EQ(c.steps.size(), 6u);
  EXPECT_EQ(c.steps[0].kind, StepKind::dialog);
  ASSERT_EQ(c.steps[0].script.directives.size(), 3u);
  EXPECT_EQ(c.steps[0].script.directives[0].line, 5);
  EXPECT_EQ(c.steps[0].script.directives[2].lines.size(), 2u);
  EXPECT_EQ(c.steps[1].text, "Subject: hi\n\nbody\n");
  EXPECT_EQ(c.steps[2].seconds, 5400);
  EXPECT_EQ(c.steps[4].seconds, 20);
  ASSERT_EQ(c.steps[5].checks.size(), 3u);
  EXPECT_EQ(c.steps[5].checks[0].children[0].attr("equals"), "hi");
  EXPECT_EQ(c.steps[5].checks[1].children.size(), 2u);
}

// <tool> in an adapter and <run> in a case: the good shape and the errors.
TEST_F(ModelTest, ToolsAndRunSteps) {
  auto p = put("harness/adapters/t.xml", R"(<adapter name="t" binary="mxmta">
  <start>{bin} start-fg</start>
  <tool name="postconf">{bin} postconf -c {confdir}</tool>
  <tool name="postfix">{bin} -c {confdir} {args}</tool>
</adapter>
)");
  Adapter a = load_adapter(p);
  ASSERT_EQ(a.tools.size(), 2u);
  EXPECT_EQ(a.tools.at("postconf"), "{bin} postconf -c {confdir}");
  p = put("x.xml",
          "<adapter name=\"x\">\n  <start>s</start>\n  <tool name=\"a\">x</tool>\n"
          "  <tool name=\"a\">y</tool>\n</adapter>\n");
  EXPECT_NE(error_of([&] { load_adapter(p); }).find(":4: <tool>: \"a\" is defined twice"), std::string::npos);
  p = put("x.xml", "<adapter name=\"x\">\n  <start>s</start>\n  <tool name=\"a b\">x</tool>\n</adapter>\n");
  EXPECT_NE(error_of([&] { load_adapter(p); }).find(":3: <tool>: name must be one word"), std::string::npos);

  good_topology();
  p = put("suites/a/run.xml", R"(<case id="a.run" area="a">
  <summary>run</summary>
  <topology ref="fixtures/topologies/t.xml"/>
  <run host="mail.example.com" command="postconf -e 'relayhost = [x]'" status="0" timeout="5s">
    <stdout equals=""/>
    <stderr matches="^postconf: warning" absent="true"/>
  </run>
</case>
)");
  Case c = load_case(p);
  ASSERT_EQ(c.steps.size(), 1u);
  EXPECT_EQ(c.steps[0].kind, StepKind::run);
  EXPECT_EQ(c.steps[0].attr("command"), "postconf -e 'relayhost = [x]'");
  EXPECT_EQ(c.steps[0].seconds, 5);
  ASSERT_EQ(c.steps[0].checks.size(), 2u);
  EXPECT_EQ(c.steps[0].checks[1].kind, "stderr");
  auto bad = [&](const std::string& body) {
    auto f = put("suites/a/bad.xml",
                 "<case id=\"a.bad\" area=\"a\">\n  <summary>s</summary>\n"
                 "  <topology ref=\"fixtures/topologies/t.xml\"/>\n" + body + "\n</case>\n");
    return error_of([&] { load_case(f); });
  };
  EXPECT_NE(bad("  <run host=\"mail.example.com\"/>").find(":4: <run>: missing attribute \"command\""),
            std::string::npos);
  EXPECT_NE(bad("  <run host=\"mail.example.com\" command=\"  \"/>").find(":4: <run>: attribute \"command\" is empty"),
            std::string::npos);
  EXPECT_NE(bad("  <run host=\"mail.example.com\" command=\"x 'y\"/>").find(":4: <run>: unterminated quote"),
            std::string::npos);
  EXPECT_NE(bad("  <run host=\"mail.example.com\" command=\"x\"><log host=\"h\" pattern=\"p\"/></run>")
                .find(":4: <run>: unexpected child <log>"), std::string::npos);
  EXPECT_NE(bad("  <run host=\"mail.example.com\" command=\"x\"><stdout/></run>")
                .find(":4: <stdout>: give exactly one of equals, contains, matches"), std::string::npos);
}

TEST_F(ModelTest, CaseErrorsCarryFileAndLine) {
  good_topology();
  const std::string head = "<case id=\"a.x\" area=\"a\">\n  <summary>s</summary>\n  <topology ref=\"fixtures/topologies/t.xml\"/>\n";
  auto bad = [&](const std::string& body) {
    auto p = put("suites/a/x.xml", head + body + "</case>\n");
    return std::make_pair(p, error_of([&] { load_case(p); }));
  };
  auto [p1, e1] = bad("  <dialog host=\"h\"><![CDATA[\n<~ 220\n-> EHLO x\n<= 250\n]]></dialog>\n");
  EXPECT_NE(e1.find(p1 + ":7: unknown dialog directive"), std::string::npos) << e1;
  auto [p2, e2] = bad("  <dialog host=\"h\"><![CDATA[\n<- 250-a\n-> X\n]]></dialog>\n");
  EXPECT_NE(e2.find(p2 + ":6: multi-line reply expectation is not finished"), std::string::npos) << e2;
  auto [p3, e3] = bad("  <advance by=\"soon\"/>\n");
  EXPECT_NE(e3.find(p3 + ":4: <advance>: attribute \"by\" is not a duration"), std::string::npos) << e3;
  auto [p4, e4] = bad("  <teleport host=\"h\"/>\n");
  EXPECT_NE(e4.find(p4 + ":4: <case>: unknown step <teleport>"), std::string::npos) << e4;
  auto [p5, e5] = bad("  <verify>\n    <mailbox host=\"h\" user=\"u\"><header name=\"X\" matches=\"(\"/></mailbox>\n  </verify>\n");
  EXPECT_NE(e5.find(p5 + ":5: <header>: bad regular expression"), std::string::npos) << e5;
  auto [p6, e6] = bad("  <verify>\n    <inbox host=\"h\"/>\n  </verify>\n");
  EXPECT_NE(e6.find(p6 + ":5: unknown assertion <inbox>"), std::string::npos) << e6;
  auto [p7, e7] = bad("  <verify><queue host=\"h\" count=\"two\"/></verify>\n");
  EXPECT_NE(e7.find(p7 + ":4: <queue>: count must be a number"), std::string::npos) << e7;
  auto [p8, e8] = bad("  <dialog host=\"h\"><![CDATA[\n=> \\xZZ\n]]></dialog>\n");
  EXPECT_NE(e8.find(p8 + ":5: raw bytes: \\x needs two hex digits"), std::string::npos) << e8;
  auto [p9, e9] = bad("  <sendmail host=\"h\"></sendmail>\n");
  EXPECT_NE(e9.find(p9 + ":4: <sendmail>: no message text"), std::string::npos) << e9;
  auto [p10, e10] = bad("  <verify><bounce host=\"h\"/></verify>\n");
  EXPECT_NE(e10.find(p10 + ":4: <bounce>: host and user go together"), std::string::npos) << e10;
  auto [p11, e11] = bad("  <edit-file host=\"h\" path=\"etc/aliases\">x</edit-file>\n");
  EXPECT_NE(e11.find(p11 + ":4: <edit-file>: path must be absolute"), std::string::npos) << e11;

  auto p = put("suites/a/y.xml", "<case id=\"a.y\" area=\"a\">\n  <summary>s</summary>\n  <topology ref=\"nowhere.xml\"/>\n  <flush host=\"h\"/>\n</case>\n");
  EXPECT_NE(error_of([&] { load_case(p); }).find(p + ":3: <topology>: no such file \"nowhere.xml\""), std::string::npos);
  p = put("suites/a/z.xml", "<case id=\"a z\" area=\"a\">\n</case>\n");
  EXPECT_NE(error_of([&] { load_case(p); }).find(p + ":1: <case>: id may hold"), std::string::npos);
  p = put("suites/a/w.xml", "<case id=\"a.w\" area=\"a\">\n  <topology ref=\"fixtures/topologies/t.xml\"/>\n  <summary>late</summary>\n</case>\n");
  EXPECT_NE(error_of([&] { load_case(p); }).find(p + ":3: <summary> comes first"), std::string::npos);
}

TEST_F(ModelTest, DurationsDatesAndEscapes) {
  int64_t s = 0;
  EXPECT_TRUE(parse_duration("1h30m", s));
  EXPECT_EQ(s, 5400);
  EXPECT_TRUE(parse_duration("45", s));
  EXPECT_EQ(s, 45);
  EXPECT_FALSE(parse_duration("1h30", s));
  EXPECT_FALSE(parse_duration("-5s", s));
  EXPECT_FALSE(parse_duration("5y", s));
  EXPECT_TRUE(parse_date("1970-01-02", s));
  EXPECT_EQ(s, 86400);
  EXPECT_FALSE(parse_date("2026-13-01 00:00:00", s));
  EXPECT_FALSE(parse_date("2026-11-28 06:00:00 junk", s));
  std::string out, err;
  EXPECT_TRUE(unescape("a\\r\\n\\x2E\\\\", out, err));
  EXPECT_EQ(out, "a\r\n.\\");
  EXPECT_FALSE(unescape("a\\q", out, err));
  EXPECT_EQ(escape(std::string("a\r\n\x01", 4)), "a\\r\\n\\x01");
  EXPECT_TRUE(glob_match("seed.*", "seed.relay"));
  EXPECT_FALSE(glob_match("seed.*", "smtpd.relay"));
}

}  // namespace
}  // namespace mxlab::model
