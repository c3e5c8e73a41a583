// NAME
//   smtpd/check - SMTP access policy (Postfix smtpd_check), pure functions
// SYNOPSIS
//   auto pol = smtpd::Policy::from(config);
//   smtpd::CheckState st;  st.client_addr = "192.0.2.7"; ... st.sender = "a@b";
//   smtpd::Verdict v = smtpd::check_recipient(pol, st, "victim@elsewhere.test");
//   if (v.status == smtpd::Status::reject) reply(v.reply);
// DESCRIPTION
//   The session asks; this module answers, from the session state and the
//   pre-parsed configuration only (no sockets, no clock), so every rule can be
//   tested in a table. Restriction lists are evaluated in order, first match
//   wins; within one stage "permit" ends the list, "reject" ends the whole
//   check. With smtpd_delay_reject = yes (the default) the client, HELO and
//   sender restrictions are evaluated again at each RCPT (and VRFY), then the
//   relay restrictions, then the recipient restrictions; a recipient that
//   passes is still refused when its address resolves to the error transport
//   (550 5.1.1 <r>: Recipient address rejected: TEXT) or is an unknown local
//   user (smtpd_reject_unlisted_recipient, $local_recipient_maps).
//
//   Restrictions understood (any list):
//     permit reject defer warn_if_reject
//     permit_mynetworks permit_inet_interfaces permit_sasl_authenticated
//     reject_unauth_destination defer_unauth_destination permit_auth_destination
//     reject_non_fqdn_sender reject_non_fqdn_recipient
//     reject_non_fqdn_helo_hostname (reject_non_fqdn_hostname)
//     reject_invalid_helo_hostname (reject_invalid_hostname)
//     reject_unlisted_recipient (check_recipient_maps)
//   permit_sasl_authenticated never matches: mxmta has no SASL.
//   Restrictions that need DNS or access tables (reject_unknown_*_domain,
//   check_*_access, RBLs, policy services) and unknown names are a
//   configuration error: the session replies "451 4.3.5 Server configuration
//   error" and logs a warning, as Postfix does for an unknown name.
//
//   Reply codes follow Postfix: the DSN class is forced to the SMTP code's
//   class (defer_unauth_destination: 454 4.7.1), a code outside 400-599 is
//   replaced by "450 4.7.1 Service unavailable" with a warning.
// STANDARDS
//   RFC 5321 3.6.2 (relaying), 4.2 (reply codes); RFC 3463 (enhanced codes)
// PARAMETERS
//   smtpd_client_restrictions, smtpd_helo_restrictions,
//   smtpd_sender_restrictions, smtpd_relay_restrictions,
//   smtpd_recipient_restrictions, smtpd_data_restrictions,
//   smtpd_end_of_data_restrictions, smtpd_delay_reject, mynetworks,
//   allow_untrusted_routing, relay_domains_reject_code, reject_code,
//   defer_code, non_fqdn_reject_code, invalid_hostname_reject_code,
//   local_recipient_maps, unknown_local_recipient_reject_code,
//   show_user_unknown_table_name, smtpd_reject_unlisted_recipient,
//   recipient_delimiter, double_bounce_sender (plus core::Router's)
// DIAGNOSTICS
//   Verdict::warnings holds Postfix's warning texts ("unknown smtpd
//   restriction: \"foo\"", "SMTP reply code configuration error: ...");
//   Verdict::reject_warnings holds rejects turned into warnings by
//   warn_if_reject. The caller logs both.
#pragma once
#include "core/config.hpp"
#include "core/net_addr.hpp"
#include "core/router.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mta::smtpd {

// The seam for $local_recipient_maps: tests put users in a fake.
class RecipientTable {
 public:
  virtual ~RecipientTable() = default;
  // key: the local part, unquoted and lower-cased, without the domain.
  virtual bool known(const std::string& key) = 0;
};
// The configured table list; nullptr when local_recipient_maps is empty
// (the check is off).
std::shared_ptr<RecipientTable> open_local_recipient_table(const core::Config& c);

enum class Status { dunno, ok, reject };

// What the policy sees of a session.
struct CheckState {
  std::string client_name;  // "localhost" or "unknown"
  std::string client_addr;  // "127.0.0.1"
  std::optional<core::IpAddr> client_ip;
  std::string namaddr;      // "localhost[127.0.0.1]"
  std::optional<std::string> helo;
  std::optional<std::string> sender;     // "" is <>
  std::optional<std::string> recipient;  // the address being checked
  std::string protocol = "SMTP";
};

struct Verdict {
  Status status = Status::dunno;
  std::string reply;  // set when status == reject
  std::vector<std::string> warnings;
  std::vector<std::string> reject_warnings;  // "554 5.7.1 ..." texts
  bool rejected() const { return status == Status::reject; }
};

struct Policy {
  std::vector<std::string> client, helo, sender, relay, recipient, data, eod;
  bool delay_reject = true;
  bool reject_unlisted_recipient = true;
  bool allow_untrusted_routing = false;
  bool show_unknown_table = true;
  long long relay_code = 554, reject_code = 554, defer_code = 450, non_fqdn_code = 504,
            invalid_hostname_code = 501, local_rcpt_code = 550;
  std::string recipient_delimiter;
  std::string double_bounce_sender = "double-bounce";
  core::NetList mynetworks;
  std::vector<std::string> mynetworks_bad;  // entries that are not addresses/networks
  std::shared_ptr<const core::Router> router;
  std::shared_ptr<RecipientTable> local_recipients;  // null: check off

  // Reads the parameters and opens the tables. Throws core::ConfigError for
  // a bad numeric value or an unsupported table type.
  static Policy from(const core::Config& c);
};

Verdict check_client(const Policy& p, const CheckState& s);
Verdict check_helo(const Policy& p, const CheckState& s);
Verdict check_sender(const Policy& p, const CheckState& s);
// RCPT and VRFY: delayed stages, relay + recipient restrictions, then the
// recipient tables. `s.recipient` is ignored: `rcpt` is checked.
Verdict check_recipient(const Policy& p, const CheckState& s, const std::string& rcpt);
Verdict check_data(const Policy& p, const CheckState& s);
Verdict check_eod(const Policy& p, const CheckState& s);

// Postfix refuses to run without a relay-limiting restriction in
// smtpd_relay_restrictions or smtpd_recipient_restrictions.
bool has_relay_limit(const Policy& p);
std::string relay_limit_fatal_text();

// The reply for a policy decision, with Postfix's sanity rules.
std::string format_reject(long long code, std::string_view dsn, std::string_view text,
                          std::vector<std::string>* warnings);

// Postfix log_whatsup(): "ID: reject: RCPT from NAMADDR: REPLY; from=<s>
// to=<r> proto=ESMTP helo=<h>" (absent fields are left out).
std::string whatsup_line(std::string_view queue_id, std::string_view whatsup, std::string_view where,
                         const CheckState& s, std::string_view text);

}  // namespace mta::smtpd
