#include "pickup/pickup.hpp"

#include "cleanup/cleanup.hpp"
#include "queue/queue_file.hpp"
#include "util/asio.hpp"
#include "util/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <set>

namespace mta::pickup {

struct Pickup::Impl : std::enable_shared_from_this<Pickup::Impl> {
  net::io_context& io;
  std::shared_ptr<const core::Config> cfg;
  const queue::QueueStore& store;
  std::function<void(const std::string&)> on_queued;
  cleanup::Settings settings;
  std::set<std::string> busy;

  Impl(net::io_context& i, std::shared_ptr<const core::Config> c, const queue::QueueStore& s,
       std::function<void(const std::string&)> q)
      : io(i), cfg(std::move(c)), store(s), on_queued(std::move(q)), settings(cleanup::Settings::from(*cfg)) {}

  void scan() {
    for (const auto& name : store.list(queue::Q::maildrop)) {
      if (busy.count(name)) continue;
      busy.insert(name);
      util::spawn_logged(io.get_executor(), take(shared_from_this(), name), "pickup");
    }
  }

  static net::awaitable<void> take(std::shared_ptr<Impl> self, std::string name) {
    co_await self->take_body(name);
    self->busy.erase(name);
  }

  net::awaitable<void> take_body(const std::string& name) {
    std::string path = store.path(queue::Q::maildrop, name);
    struct stat file {};
    if (::stat(path.c_str(), &file) != 0) co_return;  // gone meanwhile
    core::Message in;
    auto r = queue::read_queue_file(path, in.env, &in.content);
    if (r.ec) co_return;  // gone meanwhile
    if (!r.bad.empty()) {
      log::warn("pickup", "{}: not a queue file ({}); moved to corrupt/", name, r.bad);
      store.move(queue::Q::maildrop, queue::Q::corrupt, name);
      co_return;
    }
    auto b = std::make_shared<cleanup::Builder>();
    if (auto ec = b->open(store)) {
      log::warn("pickup", "{}: cannot create queue file: {}", name, ec.message());
      co_return;  // retried at the next scan
    }
    bool requeued = in.env.attrs.count(kCleanedAttr) > 0;
    core::Message& m = b->message();
    m.env.arrival = in.env.arrival;  // the submission time (cleanup fills it when absent)
    m.env.sender = in.env.sender;
    m.env.fullname = in.env.fullname;
    m.env.uid = in.env.uid;
    m.env.origin = requeued ? in.env.origin : "pickup";
    m.env.protocol = requeued ? in.env.protocol : "local";
    m.env.client_name = in.env.client_name;
    m.env.client_addr = in.env.client_addr;
    m.env.helo = in.env.helo;
    m.env.envid = in.env.envid;
    m.env.ret = in.env.ret;
    m.env.body_type = in.env.body_type;
    for (auto rc : in.env.rcpts) {
      rc.dsn_status.clear();
      rc.reason.clear();
      m.env.rcpts.push_back(std::move(rc));
    }
    m.content = std::move(in.content);
    b->local_submission = !requeued;
    b->extract_recipients = !requeued && in.env.attrs.count(kExtractAttr) > 0;
    cleanup::Status st = b->finish(settings);
    if (!st.ok) {
      log::warn("pickup", "{}: uid={} from=<{}>: {}; moved to corrupt/", name, in.env.uid, in.env.sender, st.text);
      b->discard();
      store.move(queue::Q::maildrop, queue::Q::corrupt, name);
      co_return;
    }
    auto commit = [b]() { return b->commit(); };
    auto ec = co_await util::run_blocking(std::move(commit));
    if (ec) {
      log::warn("pickup", "{}: cannot commit queue file: {}", name, ec.message());
      co_return;
    }
    ::unlink(path.c_str());
    // Postfix logs the owner of the maildrop file, and for a file that
    // postsuper -r put back its old queue id: "ID: uid=101 from=<a@b>
    // orig_id=OLDID" (observed with 3.7 by suites/queue/0009-postsuper-requeue).
    int uid = !requeued && in.env.uid >= 0 ? in.env.uid : static_cast<int>(file.st_uid);
    if (requeued)
      log::info("pickup", "{}: uid={} from=<{}> orig_id={}", b->id(), uid, m.env.sender, name);
    else
      log::info("pickup", "{}: uid={} from=<{}>", b->id(), uid, m.env.sender);
    if (on_queued) on_queued(b->id());
  }
};

Pickup::Pickup(net::io_context& io, std::shared_ptr<const core::Config> cfg, const queue::QueueStore& store,
               std::function<void(const std::string&)> on_queued)
    : impl_(std::make_shared<Impl>(io, std::move(cfg), store, std::move(on_queued))) {}

Pickup::~Pickup() = default;

void Pickup::scan() { impl_->scan(); }

void Pickup::reload(std::shared_ptr<const core::Config> cfg) {
  impl_->cfg = std::move(cfg);
  impl_->settings = cleanup::Settings::from(*impl_->cfg);
}

size_t Pickup::in_progress() const { return impl_->busy.size(); }

}  // namespace mta::pickup
