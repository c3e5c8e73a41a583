// NAME
//   master/wiring - build the roles of one mxmta process and connect them
// DESCRIPTION
//   The daemon's composition root: the only place that knows every role.
//   cleanup's "queued" notice goes to the queue manager; master.cf decides
//   which transports exist (a `unix` service named T whose command is smtp,
//   local, error or discard) and which smtpd listeners run (`inet` services).
//   Roles never call each other otherwise.
#pragma once
#include "core/config.hpp"
#include "core/master_cf.hpp"
#include "queue/queue_store.hpp"

#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}
namespace mta::qmgr {
class Qmgr;
}
namespace mta::pickup {
class Pickup;
}

namespace mta::master {

class Roles {
 public:
  Roles(boost::asio::io_context& io, std::shared_ptr<const core::Config> cfg, const queue::QueueStore& store);
  ~Roles();
  // Creates agents and listeners; returns a fatal error text, or "".
  std::string start(const std::vector<core::MasterService>& services);
  void reload(std::shared_ptr<const core::Config> cfg);
  // Stop accepting and dispatching (shutdown).
  void stop();
  // Sessions and deliveries still running.
  size_t busy() const;
  qmgr::Qmgr& qmgr();
  pickup::Pickup& pickup();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mta::master
