#include "cleanup/cleanup.hpp"

#include "core/address.hpp"
#include "core/fault.hpp"
#include "core/headers.hpp"
#include "queue/queue_file.hpp"
#include "util/clock.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>

namespace mta::cleanup {

Settings Settings::from(const core::Config& c) {
  Settings s;
  s.myhostname = c.get("myhostname");
  s.myorigin = c.get("myorigin");
  s.mail_name = c.get("mail_name");
  s.append_at_myorigin = c.get_bool("append_at_myorigin");
  s.always_add_missing_headers = c.get_bool("always_add_missing_headers");
  s.hopcount_limit = c.get_int("hopcount_limit");
  s.message_size_limit = c.get_int("message_size_limit");
  return s;
}

std::string message_id(const std::string& id, int64_t when, const std::string& myhostname) {
  return fmt::format("<{}.{}@{}>", util::compact_stamp(when), id, myhostname);
}

std::string quote_phrase(const std::string& name) {
  bool special = false;
  for (char c : name)
    if (std::string_view("()<>@,;:\\\".[]").find(c) != std::string_view::npos) special = true;
  if (!special) return name;
  std::string q = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

std::error_code Builder::open(const queue::QueueStore& store) {
  auto ec = queue::QueueWriter::create(store, queue::Q::incoming, writer_);
  if (!ec) msg_.env.id = writer_.id();
  return ec;
}

bool Builder::open_reused(const queue::QueueStore& store) {
  if (!queue::QueueWriter::create_reused(store, writer_)) return false;
  msg_.env.id = writer_.id();
  return true;
}

Status Builder::finish(const Settings& s) {
  core::Envelope& env = msg_.env;
  std::string& content = msg_.content;
  env.id = writer_.id();
  if (env.arrival.sec == 0) env.arrival = util::now();

  auto qualify = [&](const std::string& a) {
    if (a.empty() || !s.append_at_myorigin) return a;
    return core::qualify(a, s.myorigin);
  };
  env.sender = qualify(env.sender);

  core::HeaderBlock hb = core::split_headers(content);

  // Recipient extraction (sendmail -t): To, Cc, Bcc; Bcc is then removed.
  if (extract_recipients) {
    std::string kept;
    for (const auto& f : hb.fields) {
      bool rcpt_hdr = util::iequals(f.name, "To") || util::iequals(f.name, "Cc") || util::iequals(f.name, "Bcc");
      bool resent = util::iequals(f.name, "Resent-To") || util::iequals(f.name, "Resent-Cc") ||
                    util::iequals(f.name, "Resent-Bcc");
      if (rcpt_hdr || resent)
        for (auto& a : core::parse_address_list(f.value())) {
          core::Recipient r;
          r.address = a;
          env.rcpts.push_back(r);
        }
      if (!util::iequals(f.name, "Bcc") && !util::iequals(f.name, "Resent-Bcc")) kept += f.text;
    }
    content = kept + content.substr(hb.fields.empty() ? 0 : hb.body_offset - (hb.has_blank ? 1 : 0));
    hb = core::split_headers(content);
  }

  for (auto& r : env.rcpts) {
    std::string q = qualify(r.address);
    if (q != r.address && r.orig.empty()) r.orig = r.address;
    r.address = q;
  }
  if (env.rcpts.empty()) return {false, "554 5.5.1 Error: no valid recipients", "5.5.1", "no recipients specified"};

  // As Postfix's cleanup (++hop_count >= var_hopcount_limit): every Received:
  // counts, this host's own included (smtpd's is already in the content;
  // pickup's is prepended below, but Postfix's pickup sends it before the
  // message), and $hopcount_limit of them is already a loop.
  long long hops = local_submission ? 1 : 0;
  for (const auto& f : hb.fields)
    if (util::iequals(f.name, "Received")) ++hops;
  if (hops >= s.hopcount_limit && !core::fault::active(core::fault::Id::no_hop_limit))
    return {false, "554 5.4.0 Error: too many hops", "5.4.0", "too many hops"};

  int64_t now = util::now_sec();
  std::string prepend, append;
  if (local_submission)
    prepend = fmt::format("Received: by {} ({}, from userid {})\n\tid {}; {}\n", s.myhostname, s.mail_name,
                          env.uid < 0 ? 0 : env.uid, env.id, util::rfc5322_date(now));
  if (local_submission || add_missing_headers || s.always_add_missing_headers) {
    if (!core::find_header(hb, "Message-Id")) append += "Message-Id: " + message_id(env.id, now, s.myhostname) + "\n";
    if (!core::find_header(hb, "Date")) append += "Date: " + util::rfc5322_date(now) + "\n";
    if (!core::find_header(hb, "From")) {
      std::string from = env.sender.empty() ? "MAILER-DAEMON" : env.sender;
      if (!env.fullname.empty()) append += "From: " + quote_phrase(env.fullname) + " <" + from + ">\n";
      else append += "From: " + from + "\n";
    }
  }
  if (!prepend.empty() || !append.empty()) {
    size_t hdr_end = hb.has_blank ? hb.body_offset - 1 : hb.body_offset;
    // The header block may end without a newline when the message has no body.
    std::string head = content.substr(0, hdr_end);
    if (!head.empty() && head.back() != '\n') head += '\n';
    std::string rest = content.substr(hdr_end);
    if (!hb.has_blank) rest = "\n" + rest;
    content = prepend + head + append + rest;
  }
  if (s.message_size_limit > 0 && static_cast<long long>(content.size()) > s.message_size_limit)
    return {false, "552 5.3.4 Error: message file too big", "5.3.4", "message file too big"};

  env.content_size = static_cast<int64_t>(content.size());
  // Marks the file as cleaned: if postsuper -r puts it back into maildrop/,
  // pickup requeues it as it is instead of treating it as a new submission.
  env.attrs["cleanup"] = "1";
  if (auto ec = writer_.write(queue::serialize(msg_)))
    return {false, "451 4.3.0 Error: queue file write error", "4.3.0", "queue file write error: " + ec.message()};
  return {};
}

std::error_code Builder::commit() { return writer_.commit(); }
std::error_code Builder::sync() { return writer_.sync(); }
std::error_code Builder::publish() { return writer_.publish(); }

void Builder::discard() { writer_.discard(); }

}  // namespace mta::cleanup
