#include "core/headers.hpp"

#include "util/strings.hpp"

#include <cctype>

namespace mta::core {

bool is_header_line(std::string_view l) {
  size_t i = 0;
  while (i < l.size() && l[i] != ':') {
    unsigned char c = static_cast<unsigned char>(l[i]);
    if (c <= 32 || c >= 127) return false;
    ++i;
  }
  return i > 0 && i < l.size();
}

std::string HeaderField::value() const {
  auto c = text.find(':');
  std::string v;
  std::string_view rest = std::string_view(text).substr(c + 1);
  for (char ch : rest) {
    if (ch == '\n' || ch == '\r') continue;  // unfold: CRLF WSP -> WSP
    v += ch;
  }
  return std::string(util::trim(v));
}

HeaderBlock split_headers(std::string_view content) {
  HeaderBlock h;
  size_t i = 0;
  while (i < content.size()) {
    size_t j = content.find('\n', i);
    size_t end = j == std::string_view::npos ? content.size() : j + 1;
    std::string_view line = content.substr(i, (j == std::string_view::npos ? content.size() : j) - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      h.has_blank = true;
      h.body_offset = end;
      return h;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !h.fields.empty()) {
      h.fields.back().text.append(content.substr(i, end - i));
    } else if (is_header_line(line)) {
      HeaderField f;
      f.name = std::string(line.substr(0, line.find(':')));
      f.text = std::string(content.substr(i, end - i));
      h.fields.push_back(std::move(f));
    } else {
      // Not a header: the body starts here (no blank line).
      h.body_offset = i;
      return h;
    }
    i = end;
  }
  h.body_offset = content.size();
  return h;
}

const HeaderField* find_header(const HeaderBlock& h, std::string_view name) {
  for (const auto& f : h.fields)
    if (util::iequals(f.name, name)) return &f;
  return nullptr;
}

std::vector<std::string> parse_address_list(std::string_view v) {
  // Tokenise: drop comments, split on commas outside quotes/<>, take the
  // route-addr if present, else the bare addr-spec; group "name: a, b;" yields a, b.
  std::vector<std::string> out;
  std::string cur;
  bool inq = false;
  int comment = 0, angle = 0;
  std::string angle_addr;
  bool have_angle = false;
  auto flush = [&] {
    std::string a = have_angle ? angle_addr : std::string(util::trim(cur));
    a = std::string(util::trim(a));
    if (!a.empty()) out.push_back(a);
    cur.clear();
    angle_addr.clear();
    have_angle = false;
  };
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (comment) {
      if (c == '\\') ++i;
      else if (c == '(') ++comment;
      else if (c == ')') --comment;
      continue;
    }
    if (inq) {
      if (c == '\\' && i + 1 < v.size()) {
        (angle ? angle_addr : cur) += c;
        c = v[++i];
      } else if (c == '"') {
        inq = false;
      }
      (angle ? angle_addr : cur) += c;
      continue;
    }
    switch (c) {
      case '"':
        inq = true;
        (angle ? angle_addr : cur) += c;
        break;
      case '(': ++comment; break;
      case '<':
        angle = 1;
        have_angle = true;
        angle_addr.clear();
        break;
      case '>': angle = 0; break;
      case ':':
        if (!angle) cur.clear();  // group display name
        else angle_addr += c;
        break;
      case ';':
        if (!angle) flush();
        break;
      case ',':
        if (angle) angle_addr += c;
        else flush();
        break;
      default:
        if (angle) {
          if (!std::isspace(static_cast<unsigned char>(c))) angle_addr += c;
        } else {
          cur += c;
        }
    }
  }
  flush();
  // A bare token with spaces but no angle brackets ("John Doe") is not an address.
  std::vector<std::string> clean;
  for (auto& a : out) {
    // route-addr source routes "@a,@b:x@y" -> x@y
    if (!a.empty() && a[0] == '@') {
      auto col = a.find(':');
      if (col != std::string::npos) a = a.substr(col + 1);
    }
    bool inq2 = false, bad = false;
    for (char ch : a) {
      if (ch == '"') inq2 = !inq2;
      else if (!inq2 && std::isspace(static_cast<unsigned char>(ch))) bad = true;
    }
    if (!bad) clean.push_back(a);
  }
  return clean;
}

}  // namespace mta::core
