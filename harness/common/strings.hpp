// NAME
//   common/strings - small text helpers shared by the harness's modules
// DESCRIPTION
//   ASCII-only case folding (DNS names and SMTP verbs are ASCII by their
//   standards), whitespace splitting, "ADDR:PORT" parsing and the wall clock
//   as the harness reports it (seconds since the epoch, as a double).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mxlab::common {

std::string_view trim(std::string_view s);
std::string lower(std::string_view s);
std::string upper(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
// Case-insensitive substring test; an empty needle is found everywhere.
bool icontains(std::string_view haystack, std::string_view needle);
bool istarts_with(std::string_view s, std::string_view prefix);
// Split on runs of spaces and tabs.
std::vector<std::string_view> split_ws(std::string_view s);
// Decimal integer in [lo, hi]; false on syntax error or range.
bool parse_int(std::string_view s, long long lo, long long hi, long long& out);
// "127.0.0.1:53", "[::1]:53", "localhost:25". False when the port is missing
// or not a number in 0..65535, or the host is empty.
bool split_host_port(std::string_view s, std::string& host, uint16_t& port);
// Wall-clock seconds since the epoch, with sub-second precision.
double wall_seconds();

}  // namespace mxlab::common
