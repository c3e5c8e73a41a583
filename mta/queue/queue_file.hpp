// NAME
//   queue/queue_file - the on-disk format of a queued message
// DESCRIPTION
//   A queue file is a sequence of typed, length-prefixed records (after
//   Postfix's record.c), each written as
//       <type><decimal length>:<payload>\n
//   so a file is readable with less(1) yet binary-safe. Record types:
//       V version ("1")       I queue id           T arrival "sec.usec"
//       S sender ("" = <>)    F full name          A attribute "name=value"
//       O original recipient  Q DSN ORCPT          Y NOTIFY bits (decimal)
//       Z last status "X.Y.Z reason"               R recipient (ends a group)
//       M message content (header + body, LF line endings)
//       E end of file (empty payload); mandatory, always last
//   O, Q, Y and Z belong to the R that follows them. A file without its E
//   record, with a record that overruns the file or with an unknown type is
//   not a queue file: readers report it and the daemon moves it to corrupt/.
//   The full format is documented in docs/queue-format.md.
#pragma once
#include "core/envelope.hpp"

#include <string>
#include <string_view>
#include <system_error>

namespace mta::queue {

// Serialises a message into queue-file bytes.
std::string serialize(const core::Message& m);

// Parses queue-file bytes. `content` may be null when only the envelope is
// wanted. Returns an empty string on success, else why the file is bad.
std::string parse(std::string_view bytes, core::Envelope& env, std::string* content);

// Reads a queue file from disk. On a system error `ec` is set (ENOENT when it
// moved away meanwhile); on a format error `bad` says why.
struct ReadResult {
  std::error_code ec;
  std::string bad;
  bool ok() const { return !ec && bad.empty(); }
};
ReadResult read_queue_file(const std::string& path, core::Envelope& env, std::string* content);

}  // namespace mta::queue
