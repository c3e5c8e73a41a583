#include "master/wiring.hpp"

#include "pickup/pickup.hpp"
#include "qmgr/agents.hpp"
#include "qmgr/qmgr.hpp"
#include "util/asio.hpp"
#include "util/log.hpp"

#include <fmt/core.h>

namespace mta::master {

struct Roles::Impl {
  net::io_context& io;
  std::shared_ptr<const core::Config> cfg;
  const queue::QueueStore& store;
  std::unique_ptr<qmgr::Qmgr> qm;
  std::unique_ptr<pickup::Pickup> pk;

  Impl(net::io_context& i, std::shared_ptr<const core::Config> c, const queue::QueueStore& s)
      : io(i), cfg(std::move(c)), store(s) {
    qm = std::make_unique<qmgr::Qmgr>(io, cfg, store, qmgr::Notifier{});
    pk = std::make_unique<pickup::Pickup>(io, cfg, store, [this](const std::string& id) { qm->incoming(id); });
  }

  std::string add_transport(const core::MasterService& s) {
    if (s.command == "error") qm->add_agent(s.service, std::make_shared<qmgr::ErrorAgent>(s.service == "retry"));
    else if (s.command == "discard") qm->add_agent(s.service, std::make_shared<qmgr::DiscardAgent>());
    return {};
  }
};

Roles::Roles(net::io_context& io, std::shared_ptr<const core::Config> cfg, const queue::QueueStore& store)
    : impl_(std::make_unique<Impl>(io, std::move(cfg), store)) {}

Roles::~Roles() = default;

std::string Roles::start(const std::vector<core::MasterService>& services) {
  for (const auto& s : services) {
    if (s.type == "unix") {
      if (auto e = impl_->add_transport(s); !e.empty()) return e;
    }
  }
  return {};
}

void Roles::reload(std::shared_ptr<const core::Config> cfg) {
  impl_->cfg = cfg;
  impl_->qm->reload(cfg);
  impl_->pk->reload(cfg);
}

void Roles::stop() { impl_->qm->stop_dispatching(); }

size_t Roles::busy() const { return impl_->qm->stats().in_flight + impl_->pk->in_progress(); }

qmgr::Qmgr& Roles::qmgr() { return *impl_->qm; }
pickup::Pickup& Roles::pickup() { return *impl_->pk; }

}  // namespace mta::master
