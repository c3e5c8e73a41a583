// NAME
//   lab/host - one MTA host: its anchor process, namespaces, mounts and link
// DESCRIPTION
//   A host is held by an anchor process forked from PID 1 that unshares
//   CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWUTS, sets the host name, mounts
//   the host's files and directories from its folder of the run directory
//   and then waits until the topology ends. Processes of the host are
//   started with those namespaces (lab/process), so `inet_interfaces = all`
//   and `loopback-only` work verbatim: the host has its own 127.0.0.1 and
//   its own port 25.
//   Mount points missing on the machine (/etc/mxmta, /var/spool/mxmta) are
//   never created on the machine: an overlay root above them, or else
//   their nearest existing parent directory, gets, in the host's mount
//   namespace only, an overlay whose upper layer (in the host folder)
//   already holds the missing entries. Then, in the order given, each
//   Mount is bind-mounted (through an O_PATH descriptor opened before the
//   overlays), or a tmpfs, or a read-only overlay of the lower directories
//   in `source` is mounted on its target. A mount point below an earlier
//   mount of the list (a tmpfs on /var/lib, then a bind on
//   /var/lib/x/empty/clock) is made by the anchor itself, in that mount,
//   just before it is used.
//   attach_network() joins the host to the lab's bridge with a veth pair:
//     ip link add vhN type veth peer name eth0 netns PID; ip link set vhN master br0 up
//   and inside: lo up, the host's addresses as /32 on lo, eth0 up,
//   default route via eth0 with the first address as source.
// DIAGNOSTICS
//   std::runtime_error with the failing step ("host mail.example.com:
//   mount /var/mail: No such file or directory").
#pragma once
#include "lab/process.hpp"

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace mxlab::lab {

struct Mount {
  enum class Kind { bind, tmpfs, overlay };
  Kind kind = Kind::bind;
  // bind: the outside path; tmpfs: mount data ("" = mode=1777); overlay:
  // the lowerdir list "A:B" (read-only: no upper layer).
  std::string source;
  std::string target;  // path inside the host
  bool is_file = false;
};

class Host {
 public:
  // Forks the anchor. `folder` is the host's folder of the run directory
  // (overlay layers go below it). `overlay_roots` ("/etc", "/var") get a
  // writable overlay in any case, so that files an MTA creates there
  // (/etc/aliases.db) stay in the host folder and never reach the machine.
  Host(std::string name, std::string folder, std::vector<Mount> mounts, std::vector<std::string> overlay_roots = {});
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // veth pair to the lab bridge; `index` names the outer end vh<index>.
  void attach_network(const std::string& bridge, int index, const std::vector<std::string>& addresses,
                      const std::string& scratch_dir);

  const std::string& name() const { return name_; }
  const std::string& folder() const { return folder_; }
  pid_t anchor_pid() const { return anchor_; }
  const NsFds& ns() const { return ns_; }
  // Outside path of a path inside the host, through its bind mounts
  // (longest prefix); "" when the path is not on a mounted folder.
  std::string outside(const std::string& inside) const;

 private:
  std::string name_, folder_;
  std::vector<Mount> mounts_;
  pid_t anchor_ = -1;
  NsFds ns_;
};

// Run `ip ARGS...` in the namespaces `ns` (or the caller's); throws with
// ip's stderr on failure.
void ip(const std::vector<std::string>& args, const NsFds& ns, const std::string& scratch_dir);

// A TCP connection made from inside a network namespace (netfd -1: the
// caller's): the socket is created on a thread that setns()es there, and
// keeps that namespace for its life. Returns -1 with `error` set.
int connect_in(int netfd, const std::string& addr, unsigned port, const std::string& source, int timeout_ms,
               std::string& error);

// Likewise for a listening socket (used by tests and probes).
int listen_in(int netfd, const std::string& addr, unsigned port, std::string& error);

}  // namespace mxlab::lab
