// NAME
//   runner/queue - queue listings through the adapter, in one model
// DESCRIPTION
//   Every parser maps an MTA's listing to Postfix's postqueue -j model:
//   one QueueEntry per message, with its queue name, id, arrival time,
//   size, sender ("" for the null sender) and the recipients not yet
//   delivered, each with the reason of its last deferral.
//   "postqueue-json": `postqueue -j` prints one JSON object per message and line:
//     {"queue_name": "deferred", "queue_id": "8B39910401E", "arrival_time": 1795848591,
//      "message_size": 354, "forced_expire": false, "sender": "root@example.test",
//      "recipients": [{"address": "a@remote.example", "delay_reason": "connect to ..."}]}
//   Postfix and mxmta share this format; the parser is a small JSON reader
//   of its own (objects, arrays, strings with escapes, numbers, literals).
//   "exim-bp": the output of `exim -bp`, a message per paragraph:
//      25m  2.9K 1xXGKs-0003SW-1c <a@b.example> *** frozen ***
//             D delivered@example.com
//               pending@example.org
//   optionally followed by per-message logs (spool/msglog/ID), each after
//   a line "==> ID <==" (as `tail -v` heads files). Exim's -bp has no delay
//   reasons; the last "defer" line of a recipient in its message log gives
//   one (`addr R=.. T=.. defer (-44) H=host [ip]: SMTP error ...: 451 ...`).
//   The arrival time is the message id's first six base-62 digits (Exim's
//   ids encode it, in seconds); sizes are Exim's rounded figures ("2.9K").
//   Queue name: "hold" when frozen, "deferred" after a deferral, else
//   "active". Recipients marked D (delivered) are left out.
//   "smtpctl-queue": OpenSMTPD's `smtpctl show queue`, one envelope
//   (one recipient of one message) per line:
//     evpid|origin|agent|flags|sender|rcpt|dest|ctime|expire|lasttry|retries|state|n|errorline
//   Envelopes are grouped by message (the evpid's first 8 hex digits, the
//   msgid of OpenSMTPD's log). Queue name: "hold" for a held or suspended
//   envelope, "deferred" once retried, else "active"; the error line is
//   the delay reason. A bounce envelope (agent "bounce") is the
//   notification in transit: listed as a message of its own from the null
//   sender to the original sender. There is no size (0).
// STANDARDS
//   RFC 8259 (JSON); Postfix postqueue(1) -j; Exim spec.txt 5 (-bp) and
//   4.x message ids; OpenSMTPD smtpctl(8) show queue
// DIAGNOSTICS
//   The parsers throw std::runtime_error("line N: reason") on a line they
//   cannot read.
#pragma once
#include <string>
#include <vector>

namespace mxlab::runner {

struct QueueRecipient {
  std::string address, delay_reason;
};

struct QueueEntry {
  std::string queue_name, queue_id, sender;
  long long arrival_time = 0, message_size = 0;
  bool forced_expire = false;
  std::vector<QueueRecipient> recipients;
};

std::vector<QueueEntry> parse_postqueue_json(const std::string& text);
std::vector<QueueEntry> parse_exim_bp(const std::string& text);
std::vector<QueueEntry> parse_smtpctl_queue(const std::string& text);
// By the adapter's parser name (model::kQueueParsers); throws for another.
std::vector<QueueEntry> parse_queue(const std::string& parser, const std::string& text);

}  // namespace mxlab::runner
