#include "lab/host.hpp"

#include "dialog/session.hpp"
#include "lab/sandbox.hpp"
#include "model/text.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <map>
#include <stdexcept>
#include <thread>

namespace mxlab::lab {

namespace fs = std::filesystem;

namespace {

// One mount(2) call prepared in the parent, so the forked anchor only
// makes system calls.
struct MountOp {
  std::string source, target, fstype, data, what;
  unsigned long flags = 0;
  bool via_fd = false;  // bind: source opened O_PATH before the overlays
  std::string fd_path;  // "/proc/self/fd/N", filled in the anchor
  // A mount point below an earlier mount: made in the anchor first
  // (directories shallowest first; the last one a file for file mounts).
  std::vector<std::string> mkdirs;
  std::string mkfile;
};

bool below(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

[[noreturn]] void anchor_fail(int fd, const std::string& what) {
  std::string msg = what + ": " + std::strerror(errno);
  (void)!::write(fd, msg.data(), msg.size());
  ::_exit(1);
}

}  // namespace

Host::Host(std::string name, std::string folder, std::vector<Mount> mounts, std::vector<std::string> overlay_roots)
    : name_(std::move(name)), folder_(std::move(folder)), mounts_(std::move(mounts)) {
  // Plan: overlays for the roots that must be private and writable, and
  // for missing mount points (in an overlay root that holds them, else at
  // their nearest existing ancestor), shallowest first; then binds and tmpfs.
  std::map<std::string, std::vector<std::pair<std::string, bool>>> missing;  // overlay root -> (relative, is_file)
  for (const auto& r : overlay_roots) missing[r];
  // The earlier mount each mount point lies below, if any (the deepest).
  std::vector<const Mount*> parent(mounts_.size(), nullptr);
  for (size_t i = 0; i < mounts_.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (!mounts_[j].is_file && below(mounts_[i].target, mounts_[j].target) &&
          (!parent[i] || mounts_[j].target.size() > parent[i]->target.size()))
        parent[i] = &mounts_[j];
  for (size_t i = 0; i < mounts_.size(); ++i) {
    const Mount& m = mounts_[i];
    if (parent[i] || exists(m.target)) continue;
    fs::path p(m.target);
    std::string root;
    for (const auto& r : overlay_roots)
      if (model::starts_with(m.target, r + "/") && r.size() > root.size()) root = r;
    if (!root.empty()) {
      missing[root].emplace_back(p.lexically_relative(root).string(), m.is_file);
      continue;
    }
    fs::path anc = p.parent_path();
    while (!anc.empty() && anc != anc.root_path() && !exists(anc.string())) anc = anc.parent_path();
    if (anc.empty() || anc == anc.root_path())
      throw std::runtime_error("host " + name_ + ": cannot make mount point " + m.target +
                               " (its first existing parent would be /)");
    missing[anc.string()].emplace_back(p.lexically_relative(anc).string(), m.is_file);
  }
  std::vector<MountOp> ops;
  std::vector<std::string> ancestors;
  for (const auto& [a, _] : missing) ancestors.push_back(a);
  std::sort(ancestors.begin(), ancestors.end(), [](const std::string& x, const std::string& y) {
    return std::count(x.begin(), x.end(), '/') < std::count(y.begin(), y.end(), '/');
  });
  int n = 0;
  for (const auto& a : ancestors) {
    std::string layer = folder_ + "/.overlay/" + std::to_string(n++);
    fs::create_directories(layer + "/upper");
    fs::create_directories(layer + "/work");
    for (const auto& [rel, is_file] : missing[a]) {
      fs::path up = fs::path(layer) / "upper" / rel;
      if (is_file) {
        fs::create_directories(up.parent_path());
        model::write_file(up.string(), "");
      } else {
        fs::create_directories(up);
      }
    }
    MountOp op;
    op.source = "overlay";
    op.target = a;
    op.fstype = "overlay";
    op.data = "lowerdir=" + a + ",upperdir=" + layer + "/upper,workdir=" + layer + "/work";
    // Without real root the kernel only allows user.* xattrs for overlay.
    if (!started_as_root()) op.data += ",userxattr";
    op.what = "overlay on " + a;
    ops.push_back(op);
  }
  for (size_t i = 0; i < mounts_.size(); ++i) {
    const Mount& m = mounts_[i];
    MountOp op;
    op.target = m.target;
    if (parent[i]) {
      fs::path rel = fs::path(m.target).lexically_relative(parent[i]->target);
      fs::path cur(parent[i]->target);
      for (auto it = rel.begin(); it != rel.end(); ++it) {
        cur /= *it;
        if (std::next(it) == rel.end() && m.is_file) op.mkfile = cur.string();
        else op.mkdirs.push_back(cur.string());
      }
    }
    if (m.kind == Mount::Kind::tmpfs) {
      op.source = "tmpfs";
      op.fstype = "tmpfs";
      op.flags = MS_NOSUID | MS_NODEV;
      op.data = m.source.empty() ? "mode=1777" : m.source;
      op.what = "tmpfs on " + m.target;
    } else if (m.kind == Mount::Kind::overlay) {
      // Only lower layers: the kernel makes it read-only, so nothing of the
      // machine's directories can be changed through it.
      op.source = "overlay";
      op.fstype = "overlay";
      op.data = "lowerdir=" + m.source;
      op.what = "overlay on " + m.target + " (" + m.source + ")";
    } else {
      if (!exists(m.source)) throw std::runtime_error("host " + name_ + ": bind source missing: " + m.source);
      op.source = m.source;
      op.flags = MS_BIND | MS_REC;
      op.via_fd = true;
      op.what = "bind " + m.target;
    }
    ops.push_back(op);
  }

  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::string hostname = name_;
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(ready[0]);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWUTS) != 0) anchor_fail(ready[1], "unshare");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) anchor_fail(ready[1], "making / private");
    if (::sethostname(hostname.data(), hostname.size()) != 0) anchor_fail(ready[1], "sethostname");
    // Resolve bind sources now: an overlay mounted on /var or /etc below
    // would otherwise put a source under it (the run directory may live in
    // /var/tmp) behind the overlay, and writes would land in its upper layer.
    for (auto& op : ops) {
      if (!op.via_fd) continue;
      int fd = ::open(op.source.c_str(), O_PATH | O_CLOEXEC);
      if (fd < 0) anchor_fail(ready[1], "open " + op.source);
      op.fd_path = "/proc/self/fd/" + std::to_string(fd);
    }
    for (const auto& op : ops) {
      for (const auto& d : op.mkdirs)
        if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) anchor_fail(ready[1], "mkdir " + d);
      if (!op.mkfile.empty()) {
        int fd = ::open(op.mkfile.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) anchor_fail(ready[1], "create " + op.mkfile);
        ::close(fd);
      }
      const std::string& src = op.via_fd ? op.fd_path : op.source;
      if (::mount(src.c_str(), op.target.c_str(), op.fstype.empty() ? nullptr : op.fstype.c_str(), op.flags,
                  op.data.empty() ? nullptr : op.data.c_str()) != 0)
        anchor_fail(ready[1], "mount " + op.what);
    }
    (void)!::write(ready[1], "", 1);
    ::close(ready[1]);
    // Hold the namespaces until the topology ends (PID 1 exits).
    for (;;) ::pause();
  }
  ::close(ready[1]);
  anchor_ = pid;
  std::string msg;
  char buf[512];
  ssize_t r;
  while ((r = ::read(ready[0], buf, sizeof buf)) > 0) {
    msg.append(buf, static_cast<size_t>(r));
    if (msg.size() == 1 && msg[0] == '\0') break;
  }
  ::close(ready[0]);
  if (msg.size() != 1 || msg[0] != '\0') {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    anchor_ = -1;
    throw std::runtime_error("host " + name_ + ": " + (msg.empty() ? std::string("anchor died") : msg));
  }
  auto open_ns = [&](const char* kind) {
    std::string p = "/proc/" + std::to_string(pid) + "/ns/" + kind;
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("host " + name_ + ": open " + p + ": " + std::strerror(errno));
    return fd;
  };
  ns_.net = open_ns("net");
  ns_.mnt = open_ns("mnt");
  ns_.uts = open_ns("uts");
}

Host::~Host() {
  for (int fd : {ns_.net, ns_.mnt, ns_.uts})
    if (fd >= 0) ::close(fd);
  if (anchor_ > 0) {
    ::kill(anchor_, SIGKILL);
    ::waitpid(anchor_, nullptr, 0);
  }
}

void Host::attach_network(const std::string& bridge, int index, const std::vector<std::string>& addresses,
                          const std::string& scratch_dir) {
  const std::string outer = "vh" + std::to_string(index);
  NsFds lab;  // the caller's (lab) namespace
  ip({"link", "add", outer, "type", "veth", "peer", "name", "eth0", "netns", std::to_string(anchor_)}, lab, scratch_dir);
  ip({"link", "set", outer, "master", bridge, "up"}, lab, scratch_dir);
  NsFds inside;
  inside.net = ns_.net;
  ip({"link", "set", "lo", "up"}, inside, scratch_dir);
  for (const auto& a : addresses) ip({"addr", "add", a + "/32", "dev", "lo"}, inside, scratch_dir);
  ip({"link", "set", "eth0", "up"}, inside, scratch_dir);
  if (!addresses.empty())
    ip({"route", "add", "default", "dev", "eth0", "src", addresses.front()}, inside, scratch_dir);
}

std::string Host::outside(const std::string& inside) const {
  const Mount* best = nullptr;
  for (const auto& m : mounts_) {
    if (m.kind != Mount::Kind::bind) continue;
    if (inside == m.target || (model::starts_with(inside, m.target + "/") && !m.is_file)) {
      if (!best || m.target.size() > best->target.size()) best = &m;
    }
  }
  if (!best) return {};
  return best->source + inside.substr(best->target.size());
}

void ip(const std::vector<std::string>& args, const NsFds& ns, const std::string& scratch_dir) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv, base_env(), ns, "", 10000, scratch_dir);
  if (r.status != 0)
    throw std::runtime_error(r.command + ": " + (r.timed_out ? std::string("timed out") : std::string(model::trim(r.err))));
}

int connect_in(int netfd, const std::string& addr, unsigned port, const std::string& source, int timeout_ms,
               std::string& error) {
  if (netfd < 0) return dialog::connect_tcp(addr, port, source, timeout_ms, error);
  int fd = -1;
  std::thread t([&] {
    if (::setns(netfd, CLONE_NEWNET) != 0) {
      error = std::string("setns: ") + std::strerror(errno);
      return;
    }
    fd = dialog::connect_tcp(addr, port, source, timeout_ms, error);
  });
  t.join();
  return fd;
}

int listen_in(int netfd, const std::string& addr, unsigned port, std::string& error) {
  int fd = -1;
  auto body = [&] {
    if (netfd >= 0 && ::setns(netfd, CLONE_NEWNET) != 0) {
      error = std::string("setns: ") + std::strerror(errno);
      return;
    }
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, addr.c_str(), &a.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) {
      error = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  };
  if (netfd < 0) body();
  else std::thread(body).join();
  return fd;
}

}  // namespace mxlab::lab
