// NAME
//   local/mail_copy - the bytes local(8) writes: envelope headers + message
// SYNOPSIS
//   std::string b = local::mail_copy(msg.content, attrs, local::copy_mbox, now);
// DESCRIPTION
//   What each destination gets, after Postfix's global/mail_copy.c:
//     From_ line      "From SENDER  asctime" (two spaces; MAILER-DAEMON for <>)
//     Return-Path:    <sender>   (<> for the null sender)
//     X-Original-To:  the recipient as first given (omitted when empty)
//     Delivered-To:   the address handed to local(8)
//   then the message, with ">" before lines that start with "From " (mboxo
//   quoting: ">From " itself is not quoted again) and, for mbox files, one
//   empty line at the end. A message whose last line lacks its newline gets
//   one. Local parts are quoted as in an address (quote_local).
//
//   Flag sets used by local(8):
//     mailbox, /file   copy_mbox (all of the above)
//     Maildir          Return-Path, X-Original-To, Delivered-To
//     |command         From_ line, Return-Path, X-Original-To, Delivered-To
//   prepend_delivered_header removes Delivered-To for command/file deliveries.
//
//   Status is the per-destination outcome every local writer returns, and
//   mbox_dsn() is Postfix's errno -> DSN table for mailbox writes.
// STANDARDS
//   RFC 4155 (the mbox format and its From_ line), RFC 3463 (status codes)
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace mta::local {

// The outcome of one delivery attempt to one destination.
struct Status {
  char kind = '2';   // '2' delivered, '4' try again later, '5' bounce
  std::string dsn;   // "2.0.0", "4.2.0", "5.2.2"
  std::string text;  // "delivered to mailbox", "cannot update mailbox ..."
  bool ok() const { return kind == '2'; }
  static Status sent(std::string t) { return {'2', "2.0.0", std::move(t)}; }
  static Status fail(std::string_view dsn, std::string t) {
    return {dsn.empty() ? '4' : dsn[0], std::string(dsn), std::move(t)};
  }
};

enum CopyFlags : unsigned {
  copy_from = 1u,          // "From sender  date" line
  copy_return_path = 2u,   // Return-Path:
  copy_orig_rcpt = 4u,     // X-Original-To:
  copy_delivered = 8u,     // Delivered-To:
  copy_quote = 16u,        // ">From " quoting
  copy_blank = 32u,        // empty line at the end
  copy_mbox = copy_from | copy_return_path | copy_orig_rcpt | copy_delivered | copy_quote | copy_blank,
  copy_maildir = copy_return_path | copy_orig_rcpt | copy_delivered,
  copy_command = copy_from | copy_return_path | copy_orig_rcpt | copy_delivered,
};

struct CopyAttrs {
  std::string sender;     // envelope sender, "" = <>
  std::string orig_rcpt;  // X-Original-To value, "" = no header
  std::string delivered;  // Delivered-To value
};

// The bytes to write; `now` is the From_ line's time (local time, asctime).
std::string mail_copy(std::string_view content, const CopyAttrs& attrs, unsigned flags, int64_t now);

// Postfix mbox_dsn(): EAGAIN/ESTALE -> 4.2.0, ENOSPC -> 4.3.0,
// EDQUOT/EFBIG -> 5.2.2, anything else -> def.
std::string mbox_dsn(int err, std::string_view def);

}  // namespace mta::local
