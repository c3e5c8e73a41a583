// NAME
//   dialog/script - SMTP dialogue scripts: parsing and reply matching
// DESCRIPTION
//   A script is the text of a case's <dialog> element, one directive a line
//   (chamuyero's syntax, with smtpscript's whole-reply matching):
//     -> TEXT        send TEXT and CRLF
//     => BYTES       send raw bytes, no CRLF added; escapes \r \n \t \0 \\ \xNN
//     <- TEXT        expect a whole reply equal to TEXT; consecutive "<-" lines
//                    whose code is followed by '-' ("250-PIPELINING") continue
//                    one multi-line expectation, the line with "ddd " ends it
//     <~ PREFIX      expect a whole reply whose first line starts with PREFIX
//     <~ /REGEX/     expect a whole reply matching REGEX (ECMAScript,
//                    multiline: ^ and $ match at each line of the reply)
//     close          the client closes the connection
//     closed         expect the server to close the connection (EOF)
//     sleep SECONDS  pause (real time), e.g. "sleep 0.5"
//     # ...          comment; blank lines are ignored
//   Every "<-"/"<~" consumes one complete reply, multi-line included, so
//   "EHLO" followed by "<~ 250" is safe whatever extensions follow.
// STANDARDS
//   RFC 5321 section 4.2 (reply lines: code, '-' or ' ', text)
// DIAGNOSTICS
//   parse_script throws model::ParseError("FILE:LINE: reason").
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mxlab::dialog {

struct Directive {
  enum class Kind { send, send_raw, expect_exact, expect_prefix, expect_regex, close, expect_close, sleep };
  Kind kind = Kind::send;
  std::string text;                 // send: the line; raw: the bytes; prefix/regex: the pattern
  std::vector<std::string> lines;   // expect_exact: the reply's lines
  double seconds = 0;               // sleep
  int line = 0;                     // line in the case file
  std::string source;               // the directive as written, for reports
};

struct Script {
  std::vector<Directive> directives;
};

// `first_line` is the file line of the first line of `text`.
Script parse_script(std::string_view text, const std::string& file, int first_line);

struct Reply {
  std::vector<std::string> lines;  // without CRLF
  int code() const;
  std::string joined() const;      // lines separated by '\n'
};

// Is `line` a reply line ("250-x", "250 x", "250")? Sets `last` for "ddd " / "ddd".
bool reply_line(std::string_view line, bool& last);

// Does `reply` satisfy expectation `d`? On false, `why` says what differed.
bool matches(const Directive& d, const Reply& reply, std::string& why);

// What the directive expects, for a report ("250 2.0.0 Ok", "prefix 220", "/^250/").
std::string expectation_text(const Directive& d);

}  // namespace mxlab::dialog
