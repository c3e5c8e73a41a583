// NAME
//   core/fault - deliberate faults for the harness's self-check
// DESCRIPTION
//   `mxlab selfcheck` proves that every conformance case can fail by running
//   the suites against an mxmta built with MX_FAULTS (cmake --preset faults)
//   and one fault switched on at run time, by name, through the environment
//   variable MXMTA_FAULT or the parameter mxmta_self_check_fault. A fault that
//   no case catches is a hole in the suites.
//   In a normal build active() is a constant false and the fault branches are
//   compiled out: the production binary contains none of them.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mta::core::fault {

enum class Id {
  none,
  data_ends_at_lf_dot_lf,  // smtpd: a bare <LF>.<LF> ends DATA (SMTP smuggling)
  accept_bare_lf_reject,   // smtpd: "reject" mode accepts bare LF
  open_relay,              // smtpd: reject_unauth_destination permits everyone
  wrong_relay_reply,       // smtpd: relay denial says 550 5.1.1 instead of Relay access denied
  unknown_user_accepted,   // smtpd: local_recipient_maps ignored
  wrong_ehlo,              // smtpd: EHLO omits PIPELINING
  retry_5xx,               // smtp: a 5xx to RCPT is treated as 4xx (retried)
  ignore_mx_preference,    // smtp: MX hosts tried in reverse preference order
  no_mx_failover,          // smtp: only the first MX address is tried
  bounce_to_null_sender,   // qmgr: failure notices for mail from <> are sent to <>
  no_bounce,               // qmgr: failed recipients are dropped silently
  wrong_dsn_status,        // bounce: Status: 5.0.0 whatever the real status
  skip_backoff,            // qmgr: deferred mail is retried at every scan
  no_expiry,               // qmgr: maximal_queue_lifetime never returns mail
  lose_queue_on_restart,   // qmgr: deferred/ is emptied at start-up
  drop_alias_member,       // local: the last member of an alias list is dropped
  no_from_quoting,         // local: ">From " quoting skipped in mbox
  ignore_null_mx,          // smtp: null MX is treated as "no MX" (implicit MX)
  nxdomain_defers,         // smtp: NXDOMAIN defers instead of bouncing
  no_hop_limit,            // cleanup: hopcount_limit ignored
  // Added with the self-check, for modules that had none:
  no_dot_stuffing,          // smtp: leading dots of the message are not doubled
  bounce_without_original,  // bounce: the notice does not return the message
  mailq_misses_deferred,    // postqueue/mailq: deferred/ is not listed
};

struct Info {
  Id id;
  std::string_view name;
  std::string_view what;
};
const std::vector<Info>& all();
Id parse(std::string_view name);  // Id::none for an unknown name

#ifdef MX_FAULTS
// The fault chosen for this process (environment first, then select()).
bool active(Id id);
void select(std::string_view name);
#else
constexpr bool active(Id) { return false; }
inline void select(std::string_view) {}
#endif

}  // namespace mta::core::fault
