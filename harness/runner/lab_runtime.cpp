#include "runner/lab_runtime.hpp"

#include "dialog/script.hpp"
#include "dialog/session.hpp"
#include "lab/sandbox.hpp"
#include "mail/mailbox.hpp"
#include "model/text.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

namespace mxlab::runner {

namespace fs = std::filesystem;
using model::write_file;

namespace {

// Directories every host gets from its folder, besides the adapter's.
const char* const kHostDirs[] = {"/var/mail", "/var/log", "/home"};

std::string tail(const std::string& text, size_t max_lines) {
  auto lines = model::split_lines(text);
  size_t start = lines.size() > max_lines ? lines.size() - max_lines : 0;
  std::string out;
  if (start) out += "[... " + std::to_string(start) + " earlier lines]\n";
  for (size_t i = start; i < lines.size(); ++i) out += lines[i] + "\n";
  return out;
}

std::string slurp(const std::string& p) {
  try {
    return model::read_file(p);
  } catch (...) {
    return {};
  }
}

}  // namespace

Lab::Lab(const model::Case& c, const model::Topology& t, const model::Adapter& a, LabOptions o)
    : case_(c), topo_(t), adapter_(a), opt_(std::move(o)) {
  for (const auto& s : case_.steps)
    for (const auto& chk : s.checks)
      if (chk.kind == "accounted") tracing_ = true;
}

Lab::~Lab() {
  // Stop the MTAs politely so their logs are complete; PID 1's exit would
  // kill them anyway.
  for (auto& h : hosts_)
    if (h.mta) h.mta->stop(3000);
  if (services_) services_->stop();
}

std::string Lab::next_token() { return case_.id + "." + std::to_string(++tokens_); }

bool Lab::has_host(const std::string& name) const {
  for (const auto& h : hosts_)
    if (model::iequals(h.def->name, name)) return true;
  return false;
}

HostRt& Lab::host(const std::string& name) {
  for (auto& h : hosts_)
    if (model::iequals(h.def->name, name)) return h;
  throw std::runtime_error("no host \"" + name + "\" in topology " + topo_.name);
}

std::string Lab::outside(HostRt& h, const std::string& inside) const { return h.host->outside(inside); }

lab::Env Lab::mta_env() const {
  lab::Env extra = adapter_.env;
  if (!opt_.faketime_lib.empty()) {
    extra["LD_PRELOAD"] = opt_.faketime_lib;
    extra["FAKETIME_TIMESTAMP_FILE"] = "/var/lib/mxlab/clock/offset";
    extra["FAKETIME_NO_CACHE"] = "1";
    extra["NO_FAKE_STAT"] = "1";
  }
  return lab::base_env(extra);
}

void Lab::render_host(HostRt& h) {
  const model::Host& d = *h.def;
  const std::string r = h.root();
  fs::create_directories(r + "/etc");
  for (const char* dir : kHostDirs) fs::create_directories(r + dir);
  fs::create_directories(r + "/tmp");
  fs::create_directories(r + adapter_.confdir);
  for (const auto& m : adapter_.mounts) fs::create_directories(r + m);
  for (const auto& m : adapter_.mount_specs)
    if (m.type == model::AdapterMount::Type::dir && m.mode) ::chmod((r + m.path).c_str(), m.mode);
  ::chmod((r + "/tmp").c_str(), 01777);
  ::chmod((r + "/var/mail").c_str(), 01777);

  std::string resolv;
  if (topo_.dns.present) resolv = "nameserver " + topo_.dns.address + "\n";
  resolv += "options timeout:1 attempts:2\n";
  write_file(r + "/etc/resolv.conf", resolv);
  std::string short_name = d.name.substr(0, d.name.find('.'));
  write_file(r + "/etc/hosts", "127.0.0.1\tlocalhost\n" + d.addresses.front() + "\t" + d.name + " " + short_name + "\n");
  std::string passwd =
      "root:x:0:0:root:/root:/bin/sh\n"
      "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
      "mail:x:8:8:mail:/var/mail:/usr/sbin/nologin\n"
      "postfix:x:101:101::/var/spool/postfix:/usr/sbin/nologin\n"
      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
  std::string group =
      "root:x:0:\ndaemon:x:1:\nmail:x:8:\npostfix:x:101:\npostdrop:x:102:\nnogroup:x:65534:\n";
  // The MTA's own users and groups, with the machine's ids (they own its
  // set-gid helpers and spool files): copied, never invented.
  auto have = [](const std::string& file, const std::string& name) {
    return file.compare(0, name.size() + 1, name + ":") == 0 || file.find("\n" + name + ":") != std::string::npos;
  };
  for (const auto& name : adapter_.system_users) {
    auto pw = lab::system_user(name);
    if (!pw) throw std::runtime_error("adapter " + adapter_.name + " needs user " + name +
                                      ", which this machine lacks (ci/setup-mtas.sh creates it)");
    if (!have(passwd, name)) passwd += pw->passwd_line + "\n";
    if (!pw->group_line.empty() && !have(group, pw->group_name)) group += pw->group_line + "\n";
  }
  for (const auto& name : adapter_.system_groups) {
    auto gr = lab::system_group(name);
    if (gr.empty()) throw std::runtime_error("adapter " + adapter_.name + " needs group " + name +
                                             ", which this machine lacks (ci/setup-mtas.sh creates it)");
    if (!have(group, name)) group += gr + "\n";
  }
  for (const auto& u : d.users) {
    passwd += u.name + ":x:" + std::to_string(u.uid) + ":" + std::to_string(u.uid) + ":" + u.gecos + ":/home/" +
              u.name + ":/bin/sh\n";
    group += u.name + ":x:" + std::to_string(u.uid) + ":\n";
    std::string home = r + "/home/" + u.name;
    fs::create_directories(home);
    // With a single mapped uid (unprivileged) other owners cannot exist.
    if (lab::started_as_root()) (void)!::chown(home.c_str(), static_cast<uid_t>(u.uid), static_cast<gid_t>(u.uid));
  }
  write_file(r + "/etc/passwd", passwd);
  write_file(r + "/etc/group", group);
  write_file(r + "/etc/aliases", d.aliases.empty() ? std::string("postmaster: root\n") : d.aliases);

  // Configuration files through the adapter.
  for (const auto& f : adapter_.files) {
    const model::ConfigFile* own = d.config(f.name);
    std::string text;
    if (own && !own->file.empty()) {
      text = model::read_file(own->file);
    } else if (!f.template_.empty()) {
      std::string path = model::substitute(f.template_, h.vars);
      if (fs::exists(path)) text = model::read_file(path);
      else if (f.required || (!d.role.empty() && f.template_.find("{role}") != std::string::npos))
        throw std::runtime_error("host " + d.name + ": adapter " + adapter_.name + " has no " + f.name +
                                 " template for role \"" + d.role + "\" (" + path + ")");
    }
    if (!text.empty() && text.back() != '\n') text += '\n';
    text += model::substitute(f.text, h.vars);
    if (own) text += own->extra;
    write_file(r + adapter_.confdir + "/" + f.name, text, f.mode);
  }
  for (const auto& c : d.configs) {
    bool known = false;
    for (const auto& f : adapter_.files) known |= f.name == c.name;
    if (!known) {  // a file the adapter does not render: written as given
      std::string text = c.file.empty() ? std::string() : model::read_file(c.file);
      write_file(r + adapter_.confdir + "/" + c.name, text + c.extra);
    }
  }
}

void Lab::build() {
  // The guard of design.md: non-loopback addresses only in our own netns.
  if (!topo_.loopback_only() && lab::current_netns() == lab::initial_netns())
    throw std::runtime_error("refusing addresses outside 127.0.0.0/8 outside the lab's own network namespace");
  fs::create_directories(scratch());
  fs::create_directories(opt_.run_dir + "/clock");
  lab::NsFds here;
  lab::ip({"link", "set", "lo", "up"}, here, scratch());
  lab::ip({"link", "add", "br0", "type", "bridge"}, here, scratch());
  lab::ip({"link", "set", "br0", "up"}, here, scratch());
  auto lab_addrs = topo_.lab_addresses();
  for (const auto& a : lab_addrs) lab::ip({"addr", "add", a + "/32", "dev", "lo"}, here, scratch());
  if (!lab_addrs.empty()) lab::ip({"route", "add", "default", "dev", "br0", "src", lab_addrs.front()}, here, scratch());

  clock_ = std::make_unique<lab::Clock>(opt_.run_dir + "/clock", topo_.start);

  int index = 0;
  hosts_.reserve(topo_.hosts.size());
  for (const auto& d : topo_.hosts) {
    HostRt h;
    h.def = &d;
    h.folder = opt_.run_dir + "/hosts/" + d.name;
    h.vars = {{"bin", opt_.mta_bin},
              {"confdir", adapter_.confdir},
              {"hostname", d.name},
              {"role", d.role},
              {"repo", opt_.repo},
              {"adapterdir", opt_.adapter_dir},
              {"address", d.addresses.front()},
              {"clockfile", "/var/lib/mxlab/clock/offset"}};
    render_host(h);
    const std::string r = h.root();
    std::vector<lab::Mount> mounts;
    using K = lab::Mount::Kind;
    for (const char* f : {"/etc/resolv.conf", "/etc/hosts", "/etc/passwd", "/etc/group", "/etc/aliases"})
      mounts.push_back({K::bind, r + f, f, true});
    mounts.push_back({K::bind, r + adapter_.confdir, adapter_.confdir, false});
    // The adapter's mounts, in its order; sources and lower layers are
    // paths of the machine ({clockdir}: the lab clock's directory).
    auto mvars = h.vars;
    mvars["clockdir"] = opt_.run_dir + "/clock";
    mvars["hostroot"] = r;
    for (const auto& m : adapter_.mount_specs) {
      using T = model::AdapterMount::Type;
      switch (m.type) {
        case T::dir: mounts.push_back({K::bind, r + m.path, m.path, false}); break;
        case T::tmpfs: mounts.push_back({K::tmpfs, "mode=0755", m.path, false}); break;
        case T::bind: {
          std::string src = model::substitute(m.source, mvars);
          mounts.push_back({K::bind, src, m.path, fs::is_regular_file(src)});
          break;
        }
        case T::overlay: mounts.push_back({K::overlay, model::substitute(m.lower, mvars), m.path, false}); break;
      }
    }
    for (const char* dir : kHostDirs) mounts.push_back({K::bind, r + dir, dir, false});
    mounts.push_back({K::bind, opt_.run_dir + "/clock", "/var/lib/mxlab/clock", false});
    mounts.push_back({K::tmpfs, "", "/dev/shm", false});
    mounts.push_back({K::bind, r + "/tmp", "/tmp", false});  // the run dir may be below /tmp
    // The host's own /tmp hides the machine's: a checkout, an MTA binary or
    // libfaketime below /tmp (a clone in /tmp/x) is put back at its path,
    // as every host outside /tmp sees them.
    std::set<std::string> keep;
    for (const std::string& p : {fs::path(opt_.mta_bin).parent_path().string(), opt_.repo, opt_.adapter_dir,
                                 fs::path(opt_.faketime_lib).parent_path().string()}) {
      if (p.rfind("/tmp/", 0) != 0 || !fs::is_directory(p)) continue;
      keep.insert(fs::path(p).lexically_normal().string());
    }
    std::string last;
    for (const auto& k : keep) {  // sorted: a folder before the folders below it, which it already holds
      if (!last.empty() && k.rfind(last + "/", 0) == 0) continue;
      mounts.push_back({K::bind, k, k, false});
      last = k;
    }
    h.host = std::make_unique<lab::Host>(d.name, h.folder, mounts, std::vector<std::string>{"/etc", "/var"});
    h.host->attach_network("br0", ++index, d.addresses, scratch());
    hosts_.push_back(std::move(h));
  }

  services_ = Services::create(topo_.file);
  if (topo_.dns.present) services_->start_dns(topo_.dns);
  for (const auto& p : topo_.peers) services_->start_peer(p);
}

void Lab::start_all() {
  if (!adapter_.prepare.empty()) {
    for (auto& h : hosts_) {
      auto r = command(h, adapter_.prepare, {}, "", 60000);
      if (r.status != 0)
        throw std::runtime_error("host " + h.def->name + ": prepare command failed (" +
                                 (r.timed_out ? std::string("timed out") : "status " + std::to_string(r.status)) +
                                 "): " + std::string(model::trim(r.err)));
    }
  }
  for (auto& h : hosts_) start_mta(h);
  for (auto& h : hosts_) wait_ready(h);
}

lab::RunResult Lab::command(HostRt& h, const std::string& tmpl, const std::vector<std::string>& args,
                            const std::string& input, int timeout_ms, bool quiet) {
  std::vector<std::string> argv;
  for (const auto& w : model::split_command(tmpl)) {
    if (w == "{args}") argv.insert(argv.end(), args.begin(), args.end());
    else argv.push_back(model::substitute(w, h.vars));
  }
  auto r = lab::run(argv, mta_env(), h.host->ns(), input, timeout_ms, scratch());
  if (quiet && r.status == 0) return r;
  notes_ += "$ [" + h.def->name + "] " + r.command + "  -> " + (r.timed_out ? "timed out" : std::to_string(r.status)) + "\n";
  if (!r.err.empty()) notes_ += tail(r.err, 20);
  return r;
}

void Lab::start_mta(HostRt& h) {
  if (adapter_.foreground) {
    std::vector<std::string> argv;
    for (const auto& w : model::split_command(adapter_.start)) argv.push_back(model::substitute(w, h.vars));
    h.mta = lab::spawn(argv, mta_env(), h.host->ns(), "", h.folder + "/mta.out", h.folder + "/mta.err");
  } else {
    auto r = command(h, adapter_.start, {}, "", 60000);
    if (r.status != 0)
      throw std::runtime_error("host " + h.def->name + ": start command failed (" +
                               (r.timed_out ? std::string("timed out") : "status " + std::to_string(r.status)) +
                               "): " + std::string(model::trim(r.err)));
  }
}

void Lab::stop_mta(HostRt& h) {
  if (!adapter_.stop.empty()) command(h, adapter_.stop, {}, "", 30000);
  if (h.mta) {
    if (!adapter_.stop.empty()) {
      if (!h.mta->wait_for(20000)) h.mta->stop(5000);
    } else {
      h.mta->stop(20000);
    }
    h.mta.reset();
  }
}

void Lab::wait_ready(HostRt& h) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::seconds(adapter_.ready_timeout);
  std::string last = "no attempt";
  // The first listening address: the host's LAN address, or its loopback
  // (a null client listens on 127.0.0.1 only). Both are probed from inside
  // the host's network namespace.
  std::vector<std::string> probes = {h.def->addresses.front(), "127.0.0.1"};
  for (;;) {
    if (h.mta && !h.mta->running()) {
      throw std::runtime_error("host " + h.def->name + ": the MTA exited with status " +
                               std::to_string(h.mta->status().value_or(-1)) + " before it was ready\n" +
                               tail(slurp(h.folder + "/mta.err"), 20));
    }
    for (const auto& addr : probes) {
      std::string err;
      int fd = lab::connect_in(h.host->ns().net, addr, 25, "", 1000, err);
      if (fd < 0) {
        last = addr + ":25: " + err;
        continue;
      }
      dialog::Reply reply;
      bool got = dialog::read_reply(fd, 5000, reply, err);
      if (got) {
        ::send(fd, "QUIT\r\n", 6, MSG_NOSIGNAL);
        ::close(fd);
        return;
      }
      ::close(fd);
      last = addr + ":25: connected, but " + err;
    }
    if (Clock::now() >= deadline)
      throw std::runtime_error("host " + h.def->name + ": no SMTP banner within " +
                               std::to_string(adapter_.ready_timeout) + " s (" + last + ")\n" +
                               tail(slurp(h.folder + "/mta.err"), 20));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void Lab::wake_all(std::string& notes) {
  if (adapter_.wake.empty()) return;
  for (auto& h : hosts_) {
    auto r = command(h, adapter_.wake, {}, "", 30000);
    if (r.status != 0) notes += "wake on " + h.def->name + " exited " + std::to_string(r.status) + "\n";
  }
}

std::vector<QueueEntry> Lab::queue(HostRt& h) {
  if (adapter_.queue.empty()) throw std::runtime_error("adapter " + adapter_.name + " has no <queue> command");
  auto r = command(h, adapter_.queue, {}, "", 30000, true);
  if (r.status != 0)
    throw std::runtime_error("queue listing on " + h.def->name + " failed (status " + std::to_string(r.status) +
                             "): " + std::string(model::trim(r.err)));
  try {
    return parse_queue(adapter_.queue_parser, r.out);
  } catch (const std::exception& e) {
    throw std::runtime_error("queue listing on " + h.def->name + " (parser " + adapter_.queue_parser +
                             "): " + e.what());
  }
}

std::vector<mail::Message> Lab::mailbox(HostRt& h, const std::string& user, const std::string& format,
                                        const std::string& inside_path) {
  auto vars = h.vars;
  vars["user"] = user;
  std::string inside = inside_path.empty() ? model::substitute(adapter_.mailbox_path, vars) : inside_path;
  std::string out = outside(h, inside);
  if (out.empty()) throw std::runtime_error("mailbox " + inside + " is not on a folder the harness mounted in " + h.def->name);
  std::string fmt = format.empty() ? adapter_.mailbox_format : format;
  return fmt == "maildir" ? mail::read_maildir(out) : mail::read_mbox(out);
}

std::string Lab::log_text(HostRt& h) {
  std::string p = outside(h, model::substitute(adapter_.log_path, h.vars));
  return p.empty() ? std::string() : slurp(p);
}

std::string Lab::output(bool full) {
  std::string out = notes_;
  if (!full) return out;
  for (auto& h : hosts_) {
    std::string log = log_text(h);
    out += "==== " + h.def->name + ": " + adapter_.log_path + "\n" + tail(log, 300);
    std::string err = slurp(h.folder + "/mta.err");
    if (!err.empty()) out += "==== " + h.def->name + ": MTA stderr\n" + tail(err, 100);
    std::string so = slurp(h.folder + "/mta.out");
    if (!so.empty()) out += "==== " + h.def->name + ": MTA stdout\n" + tail(so, 50);
  }
  if (services_) {
    for (const auto& p : topo_.peers) {
      std::string t = services_->peer_transcripts(p.name);
      if (!t.empty()) out += "==== peer " + p.name + " transcripts\n" + tail(t, 300);
    }
    auto q = services_->dns_log();
    if (!q.empty()) {
      out += "==== DNS queries\n";
      for (const auto& x : q)
        out += x.transport + " " + x.client + " " + x.name + " " + x.type + " -> " + x.result + " (" +
               std::to_string(x.answers) + ")\n";
    }
  }
  return out;
}

}  // namespace mxlab::runner
