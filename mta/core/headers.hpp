// NAME
//   core/headers - the header block of an RFC 5322 message
// DESCRIPTION
//   Content is kept with LF line endings. split_headers() returns the header
//   fields in order (each with its folded continuation lines) and where the body
//   starts; parse_address_list() extracts addresses from To/Cc/Bcc-style values
//   (display names, comments, groups and route-addrs handled).
// STANDARDS
//   RFC 5322 sections 2.2 (header fields), 3.4 (address specification)
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace mta::core {

struct HeaderField {
  std::string name;  // as written ("Message-ID")
  std::string text;  // the whole field including name, continuation lines, final '\n'
  std::string value() const;  // unfolded value after the colon, trimmed
};

struct HeaderBlock {
  std::vector<HeaderField> fields;
  size_t body_offset = 0;  // offset of the body in content (after the blank line), or content.size()
  bool has_blank = false;  // a blank line separates header and body
};

// A line is a header line when it is "name:" with name of printable
// characters other than ':' and space (RFC 5322 ftext).
bool is_header_line(std::string_view line);
HeaderBlock split_headers(std::string_view content);
const HeaderField* find_header(const HeaderBlock& h, std::string_view name);
std::vector<std::string> parse_address_list(std::string_view value);

}  // namespace mta::core
