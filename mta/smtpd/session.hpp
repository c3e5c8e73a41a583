// NAME
//   smtpd/session - one SMTP conversation (internal to mta_smtpd)
// SYNOPSIS
//   auto settings = detail::Settings::make(cfg);            // once per main.cf
//   util::spawn_logged(ex, detail::run_session(std::move(sock), peer, settings, core), "smtpd session");
// DESCRIPTION
//   Settings is everything a session reads from main.cf, parsed once per
//   configuration (Server construction and reload) and shared read-only by
//   the sessions that started under it. Core is what the server and its
//   sessions share: the queue, the on_queued callback, the registry of live
//   sessions (for active_sessions() and the drain) and the name-lookup seam.
//
//   run_session() is the Postfix smtpd_proto() loop: greeting, then one
//   command line at a time dispatched through a {verb, handler, flags} table.
//   Replies are buffered and written when the client's input is drained, so a
//   pipelined batch gets its replies in one write, in order. Every read and
//   write has $smtpd_timeout; the input buffer holds at most one line
//   ($line_length_limit) plus one read.
//
//   This header includes Asio: only server.cpp, session.cpp and the session
//   tests include it.
// PARAMETERS
//   see smtpd/server.hpp
#pragma once
#include "cleanup/cleanup.hpp"
#include "core/config.hpp"
#include "core/maps.hpp"
#include "queue/queue_store.hpp"
#include "smtpd/check.hpp"
#include "smtpd/data.hpp"
#include "smtpd/peer.hpp"
#include "util/asio.hpp"

#include <functional>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace mta::smtpd::detail {

// One element of $smtpd_forbidden_commands.
struct ForbiddenCommand {
  std::string word;                       // plain command name, case-insensitive
  std::shared_ptr<std::regex> re;         // regexp:{{/re/ text}} element
  std::shared_ptr<core::Table> table;     // any other type:table
};

struct Settings {
  std::shared_ptr<const core::Config> cfg;
  Policy policy;
  cleanup::Settings cleanup;
  std::string myhostname, banner, mail_name;
  long long message_size_limit = 0, recipient_limit = 0, overshoot_limit = 0;
  size_t line_limit = 2048;
  long long timeout = 300, hard_error_limit = 20, soft_error_limit = 10, error_sleep = 1, junk_limit = 100;
  bool helo_required = false, vrfy_enabled = true, strict_rfc821 = false;
  bool peername_lookup = true, port_logging = false, forbid_unauth_pipelining = false;
  BareLf bare_lf = BareLf::normalize;
  core::NetList bare_lf_exclusions;
  long long bare_lf_reject_code = 550;
  unsigned discard_mask = 0;
  std::vector<ForbiddenCommand> forbidden;
  std::vector<std::string> header_rewrite_clients;
  bool relay_limit_ok = true;
  std::vector<std::string> warnings;  // logged once by the server

  static std::shared_ptr<const Settings> make(std::shared_ptr<const core::Config> cfg);
  bool forbidden_command(const std::string& verb) const;
};

struct IoGuard;

// The per-session handle the server keeps for active_sessions() and drains.
struct Control {
  bool drain = false;    // close_idle_sessions() was called
  bool in_data = false;  // between 354 and the reply to end-of-data
  bool reading = false;  // waiting for client input (safe to cancel)
  std::shared_ptr<IoGuard> guard;
};

// Cancels the session's pending read (drain); no effect while it writes,
// sleeps or waits for the blocking pool: it sees Control::drain next.
void cancel_read(Control& c);

struct Core {
  explicit Core(const queue::QueueStore& s) : store(s) {}
  const queue::QueueStore& store;
  std::function<void(const std::string&)> on_queued;
  // True when nothing but the asking session would run on the loop: its
  // commit then runs on the loop itself (Server::set_loop_idle).
  std::function<bool()> loop_idle;
  NameResolver resolver;  // empty: lookup_client_name()
  HostsNameCache names;   // for lookup_client_name(): names from /etc/hosts
  std::shared_ptr<const Settings> settings;
  std::set<std::shared_ptr<Control>> sessions;
};

// `peer`: the client's address as accept() returned it.
net::awaitable<void> run_session(net::ip::tcp::socket sock, net::ip::tcp::endpoint peer,
                                 std::shared_ptr<const Settings> settings,
                                 std::shared_ptr<Core> core);

// Postfix escape(): C-style escapes for logging raw client input.
std::string escape_for_log(std::string_view s);

}  // namespace mta::smtpd::detail
