// NAME
//   mail/message - RFC 5322 messages, MIME multipart and RFC 3464 DSNs
// DESCRIPTION
//   The harness reads what an MTA delivered (a mailbox, a peer's received
//   data) as facts to assert on: header fields (unfolded), the body, the
//   MIME parts of a multipart/report and the delivery-status fields of a
//   bounce. Line ends may be LF (mailbox files) or CRLF (SMTP data).
// STANDARDS
//   RFC 5322 section 2.2 (header fields, folding), RFC 2045/2046 (MIME,
//   multipart boundaries), RFC 3462/6522 (multipart/report), RFC 3464
//   (message/delivery-status: per-message and per-recipient fields)
// DIAGNOSTICS
//   parse_dsn returns false with a reason ("not multipart/report", "no
//   message/delivery-status part") instead of throwing: a malformed bounce
//   is an assertion failure, not a harness error.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxlab::mail {

struct Header {
  std::string name;   // as written
  std::string value;  // unfolded, leading whitespace removed
};

struct Message {
  std::string from_line;        // mbox "From " line without "From " (empty for Maildir/SMTP)
  std::string envelope_sender;  // first word of from_line
  std::vector<Header> headers;
  std::string body;             // after the blank line, line ends as stored
  std::string source;           // file it came from (for reports)

  std::optional<std::string> header(std::string_view name) const;  // first, case-insensitive
  std::vector<std::string> headers_named(std::string_view name) const;
  std::string text() const;     // headers + body, for "contains anywhere" checks
};

Message parse_message(std::string_view raw);

// A header value's parameter: param("multipart/report; boundary=\"x\"", "boundary") == "x".
std::string header_param(std::string_view value, std::string_view param);
// The media type of a value, lower-case, without parameters ("multipart/report").
std::string media_type(std::string_view value);

// The parts of a multipart body (each parsed as a message: headers + body);
// empty if there is no boundary or no part.
std::vector<Message> split_multipart(const Message& m);

struct DsnRecipient {
  std::map<std::string, std::string> fields;  // lower-case field name -> value as written
  std::string final_recipient;     // address only ("rfc822; a@b" -> "a@b")
  std::string original_recipient;  // address only
  std::string action, status, remote_mta, diagnostic_code;
};

struct Dsn {
  std::map<std::string, std::string> message_fields;  // reporting-mta, arrival-date, ...
  std::vector<DsnRecipient> recipients;
  std::string human_text;  // the first part (the notification)
  std::optional<Message> returned;  // third part: message/rfc822 or text/rfc822-headers
};

bool parse_dsn(const Message& m, Dsn& dsn, std::string& why);

// "rfc822; a@b" -> "a@b"; "dns; mx.example" -> "mx.example"; "<a@b>" -> "a@b".
std::string strip_type(std::string_view value);

}  // namespace mxlab::mail
