// NAME
//   util/strings - small string helpers that know nothing about mail
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mta::util {

std::string_view trim(std::string_view s);
std::string lower(std::string_view s);
std::string upper(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);
// Postfix list syntax: elements separated by commas and/or whitespace;
// separators inside {} do not split ("inline:{a=b, c=d}").
std::vector<std::string> split_list(std::string_view s);
// Split on any of the given separator characters, dropping empty fields.
std::vector<std::string> split_any(std::string_view s, std::string_view seps);
std::string join(const std::vector<std::string>& v, std::string_view sep);
bool is_all_digits(std::string_view s);
// Parses a non-negative decimal integer; false on syntax error or overflow.
bool parse_u64(std::string_view s, unsigned long long& out);
// Replace every occurrence of `from` by `to`.
std::string replace_all(std::string s, std::string_view from, std::string_view to);
// Quote a string for a JSON value (postqueue -j).
std::string json_quote(std::string_view s);
// Printable form of arbitrary bytes for logs: control characters become '?'.
std::string printable(std::string_view s, char repl = '?');

}  // namespace mta::util
