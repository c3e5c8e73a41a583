#include "core/params.hpp"

#include "util/strings.hpp"

#include <netdb.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace mta::core {
namespace {

using T = ParamType;

// Sorted at first use; grouped here by the role that reads them.
std::vector<ParamDef> make_registry() {
  return {
      // ---- identity, addresses and address classes (trivial-rewrite)
      {"mail_name", "mxmta"},
      {"mail_version", "0.1.0"},
      {"compatibility_level", "3.7"},
      {"myhostname", "", T::string, 's', true},
      {"mydomain", "", T::string, 's', true},
      {"myorigin", "$myhostname"},
      {"mydestination", "$myhostname, localhost.$mydomain, localhost", T::list},
      {"inet_interfaces", "all", T::list},
      {"inet_protocols", "all", T::list},
      {"proxy_interfaces", "", T::list},
      {"mynetworks", "", T::list, 's', true},
      {"mynetworks_style", "host"},
      {"relay_domains", "", T::list},
      {"relayhost", ""},
      {"relay_transport", "relay"},
      {"default_transport", "smtp"},
      {"local_transport", "local:$myhostname"},
      {"transport_maps", "", T::list},
      {"fallback_relay", "", T::list},
      {"append_at_myorigin", "yes", T::boolean},
      {"append_dot_mydomain", "no", T::boolean},
      {"swap_bangpath", "yes", T::boolean},
      {"allow_percent_hack", "yes", T::boolean},
      {"resolve_dequoted_address", "yes", T::boolean},
      {"resolve_null_domain", "no", T::boolean},
      {"resolve_numeric_domain", "no", T::boolean},
      {"allow_untrusted_routing", "no", T::boolean},
      {"empty_address_recipient", "MAILER-DAEMON"},
      {"double_bounce_sender", "double-bounce"},
      {"recipient_delimiter", ""},
      // ---- directories and files
      {"config_directory", "/etc/mxmta"},
      {"queue_directory", "/var/spool/mxmta"},
      {"data_directory", "/var/lib/mxmta"},
      {"mail_spool_directory", "/var/mail"},
      {"home_mailbox", ""},
      {"hash_queue_names", "deferred, defer", T::list},
      {"hash_queue_depth", "1", T::integer},
      {"enable_long_queue_ids", "no", T::boolean},
      {"mail_owner", "postfix"},
      {"default_privs", "nobody"},
      // ---- logging
      {"maillog_file", ""},
      {"maillog_file_prefixes", "/var, /dev/stdout", T::list},
      {"syslog_name", "mxmta"},
      {"syslog_facility", "mail"},
      // ---- aliases and local delivery (local(8))
      {"alias_maps", "hash:/etc/aliases", T::list},
      {"alias_database", "hash:/etc/aliases", T::list},
      {"local_recipient_maps", "proxy:unix:passwd.byname $alias_maps", T::list},
      {"unknown_local_recipient_reject_code", "550", T::integer},
      {"show_user_unknown_table_name", "yes", T::boolean},
      {"mailbox_size_limit", "51200000", T::integer},
      {"mailbox_delivery_lock", "fcntl, dotlock", T::list},
      {"forward_path", "$home/.forward${recipient_delimiter}${extension}, $home/.forward", T::list},
      {"luser_relay", ""},
      {"fallback_transport", ""},
      {"allow_mail_to_commands", "alias, forward", T::list},
      {"allow_mail_to_files", "alias, forward", T::list},
      {"duplicate_filter_limit", "1000", T::integer},
      {"command_time_limit", "1000s", T::time, 's'},
      {"owner_request_special", "yes", T::boolean},
      {"expand_owner_alias", "no", T::boolean},
      {"prepend_delivered_header", "command, file, forward", T::list},
      {"local_command_shell", ""},
      {"command_execution_directory", ""},
      {"export_environment", "TZ MAIL_CONFIG LANG", T::list},
      {"mailbox_command", ""},
      {"strict_mailbox_ownership", "yes", T::boolean},
      {"deliver_lock_attempts", "20", T::integer},
      {"deliver_lock_delay", "1s", T::time, 's'},
      {"stale_lock_time", "500s", T::time, 's'},
      {"command_expansion_filter",
       "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"},
      {"forward_expansion_filter",
       "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"},
      {"execution_directory_expansion_filter",
       "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"},
      {"import_environment",
       "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME",
       T::list},
      // ---- smtpd(8)
      {"smtpd_banner", "$myhostname ESMTP $mail_name"},
      {"smtpd_client_restrictions", "", T::list},
      {"smtpd_helo_restrictions", "", T::list},
      {"smtpd_sender_restrictions", "", T::list},
      {"smtpd_relay_restrictions", "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
       T::list},
      {"smtpd_recipient_restrictions", "", T::list},
      {"smtpd_data_restrictions", "", T::list},
      {"smtpd_end_of_data_restrictions", "", T::list},
      {"smtpd_helo_required", "no", T::boolean},
      {"smtpd_delay_reject", "yes", T::boolean},
      {"smtpd_recipient_limit", "1000", T::integer},
      {"smtpd_recipient_overshoot_limit", "1000", T::integer},
      {"smtpd_timeout", "300s", T::time, 's'},
      {"smtpd_hard_error_limit", "20", T::integer},
      {"smtpd_soft_error_limit", "10", T::integer},
      {"smtpd_error_sleep_time", "1s", T::time, 's'},
      {"smtpd_junk_command_limit", "100", T::integer},
      {"smtpd_forbid_bare_newline", "normalize"},
      {"smtpd_forbid_bare_newline_exclusions", "$mynetworks", T::list},
      {"smtpd_forbid_bare_newline_reject_code", "550", T::integer},
      {"smtpd_forbid_unauth_pipelining", "no", T::boolean},
      {"smtpd_forbidden_commands", "CONNECT GET POST regexp:{{/^[^A-Z]/ Bogus}}", T::list},
      {"smtpd_discard_ehlo_keywords", "", T::list},
      {"smtpd_reject_unlisted_recipient", "yes", T::boolean},
      {"smtpd_reject_unlisted_sender", "no", T::boolean},
      {"smtpd_null_access_lookup_key", "<>"},
      {"smtpd_peername_lookup", "yes", T::boolean},
      {"smtpd_client_port_logging", "no", T::boolean},
      {"smtpd_sasl_auth_enable", "no", T::boolean},
      {"smtpd_tls_security_level", ""},
      {"smtpd_line_length_limit", "2048", T::integer},
      {"line_length_limit", "2048", T::integer},
      {"disable_vrfy_command", "no", T::boolean},
      {"strict_rfc821_envelopes", "no", T::boolean},
      {"message_size_limit", "10240000", T::integer},
      {"header_size_limit", "102400", T::integer},
      {"relay_domains_reject_code", "554", T::integer},
      {"unknown_address_reject_code", "450", T::integer},
      {"unknown_relay_recipient_reject_code", "550", T::integer},
      {"reject_code", "554", T::integer},
      {"defer_code", "450", T::integer},
      {"non_fqdn_reject_code", "504", T::integer},
      {"invalid_hostname_reject_code", "501", T::integer},
      {"smtpd_proxy_filter", ""},
      // ---- cleanup(8)
      {"always_add_missing_headers", "no", T::boolean},
      {"always_bcc", ""},
      {"hopcount_limit", "50", T::integer},
      {"local_header_rewrite_clients", "permit_inet_interfaces", T::list},
      // ---- queue manager: scheduling, retry, lifetimes
      {"queue_run_delay", "300s", T::time, 's'},
      {"minimal_backoff_time", "300s", T::time, 's'},
      {"maximal_backoff_time", "4000s", T::time, 's'},
      {"maximal_queue_lifetime", "5d", T::time, 'd'},
      {"bounce_queue_lifetime", "5d", T::time, 'd'},
      {"delay_warning_time", "0h", T::time, 'h'},
      {"transport_retry_time", "60s", T::time, 's'},
      {"qmgr_message_active_limit", "20000", T::integer},
      {"qmgr_message_recipient_limit", "20000", T::integer},
      {"default_process_limit", "100", T::integer},
      {"default_destination_concurrency_limit", "20", T::integer},
      {"initial_destination_concurrency", "5", T::integer},
      {"default_destination_concurrency_failed_cohort_limit", "1", T::integer},
      {"smtp_initial_destination_concurrency", "$initial_destination_concurrency", T::integer},
      {"relay_initial_destination_concurrency", "$initial_destination_concurrency", T::integer},
      {"smtp_destination_concurrency_failed_cohort_limit", "$default_destination_concurrency_failed_cohort_limit",
       T::integer},
      {"relay_destination_concurrency_failed_cohort_limit", "$default_destination_concurrency_failed_cohort_limit",
       T::integer},
      {"default_destination_recipient_limit", "50", T::integer},
      {"smtp_destination_concurrency_limit", "$default_destination_concurrency_limit", T::integer},
      {"smtp_destination_recipient_limit", "$default_destination_recipient_limit", T::integer},
      {"relay_destination_concurrency_limit", "$default_destination_concurrency_limit", T::integer},
      {"relay_destination_recipient_limit", "$default_destination_recipient_limit", T::integer},
      {"local_destination_concurrency_limit", "2", T::integer},
      {"local_destination_recipient_limit", "1", T::integer},
      {"defer_transports", "", T::list},
      {"confirm_delay_cleared", "no", T::boolean},
      // ---- bounce(8)
      {"notify_classes", "resource, software", T::list},
      {"bounce_notice_recipient", "postmaster"},
      {"2bounce_notice_recipient", "postmaster"},
      {"delay_notice_recipient", "postmaster"},
      {"error_notice_recipient", "postmaster"},
      {"bounce_size_limit", "50000", T::integer},
      {"bounce_template_file", ""},
      // ---- smtp(8) client
      {"smtp_bind_address", ""},
      {"smtp_bind_address6", ""},
      {"smtp_helo_name", "$myhostname"},
      {"smtp_connect_timeout", "30s", T::time, 's'},
      {"smtp_helo_timeout", "300s", T::time, 's'},
      {"smtp_mail_timeout", "300s", T::time, 's'},
      {"smtp_rcpt_timeout", "300s", T::time, 's'},
      {"smtp_data_init_timeout", "120s", T::time, 's'},
      {"smtp_data_xfer_timeout", "180s", T::time, 's'},
      {"smtp_data_done_timeout", "600s", T::time, 's'},
      {"smtp_quit_timeout", "300s", T::time, 's'},
      {"smtp_rset_timeout", "20s", T::time, 's'},
      {"smtp_skip_quit_response", "yes", T::boolean},
      {"smtp_always_send_ehlo", "yes", T::boolean},
      {"smtp_tcp_port", "smtp"},
      {"smtp_bind_address_enforce", "no", T::boolean},
      {"smtp_balance_inet_protocols", "yes", T::boolean},
      {"smtp_mx_address_limit", "5", T::integer},
      {"smtp_mx_session_limit", "2", T::integer},
      {"smtp_randomize_addresses", "yes", T::boolean},
      {"smtp_skip_5xx_greeting", "yes", T::boolean},
      {"smtp_defer_if_no_mx_address_found", "no", T::boolean},
      {"smtp_address_preference", "any"},
      {"smtp_host_lookup", "dns", T::list},
      {"smtp_never_send_ehlo", "no", T::boolean},
      {"smtp_line_length_limit", "998", T::integer},
      {"smtp_fallback_relay", "$fallback_relay", T::list},
      {"smtp_connection_cache_on_demand", "yes", T::boolean},
      {"smtp_connection_cache_destinations", "", T::list},
      {"smtp_connection_cache_time_limit", "2s", T::time, 's'},
      {"smtp_connection_reuse_time_limit", "300s", T::time, 's'},
      {"smtp_connection_reuse_count_limit", "0", T::integer},
      {"smtp_tls_security_level", ""},
      {"disable_dns_lookups", "no", T::boolean},
      // ---- sendmail(1)
      {"sendmail_fix_line_endings", "always"},
      // ---- mxmta's own
      {"mxmta_io_threads", "4", T::integer},
      {"mxmta_loop_spin_microseconds", "50", T::integer, 's', false, 0, 1'000'000},
      {"mxmta_queue_file_reuse_limit", "64", T::integer},
      {"mxmta_scheduler_tick", "1s", T::time, 's'},
      {"mxmta_drain_timeout", "10s", T::time, 's'},
      {"mxmta_self_check_fault", ""},
  };
}

std::once_flag g_once;
std::vector<ParamDef> g_registry;
std::unordered_map<std::string_view, size_t> g_index;

void init() {
  std::call_once(g_once, [] {
    g_registry = make_registry();
    std::sort(g_registry.begin(), g_registry.end(),
              [](const ParamDef& a, const ParamDef& b) { return a.name < b.name; });
    for (size_t i = 0; i < g_registry.size(); ++i) g_index[g_registry[i].name] = i;
  });
}

}  // namespace

const std::vector<ParamDef>& registry() {
  init();
  return g_registry;
}

const ParamDef* find_param(std::string_view name) {
  init();
  auto it = g_index.find(name);
  return it == g_index.end() ? nullptr : &g_registry[it->second];
}

std::string default_myhostname() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost.localdomain";
  std::string h = buf;
  if (h.find('.') == std::string::npos) {
    // Postfix asks the resolver for the canonical name when gethostname() is bare.
    struct addrinfo hints {};
    hints.ai_flags = AI_CANONNAME;
    struct addrinfo* res = nullptr;
    if (::getaddrinfo(h.c_str(), nullptr, &hints, &res) == 0 && res) {
      if (res->ai_canonname && std::strchr(res->ai_canonname, '.')) h = res->ai_canonname;
      ::freeaddrinfo(res);
    }
  }
  return util::lower(h);
}

std::string default_mydomain(const std::string& myhostname) {
  auto p = myhostname.find('.');
  if (p == std::string::npos || p + 1 >= myhostname.size()) return "localdomain";
  return myhostname.substr(p + 1);
}

bool parse_time(std::string_view v, char default_unit, long long& seconds) {
  v = util::trim(v);
  size_t i = 0;
  while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
  if (i == 0) return false;
  unsigned long long n = 0;
  if (!util::parse_u64(v.substr(0, i), n)) return false;
  char unit = default_unit;
  if (i < v.size()) {
    if (i + 1 != v.size()) return false;
    unit = v[i];
  }
  long long mult;
  switch (unit) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    case 'w': mult = 604800; break;
    default: return false;
  }
  if (n > static_cast<unsigned long long>(INT64_MAX / mult)) return false;
  seconds = static_cast<long long>(n) * mult;
  return true;
}

}  // namespace mta::core
