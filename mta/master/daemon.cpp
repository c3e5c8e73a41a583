#include "master/daemon.hpp"

#include "core/config.hpp"
#include "core/fault.hpp"
#include "core/master_cf.hpp"
#include "core/params.hpp"
#include "core/trigger.hpp"
#include "master/wiring.hpp"
#include "pickup/pickup.hpp"
#include "qmgr/qmgr.hpp"
#include "queue/queue_store.hpp"
#include "util/asio.hpp"
#include "util/log.hpp"
#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>

namespace mta::master {
namespace {

constexpr const char* kSvc = "master";

// Reads every typed parameter once so that a bad value is reported at start,
// with its file and line, instead of when a role first needs it.
void validate(const core::Config& c) {
  for (const auto& p : core::registry()) {
    switch (p.type) {
      case core::ParamType::boolean: c.get_bool(p.name); break;
      case core::ParamType::integer: c.get_int(p.name); break;
      case core::ParamType::time: c.get_time(p.name); break;
      default: c.get(p.name); break;
    }
  }
  for (const auto& e : c.entries()) c.get(e.name);  // expansion errors (nesting, syntax)
}

std::string first_label(const std::string& h) { return h.substr(0, h.find('.')); }

// A FIFO the daemon reads trigger bytes from. A write end is kept open so that
// reads never see end-of-file when a writer closes.
class TriggerFifo {
 public:
  TriggerFifo(net::io_context& io, const std::string& path, std::function<void(char)> on_byte)
      : path_(path), in_(io), on_byte_(std::move(on_byte)) {}

  std::string open() {
    ::unlink(path_.c_str());
    if (::mkfifo(path_.c_str(), 0622) != 0) return "mkfifo " + path_ + ": " + std::strerror(errno);
    ::chmod(path_.c_str(), 0622);
    int rfd = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (rfd < 0) return "open " + path_ + ": " + std::strerror(errno);
    keep_.reset(::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    in_.assign(rfd);
    read();
    return {};
  }
  void close() {
    boost::system::error_code ec;
    in_.close(ec);
    keep_.reset();
    ::unlink(path_.c_str());
  }

 private:
  void read() {
    in_.async_read_some(net::buffer(buf_), [this](boost::system::error_code ec, size_t n) {
      if (ec) return;  // closed at shutdown
      for (size_t i = 0; i < n; ++i) on_byte_(buf_[i]);
      read();
    });
  }
  std::string path_;
  net::posix::stream_descriptor in_;
  util::UniqueFd keep_;
  std::function<void(char)> on_byte_;
  char buf_[64];
};

// The self-check's deliberate fault (core/fault.hpp): the parameter selects
// it for the whole daemon; MXMTA_FAULT in the environment does the same for
// every mxmta process. Logged loudly, so that a log never hides that this
// daemon misbehaves on purpose.
void select_fault(const core::Config& c) {
  std::string name = c.get("mxmta_self_check_fault");
  if (!name.empty()) {
#ifdef MX_FAULTS
    if (core::fault::parse(name) == core::fault::Id::none)
      log::warn(kSvc, "mxmta_self_check_fault: unknown fault \"{}\"; none selected", name);
    core::fault::select(name);
#else
    log::warn(kSvc, "mxmta_self_check_fault = {}: ignored, this mxmta was built without MX_FAULTS", name);
#endif
  }
#ifdef MX_FAULTS
  for (const auto& f : core::fault::all())
    if (core::fault::active(f.id)) log::warn(kSvc, "self-check fault {} is active: {}", f.name, f.what);
#endif
}

void report_ready(int fd, const std::string& what) {
  if (fd < 0) return;
  std::string s = what + "\n";
  (void)util::write_all(fd, s);
  ::close(fd);
}

}  // namespace

int run_daemon(const std::string& config_dir, bool foreground, int ready_fd) {
  std::vector<std::string> warnings;
  std::shared_ptr<core::Config> cfg;
  std::vector<core::MasterService> services;
  try {
    cfg = std::make_shared<core::Config>(core::Config::load(config_dir, &warnings));
    validate(*cfg);
    services = core::load_master_cf(config_dir);
  } catch (const core::ConfigError& e) {
    log::fatal(kSvc, "{}", e.what());
  }

  std::string maillog = cfg->get("maillog_file");
  log::Target t;
  t.program = "mxmta";
  t.syslog_name = cfg->get("syslog_name");
  t.host_label = first_label(cfg->get("myhostname"));
  t.maillog_file = maillog;
  t.to_log = true;
  t.to_stderr = foreground && maillog.empty();
  log::configure(t);
  for (const auto& w : warnings) log::warn(kSvc, "{}", w);
  select_fault(*cfg);

  queue::QueueStore store(cfg->get("queue_directory"));
  if (auto ec = store.ensure_dirs()) log::fatal(kSvc, "create queue directories under {}: {}", store.root(), ec.message());

  // The pid lock: one daemon per queue directory.
  util::UniqueFd pidfd(::open(store.pid_file().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!pidfd) log::fatal(kSvc, "open lock file {}: {}", store.pid_file(), std::strerror(errno));
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (::fcntl(pidfd.get(), F_SETLK, &fl) != 0) log::fatal(kSvc, "the mail system is already running");
  std::string pidtext = std::to_string(::getpid()) + "\n";
  if (::ftruncate(pidfd.get(), 0) != 0 || util::write_all(pidfd.get(), pidtext))
    log::warn(kSvc, "write {}: {}", store.pid_file(), std::strerror(errno));

  ::signal(SIGPIPE, SIG_IGN);
  util::set_blocking_pool_size(static_cast<unsigned>(cfg->get_int("mxmta_io_threads")));
  store.enable_reuse(static_cast<size_t>(std::max<long long>(0, cfg->get_int("mxmta_queue_file_reuse_limit"))));

  net::io_context io(1);
  Roles roles(io, cfg, store);
  std::string err = roles.start(services);
  if (!err.empty()) log::fatal(kSvc, "{}", err);

  TriggerFifo qfifo(io, store.fifo("qmgr"), [&](char c) { roles.qmgr().request(c); });
  TriggerFifo pfifo(io, store.fifo("pickup"), [&](char) { roles.pickup().scan(); });
  if (auto e = qfifo.open(); !e.empty()) log::fatal(kSvc, "{}", e);
  if (auto e = pfifo.open(); !e.empty()) log::fatal(kSvc, "{}", e);

  auto tick_every = std::chrono::seconds(std::max<long long>(1, cfg->get_time("mxmta_scheduler_tick")));
  net::steady_timer tick(io);
  std::function<void()> arm = [&] {
    tick.expires_after(tick_every);
    tick.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      roles.qmgr().tick();
      roles.pickup().scan();
      arm();
    });
  };
  arm();

  bool stopping = false;
  int exit_signal = 0;
  net::steady_timer drain(io);
  std::chrono::steady_clock::time_point drain_deadline;
  std::function<void()> drain_check = [&] {
    if (roles.busy() == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
      if (roles.busy() != 0) log::warn(kSvc, "drain timeout: {} sessions or deliveries interrupted; they stay queued", roles.busy());
      tick.cancel();
      qfifo.close();
      pfifo.close();
      io.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(50));
    drain.async_wait([&](boost::system::error_code ec) {
      if (!ec) drain_check();
    });
  };

  net::signal_set sigs(io, SIGTERM, SIGINT, SIGHUP);
  std::function<void()> wait_signal = [&] {
    sigs.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        try {
          std::vector<std::string> w;
          auto next = std::make_shared<core::Config>(core::Config::load(config_dir, &w));
          validate(*next);
          for (const auto& x : w) log::warn(kSvc, "{}", x);
          cfg = next;
          roles.reload(cfg);
          log::reopen();
          log::info(kSvc, "reload -- version {}, configuration {}", cfg->get("mail_version"), config_dir);
        } catch (const core::ConfigError& e) {
          log::error(kSvc, "reload: {}; keeping the running configuration", e.what());
        }
        wait_signal();
        return;
      }
      if (stopping) return;
      stopping = true;
      exit_signal = sig;
      log::info(kSvc, "terminating on signal {}", sig);
      roles.stop();
      drain_deadline = std::chrono::steady_clock::now() +
                       std::chrono::seconds(std::max<long long>(0, cfg->get_time("mxmta_drain_timeout")));
      drain_check();
    });
  };
  wait_signal();

  roles.qmgr().start();
  roles.pickup().scan();
  log::info(kSvc, "daemon started -- version {}, configuration {}", cfg->get("mail_version"), config_dir);
  report_ready(ready_fd, "OK");
  if (!foreground) {
    // Detach from the terminal only now: start-up errors were printed on it.
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::close(null);
    }
    log::Target quiet = log::target();
    quiet.to_stderr = false;
    log::configure(quiet);
  }

  // Spinning only pays where another CPU runs the client meanwhile; on one CPU
  // it would delay the very process whose next command the loop waits for.
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  const bool several_cpus = ::sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) > 1;
  const auto spin = std::chrono::microseconds(several_cpus ? cfg->get_int("mxmta_loop_spin_microseconds") : 0);
  util::run_spinning(io, spin);
  (void)exit_signal;
  return 0;
}

}  // namespace mta::master
