// The conformance matrix writers against golden text: four results of two
// cases by two MTAs in two areas, every kind of cell, shared notes, and
// the escaping of Markdown and HTML.
#include "report/matrix.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mxlab::report {
namespace {

using runner::CaseResult;
using runner::Status;

CaseResult make(const std::string& id, const std::string& area, const std::string& profile, const std::string& mta,
                Status s) {
  CaseResult r;
  r.id = id;
  r.area = area;
  r.profile = profile;
  r.mta = mta;
  r.status = s;
  r.summary = "summary of " + id;
  r.tags = "rfc5321#3.6.2";
  return r;
}

std::vector<CaseResult> sample() {
  std::vector<CaseResult> rs;
  rs.push_back(make("seed.relay-denied", "seed", "postfix", "reference", Status::pass));
  auto skip = make("seed.relay-denied", "seed", "postfix", "exim", Status::unsupported);
  skip.message = "requires postfix-replies (profile postfix), which adapter exim lacks";
  rs.push_back(skip);
  rs.push_back(make("smtpd.rcpt-before-mail", "smtpd", "rfc", "reference", Status::pass));
  auto fail = make("smtpd.rcpt-before-mail", "smtpd", "rfc", "exim", Status::fail);
  fail.step = "step 1: <dialog host=\"mx\"> (line 5)";
  fail.message = "dialog line 9: reply differs";
  fail.expected = "/^5[0-9]{2} /\nmore";
  fail.actual = "250 a|b *c* [d] `e`";
  rs.push_back(fail);
  rs.push_back(make("smtpd.xf", "smtpd", "rfc", "reference", Status::xpass));
  auto xf = make("smtpd.xf", "smtpd", "rfc", "exim", Status::xfail);
  xf.message = "dialog line 3: reply differs";
  rs.push_back(xf);
  auto err = make("smtpd.err", "smtpd", "rfc", "exim", Status::error);
  err.message = "topology did not start: host mx: no SMTP banner within 30 s";
  rs.push_back(err);
  auto skip2 = make("smtpd.err", "smtpd", "rfc", "reference", Status::unsupported);
  skip2.message = "requires clock, which adapter reference lacks";
  rs.push_back(skip2);
  return rs;
}

MatrixInfo info() {
  MatrixInfo i;
  i.command = "mxlab run --mta reference,exim suites/";
  i.generated = "2026-11-30 08:00 UTC";
  return i;
}

class MatrixTest : public ::testing::Test {};

TEST_F(MatrixTest, MarkdownIsGolden) {
  const std::string golden = R"MD(# Conformance matrix

`mxlab run --mta reference,exim suites/`: 4 cases by 2 MTAs, 2026-11-30 08:00 UTC.

PASS passed; FAIL failed; SKIP unsupported by this MTA or here (the note says why); XFAIL failed as expected; XPASS passed although expected to fail; ERROR could not run; - not run.

## Totals by MTA

| MTA | PASS | FAIL | SKIP | XFAIL | XPASS | ERROR | cases |
|---|---:|---:|---:|---:|---:|---:|---:|
| reference | 2 | 0 | 1 | 0 | 1 | 0 | 4 |
| exim | 0 | 1 | 1 | 1 | 0 | 1 | 4 |

## Totals by profile

| profile | MTA | PASS | FAIL | SKIP | XFAIL | XPASS | ERROR | cases |
|---|---|---:|---:|---:|---:|---:|---:|---:|
| postfix | reference | 1 | 0 | 0 | 0 | 0 | 0 | 1 |
| postfix | exim | 0 | 0 | 1 | 0 | 0 | 0 | 1 |
| rfc | reference | 1 | 0 | 1 | 0 | 1 | 0 | 3 |
| rfc | exim | 0 | 1 | 0 | 1 | 0 | 1 | 3 |

## seed (1 case)

| case | profile | reference | exim |
|---|---|---|---|
| seed.relay-denied | postfix | PASS | SKIP [1] |

## smtpd (3 cases)

| case | profile | reference | exim |
|---|---|---|---|
| smtpd.rcpt-before-mail | rfc | PASS | FAIL [2] |
| smtpd.xf | rfc | XPASS [3] | XFAIL [4] |
| smtpd.err | rfc | SKIP [5] | ERROR [6] |

## Notes

1. requires postfix-replies (profile postfix), which adapter exim lacks
2. exim, smtpd.rcpt-before-mail: step 1: \<dialog host="mx"> (line 5): dialog line 9: reply differs; expected: /^5\[0-9\]{2} /; actual: 250 a\|b \*c\* \[d\] \`e\`
3. reference, smtpd.xf: passed although expected to fail
4. exim, smtpd.xf: failed as expected: dialog line 3: reply differs
5. requires clock, which adapter reference lacks
6. exim, smtpd.err: topology did not start: host mx: no SMTP banner within 30 s
)MD";
  EXPECT_EQ(matrix_markdown(sample(), {"reference", "exim"}, info()), golden);
}

TEST_F(MatrixTest, HtmlIsGoldenAndSelfContained) {
  const std::string page = matrix_html(sample(), {"reference", "exim"}, info());
  const std::string golden = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Conformance matrix</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:0 0 1.5em}
th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}
td.n{text-align:right}
td.pass{background:#c8e6c9}td.fail{background:#ffab91}td.skip{background:#eeeeee;color:#666}
td.xfail{background:#fff59d}td.xpass{background:#ffcc80}td.error{background:#ce93d8}td.none{color:#999}
sup a{text-decoration:none}
ol.notes li{margin:.2em 0}
code{font-size:90%}
</style>
</head>
<body>
<h1>Conformance matrix</h1>
<p><code>mxlab run --mta reference,exim suites/</code>: 4 cases by 2 MTAs, 2026-11-30 08:00 UTC.</p>
<p>PASS passed; FAIL failed; SKIP unsupported by this MTA or here (the note says why); XFAIL failed as expected; XPASS passed although expected to fail; ERROR could not run; - not run.</p>
<h2>Totals by MTA</h2>
<table>
<tr><th>MTA</th><th>PASS</th><th>FAIL</th><th>SKIP</th><th>XFAIL</th><th>XPASS</th><th>ERROR</th><th>cases</th></tr>
<tr><td>reference</td><td class="n">2</td><td class="n">0</td><td class="n">1</td><td class="n">0</td><td class="n">1</td><td class="n">0</td><td class="n">4</td></tr>
<tr><td>exim</td><td class="n">0</td><td class="n">1</td><td class="n">1</td><td class="n">1</td><td class="n">0</td><td class="n">1</td><td class="n">4</td></tr>
</table>
<h2>Totals by profile</h2>
<table>
<tr><th>profile</th><th>MTA</th><th>PASS</th><th>FAIL</th><th>SKIP</th><th>XFAIL</th><th>XPASS</th><th>ERROR</th><th>cases</th></tr>
<tr><td>postfix</td><td>reference</td><td class="n">1</td><td class="n">0</td><td class="n">0</td><td class="n">0</td><td class="n">0</td><td class="n">0</td><td class="n">1</td></tr>
<tr><td>postfix</td><td>exim</td><td class="n">0</td><td class="n">0</td><td class="n">1</td><td class="n">0</td><td class="n">0</td><td class="n">0</td><td class="n">1</td></tr>
<tr><td>rfc</td><td>reference</td><td class="n">1</td><td class="n">0</td><td class="n">1</td><td class="n">0</td><td class="n">1</td><td class="n">0</td><td class="n">3</td></tr>
<tr><td>rfc</td><td>exim</td><td class="n">0</td><td class="n">1</td><td class="n">0</td><td class="n">1</td><td class="n">0</td><td class="n">1</td><td class="n">3</td></tr>
</table>
<h2 id="area-seed">seed (1 case)</h2>
<table>
<tr><th>case</th><th>profile</th><th>reference</th><th>exim</th></tr>
<tr><td title="summary of seed.relay-denied [rfc5321#3.6.2]">seed.relay-denied</td><td>postfix</td><td class="pass">PASS</td><td class="skip" title="requires postfix-replies (profile postfix), which adapter exim lacks">SKIP <sup><a href="#note-1">1</a></sup></td></tr>
</table>
<h2 id="area-smtpd">smtpd (3 cases)</h2>
<table>
<tr><th>case</th><th>profile</th><th>reference</th><th>exim</th></tr>
<tr><td title="summary of smtpd.rcpt-before-mail [rfc5321#3.6.2]">smtpd.rcpt-before-mail</td><td>rfc</td><td class="pass">PASS</td><td class="fail" title="exim, smtpd.rcpt-before-mail: step 1: &lt;dialog host=&quot;mx&quot;&gt; (line 5): dialog line 9: reply differs; expected: /^5[0-9]{2} /; actual: 250 a|b *c* [d] `e`">FAIL <sup><a href="#note-2">2</a></sup></td></tr>
<tr><td title="summary of smtpd.xf [rfc5321#3.6.2]">smtpd.xf</td><td>rfc</td><td class="xpass" title="reference, smtpd.xf: passed although expected to fail">XPASS <sup><a href="#note-3">3</a></sup></td><td class="xfail" title="exim, smtpd.xf: failed as expected: dialog line 3: reply differs">XFAIL <sup><a href="#note-4">4</a></sup></td></tr>
<tr><td title="summary of smtpd.err [rfc5321#3.6.2]">smtpd.err</td><td>rfc</td><td class="skip" title="requires clock, which adapter reference lacks">SKIP <sup><a href="#note-5">5</a></sup></td><td class="error" title="exim, smtpd.err: topology did not start: host mx: no SMTP banner within 30 s">ERROR <sup><a href="#note-6">6</a></sup></td></tr>
</table>
<h2>Notes</h2>
<ol class="notes">
<li id="note-1">requires postfix-replies (profile postfix), which adapter exim lacks</li>
<li id="note-2">exim, smtpd.rcpt-before-mail: step 1: &lt;dialog host=&quot;mx&quot;&gt; (line 5): dialog line 9: reply differs; expected: /^5[0-9]{2} /; actual: 250 a|b *c* [d] `e`</li>
<li id="note-3">reference, smtpd.xf: passed although expected to fail</li>
<li id="note-4">exim, smtpd.xf: failed as expected: dialog line 3: reply differs</li>
<li id="note-5">requires clock, which adapter reference lacks</li>
<li id="note-6">exim, smtpd.err: topology did not start: host mx: no SMTP banner within 30 s</li>
</ol>
</body>
</html>
)HTML";
  EXPECT_EQ(page, golden);
  // Nothing is fetched: no script, no link, no external source.
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(page.find("http"), std::string::npos);
}

// With durations: the wall time in the header line and a table of time per
// MTA (sum of its cases, slowest case), in both writers.
TEST_F(MatrixTest, TimeByMta) {
  auto rs = sample();
  rs[0].seconds = 12.4;   // reference, seed.relay-denied
  rs[2].seconds = 100.0;  // reference, smtpd.rcpt-before-mail
  rs[3].seconds = 0.6;    // exim, smtpd.rcpt-before-mail
  auto i = info();
  i.wall_seconds = 61.5;
  auto md = matrix_markdown(rs, {"reference", "exim"}, i);
  EXPECT_NE(md.find("4 cases by 2 MTAs, 2026-11-30 08:00 UTC, wall time 62 s (1 min 2 s).\n"), std::string::npos) << md;
  EXPECT_NE(md.find("## Time by MTA\n\n"), std::string::npos);
  EXPECT_NE(md.find("| MTA | time in cases | slowest case |\n|---|---:|---|\n"
                    "| reference | 112 s (1 min 52 s) | smtpd.rcpt-before-mail (100 s (1 min 40 s)) |\n"
                    "| exim | 1 s | smtpd.rcpt-before-mail (1 s) |\n"),
            std::string::npos)
      << md;
  auto page = matrix_html(rs, {"reference", "exim"}, i);
  EXPECT_NE(page.find("wall time 62 s (1 min 2 s).</p>"), std::string::npos);
  EXPECT_NE(page.find("<tr><td>reference</td><td class=\"n\">112 s (1 min 52 s)</td><td>smtpd.rcpt-before-mail (100 s "
                      "(1 min 40 s))</td></tr>"),
            std::string::npos)
      << page;
  // Without durations (the golden tests above) there is no time table.
  EXPECT_EQ(matrix_markdown(sample(), {"reference", "exim"}, info()).find("Time by MTA"), std::string::npos);
}

TEST_F(MatrixTest, MissingCellsAndColumnOrder) {
  // An MTA named but without results gets a column of "-"; an MTA not
  // named but present in the results is appended.
  std::vector<CaseResult> rs = {make("a.one", "a", "rfc", "postfix", Status::pass)};
  auto md = matrix_markdown(rs, {"reference", "postfix"}, MatrixInfo{});
  EXPECT_NE(md.find("| case | profile | reference | postfix |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| a.one | rfc | - | PASS |\n"), std::string::npos) << md;
  md = matrix_markdown(rs, {}, MatrixInfo{});
  EXPECT_NE(md.find("| case | profile | postfix |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("1 case by 1 MTA.\n"), std::string::npos) << md;
}

}  // namespace
}  // namespace mxlab::report
