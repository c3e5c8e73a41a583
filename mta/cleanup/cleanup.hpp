// NAME
//   cleanup/cleanup - turn a received or submitted message into a queue file
// SYNOPSIS
//   cleanup::Builder b;
//   b.open(store);                 // embryonic file in incoming/, queue id assigned
//   b.message().env = ...; b.message().content = ...;
//   auto r = b.finish(settings);   // canonicalise, fix headers, write (no fsync)
//   b.commit();                    // fsync, rename to incoming/ID, fsync dir
// DESCRIPTION
//   The single writer of incoming/, as Postfix's cleanup(8):
//     - envelope addresses without a domain get @$myorigin (append_at_myorigin);
//       the address as given is kept as the original recipient;
//     - local submissions (pickup) get "Received: by HOST (NAME, from userid N)";
//     - missing Message-Id:, Date: and From: are added, in that order, at the end
//       of the header block, for local submissions, for clients allowed by
//       $local_header_rewrite_clients, or always with always_add_missing_headers;
//     - with recipient extraction (sendmail -t) To:, Cc: and Bcc: are added to
//       the envelope and Bcc: is removed;
//     - $hopcount_limit Received: headers or more, this host's own counted,
//       is a mail loop and refused (Postfix: hop_count >= hopcount_limit).
//   commit() blocks on fsync: the daemon runs it on the blocking-I/O pool
//   (smtpd runs sync() on the loop when nothing else would run meanwhile).
//   Nothing is acknowledged before commit() returns success.
// DIAGNOSTICS
//   finish() returns an SMTP-ready status: "554 5.4.0 Error: too many hops",
//   "552 5.3.4 Error: message file too big", "451 4.3.0 Error: queue file write error".
// PARAMETERS
//   myhostname, myorigin, mail_name, append_at_myorigin, hopcount_limit,
//   message_size_limit, always_add_missing_headers, local_header_rewrite_clients
#pragma once
#include "core/config.hpp"
#include "core/envelope.hpp"
#include "queue/queue_store.hpp"

#include <string>
#include <system_error>

namespace mta::cleanup {

struct Settings {
  std::string myhostname;
  std::string myorigin;
  std::string mail_name;
  bool append_at_myorigin = true;
  bool always_add_missing_headers = false;
  long long hopcount_limit = 50;
  long long message_size_limit = 10240000;
  static Settings from(const core::Config& c);
};

struct Status {
  bool ok = true;
  std::string reply;  // SMTP reply for smtpd ("554 5.4.0 Error: too many hops")
  std::string dsn;    // "5.4.0"
  std::string text;   // "too many hops" (logs, bounces)
};

class Builder {
 public:
  Builder() = default;
  // Creates the embryonic file and assigns the queue id.
  std::error_code open(const queue::QueueStore& store);
  // Only with a kept file (queue::QueueWriter::create_reused); false if none.
  bool open_reused(const queue::QueueStore& store);
  const std::string& id() const { return writer_.id(); }
  bool is_open() const { return writer_.is_open(); }
  core::Message& message() { return msg_; }

  bool local_submission = false;    // pickup: "Received: by ..." and missing headers
  bool add_missing_headers = false;  // smtpd client allowed by local_header_rewrite_clients
  bool extract_recipients = false;  // sendmail -t

  // Canonicalise and serialise into the file (not yet durable).
  Status finish(const Settings& s);
  // Durable commit (blocking). After success the message is queued as id().
  // commit() is sync() then publish() (queue::QueueWriter): smtpd may send
  // its 250 between the two.
  std::error_code commit();
  std::error_code sync();
  std::error_code publish();
  void discard();

 private:
  queue::QueueWriter writer_;
  core::Message msg_;
};

// Helpers shared with the header-adding code of other roles.
std::string message_id(const std::string& id, int64_t when, const std::string& myhostname);
// Quotes a display name when it contains RFC 5322 specials.
std::string quote_phrase(const std::string& name);

}  // namespace mta::cleanup
