// NAME
//   smtpd/command - SMTP command lines: tokens, addresses, ESMTP parameters
// SYNOPSIS
//   auto tok = smtpd::tokenize("MAIL FROM:<a@b.example> SIZE=100");
//   //  -> "MAIL" "FROM:" "<a@b.example>" "SIZE=100"
//   std::string addr;
//   smtpd::extract_address(tok[2].text, true, false, addr);   // "a@b.example"
// DESCRIPTION
//   Pure functions (no I/O) that split and check what an SMTP client sends,
//   with Postfix smtpd's rules, so that the session code only dispatches:
//
//   tokenize() splits on white space. Text inside <...> and "..." stays one
//   token (so "<a b@c>" is one token, later refused as an address); a word
//   ending in "from:" or "to:" ends the token, which makes "FROM:<a>" and
//   "FROM: <a>" the same. An unbalanced < or " marks the token as an error.
//
//   extract_address() strips <> and a source route (@a,@b:), then checks the
//   address: no unquoted white space, controls or RFC 5322 specials, a valid
//   domain when there is an '@'. The address stays in its external form.
//
//   parse_mail_params() / parse_rcpt_params() read the ESMTP parameters in
//   the order given and return the Postfix reply for the first bad one.
//   SIZE is written to the caller's size as soon as it parses, before the
//   size limit is checked: Postfix does the same, which is why a rejected
//   "MAIL FROM:<> SIZE=999999" makes a later plain MAIL fail too, until RSET
//   (the "sticky SIZE" quirk, observed with Postfix 3.7).
// STANDARDS
//   RFC 5321 4.1.1, 4.1.2 (command syntax, Path); RFC 1870 (SIZE);
//   RFC 6152 (BODY=8BITMIME); RFC 3461 (NOTIFY, ORCPT, RET, ENVID);
//   RFC 2034 (enhanced status codes); RFC 5322 2.2 (header field names)
// DIAGNOSTICS
//   Reply texts, exactly as Postfix 3.7 sends them:
//     501 5.5.4 Bad message size syntax
//     552 5.3.4 Message size exceeds file system imposed limit
//     501 5.5.4 Bad RET parameter syntax / Bad ENVID parameter syntax
//     501 5.5.4 Error: Bad NOTIFY parameter syntax / Bad ORCPT parameter syntax
//     501 5.7.1 DSN support is disabled
//     555 5.5.4 Unsupported option: FOO=BAR
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mta::smtpd {

struct Token {
  std::string text;    // as received: quotes and angle brackets kept
  bool error = false;  // unbalanced <...> or "..."
};

std::vector<Token> tokenize(std::string_view line);
// Rejoins tokens [from, end) with single spaces ("HELO a b" -> "a b").
std::string collapse(const std::vector<Token>& tokens, size_t from);

// Postfix extract_addr(): false for a syntax error. `out` is the address
// without <> and without a source route; "" is the null address.
bool extract_address(std::string_view token, bool allow_empty, bool strict_rfc821, std::string& out);

// The first word looks like a message header ("From:", "Subject:").
bool is_header_like(std::string_view word);

// NOTIFY=... value as core::Notify bits; 0 when malformed (NEVER mixed with
// others, unknown keyword, empty).
unsigned parse_notify(std::string_view value);

struct MailParams {
  std::string body;   // "8BITMIME", "7BIT" or ""
  std::string ret;    // "FULL", "HDRS" or ""
  std::optional<std::string> envid;  // decoded
};
// args: the tokens after "MAIL FROM:<addr>". `size` is the session's
// declared message size and is updated in place (see DESCRIPTION). Returns ""
// or the reply.
std::string parse_mail_params(const std::vector<Token>& args, size_t from, bool dsn_enabled, MailParams& out,
                              long long& size);

struct RcptParams {
  unsigned notify = 0;     // core::Notify bits, 0 = not given
  std::string orcpt;       // "rfc822;bob@example.com" (decoded), "" = not given
};
std::string parse_rcpt_params(const std::vector<Token>& args, size_t from, bool dsn_enabled, RcptParams& out);

// EHLO keywords (smtpd_discard_ehlo_keywords), Postfix ehlo_mask names.
enum EhloMask : unsigned {
  ehlo_8bitmime = 1u << 0,
  ehlo_etrn = 1u << 1,
  ehlo_pipelining = 1u << 2,
  ehlo_size = 1u << 3,
  ehlo_vrfy = 1u << 4,
  ehlo_enhancedstatuscodes = 1u << 5,
  ehlo_dsn = 1u << 6,
  ehlo_silent = 1u << 7,  // "silent-discard": do not log the discard
  // Keywords Postfix knows but mxmta never announces: recognised so that the
  // discard is logged as Postfix logs it, otherwise without effect.
  ehlo_auth = 1u << 8,
  ehlo_verp = 1u << 9,
  ehlo_xclient = 1u << 10,
  ehlo_xforward = 1u << 11,
  ehlo_starttls = 1u << 12,
  ehlo_smtputf8 = 1u << 13,
  ehlo_chunking = 1u << 14,
};
unsigned ehlo_discard_mask(const std::vector<std::string>& words);
// "8BITMIME ETRN ..." for the log line "discarding EHLO keywords: ...".
std::string ehlo_mask_names(unsigned mask);
// The EHLO reply lines in Postfix's order, without the "250-" prefixes.
std::vector<std::string> ehlo_lines(const std::string& myhostname, long long message_size_limit, bool vrfy_enabled,
                                    unsigned discard);

// Removes the enhanced status code ("5.5.4 ") from a reply when the client
// was not offered ENHANCEDSTATUSCODES (Postfix does the same).
std::string strip_enhanced_code(std::string_view reply);

}  // namespace mta::smtpd
