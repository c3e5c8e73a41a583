// NAME
//   core/address - mail addresses: parse, split, quote, qualify
// DESCRIPTION
//   Addresses are kept in their external (RFC 5321) form: a quoted local part
//   stays quoted, so "a b"@example.com round-trips. split() finds the '@' that
//   separates the domain (the last one outside quotes). Syntax checks follow
//   Postfix smtpd: MAIL FROM:<a b@c> is a syntax error (501 5.1.7).
// STANDARDS
//   RFC 5321 section 4.1.2 (Path, Mailbox, Local-part, Domain, address-literal)
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mta::core {

struct AddressParts {
  std::string local;   // external form, quotes kept
  std::string domain;  // empty when unqualified
  bool has_at = false;
};

AddressParts split_address(std::string_view addr);
// Local part without quotes/escapes ("a b" from "\"a b\"").
std::string unquote_local(std::string_view local);
// Quote a local part if it needs it (Postfix quote_822_local).
std::string quote_local(std::string_view local);
// Lower-case domain, local part unchanged.
std::string canonical(std::string_view addr);
// Appends @domain when the address has no domain (append_at_myorigin).
std::string qualify(std::string_view addr, std::string_view domain);

// RFC 5321 checks.
bool valid_domain(std::string_view d);          // dot-atom labels or [address-literal]
bool valid_local_part(std::string_view local);  // dot-string or quoted-string
bool valid_mailbox(std::string_view addr);      // local@domain
bool is_fqdn(std::string_view domain);          // has a dot (or is a literal)
bool is_address_literal(std::string_view d);    // [1.2.3.4] / [IPv6:...]

// Parses the text after "MAIL FROM:" or "RCPT TO:". Returns false on a syntax
// error. `addr` is without angle brackets (source route stripped); `params` are
// the ESMTP parameters that follow.
struct PathArg {
  std::string addr;
  std::vector<std::string> params;  // "SIZE=123", "BODY=8BITMIME"
  bool bracketed = false;
};
bool parse_path_arg(std::string_view text, PathArg& out, bool strict_rfc821);

// xtext (RFC 3461 section 4): decode "+2B" escapes; false if malformed.
bool xtext_decode(std::string_view in, std::string& out);
std::string xtext_encode(std::string_view in);

}  // namespace mta::core
