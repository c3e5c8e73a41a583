#include "dialog/script.hpp"

#include "model/text.hpp"
#include "model/xml.hpp"

#include <regex>

namespace mxlab::dialog {

using model::ParseError;

namespace {

[[noreturn]] void fail(const std::string& file, int line, const std::string& why) {
  throw ParseError(file + ":" + std::to_string(line) + ": " + why);
}

std::string rest(std::string_view line, size_t n) {
  std::string_view r = line.substr(n);
  if (!r.empty() && r.front() == ' ') r.remove_prefix(1);
  return std::string(r);
}

}  // namespace

Script parse_script(std::string_view text, const std::string& file, int first_line) {
  Script s;
  auto lines = model::split_lines(text);
  bool open_multiline = false;  // the previous "<-" was "ddd-..."
  for (size_t i = 0; i < lines.size(); ++i) {
    const int ln = first_line + static_cast<int>(i);
    std::string raw = lines[i];
    // Leading indentation is layout; trailing whitespace of a send is kept
    // only through "=>" escapes, so strip it (editors add it invisibly).
    std::string_view t = model::trim(raw);
    if (t.empty() || t.front() == '#') {
      if (open_multiline) fail(file, ln, "multi-line reply expectation is not finished (a \"<- ddd text\" line must end it)");
      continue;
    }
    Directive d;
    d.line = ln;
    d.source = std::string(t);
    if (t.substr(0, 2) == "<-") {
      std::string body = rest(t, 2);
      bool last = false;
      if (!reply_line(body, last)) fail(file, ln, "\"<-\" needs a reply line (three digits, then ' ' or '-'): \"" + body + "\"");
      if (open_multiline) {
        s.directives.back().lines.push_back(body);
        s.directives.back().source += "\n" + std::string(t);
      } else {
        d.kind = Directive::Kind::expect_exact;
        d.lines.push_back(body);
        s.directives.push_back(std::move(d));
      }
      open_multiline = !last;
      continue;
    }
    if (open_multiline) fail(file, ln, "multi-line reply expectation is not finished (a \"<- ddd text\" line must end it)");
    if (t.substr(0, 2) == "<~") {
      std::string body = rest(t, 2);
      if (body.empty()) fail(file, ln, "\"<~\" needs a prefix or a /regex/");
      if (body.size() >= 2 && body.front() == '/' && body.back() == '/') {
        d.kind = Directive::Kind::expect_regex;
        d.text = body.substr(1, body.size() - 2);
        try {
          std::regex re(d.text, std::regex::ECMAScript | std::regex::multiline);
        } catch (const std::regex_error& e) {
          fail(file, ln, "bad regular expression /" + d.text + "/: " + e.what());
        }
      } else {
        d.kind = Directive::Kind::expect_prefix;
        d.text = body;
      }
    } else if (t.substr(0, 2) == "->") {
      d.kind = Directive::Kind::send;
      d.text = rest(t, 2);
    } else if (t.substr(0, 2) == "=>") {
      d.kind = Directive::Kind::send_raw;
      std::string err;
      if (!model::unescape(rest(t, 2), d.text, err)) fail(file, ln, "raw bytes: " + err);
      if (d.text.empty()) fail(file, ln, "\"=>\" needs bytes to send");
    } else if (t == "close") {
      d.kind = Directive::Kind::close;
    } else if (t == "closed") {
      d.kind = Directive::Kind::expect_close;
    } else if (t.substr(0, 6) == "sleep ") {
      d.kind = Directive::Kind::sleep;
      std::string v(model::trim(t.substr(6)));
      char* end = nullptr;
      d.seconds = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || d.seconds < 0 || d.seconds > 600) fail(file, ln, "sleep needs seconds from 0 to 600: \"" + v + "\"");
    } else {
      fail(file, ln, "unknown dialog directive (expected ->, =>, <-, <~, close, closed, sleep): \"" + std::string(t) + "\"");
    }
    s.directives.push_back(std::move(d));
  }
  if (open_multiline) fail(file, first_line + static_cast<int>(lines.size()) - 1, "multi-line reply expectation is not finished");
  return s;
}

int Reply::code() const {
  if (lines.empty() || lines.front().size() < 3) return 0;
  return std::stoi(lines.front().substr(0, 3));
}

std::string Reply::joined() const { return model::join(lines, "\n"); }

bool reply_line(std::string_view line, bool& last) {
  if (line.size() < 3) return false;
  for (int i = 0; i < 3; ++i)
    if (line[i] < '0' || line[i] > '9') return false;
  if (line.size() == 3) {
    last = true;
    return true;
  }
  if (line[3] == ' ') {
    last = true;
    return true;
  }
  if (line[3] == '-') {
    last = false;
    return true;
  }
  return false;
}

bool matches(const Directive& d, const Reply& reply, std::string& why) {
  switch (d.kind) {
    case Directive::Kind::expect_exact:
      if (reply.lines == d.lines) return true;
      why = "reply differs";
      return false;
    case Directive::Kind::expect_prefix:
      if (!reply.lines.empty() && reply.lines.front().compare(0, d.text.size(), d.text) == 0) return true;
      why = "reply does not start with \"" + d.text + "\"";
      return false;
    case Directive::Kind::expect_regex: {
      std::regex re(d.text, std::regex::ECMAScript | std::regex::multiline);
      if (std::regex_search(reply.joined(), re)) return true;
      why = "reply does not match /" + d.text + "/";
      return false;
    }
    default:
      why = "not an expectation";
      return false;
  }
}

std::string expectation_text(const Directive& d) {
  switch (d.kind) {
    case Directive::Kind::expect_exact: return model::join(d.lines, "\n");
    case Directive::Kind::expect_prefix: return d.text + "...";
    case Directive::Kind::expect_regex: return "/" + d.text + "/";
    case Directive::Kind::expect_close: return "(connection closed by the server)";
    default: return d.source;
  }
}

}  // namespace mxlab::dialog
