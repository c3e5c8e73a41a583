#include "report/junit.hpp"

#include <pugixml.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace mxlab::report {

using runner::CaseResult;
using runner::Status;

std::string failure_text(const CaseResult& r) {
  std::string s;
  if (!r.step.empty()) s += r.step + "\n";
  s += r.message + "\n";
  if (!r.expected.empty() || !r.actual.empty()) {
    s += "expected:\n" + r.expected + (r.expected.empty() || r.expected.back() == '\n' ? "" : "\n");
    s += "actual:\n" + r.actual + (r.actual.empty() || r.actual.back() == '\n' ? "" : "\n");
  }
  return s;
}

std::string junit_xml(const std::vector<CaseResult>& results, const std::string& mta) {
  pugi::xml_document doc;
  auto suites = doc.append_child("testsuites");
  // One suite per MTA and area; a result names its MTA (several MTAs in
  // one run), else `mta` does.
  std::map<std::pair<std::string, std::string>, std::vector<const CaseResult*>> by_area;
  std::set<std::string> mtas;
  double total = 0;
  int all_tests = 0, all_fail = 0, all_err = 0, all_skip = 0;
  for (const auto& r : results) {
    std::string m = r.mta.empty() ? mta : r.mta;
    mtas.insert(m);
    by_area[{m, r.area.empty() ? "unknown" : r.area}].push_back(&r);
  }
  for (const auto& [key, list] : by_area) {
    auto suite = suites.append_child("testsuite");
    std::string name = "mxlab." + key.first + "." + key.second;
    int failures = 0, errors = 0, skipped = 0;
    double time = 0;
    for (const auto* r : list) {
      failures += runner::is_failure(r->status);
      errors += r->status == Status::error;
      skipped += r->status == Status::unsupported;
      time += r->seconds;
    }
    suite.append_attribute("name") = name.c_str();
    suite.append_attribute("tests") = static_cast<int>(list.size());
    suite.append_attribute("failures") = failures;
    suite.append_attribute("errors") = errors;
    suite.append_attribute("skipped") = skipped;
    suite.append_attribute("time") = time;
    for (const auto* r : list) {
      auto tc = suite.append_child("testcase");
      tc.append_attribute("classname") = name.c_str();
      tc.append_attribute("name") = r->id.c_str();
      tc.append_attribute("time") = r->seconds;
      tc.append_attribute("file") = r->file.c_str();
      switch (r->status) {
        case Status::fail:
        case Status::xpass: {
          auto f = tc.append_child("failure");
          f.append_attribute("message") = (std::string(runner::status_name(r->status)) + ": " + r->message).c_str();
          f.append_attribute("type") = runner::status_name(r->status);
          f.text() = failure_text(*r).c_str();
          break;
        }
        case Status::error: {
          auto e = tc.append_child("error");
          e.append_attribute("message") = r->message.c_str();
          e.append_attribute("type") = "UNRESOLVED";
          e.text() = failure_text(*r).c_str();
          break;
        }
        case Status::unsupported:
          tc.append_child("skipped").append_attribute("message") = r->message.c_str();
          break;
        case Status::pass:
        case Status::xfail: break;
      }
      std::string out = r->status == Status::xfail ? "XFAIL (expected to fail): " + r->message + "\n" + r->output : r->output;
      if (!out.empty()) tc.append_child("system-out").text() = out.c_str();
    }
    total += time;
    all_tests += static_cast<int>(list.size());
    all_fail += failures;
    all_err += errors;
    all_skip += skipped;
  }
  suites.append_attribute("name") = (mtas.size() > 1 ? std::string("mxlab") : "mxlab." + mta).c_str();
  suites.append_attribute("tests") = all_tests;
  suites.append_attribute("failures") = all_fail;
  suites.append_attribute("errors") = all_err;
  suites.append_attribute("skipped") = all_skip;
  suites.append_attribute("time") = total;
  std::ostringstream os;
  doc.save(os, "  ", pugi::format_default | pugi::format_skip_control_chars | pugi::format_no_declaration, pugi::encoding_utf8);
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + os.str();
}

void write_junit(const std::vector<CaseResult>& results, const std::string& mta, const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::string xml = junit_xml(results, mta);
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  bool ok = std::fwrite(xml.data(), 1, xml.size(), f) == xml.size();
  ok &= std::fclose(f) == 0;
  if (!ok) throw std::runtime_error("cannot write " + path);
}

}  // namespace mxlab::report
