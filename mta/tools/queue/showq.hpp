// NAME
//   tools/queue/showq - read the queue directory and print it as mailq does
// DESCRIPTION
//   scan() reads every queue file under $queue_directory in the order Postfix's
//   showq(8) lists queues: maildrop, active, incoming, deferred, hold (ids
//   sorted within a queue, so that a listing is reproducible). Per message it
//   keeps the queue, id, arrival time, content size (the M record, as
//   Postfix's SIZE record; the file size when that is empty), the
//   force-expired flag and the sender (<> shown as $empty_address_recipient,
//   MAILER-DAEMON). Recipients whose delivery is final (status 2.X.X or
//   5.X.X) are done and not listed; the others are listed with their last
//   delay reason, those with a reason first (Postfix reads its defer log
//   first), then the untried ones.
//   A file that vanishes while the queue is read (delivered, moved by the
//   daemon) is skipped silently; a file that is not a queue file is skipped
//   with a warning in Listing::warnings.
//
//   format_mailq() prints Postfix's showq_compat.c layout exactly:
//     "%-11s %7s %-20s %s\n"   heading: -Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
//     "%-11s %7ld %20.20s %s\n" ID + status (* active, ! hold, # force-expired),
//                               size, asctime() (first 20 characters), sender
//     "%*s(%s)\n"               the reason, right-aligned to column 78 (76 -
//                               length spaces, none when longer), printed when
//                               it differs from the previous recipient's;
//                               "(reason unavailable)" after a reason
//     41 spaces + recipient, a blank line between messages, and the trailer
//     "\n-- %lu Kbytes in %lu Request%s.\n" (sum of sizes / 1024) or
//     "Mail queue is empty". With enable_long_queue_ids the widths are
//     "%-17s %8s %-19s %s" as in Postfix.
//   format_json() prints postqueue -j: one object per line,
//     {"queue_name": "deferred", "queue_id": "ID", "arrival_time": N,
//      "message_size": N, "forced_expire": false, "sender": "S",
//      "recipients": [{"address": "R", "delay_reason": "TEXT"}]}
//   delay_reason only when there is one; strings escaped as Postfix's
//   quote_for_json() (\" \\ \b \f \n \r \t, other controls \uXXXX).
// SEE ALSO
//   docs/queue-tools.md, queue/queue_store.hpp, queue/queue_file.hpp
#pragma once
#include "queue/queue_store.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace mta::tools::queue {

struct ListedRecipient {
  std::string address;
  std::string reason;  // last delay reason; empty: not tried or no reason kept
};

struct ListedMessage {
  std::string queue_name;  // "deferred"
  std::string id;
  int64_t arrival = 0;     // unix time
  int64_t size = 0;        // content bytes
  bool forced_expire = false;
  std::string sender;      // external form; <> already replaced
  std::vector<ListedRecipient> rcpts;
};

struct Listing {
  std::vector<ListedMessage> messages;
  std::vector<std::string> warnings;  // "deferred/ABC: malformed queue file: ... -- skipped"
};

Listing scan(const ::mta::queue::QueueStore& store, const std::string& empty_address = "MAILER-DAEMON");

std::string format_mailq(const std::vector<ListedMessage>& messages, bool long_ids = false);
std::string format_json(const std::vector<ListedMessage>& messages);
// Postfix quote_for_json().
std::string json_escape(std::string_view s);

}  // namespace mta::tools::queue
