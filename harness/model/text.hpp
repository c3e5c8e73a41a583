// NAME
//   model/text - string helpers for the harness (its own, never mta/util)
// DESCRIPTION
//   Trimming, splitting, case folding, escapes, glob and duration/date
//   parsing. The harness keeps its own copies on purpose: the wall in
//   design.md forbids sharing code with the reference MTA it checks.
// DIAGNOSTICS
//   parse_duration/parse_date return false on bad input; callers add FILE:LINE.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mxlab::model {

std::string_view trim(std::string_view s);
std::string lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool starts_with(std::string_view s, std::string_view prefix);
bool icontains(std::string_view hay, std::string_view needle);
// Split on whitespace and/or commas, dropping empty fields.
std::vector<std::string> split_words(std::string_view s);
// Split into lines; "\r\n" and "\n" both end a line; no trailing empty line.
std::vector<std::string> split_lines(std::string_view s);
std::string join(const std::vector<std::string>& v, std::string_view sep);
std::string replace_all(std::string s, std::string_view from, std::string_view to);
// "1h", "90m", "30s", "2d", "1w", "1h30m", "45" (seconds). Negative not allowed.
bool parse_duration(std::string_view s, int64_t& seconds);
// "2026-11-28 06:00:00", "2026-11-28T06:00:00Z", "2026-11-28 06:00", "2026-11-28"; UTC.
bool parse_date(std::string_view s, int64_t& epoch);
std::string format_date(int64_t epoch);  // "2026-11-28 06:00:00 UTC"
// \r \n \t \\ \xNN escapes (raw byte lines of a dialog). False on a bad escape.
bool unescape(std::string_view s, std::string& out, std::string& error);
// Printable form of bytes for reports: \r \n \xNN for control characters.
std::string escape(std::string_view s);
// fnmatch(3) on a case id.
bool glob_match(const std::string& pattern, const std::string& text);
bool is_ipv4(std::string_view s);
bool is_loopback_v4(std::string_view s);
// Output templates (the text of a <run> step's <stdout>/<stderr>): the
// text between the line of "<![CDATA[" and the line of "]]>", verbatim (no
// dedent: leading blanks are part of mailq's layout). template_body() takes
// the element's raw text; a first line that is empty and a last line that is
// blank (the indentation before the closing tag) are dropped.
std::string template_body(std::string_view raw);
// A template matches when it has as many lines as `text` and each line
// matches its template line entirely: text outside "{{" "}}" is literal,
// "{{RE}}" is an ECMAScript regex (a queue id, a date, a size that differs
// between MTAs); it ends at the last two braces of a run ("{{[0-9]{2}}}"). False with `why` naming the first differing line. Throws
// std::regex_error for a bad RE (check_template reports it at load time).
bool match_template(std::string_view tmpl, std::string_view text, std::string& why);
// "" when every {{RE}} of the template compiles and braces are balanced, else the reason.
std::string check_template(std::string_view tmpl);
// Whole file; throws std::runtime_error("PATH: strerror") on failure.
std::string read_file(const std::string& path);
void write_file(const std::string& path, std::string_view data, unsigned mode = 0644);

}  // namespace mxlab::model
