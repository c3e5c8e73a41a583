// NAME
//   core/params - the parameter registry: every main.cf parameter mxmta knows
// DESCRIPTION
//   Each parameter is declared once, with Postfix 3.7's name and default
//   (postconf -d prints this table). Deviations from Postfix 3.7, each for a
//   stated reason:
//     smtpd_forbid_bare_newline = normalize   Postfix 3.9's safer default
//     compatibility_level = 3.7               behave as a packaged Postfix 3.7
//     config_directory, queue_directory, data_directory = .../mxmta
//                                              never share a real Postfix's spool
//     mail_name = mxmta, syslog_name = mxmta   the product names itself
//     alias_maps = hash:/etc/aliases           Debian's default (no NIS)
//   Parameters Postfix lacks are named mxmta_*.
//   A few defaults are computed from the machine, as Postfix does:
//   myhostname, mydomain, mynetworks.
#pragma once
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace mta::core {

enum class ParamType { string, boolean, integer, time, list };

struct ParamDef {
  std::string_view name;
  std::string_view def;   // raw default; "" for computed ones (see computed)
  ParamType type = ParamType::string;
  char time_unit = 's';   // default unit of a time parameter
  bool computed = false;  // default computed at run time (myhostname ...)
  // Bounds of an integer parameter, checked by Config::get_int.
  long long min = std::numeric_limits<long long>::min();
  long long max = std::numeric_limits<long long>::max();
};

const std::vector<ParamDef>& registry();
const ParamDef* find_param(std::string_view name);

// Computed defaults.
std::string default_myhostname();
std::string default_mydomain(const std::string& myhostname);

// Postfix's time syntax: an integer followed by an optional unit s m h d w.
// Returns seconds; false on a syntax error.
bool parse_time(std::string_view value, char default_unit, long long& seconds);

}  // namespace mta::core
