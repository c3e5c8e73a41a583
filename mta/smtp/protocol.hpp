// NAME
//   smtp/protocol - the SMTP client's wire formats (pure)
// DESCRIPTION
//   What smtp(8) writes and how it reads the server, without sockets:
//   - replies: lines joined (multi-line replies keep every line, as Postfix's
//     smtp_chat_resp), non-printable bytes shown as '?', over-long lines cut
//     at line_length_limit; a line that is neither "ddd-text" nor "ddd text"
//     nor "ddd" is garbage: kept in the reply, which goes on to the next
//     line, and reported (take_malformed) so that the client can warn about
//     it as Postfix does; the enhanced status code is taken from the reply
//     when its class matches the reply code, else derived as "X.0.0"
//     (Postfix), and "5.5.0" when the reply has no three-digit code;
//   - EHLO keywords: PIPELINING, SIZE [limit], 8BITMIME, DSN, SMTPUTF8,
//     STARTTLS, and the server's own name (loop detection);
//   - MAIL FROM with SIZE=, BODY=8BITMIME/7BIT, RET=, ENVID=; RCPT TO with
//     ORCPT=rfc822;... and NOTIFY= (xtext-encoded, RFC 3461);
//   - message data: CRLF line ends, a leading '.' doubled, lines longer than
//     smtp_line_length_limit broken with CRLF SPACE (Postfix's smtp_text_out,
//     the doubled dot not counted), then ".\r\n".
// STANDARDS
//   RFC 5321 sections 4.1.1 (commands), 4.2 (replies), 4.5.2 (transparency),
//   4.5.3.1.6 (line length); RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 3461
//   (DSN), RFC 2920 (PIPELINING), RFC 3463 (enhanced status codes)
// PARAMETERS
//   smtp_line_length_limit (data), line_length_limit (replies)
#pragma once
#include "core/envelope.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mta::smtp {

struct Reply {
  int code = 0;                    // 0 when the last line had no three-digit code
  std::vector<std::string> lines;  // as received, printable, without CRLF
  std::string dsn;                 // "2.0.0", "5.1.1" ...
  int kind() const { return code / 100; }
  // Lines joined by a space (Postfix translit(resp->str, "\n", " ")).
  std::string text() const;
};

// Reads a reply line by line.
class ReplyReader {
 public:
  explicit ReplyReader(size_t line_limit = 2048) : limit_(line_limit) {}
  // One line without its line end. True when the reply is complete.
  bool feed(std::string_view line);
  Reply take();
  // The garbage lines fed since the last call (printable, cut at the line
  // limit), in order.
  std::vector<std::string> take_malformed();

 private:
  size_t limit_;
  size_t stored_ = 0;
  Reply cur_;
  std::vector<std::string> malformed_;
};

// Enhanced status for a complete reply's last line (Postfix smtp_chat_resp).
std::string reply_dsn(int code, std::string_view last_line);

struct Features {
  std::string server_name;  // first word of the EHLO reply
  bool pipelining = false;
  bool size = false;
  uint64_t size_limit = 0;  // 0: none announced
  bool eightbitmime = false;
  bool dsn = false;
  bool smtputf8 = false;
  bool starttls = false;
};
Features parse_ehlo(const Reply& r);
// The first word after the code on the first line (greeting, HELO reply).
std::string first_word(const Reply& r);

// "SUCCESS,FAILURE,DELAY" / "NEVER" in Postfix's order; "" for 0.
std::string notify_param(unsigned notify);
bool has_8bit(std::string_view content);

struct MailParams {
  uint64_t size = 0;
  std::string body;   // "8BITMIME", "7BIT" or ""
  std::string ret;    // "FULL", "HDRS" or ""
  std::string envid;  // raw, xtext-encoded on output
};
// Only what the server offered is sent.
std::string mail_command(std::string_view sender, const MailParams& p, const Features& f);
// orcpt: "rfc822;addr" (raw); notify: core::Notify bits.
std::string rcpt_command(std::string_view rcpt, std::string_view orcpt, unsigned notify, const Features& f);

// The DATA payload for content with LF (or CRLF) line ends, ending with ".\r\n".
std::string encode_data(std::string_view content, size_t line_limit);

}  // namespace mta::smtp
