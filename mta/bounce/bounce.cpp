#include "bounce/bounce.hpp"

#include "core/address.hpp"
#include "core/fault.hpp"
#include "core/headers.hpp"
#include "util/clock.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>

#include <cctype>

namespace mta::bounce {
namespace {

// Postfix bounce_print_wrap(): LENGTH 79, INDENT 4.
constexpr int kWrapLength = 79;
constexpr int kWrapIndent = 4;

struct Template {
  const char* subject;
  const char* postmaster_subject;  // nullptr: the success template has none
  const char* action;              // the DSN Action field
  bool failure = false;            // Action is always "failed"
  bool delay = false;              // Will-Retry-Until
  bool undelivered = false;        // "Undelivered Message" in the returned part
};

constexpr Template kFailure{"Undelivered Mail Returned to Sender", "Postmaster Copy: Undelivered Mail", "failed", true,
                            false, true};
constexpr Template kDelay{"Delayed Mail (still being retried)", "Postmaster Warning: Delayed Mail", "delayed", false,
                          true, true};
constexpr Template kSuccess{"Successful Mail Delivery Report", nullptr, "delivered", false, false, false};

const Template& template_for(Kind k) {
  switch (k) {
    case Kind::failure: return kFailure;
    case Kind::delay: return kDelay;
    case Kind::success: return kSuccess;
  }
  return kFailure;
}

core::Notify notify_bit(Kind k) {
  switch (k) {
    case Kind::failure: return core::notify_failure;
    case Kind::delay: return core::notify_delay;
    case Kind::success: return core::notify_success;
  }
  return core::notify_failure;
}

// The built-in template texts of Postfix 3.7 (bounce_templates.c), with
// $myhostname and the _hours/_days conversions already expanded.
std::vector<std::string> boilerplate(Kind k, const Settings& s) {
  std::vector<std::string> t;
  t.push_back(fmt::format("This is the mail system at host {}.", s.myhostname));
  t.emplace_back("");
  switch (k) {
    case Kind::failure:
      t.emplace_back("I'm sorry to have to inform you that your message could not");
      t.emplace_back("be delivered to one or more recipients. It's attached below.");
      break;
    case Kind::delay:
      t.emplace_back("####################################################################");
      t.emplace_back("# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #");
      t.emplace_back("####################################################################");
      t.emplace_back("");
      // Integer division, as bounce_template_lookup() converts the units.
      t.push_back(fmt::format("Your message could not be delivered for more than {} hour(s).",
                              s.delay_warning_time / 3600));
      t.push_back(fmt::format("It will be retried until it is {} day(s) old.", s.maximal_queue_lifetime / 86400));
      break;
    case Kind::success:
      t.emplace_back("Your message was successfully delivered to the destination(s)");
      t.emplace_back("listed below. If the message was delivered to mailbox you will");
      t.emplace_back("receive no further notifications. Otherwise you may still receive");
      t.emplace_back("notifications of mail delivery errors from other systems.");
      break;
  }
  if (k != Kind::success) {
    t.emplace_back("");
    t.emplace_back("For further assistance, please send mail to postmaster.");
    t.emplace_back("");
    t.emplace_back("If you do so, please include this problem report. You can");
    t.emplace_back("delete your own text from the attached returned message.");
  }
  t.emplace_back("");
  t.emplace_back("                   The mail system");
  return t;
}

// RFC 3464 diagnostic-type is an atom: Postfix transliterates specials in
// $mail_name to '-' before using it in X-<name>-Queue-ID and X-<name>; text.
std::string atom_name(std::string_view mail_name) {
  std::string r(mail_name);
  for (char& c : r)
    if (std::string_view(" \t\r\n()<>@,;:\\\".[]").find(c) != std::string_view::npos) c = '-';
  return r;
}

// bounce_log_read() masks control characters in what it reports.
std::string masked(std::string_view s) { return util::printable(s, '?'); }

std::string qualified(std::string_view addr, const Settings& s) {
  if (addr.find('@') != std::string_view::npos) return std::string(addr);
  return core::qualify(addr, s.myorigin);
}

// What one recipient line and DSN block need, after the fallbacks.
struct Line {
  const core::Recipient* rcpt;
  std::string action;
  std::string status;
  std::string reason;
  std::string diagnostic;
  std::string remote_mta;
};

Line line_for(const RecipientReport& r, Kind kind) {
  Line l;
  l.rcpt = &r.rcpt;
  l.action = template_for(kind).action;
  // A success's Action is the agent's (Postfix's dsb_update() in the agent):
  // "relayed" through SMTP (RFC 3464 2.3.3), else the template's "delivered".
  if (kind == Kind::success && !r.result.action.empty()) l.action = masked(r.result.action);
  l.status = !r.result.dsn.empty() ? r.result.dsn : r.rcpt.dsn_status;
  if (l.status.empty()) l.status = kind == Kind::success ? "2.0.0" : kind == Kind::delay ? "4.0.0" : "5.0.0";
  l.reason = masked(!r.result.reason.empty() ? r.result.reason : r.rcpt.reason);
  // Postfix's trace_append(): a delivery record (the success report) names
  // the agent that delivered, "delivery via local: delivered to mailbox",
  // unless there was none ("none"). Found by suites/bounce/0009-notify-success.
  if (kind == Kind::success && !r.result.relay.empty() && r.result.relay != "none")
    l.reason = "delivery via " + masked(r.result.relay) + ": " + l.reason;
  l.diagnostic = masked(r.result.diagnostic);
  l.remote_mta = masked(r.result.remote_mta);
  return l;
}

struct Request {
  Kind kind;
  bool postmaster_copy = false;  // postmaster subject, auto-generated, no boiler-plate
  bool headers_only = false;     // RET=HDRS (may still be forced by bounce_size_limit)
  std::string env_sender;        // "" or double-bounce@$myhostname
  std::string to;                // notice recipient, as the To: header shows it
  std::string env_to;            // as the envelope has it ("" = `to`)
};

void put(std::string& out, std::string_view line) {
  out += line;
  out += '\n';
}

void put_wrapped(std::string& out, std::string_view text) {
  for (const auto& l : wrap_line(text, kWrapLength, kWrapIndent)) put(out, l);
}

// Copies the original after "Return-Path:" (bounce_original()).
void put_original(std::string& out, const core::Message& original, bool headers_only, const std::string& sender) {
  const std::string& c = original.content;
  put(out, fmt::format("Return-Path: <{}>", sender));
  size_t i = 0;
  while (i < c.size()) {
    size_t nl = c.find('\n', i);
    size_t end = nl == std::string::npos ? c.size() : nl;
    std::string_view line(c.data() + i, end - i);
    if (headers_only) {
      // A header line, or the continuation of one; the first other line ends
      // the header block (normally the empty line before the body).
      bool header = !line.empty() && (line[0] == ' ' || line[0] == '\t' || core::is_header_line(line));
      if (!header) break;
    }
    put(out, line);
    i = nl == std::string::npos ? c.size() : nl + 1;
  }
}

core::Message build(const Request& rq, const core::Message& original, const std::vector<Line>& lines,
                    const Settings& s, int64_t now) {
  const Template& t = template_for(rq.kind);
  const core::Envelope& oe = original.env;
  const std::string boundary = fmt::format("{}.{}/{}", oe.id, now, s.myhostname);
  const std::string xname = atom_name(s.mail_name);
  // The original sender as bounce_mail_alloc() quotes it: <> becomes MAILER-DAEMON.
  const std::string orig_sender = oe.sender.empty() ? std::string("MAILER-DAEMON") : oe.sender;

  std::string out;
  out.reserve(original.content.size() + 2048);

  // Message header (post_mail + bounce_header()).
  put(out, "Date: " + util::rfc5322_date(now));
  put(out, fmt::format("From: Mail Delivery System <MAILER-DAEMON@{}>", s.myorigin));
  put(out, fmt::format("Subject: {}",
                       rq.postmaster_copy && t.postmaster_subject ? t.postmaster_subject : t.subject));
  put(out, "To: " + rq.to);
  put(out, std::string("Auto-Submitted: ") + (rq.postmaster_copy ? "auto-generated" : "auto-replied"));
  put(out, "MIME-Version: 1.0");
  put(out, "Content-Type: multipart/report; report-type=delivery-status;");
  put(out, fmt::format("\tboundary=\"{}\"", boundary));
  // smtputf8_enable = yes (Postfix's default) makes every notice 8bit.
  put(out, "Content-Transfer-Encoding: 8bit");
  put(out, "");
  put(out, "This is a MIME-encapsulated message.");

  // Part 1: the human-readable report.
  put(out, "");
  put(out, "--" + boundary);
  put(out, "Content-Description: Notification");
  put(out, "Content-Type: text/plain; charset=utf-8");
  put(out, "Content-Transfer-Encoding: 8bit");
  put(out, "");
  if (!rq.postmaster_copy)
    for (const auto& l : boilerplate(rq.kind, s)) put(out, l);
  for (const auto& l : lines) {
    put(out, "");
    if (!l.rcpt->orig.empty())
      put_wrapped(out, fmt::format("<{}> (expanded from <{}>): {}", l.rcpt->address, l.rcpt->orig, l.reason));
    else
      put_wrapped(out, fmt::format("<{}>: {}", l.rcpt->address, l.reason));
  }

  // Part 2: message/delivery-status.
  put(out, "");
  put(out, "--" + boundary);
  put(out, "Content-Description: Delivery report");
  put(out, "Content-Type: message/delivery-status");
  put(out, "");
  put(out, "Reporting-MTA: dns; " + s.myhostname);
  if (!oe.envid.empty()) put(out, "Original-Envelope-Id: " + masked(oe.envid));
  put(out, fmt::format("X-{}-Queue-ID: {}", xname, oe.id));
  put(out, fmt::format("X-{}-Sender: rfc822; {}", xname, orig_sender));
  if (oe.arrival.sec > 0) put(out, "Arrival-Date: " + util::rfc5322_date(oe.arrival.sec));
  for (const auto& l : lines) {
    put(out, "");
    put(out, "Final-Recipient: rfc822; " + l.rcpt->address);
    // Postfix reports the ORCPT as received ("rfc822;addr"), else the
    // address before rewriting; RFC 3464 6.3.d would omit the latter, but
    // Postfix prefers consistency with what it relays (bounce_notify_util.c).
    if (!l.rcpt->dsn_orcpt.empty())
      put(out, "Original-Recipient: " + masked(l.rcpt->dsn_orcpt));
    else if (!l.rcpt->orig.empty())
      put(out, "Original-Recipient: rfc822; " + l.rcpt->orig);
    put(out, "Action: " + l.action);
    put(out, "Status: " + l.status);
    if (!l.remote_mta.empty()) put_wrapped(out, "Remote-MTA: " + l.remote_mta);
    if (!l.diagnostic.empty())
      put_wrapped(out, "Diagnostic-Code: " + l.diagnostic);
    else
      put_wrapped(out, fmt::format("Diagnostic-Code: X-{}; {}", xname, l.reason));
    if (t.delay) put(out, "Will-Retry-Until: " + util::rfc5322_date(oe.arrival.sec + s.maximal_queue_lifetime));
  }

  // Part 3: the original message, or only its headers.
  bool available = !original.content.empty() && !core::fault::active(core::fault::Id::bounce_without_original);
  bool headers_only = rq.headers_only;
  // Truncating would break the MIME structure: send the headers only.
  if (available && s.bounce_size_limit > 0 &&
      static_cast<long long>(original.content.size()) > s.bounce_size_limit)
    headers_only = true;
  put(out, "");
  put(out, "--" + boundary);
  put(out, fmt::format("Content-Description: {}{}", t.undelivered ? "Undelivered " : "",
                       headers_only ? "Message Headers" : "Message"));
  put(out, std::string("Content-Type: ") + (headers_only ? "text/rfc822-headers" : "message/rfc822"));
  put(out, "Content-Transfer-Encoding: 8bit");
  put(out, "");
  if (available)
    put_original(out, original, headers_only, orig_sender);
  else
    put(out, "\t--- Undelivered message unavailable ---");
  put(out, "");
  put(out, "--" + boundary + "--");

  core::Message m;
  m.env.sender = rq.env_sender;
  core::Recipient r;
  r.address = rq.env_to.empty() ? rq.to : rq.env_to;
  m.env.rcpts.push_back(std::move(r));
  m.env.arrival = {now, 0};
  m.env.origin = "bounce";
  m.env.body_type = "8BITMIME";
  m.content = std::move(out);
  m.env.content_size = static_cast<int64_t>(m.content.size());
  return m;
}

std::vector<Line> select(Kind kind, const std::vector<RecipientReport>& rcpts, bool every) {
  std::vector<Line> out;
  for (const auto& r : rcpts) {
    // Postmaster copies list every recipient (DSN_NOTIFY_OVERRIDE), except
    // success reports: only NOTIFY=SUCCESS recipients are ever traced.
    if (every && kind != Kind::success) {
      out.push_back(line_for(r, kind));
      continue;
    }
    if (r.rcpt.wants(notify_bit(kind))) out.push_back(line_for(r, kind));
  }
  return out;
}

}  // namespace

Settings Settings::from(const core::Config& c) {
  Settings s;
  s.myhostname = c.get("myhostname");
  s.myorigin = c.get("myorigin");
  s.mail_name = c.get("mail_name");
  s.bounce_size_limit = c.get_int("bounce_size_limit");
  s.delay_warning_time = c.get_time("delay_warning_time");
  s.maximal_queue_lifetime = c.get_time("maximal_queue_lifetime");
  s.notify_classes.clear();
  for (const auto& n : c.get_list("notify_classes")) s.notify_classes.push_back(util::lower(n));
  s.bounce_notice_recipient = c.get("bounce_notice_recipient");
  s.double_bounce_notice_recipient = c.get("2bounce_notice_recipient");
  s.delay_notice_recipient = c.get("delay_notice_recipient");
  s.double_bounce_sender = c.get("double_bounce_sender");
  return s;
}

bool Settings::notify(std::string_view cls) const {
  for (const auto& n : notify_classes)
    if (util::iequals(n, cls)) return true;
  return false;
}

std::string Settings::double_bounce_address() const { return double_bounce_sender + "@" + myhostname; }

bool Settings::is_double_bounce(std::string_view addr) const {
  auto p = core::split_address(addr);
  if (!util::iequals(core::unquote_local(p.local), double_bounce_sender)) return false;
  return p.domain.empty() || util::iequals(p.domain, myorigin) || util::iequals(p.domain, myhostname);
}

std::optional<core::Message> make_notice(Kind kind, const core::Message& original,
                                         const std::vector<RecipientReport>& rcpts, const Settings& s, int64_t now) {
  const std::string& sender = original.env.sender;
  // Never bounce to <>, never send a triple bounce.
  if (sender.empty() || s.is_double_bounce(sender)) return std::nullopt;
  std::vector<Line> lines = select(kind, rcpts, false);
  if (lines.empty()) return std::nullopt;
  Request rq;
  rq.kind = kind;
  rq.env_sender = "";
  rq.to = sender;
  // Delay and success reports carry the headers only; failures honour RET.
  rq.headers_only = kind != Kind::failure || util::iequals(original.env.ret, "HDRS");
  return build(rq, original, lines, s, now);
}

std::vector<core::Message> make_postmaster_notices(Kind kind, const core::Message& original,
                                                   const std::vector<RecipientReport>& rcpts, const Settings& s,
                                                   int64_t now) {
  std::vector<core::Message> out;
  const std::string& sender = original.env.sender;
  if (s.is_double_bounce(sender)) return out;
  const bool null_sender = sender.empty();
  Request rq;
  rq.kind = kind;
  rq.env_sender = s.double_bounce_address();
  rq.postmaster_copy = true;
  // Postfix posts the notice to the parameter's value as it is ("postmaster":
  // cleanup qualifies it and logs orig_to=<postmaster>), and the To: header
  // comes out qualified (observed with suites/bounce/0013-double-bounce).
  auto set_to = [&](const std::string& who) {
    rq.to = qualified(who, s);
    rq.env_to = who;
  };
  switch (kind) {
    case Kind::failure:
      if (null_sender) {
        if (!s.notify("2bounce") && !s.notify("bounce")) return out;
        set_to(s.double_bounce_notice_recipient);
        rq.headers_only = false;  // the double bounce is the last chance: whole message
      } else {
        if (!s.notify("bounce")) return out;
        set_to(s.bounce_notice_recipient);
        rq.headers_only = true;
      }
      break;
    case Kind::delay:
      if (!s.notify("delay")) return out;
      set_to(s.delay_notice_recipient);
      rq.headers_only = !null_sender;
      break;
    case Kind::success:
      // A success report for <> mail goes to the postmaster as a double
      // bounce would; it is the sender's report, not a postmaster copy.
      if (!null_sender || !s.notify("2bounce")) return out;
      set_to(s.double_bounce_notice_recipient);
      rq.postmaster_copy = false;
      rq.headers_only = true;
      break;
  }
  std::vector<Line> lines = select(kind, rcpts, true);
  if (lines.empty()) return out;
  out.push_back(build(rq, original, lines, s, now));
  return out;
}

void stamp_received(core::Message& notice, std::string_view new_id, const Settings& s, int64_t now) {
  notice.content.insert(0, fmt::format("Received: by {} ({})\n\tid {}; {}\n", s.myhostname, s.mail_name, new_id,
                                       util::rfc5322_date(now)));
  notice.env.content_size = static_cast<int64_t>(notice.content.size());
}

std::vector<std::string> wrap_line(std::string_view str, int len, int indent) {
  // A transcription of the algorithm of Postfix's line_wrap(), including its
  // treatment of runs of blanks (each blank ends a possibly empty word).
  std::vector<std::string> out;
  auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  auto emit = [&](size_t from, size_t n, int ind) {
    while (n > 0 && is_space(str[from + n - 1])) --n;
    out.push_back(std::string(static_cast<size_t>(ind), ' ') + std::string(str.substr(from, n)));
  };
  int curr_indent = indent < 0 ? -indent : 0;
  long curr_len = indent < 0 ? len + indent : len;
  size_t start_line = 0;
  size_t word = 0;
  for (;;) {
    size_t next_space = str.find_first_of(" \t", word);
    if (next_space == std::string_view::npos) next_space = str.size();
    if (word > start_line && static_cast<long>(next_space - start_line) > curr_len) {
      emit(start_line, word - start_line, curr_indent);
      while (word < str.size() && is_space(str[word])) ++word;
      if (start_line == 0) {
        curr_indent += indent;
        curr_len -= indent;
      }
      start_line = word;
    }
    if (next_space >= str.size()) break;
    word = next_space + 1;
  }
  emit(start_line, start_line <= str.size() ? str.size() - start_line : 0, curr_indent);
  return out;
}

}  // namespace mta::bounce
