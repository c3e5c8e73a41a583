// NAME
//   qmgr/qmgr - the queue manager: schedules delivery, retries, expiry, notices
// DESCRIPTION
//   As Postfix's qmgr(8), inside mxmta's single event loop:
//   - moves new mail from incoming/ to active/ (on a notice from cleanup, a
//     trigger, or the once-a-second tick), routes every recipient
//     (core::Router), groups recipients by transport and next hop (up to the
//     transport's _destination_recipient_limit) and hands each group to that
//     transport's delivery agent, at most _destination_concurrency_limit at a
//     time per destination and default_process_limit per transport;
//   - logs each recipient's result ("ID: to=<r>, relay=..., status=sent (...)");
//   - after the attempt: notices for failed recipients (through the Notifier,
//     queued through cleanup before the original is changed) and success
//     notices for delivered NOTIFY=SUCCESS recipients, except those that an
//     SMTP server offering DSN took (the next hop reports, RFC 3461 6.2.1;
//     the agent's result says next_hop_dsn), then either
//     removes the message or rewrites it with the recipients still pending and
//     moves it to deferred/ with its next attempt as the file's mtime;
//   - scans deferred/ every queue_run_delay for due messages; expires messages
//     past their lifetime; sends one delay warning; runs Postfix's
//     concurrency feedback per destination (a window that starts at
//     initial_destination_concurrency, shrinks with each connection-level
//     failure and grows with deliveries) and declares a destination dead when
//     the failures add up to destination_concurrency_failed_cohort_limit
//     cohorts: for minimal_backoff_time its mail is deferred without a
//     connection ("delivery temporarily suspended");
//   - 'F' (postqueue -f) makes every deferred message due and forgets dead
//     destinations.
//   At start-up active/ is moved back to incoming/, temporary files in
//   incoming/ are removed (they were never acknowledged) and unreadable files
//   go to corrupt/.
//   The wall clock drives every decision; tick() runs at least once a second,
//   so a clock moved forward (libfaketime) takes effect within a second.
// PARAMETERS
//   queue_run_delay, minimal_backoff_time, maximal_backoff_time,
//   maximal_queue_lifetime, bounce_queue_lifetime, delay_warning_time,
//   qmgr_message_active_limit, default_process_limit,
//   default_destination_concurrency_limit, default_destination_recipient_limit,
//   TRANSPORT_destination_concurrency_limit, TRANSPORT_destination_recipient_limit,
//   initial_destination_concurrency, TRANSPORT_initial_destination_concurrency,
//   default_destination_concurrency_failed_cohort_limit,
//   TRANSPORT_destination_concurrency_failed_cohort_limit
#pragma once
#include "core/config.hpp"
#include "core/delivery.hpp"
#include "queue/queue_store.hpp"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace mta::qmgr {

enum class NoticeKind { failure, delay, success };

struct NoticeRequest {
  NoticeKind kind = NoticeKind::failure;
  std::shared_ptr<const core::Message> original;
  std::vector<std::pair<core::Recipient, core::DeliveryResult>> rcpts;
};

// Builds the notices for a request: the one to the sender (none for mail from
// <>) and the postmaster copies notify_classes asks for. The queue manager
// queues them.
using Notifier = std::function<std::vector<core::Message>(const NoticeRequest&, int64_t now)>;
// Called with each notice once cleanup has given it its queue id (Postfix's
// notices start with "Received: by HOST ... id NEWID").
using NoticeStamper = std::function<void(core::Message& notice, const std::string& new_id, int64_t now)>;

struct Stats {
  size_t active = 0;
  size_t in_flight = 0;
  size_t delivered = 0, bounced = 0, deferred = 0;
};

class Qmgr {
 public:
  Qmgr(boost::asio::io_context& io, std::shared_ptr<const core::Config> cfg, const queue::QueueStore& store,
       Notifier notifier);
  ~Qmgr();
  Qmgr(const Qmgr&) = delete;
  Qmgr& operator=(const Qmgr&) = delete;

  void add_agent(const std::string& transport, std::shared_ptr<core::DeliveryAgent> agent);
  void set_notice_stamper(NoticeStamper stamper);
  // Recovery, then the first scans.
  void start();
  // A message was just committed to incoming/ (handled from the loop, later).
  void incoming(const std::string& id);
  // A trigger byte from public/qmgr (core/trigger.hpp).
  void request(char req);
  void tick();
  void reload(std::shared_ptr<const core::Config> cfg);
  // Stop starting deliveries (shutdown); in-flight ones finish.
  void stop_dispatching();
  Stats stats() const;
  // Deliveries running now (not counting activations and removals).
  size_t deliveries() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mta::qmgr
