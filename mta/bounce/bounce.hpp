// NAME
//   bounce/bounce - delivery status notifications (bounce(8)), as a pure library
// SYNOPSIS
//   auto s = bounce::Settings::from(config);
//   // after an attempt that failed some recipients for good (or expired):
//   if (auto n = bounce::make_notice(bounce::Kind::failure, original, reports, s, now)) {
//     cleanup::Builder b;
//     b.open(store);                                   // assigns NEWID
//     b.message() = std::move(*n);
//     bounce::stamp_received(b.message(), b.id(), s, now);
//     b.add_missing_headers = true;                    // cleanup adds Message-Id
//     b.finish(cleanup_settings); b.commit();
//     log "ID: sender non-delivery notification: NEWID"
//   }
//   for (auto& pm : bounce::make_postmaster_notices(bounce::Kind::failure, original, reports, s, now))
//     ... the same, logged "ID: postmaster non-delivery notification: NEWID"
// DESCRIPTION
//   Builds the messages Postfix's bounce(8) daemon posts: no I/O, no clock,
//   no Asio. The caller passes the time (`now`), which fixes the Date: header,
//   the MIME boundary "ORIGID.now/$myhostname" and nothing else.
//
//   make_notice() is the notice to the original sender: envelope sender <>,
//   one recipient (the original sender). Kinds and their Postfix templates:
//     failure  "Undelivered Mail Returned to Sender"; recipients whose NOTIFY
//              allows FAILURE (no NOTIFY = FAILURE,DELAY); Action: failed (also
//              for expired mail, which keeps its last 4.X.X status); returns
//              the whole message as message/rfc822, or only its headers
//              (text/rfc822-headers) with RET=HDRS or when the message is
//              larger than $bounce_size_limit;
//     delay    "Delayed Mail (still being retried)"; NOTIFY allows DELAY; the
//              "THIS IS A WARNING ONLY" box; Action: delayed; Will-Retry-Until:
//              arrival + $maximal_queue_lifetime; headers only;
//     success  "Successful Mail Delivery Report"; only NOTIFY=SUCCESS
//              recipients; Action: the result's action ("relayed" from the
//              SMTP client, RFC 3464 2.3.3), else delivered; headers only.
//              Which recipients to report is the caller's choice: the queue
//              manager leaves out those relayed to a server that offered DSN.
//   It returns nothing when the original sender is <> (never bounce to <>),
//   when the sender is the double-bounce address (no triple bounce), or when
//   no recipient's NOTIFY asks for this kind.
//
//   make_postmaster_notices() returns the copies $notify_classes asks for,
//   from double-bounce@$myorigin, without the boiler-plate text, with every
//   recipient whatever its NOTIFY:
//     failure, sender not <>, "bounce" in notify_classes:
//        "Postmaster Copy: Undelivered Mail" to $bounce_notice_recipient, headers only;
//     failure, sender <>, "2bounce" or "bounce" in notify_classes:
//        the double bounce, "Postmaster Copy: Undelivered Mail" to
//        $2bounce_notice_recipient, the whole message;
//     delay, "delay" in notify_classes: "Postmaster Warning: Delayed Mail" to
//        $delay_notice_recipient (headers only; whole message for <> mail);
//     success, sender <>, "2bounce" in notify_classes: the success report to
//        $2bounce_notice_recipient.
//   None for mail from the double-bounce address.
//
//   Layout, byte for byte as Postfix 3.7 (docs/bounces.md has a full sample):
//     Date, From: Mail Delivery System <MAILER-DAEMON@$myorigin>, Subject, To,
//     Auto-Submitted (auto-replied; auto-generated for postmaster copies),
//     MIME-Version, Content-Type multipart/report with the boundary on a
//     tab-indented line, Content-Transfer-Encoding: 8bit; the text part
//     (charset=utf-8, 8bit) whose per-recipient lines "<rcpt>: reason" are
//     folded before column 79 with a 4-space indent (Postfix line_wrap); the
//     message/delivery-status part (Reporting-MTA, Original-Envelope-Id with
//     ENVID, X-$mail_name-Queue-ID, X-$mail_name-Sender, Arrival-Date; per
//     recipient Final-Recipient, Original-Recipient (the ORCPT as given,
//     "rfc822;addr"; else "rfc822; ORIG" when the address was rewritten),
//     Action, Status, Remote-MTA, Diagnostic-Code, Will-Retry-Until); the
//     returned message after "Return-Path: <sender>".
//   The Received: header that Postfix's post_mail writes first needs the new
//   queue id, so stamp_received() adds it once cleanup has assigned one.
//   Message-Id is left to cleanup (add_missing_headers), which appends it
//   after the other headers, exactly where Postfix's cleanup puts it.
// STANDARDS
//   RFC 3461 (NOTIFY, RET, ORCPT, ENVID), RFC 3462 (multipart/report),
//   RFC 3464 (message/delivery-status), RFC 3834 (Auto-Submitted)
// PARAMETERS
//   myhostname, myorigin, mail_name, bounce_size_limit, delay_warning_time,
//   maximal_queue_lifetime, notify_classes, bounce_notice_recipient,
//   2bounce_notice_recipient, delay_notice_recipient, double_bounce_sender
// BUGS
//   bounce_template_file is not read: the built-in templates are always used.
// SEE ALSO
//   cleanup/cleanup.hpp (writes the notices), core/delivery.hpp (results)
#pragma once
#include "core/config.hpp"
#include "core/delivery.hpp"
#include "core/envelope.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mta::bounce {

struct Settings {
  std::string myhostname = "localhost";
  std::string myorigin = "localhost";
  std::string mail_name = "mxmta";
  long long bounce_size_limit = 50000;
  long long delay_warning_time = 0;                // seconds
  long long maximal_queue_lifetime = 5 * 86400;    // seconds
  std::vector<std::string> notify_classes = {"resource", "software"};
  std::string bounce_notice_recipient = "postmaster";
  std::string double_bounce_notice_recipient = "postmaster";  // 2bounce_notice_recipient
  std::string delay_notice_recipient = "postmaster";
  std::string double_bounce_sender = "double-bounce";

  static Settings from(const core::Config& c);
  // True when `cls` ("bounce", "2bounce", "delay" ...) is in notify_classes.
  bool notify(std::string_view cls) const;
  // double-bounce@$myhostname: the sender of postmaster notices (Postfix's
  // mail_addr_double_bounce(); observed "from=<double-bounce@mx.example.com>").
  std::string double_bounce_address() const;
  // True for the double-bounce address (with $myorigin, $myhostname or no domain).
  bool is_double_bounce(std::string_view addr) const;
};

// One recipient of the original message and what happened to it.
// Empty result fields fall back to the recipient's persisted state
// (rcpt.dsn_status, rcpt.reason), so an expired message can be reported from
// its queue file alone.
struct RecipientReport {
  core::Recipient rcpt;
  core::DeliveryResult result;  // dsn, reason, diagnostic ("smtp; 550 ..."), remote_mta ("dns; host"), action
};

enum class Kind { failure, delay, success };

std::optional<core::Message> make_notice(Kind kind, const core::Message& original,
                                         const std::vector<RecipientReport>& rcpts, const Settings& s, int64_t now);

std::vector<core::Message> make_postmaster_notices(Kind kind, const core::Message& original,
                                                   const std::vector<RecipientReport>& rcpts, const Settings& s,
                                                   int64_t now);

// Prepends Postfix's post_mail header "Received: by $myhostname ($mail_name)\n
// \tid NEWID; DATE" once the notice has its queue id.
void stamp_received(core::Message& notice, std::string_view new_id, const Settings& s, int64_t now);

// Postfix line_wrap(): break `text` (no newlines) at blanks so that lines stay
// within `len` columns; lines after the first are indented by `indent`; a word
// longer than a line is never broken; trailing blanks are dropped.
std::vector<std::string> wrap_line(std::string_view text, int len, int indent);

}  // namespace mta::bounce
