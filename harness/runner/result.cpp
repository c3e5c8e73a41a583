#include "runner/result.hpp"

#include <pugixml.hpp>

#include <stdexcept>

namespace mxlab::runner {

const char* status_name(Status s) {
  switch (s) {
    case Status::pass: return "PASS";
    case Status::fail: return "FAIL";
    case Status::xfail: return "XFAIL";
    case Status::xpass: return "XPASS";
    case Status::unsupported: return "UNSUPPORTED";
    case Status::error: return "ERROR";
  }
  return "ERROR";
}

bool is_failure(Status s) { return s == Status::fail || s == Status::xpass; }

void apply_xfail(CaseResult& r, bool expected_to_fail) {
  if (!expected_to_fail) return;
  if (r.status == Status::fail) {
    r.status = Status::xfail;
  } else if (r.status == Status::pass) {
    r.status = Status::xpass;
    r.message = "passed, but the case is marked xfail for this MTA";
  }
}

void write_result(const CaseResult& r, const std::string& path) {
  pugi::xml_document doc;
  auto n = doc.append_child("result");
  n.append_attribute("id") = r.id.c_str();
  n.append_attribute("area") = r.area.c_str();
  n.append_attribute("file") = r.file.c_str();
  n.append_attribute("mta") = r.mta.c_str();
  n.append_attribute("profile") = r.profile.c_str();
  n.append_attribute("tags") = r.tags.c_str();
  n.append_attribute("status") = status_name(r.status);
  n.append_attribute("seconds") = r.seconds;
  auto text = [&](const char* name, const std::string& v) { n.append_child(name).text() = v.c_str(); };
  text("summary", r.summary);
  text("message", r.message);
  text("step", r.step);
  text("expected", r.expected);
  text("actual", r.actual);
  text("output", r.output);
  std::string tmp = path + ".tmp";
  if (!doc.save_file(tmp.c_str(), "  ", pugi::format_default | pugi::format_skip_control_chars, pugi::encoding_utf8))
    throw std::runtime_error("cannot write " + tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot rename " + tmp);
}

CaseResult read_result(const std::string& path) {
  pugi::xml_document doc;
  if (!doc.load_file(path.c_str())) throw std::runtime_error("cannot read result " + path);
  auto n = doc.child("result");
  CaseResult r;
  r.id = n.attribute("id").value();
  r.area = n.attribute("area").value();
  r.file = n.attribute("file").value();
  r.mta = n.attribute("mta").value();
  r.profile = n.attribute("profile").value();
  r.tags = n.attribute("tags").value();
  r.seconds = n.attribute("seconds").as_double();
  std::string st = n.attribute("status").value();
  for (Status s : {Status::pass, Status::fail, Status::xfail, Status::xpass, Status::unsupported, Status::error})
    if (st == status_name(s)) r.status = s;
  r.summary = n.child("summary").text().get();
  r.message = n.child("message").text().get();
  r.step = n.child("step").text().get();
  r.expected = n.child("expected").text().get();
  r.actual = n.child("actual").text().get();
  r.output = n.child("output").text().get();
  return r;
}

}  // namespace mxlab::runner
