#include "model/xml.hpp"

#include "model/text.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>

namespace mxlab::model {

std::shared_ptr<XmlFile> XmlFile::load(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::exception& e) {
    throw ParseError(e.what());
  }
  return parse(std::move(text), path);
}

std::shared_ptr<XmlFile> XmlFile::parse(std::string text, const std::string& path) {
  auto f = std::make_shared<XmlFile>();
  f->path_ = path;
  f->buffer_ = std::move(text);
  // parse_default keeps CDATA as nodes; parse_eol is on (CRLF -> LF) which
  // does not move node offsets relative to the original buffer.
  auto r = f->doc_.load_buffer(f->buffer_.data(), f->buffer_.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!r) f->fail_line(f->line_at(r.offset), std::string("malformed XML: ") + r.description());
  if (!f->doc_.document_element()) f->fail_line(1, "no root element");
  return f;
}

int XmlFile::line_at(std::ptrdiff_t offset) const {
  if (offset < 0) return 1;
  auto end = std::min<size_t>(static_cast<size_t>(offset), buffer_.size());
  return 1 + static_cast<int>(std::count(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
}

int XmlFile::line_of(const pugi::xml_node& n) const { return line_at(n.offset_debug()); }

int XmlFile::text_line(const pugi::xml_node& n) const {
  for (auto c = n.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_cdata || c.type() == pugi::node_pcdata) {
      // offset_debug of a text node points at its value; for CDATA pugixml
      // reports the start of "<![CDATA[" on some versions, so look for it.
      auto off = c.offset_debug();
      if (off >= 0 && static_cast<size_t>(off) + 9 <= buffer_.size() &&
          buffer_.compare(static_cast<size_t>(off), 9, "<![CDATA[") == 0)
        off += 9;
      return line_at(off);
    }
  }
  return line_of(n);
}

void XmlFile::fail(const pugi::xml_node& n, const std::string& why) const { fail_line(line_of(n), why); }

void XmlFile::fail_line(int line, const std::string& why) const {
  throw ParseError(path_ + ":" + std::to_string(line) + ": " + why);
}

void XmlFile::check_attrs(const pugi::xml_node& n, std::initializer_list<std::string_view> allowed) const {
  for (auto a : n.attributes()) {
    if (std::find(allowed.begin(), allowed.end(), std::string_view(a.name())) == allowed.end())
      fail(n, std::string("<") + n.name() + ">: unknown attribute \"" + a.name() + "\"");
  }
}

std::string XmlFile::req(const pugi::xml_node& n, const char* attr) const {
  auto a = n.attribute(attr);
  if (!a) fail(n, std::string("<") + n.name() + ">: missing attribute \"" + attr + "\"");
  std::string v(trim(a.value()));
  if (v.empty()) fail(n, std::string("<") + n.name() + ">: attribute \"" + attr + "\" is empty");
  return v;
}

std::string XmlFile::opt(const pugi::xml_node& n, const char* attr, const std::string& dflt) const {
  auto a = n.attribute(attr);
  return a ? std::string(a.value()) : dflt;
}

bool XmlFile::flag(const pugi::xml_node& n, const char* attr, bool dflt) const {
  auto a = n.attribute(attr);
  if (!a) return dflt;
  std::string v = lower(trim(a.value()));
  if (v == "true" || v == "yes" || v == "1") return true;
  if (v == "false" || v == "no" || v == "0") return false;
  fail(n, std::string("<") + n.name() + ">: attribute \"" + attr + "\" must be true or false, not \"" + a.value() +
              "\"");
}

long XmlFile::integer(const pugi::xml_node& n, const char* attr, long dflt, long min, long max) const {
  auto a = n.attribute(attr);
  if (!a) return dflt;
  std::string v(trim(a.value()));
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || x < min || x > max)
    fail(n, std::string("<") + n.name() + ">: attribute \"" + attr + "\" must be an integer from " +
                std::to_string(min) + " to " + std::to_string(max) + ", not \"" + v + "\"");
  return x;
}

int64_t XmlFile::duration(const pugi::xml_node& n, const char* attr, int64_t dflt) const {
  auto a = n.attribute(attr);
  if (!a) return dflt;
  int64_t s = 0;
  if (!parse_duration(a.value(), s))
    fail(n, std::string("<") + n.name() + ">: attribute \"" + attr + "\" is not a duration (like 30s, 5m, 1h, 2d): \"" +
                a.value() + "\"");
  return s;
}

std::string XmlFile::text(const pugi::xml_node& n) {
  std::string r;
  for (auto c = n.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_cdata || c.type() == pugi::node_pcdata) r += c.value();
  return r;
}

std::string dedent(const std::string& text, int* dropped) {
  auto lines = split_lines(text);
  size_t first = 0;
  while (first < lines.size() && trim(lines[first]).empty()) ++first;
  size_t last = lines.size();
  while (last > first && trim(lines[last - 1]).empty()) --last;
  if (dropped) *dropped = static_cast<int>(first);
  size_t indent = SIZE_MAX;
  for (size_t i = first; i < last; ++i) {
    if (trim(lines[i]).empty()) continue;
    size_t k = lines[i].find_first_not_of(" \t");
    indent = std::min(indent, k);
  }
  if (indent == SIZE_MAX) indent = 0;
  std::string out;
  for (size_t i = first; i < last; ++i) {
    out += lines[i].size() >= indent ? lines[i].substr(indent) : std::string();
    out += '\n';
  }
  return out;
}

}  // namespace mxlab::model
