// NAME
//   pickup/pickup - take local submissions from maildrop/ into the queue
// DESCRIPTION
//   sendmail writes a complete queue file into maildrop/ (under a temporary
//   name, then renamed), so submission works while the daemon is down.
//   Pickup scans maildrop/ when triggered (public/pickup 'W') and on every
//   tick, and passes each file through cleanup: a local submission gets
//   "Received: by HOST (NAME, from userid N)" and missing headers, and with
//   sendmail -t its recipients are extracted from To/Cc/Bcc. A file that
//   postsuper -r put back (it was already through cleanup) keeps its content.
//   The maildrop file is removed only after the new queue file is committed,
//   so a crash can duplicate a submission but never lose one. Unreadable files
//   go to corrupt/.
//   Log: "pickup: ID: uid=N from=<sender>".
#pragma once
#include "core/config.hpp"
#include "queue/queue_store.hpp"

#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace mta::pickup {

// Envelope attribute set by cleanup on every file it writes: a maildrop file
// that carries it was requeued (postsuper -r), not submitted.
inline constexpr const char* kCleanedAttr = "cleanup";
// Envelope attribute set by sendmail -t.
inline constexpr const char* kExtractAttr = "extract_recipients";

class Pickup {
 public:
  Pickup(boost::asio::io_context& io, std::shared_ptr<const core::Config> cfg, const queue::QueueStore& store,
         std::function<void(const std::string& id)> on_queued);
  ~Pickup();
  void scan();
  void reload(std::shared_ptr<const core::Config> cfg);
  size_t in_progress() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mta::pickup
