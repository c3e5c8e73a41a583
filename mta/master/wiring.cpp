#include "master/wiring.hpp"

#include "bounce/bounce.hpp"
#include "dns/resolver.hpp"
#include "local/local.hpp"
#include "smtp/smtp_agent.hpp"
#include "smtpd/server.hpp"
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

  std::shared_ptr<bounce::Settings> bounce_settings;

  // Notices are built by the bounce library: the one to the sender (none for
  // mail from <>) and the postmaster copies notify_classes asks for.
  qmgr::Notifier make_notifier() {
    return [this](const qmgr::NoticeRequest& r, int64_t now) {
      bounce::Kind k = r.kind == qmgr::NoticeKind::failure ? bounce::Kind::failure
                       : r.kind == qmgr::NoticeKind::delay ? bounce::Kind::delay
                                                           : bounce::Kind::success;
      std::vector<bounce::RecipientReport> reports;
      for (const auto& [rc, res] : r.rcpts) reports.push_back({rc, res});
      std::vector<core::Message> out;
      if (auto n = bounce::make_notice(k, *r.original, reports, *bounce_settings, now)) out.push_back(std::move(*n));
      for (auto& p : bounce::make_postmaster_notices(k, *r.original, reports, *bounce_settings, now))
        out.push_back(std::move(p));
      return out;
    };
  }

  // main.cf plus the service's -o overrides from master.cf.
  std::shared_ptr<const core::Config> service_config(const core::MasterService& s) const {
    if (s.overrides.empty()) return cfg;
    auto c = std::make_shared<core::Config>(*cfg);
    for (const auto& [n, v] : s.overrides) c->set_override(n, v);
    return c;
  }

  Impl(net::io_context& i, std::shared_ptr<const core::Config> c, const queue::QueueStore& s)
      : io(i), cfg(std::move(c)), store(s) {
    bounce_settings = std::make_shared<bounce::Settings>(bounce::Settings::from(*cfg));
    qm = std::make_unique<qmgr::Qmgr>(io, cfg, store, make_notifier());
    qm->set_notice_stamper([this](core::Message& m, const std::string& id, int64_t now) {
      bounce::stamp_received(m, id, *bounce_settings, now);
    });
    pk = std::make_unique<pickup::Pickup>(io, cfg, store, [this](const std::string& id) { qm->incoming(id); });
  }

  std::vector<core::MasterService> transports;  // for rebuilding agents on reload
  std::shared_ptr<dns::Resolver> resolver;       // one stub resolver for every smtp transport
  std::map<std::string, std::shared_ptr<smtp::SmtpAgent>> smtp_agents;
  struct Listener {
    core::MasterService service;
    std::unique_ptr<smtpd::Server> server;
  };
  std::vector<Listener> listeners;

  std::string add_listener(const core::MasterService& s) {
    try {
      auto server = std::make_unique<smtpd::Server>(io, service_config(s), store,
                                                    [this](const std::string& id) { qm->incoming(id); });
      // One session in all listeners and no delivery running: that
      // session's commit may block the loop (smtpd::Server::set_loop_idle).
      server->set_loop_idle([this] {
        if (qm->deliveries() != 0) return false;
        size_t n = 0;
        for (const auto& l : listeners) n += l.server->active_sessions();
        return n <= 1;
      });
      if (auto e = server->listen(s); !e.empty()) return e;
      listeners.push_back({s, std::move(server)});
    } catch (const core::ConfigError& e) {
      return e.what();
    }
    return {};
  }

  std::string add_transport(const core::MasterService& s) {
    if (s.command == "local") {
      try {
        auto cfg_s = service_config(s);
        auto agent = std::make_shared<local::LocalAgent>(io, cfg_s, store, [this](const std::string& id) { qm->incoming(id); });
        qm->add_agent(s.service, agent);
      } catch (const core::ConfigError& e) {
        return e.what();
      }
    } else if (s.command == "smtp") {
      try {
        auto cfg_s = service_config(s);
        auto it = smtp_agents.find(s.service);
        if (it != smtp_agents.end()) {
          it->second->reload(cfg_s);  // keeps deliveries in flight
        } else {
          if (!resolver) resolver = std::make_shared<dns::Resolver>(io);
          auto agent = std::make_shared<smtp::SmtpAgent>(io, cfg_s, s.service, resolver);
          smtp_agents[s.service] = agent;
          qm->add_agent(s.service, agent);
        }
      } catch (const core::ConfigError& e) {
        return e.what();
      }
    } else if (s.command == "error") qm->add_agent(s.service, std::make_shared<qmgr::ErrorAgent>(s.service == "retry"));
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
      impl_->transports.push_back(s);
      if (auto e = impl_->add_transport(s); !e.empty()) return e;
    }
  }
  for (const auto& s : services) {
    if (s.type == "inet" && s.command == "smtpd") {
      if (auto e = impl_->add_listener(s); !e.empty()) return e;
    }
  }
  return {};
}

void Roles::reload(std::shared_ptr<const core::Config> cfg) {
  impl_->cfg = cfg;
  impl_->bounce_settings = std::make_shared<bounce::Settings>(bounce::Settings::from(*cfg));
  impl_->qm->reload(cfg);
  impl_->pk->reload(cfg);
  // Agents read their settings once: build them again.
  if (impl_->resolver) impl_->resolver->reload();
  for (const auto& s : impl_->transports)
    if (auto e = impl_->add_transport(s); !e.empty()) log::error("master", "reload: {}", e);
  // Listeners stay bound (inet_interfaces needs stop + start, as in Postfix);
  // new sessions use the new configuration.
  for (auto& l : impl_->listeners) {
    try {
      l.server->reload(impl_->service_config(l.service));
    } catch (const core::ConfigError& e) {
      log::error("master", "reload: {}", e.what());
    }
  }
}

void Roles::stop() {
  for (auto& l : impl_->listeners) {
    l.server->stop_accepting();
    l.server->close_idle_sessions();
  }
  impl_->qm->stop_dispatching();
  // Idle cached SMTP sessions get QUIT now; the drain does not wait for them.
  for (auto& [name, agent] : impl_->smtp_agents) agent->stop_caching();
}

size_t Roles::busy() const {
  size_t n = impl_->qm->stats().in_flight + impl_->pk->in_progress();
  for (const auto& l : impl_->listeners) n += l.server->active_sessions();
  return n;
}

qmgr::Qmgr& Roles::qmgr() { return *impl_->qm; }
pickup::Pickup& Roles::pickup() { return *impl_->pk; }

}  // namespace mta::master
