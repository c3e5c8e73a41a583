// NAME
//   local/deliver - local(8)'s delivery switch for one recipient (blocking)
// SYNOPSIS
//   local::Deliverer d(local::Settings::from(cfg), cleanup::Settings::from(cfg),
//                      std::make_shared<core::Router>(cfg), store, users);
//   local::RcptOutcome o = d.deliver(msg, rcpt_index, routed_address, "local");
// DESCRIPTION
//   The synchronous heart of the local delivery agent; LocalAgent runs it on
//   the blocking pool. For one queue recipient, as Postfix's local(8)
//   (recipient.c, alias.c, dotforward.c, mailbox.c, unknown.c ...):
//
//   1. loop and sanity checks: more than 100 nesting levels, a recipient
//      already in a Delivered-To: header of the message (bounce 5.4.6 "mail
//      forwarding loop for ADDR"), a null user name (5.1.3);
//   2. the local part is lower-cased; with recipient_delimiter the extension
//      is split off (not for owner-* and *-request names), and aliases are
//      tried for the full local part, then for the bare user;
//   3. alias_maps: the value is expanded in-process (alias.c). Local
//      addresses recurse; other addresses are forwarded as a new message. An
//      alias that lists its own name delivers to the user. With an owner-NAME
//      alias, the envelope sender of the expansion becomes
//      owner-NAME@$myorigin (expand_owner_alias: the owner's value) and every
//      address in it is re-queued as a new message ("forwarded as ID").
//      Commands and files run with the rights of the alias database owner,
//      or of default_privs when root owns it;
//   4. the user's ~/.forward (first existing file of forward_path, after
//      $name expansion): same destinations, with the user's rights; a file
//      not owned by the user or root, or world-writable, is ignored with a
//      warning; the user listed in their own .forward gets the mailbox;
//      other local users listed there get a new message;
//   5. the user's mailbox: mailbox_command, else home_mailbox (relative to
//      $HOME; trailing '/' = Maildir), else mail_spool_directory/USER
//      (trailing '/' on the spool = Maildir);
//   6. unknown users: fallback_transport (handed back to the caller, which
//      passes the recipient to that transport's agent), else luser_relay
//      ($name expanded, then delivered like an alias value), else
//      postmaster/MAILER-DAEMON are discarded with a warning, else bounce
//      5.1.1 unknown user: "NAME".
//
//   :include:/file lists more destinations (not commands or files, unless
//   allow_mail_to_commands/allow_mail_to_files say "include"); its addresses
//   are always forwarded as a new message, aliases excepted.
//   Within one queue recipient, duplicate destinations are delivered once
//   (duplicate_filter_limit entries are remembered); separate queue
//   recipients are never merged.
//
//   Forwarded messages go through cleanup::Builder (open, finish, commit:
//   blocking, fsynced) with "Received: by $myhostname ($mail_name)" and
//   "Delivered-To: <address handed to local(8)>" prepended; one message per
//   envelope sender. If anything for the recipient was deferred, nothing is
//   forwarded (the whole recipient is tried again), as Postfix.
//
//   Every final destination yields a Leaf (address, Status) - Postfix logs
//   one line per leaf. summarize() folds them into the single result the
//   queue manager gets: any deferral defers the recipient, else any bounce
//   bounces it, else it is delivered with the leaves' texts ("delivered to
//   mailbox", "forwarded as 3F2A1104017", "delivered to command: cmd" ...).
// STANDARDS
//   RFC 5321 section 4.4 (trace, loop detection), RFC 3463, RFC 3464
// PARAMETERS
//   alias_maps, forward_path, home_mailbox, mail_spool_directory,
//   mailbox_command, luser_relay, fallback_transport, recipient_delimiter,
//   owner_request_special, expand_owner_alias, allow_mail_to_commands,
//   allow_mail_to_files, prepend_delivered_header, duplicate_filter_limit,
//   default_privs, local_command_shell, command_time_limit,
//   command_execution_directory, export_environment, command_expansion_filter,
//   forward_expansion_filter, execution_directory_expansion_filter,
//   mailbox_size_limit, mailbox_delivery_lock, deliver_lock_attempts,
//   deliver_lock_delay, stale_lock_time, strict_mailbox_ownership,
//   myorigin, myhostname, mail_name, message_size_limit
// DIAGNOSTICS
//   Settings::from() throws core::ConfigError for values local(8) refuses
//   (an unknown allow_mail_to_commands word, no usable mailbox lock,
//   mailbox_size_limit smaller than message_size_limit). Per-message problems
//   are Status values; warnings (bad .forward owner, missing postmaster
//   alias ...) go to the log under service "local".
#pragma once
#include "cleanup/cleanup.hpp"
#include "core/config.hpp"
#include "core/delivery.hpp"
#include "core/envelope.hpp"
#include "core/maps.hpp"
#include "core/router.hpp"
#include "local/mail_copy.hpp"
#include "local/mbox.hpp"
#include "local/users.hpp"
#include "queue/queue_store.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mta::local {

// Expansion types: where a destination came from (allow_mail_to_* words).
enum ExpandType : unsigned { exp_alias = 1u, exp_forward = 2u, exp_include = 4u };
// prepend_delivered_header words.
enum DeliveredHdr : unsigned { hdr_command = 1u, hdr_file = 2u, hdr_forward = 4u };

struct Settings {
  std::vector<std::string> alias_maps;
  std::string myorigin, myhostname, mail_name;
  std::string recipient_delimiter;
  std::string forward_path;        // raw: $name is expanded per recipient
  std::string luser_relay;         // raw
  std::string mailbox_command;     // raw
  std::string exec_directory;      // raw command_execution_directory
  std::string fallback_transport;
  std::string home_mailbox, mail_spool_directory;
  unsigned allow_commands = exp_alias | exp_forward;
  unsigned allow_files = exp_alias | exp_forward;
  unsigned delivered_hdr = hdr_command | hdr_file | hdr_forward;
  long long dup_filter_limit = 1000;
  long long command_time_limit = 1000;
  long long mailbox_size_limit = 51200000;
  unsigned mailbox_locks = lock_fcntl | lock_dotlock;
  int lock_attempts = 20;
  int lock_delay = 1;
  long long stale_lock_time = 500;
  bool owner_request_special = true;
  bool expand_owner_alias = false;
  bool strict_mailbox_ownership = true;
  std::string local_command_shell;
  std::vector<std::string> export_environment;
  std::string command_filter, forward_filter, exec_dir_filter;
  std::string default_privs = "nobody";
  std::string maildir_hostname;

  // Reads main.cf values; call on the thread that owns the Config.
  static Settings from(const core::Config& c);
};

// One final destination of a recipient's expansion.
struct Leaf {
  std::string address;  // the (expanded) recipient it was delivered for; for a
                        // forwarded copy (one leaf per new message) the queue recipient
  Status status;
};

struct RcptOutcome {
  size_t rcpt = 0;                     // index into msg.env.rcpts
  std::vector<Leaf> leaves;
  std::vector<std::string> queued;     // ids of forwarded messages now in incoming/
  std::vector<std::string> passes;     // addresses to hand to fallback_transport
  core::DeliveryResult result;         // summarize(rcpt, leaves), without the passes
};

// The one result for a queue recipient (relay "local").
core::DeliveryResult summarize(size_t rcpt, const std::vector<Leaf>& leaves);

class Deliverer {
 public:
  Deliverer(Settings s, cleanup::Settings cs, std::shared_ptr<core::Router> router, const queue::QueueStore& store,
            std::shared_ptr<const UserDb> users, FileIo* io = nullptr);
  ~Deliverer();
  Deliverer(const Deliverer&) = delete;
  Deliverer& operator=(const Deliverer&) = delete;

  // Delivers msg to its recipient `rcpt` (address as routed by qmgr).
  // `transport` is the name qmgr used for this agent ("local"): addresses in
  // an expansion that route to it are delivered in-process. Thread-safe.
  RcptOutcome deliver(const core::Message& msg, size_t rcpt, const std::string& address,
                      const std::string& transport);

  const Settings& settings() const { return s_; }

 private:
  struct Impl;
  friend struct Impl;
  Settings s_;
  cleanup::Settings cs_;
  std::shared_ptr<core::Router> router_;
  const queue::QueueStore& store_;
  std::shared_ptr<const UserDb> users_;
  FileIo* io_;
  // Alias tables and the router's transport_maps cache their files: one
  // delivery at a time may touch them.
  std::mutex tables_mu_;
  struct AliasMap;
  std::vector<std::unique_ptr<AliasMap>> maps_;
};

}  // namespace mta::local
