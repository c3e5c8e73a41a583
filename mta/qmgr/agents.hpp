// NAME
//   qmgr/agents - the error(8), retry and discard(8) delivery agents
// DESCRIPTION
//   error: every recipient bounces with the next hop as the reason
//     ("local_transport = error:local delivery is disabled" -> dsn 5.0.0,
//     status=bounced (local delivery is disabled)); a next hop that starts with
//     an enhanced status code ("5.1.1 text", "4.3.0 text") uses that code.
//   retry: the same, deferred (4.0.0).
//   discard: every recipient is reported delivered ("discarded").
//   Relay is "none". They complete at once.
#pragma once
#include "core/delivery.hpp"

#include <string>

namespace mta::qmgr {

class ErrorAgent : public core::DeliveryAgent {
 public:
  explicit ErrorAgent(bool soft) : soft_(soft) {}
  void deliver(core::DeliveryRequest req, core::DeliveryDone done) override;

 private:
  bool soft_;
};

class DiscardAgent : public core::DeliveryAgent {
 public:
  void deliver(core::DeliveryRequest req, core::DeliveryDone done) override;
};

}  // namespace mta::qmgr
