#include "core/fault.hpp"

#include <atomic>
#include <cstdlib>

namespace mta::core::fault {

const std::vector<Info>& all() {
  static const std::vector<Info> v = {
      {Id::data_ends_at_lf_dot_lf, "data_ends_at_lf_dot_lf", "smtpd ends DATA at <LF>.<LF>"},
      {Id::accept_bare_lf_reject, "accept_bare_lf_reject", "smtpd_forbid_bare_newline=reject lets bare LF through"},
      {Id::open_relay, "open_relay", "reject_unauth_destination permits every client"},
      {Id::wrong_relay_reply, "wrong_relay_reply", "relay denial replies 550 5.1.1 User unknown"},
      {Id::unknown_user_accepted, "unknown_user_accepted", "unknown local users are accepted at RCPT"},
      {Id::wrong_ehlo, "wrong_ehlo", "EHLO does not advertise PIPELINING"},
      {Id::retry_5xx, "retry_5xx", "a 5xx reply to RCPT is retried as if it were 4xx"},
      {Id::ignore_mx_preference, "ignore_mx_preference", "MX hosts are tried in reverse preference order"},
      {Id::no_mx_failover, "no_mx_failover", "only the first MX address is tried"},
      {Id::bounce_to_null_sender, "bounce_to_null_sender", "mail from <> that fails is bounced to <>"},
      {Id::no_bounce, "no_bounce", "failed recipients are dropped without a notice"},
      {Id::wrong_dsn_status, "wrong_dsn_status", "notices say Status: 5.0.0 whatever happened"},
      {Id::skip_backoff, "skip_backoff", "deferred mail is retried at every queue scan"},
      {Id::no_expiry, "no_expiry", "maximal_queue_lifetime never returns mail"},
      {Id::lose_queue_on_restart, "lose_queue_on_restart", "deferred mail is lost when the daemon restarts"},
      {Id::drop_alias_member, "drop_alias_member", "the last member of an alias list is dropped"},
      {Id::no_from_quoting, "no_from_quoting", "mbox delivery does not quote lines starting with From "},
      {Id::ignore_null_mx, "ignore_null_mx", "a null MX is treated as no MX (implicit MX)"},
      {Id::nxdomain_defers, "nxdomain_defers", "a domain that does not exist is deferred instead of bounced"},
      {Id::no_hop_limit, "no_hop_limit", "hopcount_limit is not enforced"},
      {Id::no_dot_stuffing, "no_dot_stuffing", "the SMTP client does not double a leading dot (RFC 5321 4.5.2)"},
      {Id::bounce_without_original, "bounce_without_original", "non-delivery notices do not return the message"},
      {Id::mailq_misses_deferred, "mailq_misses_deferred", "postqueue and mailq do not list deferred mail"},
  };
  return v;
}

Id parse(std::string_view name) {
  for (const auto& i : all())
    if (i.name == name) return i.id;
  return Id::none;
}

#ifdef MX_FAULTS
namespace {
std::atomic<int> g_selected{-1};
}

void select(std::string_view name) { g_selected = static_cast<int>(parse(name)); }

bool active(Id id) {
  int s = g_selected.load();
  if (s < 0) {
    const char* e = std::getenv("MXMTA_FAULT");
    s = static_cast<int>(e ? parse(e) : Id::none);
    g_selected = s;
  }
  return id != Id::none && s == static_cast<int>(id);
}
#endif

}  // namespace mta::core::fault
