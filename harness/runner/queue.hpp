// NAME
//   runner/queue - queue listings through the adapter (parser "postqueue-json")
// DESCRIPTION
//   `postqueue -j` prints one JSON object per message and line:
//     {"queue_name": "deferred", "queue_id": "8B39910401E", "arrival_time": 1795848591,
//      "message_size": 354, "forced_expire": false, "sender": "root@example.test",
//      "recipients": [{"address": "a@remote.example", "delay_reason": "connect to ..."}]}
//   Postfix and mxmta share this format; the parser is a small JSON reader
//   of its own (objects, arrays, strings with escapes, numbers, literals).
// STANDARDS
//   RFC 8259 (JSON); Postfix postqueue(1) -j
// DIAGNOSTICS
//   parse_postqueue_json throws std::runtime_error("line N: reason").
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

}  // namespace mxlab::runner
