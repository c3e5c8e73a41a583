// NAME
//   smtpd/data - SMTP input lines, the DATA phase and the Received: header
// SYNOPSIS
//   smtpd::LineBuffer in;
//   in.append(bytes);
//   smtpd::Line l;
//   while (in.next(2048, l)) ...            // l.text, l.eol
//   smtpd::DataReceiver rx(smtpd::BareLf::normalize, 10240000);
//   for (...) if (rx.feed(l)) break;         // true at end of data
//   rx.content()                             // LF line endings, dot-unstuffed
// DESCRIPTION
//   LineBuffer holds the bytes received and not yet used. next() returns one
//   line without its terminator, telling how it ended: CRLF, a bare LF, or
//   not at all (a piece of a line longer than the limit; the rest follows as
//   further pieces). Trailing CRs before the LF are dropped, as Postfix's
//   smtp_get() drops them. The buffer never holds more than the limit plus
//   one read.
//
//   DataReceiver turns the lines after "354" into message content, as
//   Postfix's smtpd receives DATA:
//     - a line "." ends the message, other lines that start with "." lose it;
//     - leading "From " lines become "X-Mailbox-Line: From ..." headers, and
//       content that starts with white space gets an empty line first, so it
//       cannot continue the Received: header;
//     - lines beyond message_size_limit are read and dropped (too_big());
//       the session then replies "552 5.3.4 Error: message file too big".
//   smtpd_forbid_bare_newline (Postfix 3.9 semantics):
//     no         a bare LF ends a line like CRLF, "<LF>.<LF>" ends DATA;
//     normalize  bare LFs are line ends, but only <CR><LF>.<CR><LF> ends
//                DATA: a "." line ended by a bare LF or by <CR><CR><LF>, or
//                one that follows a line ended by a bare LF, is dropped and
//                reading continues;
//     reject     as normalize, and any bare LF makes the message rejected
//                (bare_lf() is true at the end).
//   So no smuggling variant (\n.\n, \r.\r, \r\n.\n, \n.\r\n, NUL next to the
//   dot ...) ends a message early under normalize or reject.
// STANDARDS
//   RFC 5321 4.1.1.4 (DATA), 4.5.2 (transparency), 2.3.8 (lines end in CRLF);
//   RFC 5321 4.4 (trace information: Received:)
// PARAMETERS
//   line_length_limit, message_size_limit, smtpd_forbid_bare_newline
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mta::smtpd {

enum class Eol { crlf, bare_lf, none };

struct Line {
  std::string text;
  Eol eol = Eol::crlf;
  bool stray_cr = false;  // more than one CR before the LF (all were dropped)
};

class LineBuffer {
 public:
  void append(std::string_view bytes);
  // Next line or piece; false when more input is needed. A line longer than
  // `limit` bytes comes out in pieces of at most `limit` bytes (Eol::none).
  bool next(size_t limit, Line& out);
  // Drops input up to and including the next LF; false if none is buffered
  // yet (all buffered input was dropped: call again after more input).
  bool skip_line();
  size_t pending() const { return buf_.size() - pos_; }
  // Up to n bytes of pending input, for the improper-pipelining log line.
  std::string_view peek(size_t n) const;
  void clear();

 private:
  void compact();
  std::string buf_;
  size_t pos_ = 0;
};

enum class BareLf { no, normalize, reject };
// Parses the parameter value: "no", "normalize", "yes" (= normalize),
// "reject"; nullopt for anything else.
std::optional<BareLf> parse_bare_lf(std::string_view v);

class DataReceiver {
 public:
  // size_limit: message_size_limit; 0 means no limit from the configuration
  // (an internal bound of kUnlimited still applies: every buffer is bounded).
  DataReceiver(BareLf mode, long long size_limit);
  static constexpr long long kUnlimited = 1LL << 31;

  // Feeds one line or piece; true when it was the end-of-data line.
  bool feed(const Line& l);
  const std::string& content() const { return content_; }
  std::string take_content() { return std::move(content_); }
  bool too_big() const { return too_big_; }
  bool bare_lf() const { return bare_lf_seen_; }
  // Bytes counted against the limit (each stored line + CRLF), Postfix's act_size.
  long long size() const { return act_size_; }

 private:
  void store(std::string_view text, bool complete);
  BareLf mode_;
  long long limit_;
  std::string content_;
  long long act_size_ = 0;
  bool too_big_ = false;
  bool bare_lf_seen_ = false;
  bool first_ = true;
  bool mailbox_line_ = false;  // the leading From_ line is still being stored
  bool prev_cont_ = false;     // previous record was a piece of a long line
  bool prev_bare_ = false;     // previous line ended with a bare LF
};

// Postfix smtpd's Received: header, LF line endings, final LF included:
//   Received: from HELO (NAME [ADDR])
//   \tby MYHOSTNAME (MAIL_NAME) with PROTO id ID
//   \tfor <RCPT>; DATE              (exactly one recipient)
// or "...id ID;" + "\tDATE" for several recipients.
std::string received_header(const std::string& helo, const std::string& client_name, const std::string& rfc_addr,
                            const std::string& myhostname, const std::string& mail_name, const std::string& protocol,
                            const std::string& queue_id, const std::string* single_rcpt, int64_t when);

}  // namespace mta::smtpd
