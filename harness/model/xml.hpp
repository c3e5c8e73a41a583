// NAME
//   model/xml - load an XML file and report errors as FILE:LINE: reason
// DESCRIPTION
//   Every file the harness reads (topologies, cases, adapters) goes through
//   XmlFile so that a malformed file is refused before anything starts, with
//   the line computed from pugixml's byte offsets. Element and attribute
//   helpers reject unknown attributes, so a typo ("adress=") is an error
//   and not a silently ignored setting.
// DIAGNOSTICS
//   ParseError("FILE:LINE: reason").
#pragma once
#include <pugixml.hpp>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mxlab::model {

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class XmlFile {
 public:
  // Throws ParseError("PATH:LINE: reason") for bad XML, or ("PATH: reason")
  // when the file cannot be read.
  static std::shared_ptr<XmlFile> load(const std::string& path);
  static std::shared_ptr<XmlFile> parse(std::string text, const std::string& path);

  const std::string& path() const { return path_; }
  pugi::xml_node root() const { return doc_.document_element(); }
  int line_of(const pugi::xml_node& n) const;
  int line_at(std::ptrdiff_t offset) const;
  // Line on which the text content of `n` (its first pcdata/cdata child) starts.
  int text_line(const pugi::xml_node& n) const;
  [[noreturn]] void fail(const pugi::xml_node& n, const std::string& why) const;
  [[noreturn]] void fail_line(int line, const std::string& why) const;

  // Attribute access. `allowed` lists every attribute the element may carry.
  void check_attrs(const pugi::xml_node& n, std::initializer_list<std::string_view> allowed) const;
  std::string req(const pugi::xml_node& n, const char* attr) const;
  std::string opt(const pugi::xml_node& n, const char* attr, const std::string& dflt = {}) const;
  bool flag(const pugi::xml_node& n, const char* attr, bool dflt) const;
  long integer(const pugi::xml_node& n, const char* attr, long dflt, long min, long max) const;
  int64_t duration(const pugi::xml_node& n, const char* attr, int64_t dflt) const;
  // Concatenated pcdata/cdata children.
  static std::string text(const pugi::xml_node& n);

 private:
  std::string path_;
  std::string buffer_;
  pugi::xml_document doc_;
};

// Remove the common indentation and the leading/trailing blank lines of an
// element's text, counting how many leading lines were dropped.
std::string dedent(const std::string& text, int* dropped_leading_lines = nullptr);

}  // namespace mxlab::model
