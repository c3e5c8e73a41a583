#include "mail/message.hpp"

#include "model/text.hpp"

namespace mxlab::mail {

using model::iequals;
using model::lower;
using model::trim;

std::optional<std::string> Message::header(std::string_view name) const {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return h.value;
  return std::nullopt;
}

std::vector<std::string> Message::headers_named(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& h : headers)
    if (iequals(h.name, name)) out.push_back(h.value);
  return out;
}

std::string Message::text() const {
  std::string s;
  for (const auto& h : headers) s += h.name + ": " + h.value + "\n";
  s += "\n";
  s += body;
  return s;
}

Message parse_message(std::string_view raw) {
  Message m;
  size_t pos = 0;
  bool in_headers = true;
  while (pos < raw.size() && in_headers) {
    auto nl = raw.find('\n', pos);
    size_t end = nl == std::string_view::npos ? raw.size() : nl;
    std::string_view line = raw.substr(pos, end - pos);
    size_t next = nl == std::string_view::npos ? raw.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      pos = next;
      in_headers = false;
      break;
    }
    if ((line.front() == ' ' || line.front() == '\t') && !m.headers.empty()) {
      // Unfolding (RFC 5322 2.2.3): the CRLF goes, the whitespace stays; we
      // keep one space so folded lines compare like their unfolded form.
      m.headers.back().value += " ";
      m.headers.back().value += std::string(trim(line));
    } else {
      auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        // Not a header: the message has no blank line before its body.
        in_headers = false;
        break;
      }
      Header h;
      h.name = std::string(trim(line.substr(0, colon)));
      h.value = std::string(trim(line.substr(colon + 1)));
      m.headers.push_back(std::move(h));
    }
    pos = next;
  }
  m.body = std::string(raw.substr(std::min(pos, raw.size())));
  return m;
}

std::string header_param(std::string_view value, std::string_view param) {
  std::string v(value);
  std::string lv = lower(v);
  std::string key = lower(param) + "=";
  size_t pos = 0;
  while ((pos = lv.find(key, pos)) != std::string::npos) {
    // must start a parameter: preceded by ';' and optional whitespace
    size_t b = pos;
    while (b > 0 && (lv[b - 1] == ' ' || lv[b - 1] == '\t')) --b;
    if (b == 0 || lv[b - 1] != ';') {
      pos += key.size();
      continue;
    }
    size_t s = pos + key.size();
    if (s < v.size() && v[s] == '"') {
      std::string out;
      for (size_t i = s + 1; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 1 < v.size()) out += v[++i];
        else if (v[i] == '"') break;
        else out += v[i];
      }
      return out;
    }
    size_t e = v.find_first_of("; \t", s);
    return v.substr(s, e == std::string::npos ? std::string::npos : e - s);
  }
  return {};
}

std::string media_type(std::string_view value) {
  auto semi = value.find(';');
  return lower(trim(value.substr(0, semi)));
}

std::vector<Message> split_multipart(const Message& m) {
  std::vector<Message> parts;
  auto ct = m.header("Content-Type");
  if (!ct) return parts;
  std::string boundary = header_param(*ct, "boundary");
  if (boundary.empty()) return parts;
  const std::string delim = "--" + boundary;
  auto lines = model::split_lines(m.body);
  std::string cur;
  bool inside = false;
  for (const auto& l : lines) {
    std::string_view t = l;
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);  // transport padding
    if (t == delim || t == delim + "--") {
      if (inside) {
        // the CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1)
        if (!cur.empty() && cur.back() == '\n') cur.pop_back();
        parts.push_back(parse_message(cur));
      }
      cur.clear();
      inside = t == delim;
      if (!inside) break;
      continue;
    }
    if (inside) {
      cur += l;
      cur += '\n';
    }
  }
  return parts;
}

std::string strip_type(std::string_view value) {
  std::string_view v = trim(value);
  auto semi = v.find(';');
  if (semi != std::string_view::npos) v = trim(v.substr(semi + 1));
  if (v.size() >= 2 && v.front() == '<' && v.back() == '>') v = v.substr(1, v.size() - 2);
  return std::string(v);
}

namespace {

// Field blocks of a message/delivery-status body: groups separated by blank
// lines, each a header block (RFC 3464 section 2.1).
std::vector<std::vector<Header>> field_groups(const std::string& body) {
  std::vector<std::vector<Header>> groups;
  std::vector<Header> cur;
  for (const auto& l : model::split_lines(body)) {
    if (trim(l).empty()) {
      if (!cur.empty()) groups.push_back(std::move(cur));
      cur.clear();
      continue;
    }
    if ((l.front() == ' ' || l.front() == '\t') && !cur.empty()) {
      cur.back().value += " " + std::string(trim(l));
      continue;
    }
    auto colon = l.find(':');
    if (colon == std::string::npos) continue;
    cur.push_back({std::string(trim(std::string_view(l).substr(0, colon))), std::string(trim(std::string_view(l).substr(colon + 1)))});
  }
  if (!cur.empty()) groups.push_back(std::move(cur));
  return groups;
}

}  // namespace

bool parse_dsn(const Message& m, Dsn& dsn, std::string& why) {
  auto ct = m.header("Content-Type");
  if (!ct || media_type(*ct) != "multipart/report") {
    why = "not a multipart/report message (Content-Type: " + (ct ? *ct : std::string("none")) + ")";
    return false;
  }
  if (lower(header_param(*ct, "report-type")) != "delivery-status") {
    why = "multipart/report without report-type=delivery-status";
    return false;
  }
  auto parts = split_multipart(m);
  if (parts.empty()) {
    why = "multipart/report with no parts (boundary not found)";
    return false;
  }
  const Message* status = nullptr;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto pct = media_type(parts[i].header("Content-Type").value_or("text/plain"));
    if (i == 0) dsn.human_text = parts[i].body;
    if (pct == "message/delivery-status" || pct == "message/global-delivery-status") status = &parts[i];
    else if (pct == "message/rfc822" || pct == "text/rfc822-headers" || pct == "message/global")
      dsn.returned = parse_message(parts[i].body);
  }
  if (!status) {
    why = "no message/delivery-status part";
    return false;
  }
  auto groups = field_groups(status->body);
  if (groups.empty()) {
    why = "empty message/delivery-status part";
    return false;
  }
  for (const auto& h : groups[0]) dsn.message_fields[lower(h.name)] = h.value;
  for (size_t g = 1; g < groups.size(); ++g) {
    DsnRecipient r;
    for (const auto& h : groups[g]) r.fields[lower(h.name)] = h.value;
    auto get = [&](const char* k) {
      auto it = r.fields.find(k);
      return it == r.fields.end() ? std::string() : it->second;
    };
    r.final_recipient = strip_type(get("final-recipient"));
    r.original_recipient = strip_type(get("original-recipient"));
    r.action = lower(get("action"));
    r.status = get("status");
    r.remote_mta = strip_type(get("remote-mta"));
    r.diagnostic_code = get("diagnostic-code");
    dsn.recipients.push_back(std::move(r));
  }
  if (dsn.recipients.empty()) {
    why = "message/delivery-status has no per-recipient fields";
    return false;
  }
  for (const auto& r : dsn.recipients) {
    if (r.final_recipient.empty() || r.action.empty() || r.status.empty()) {
      why = "a per-recipient group lacks Final-Recipient, Action or Status (all required by RFC 3464 2.3)";
      return false;
    }
  }
  return true;
}

}  // namespace mxlab::mail
