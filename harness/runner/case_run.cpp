#include "runner/case_run.hpp"

#include "lab/process.hpp"
#include "lab/sandbox.hpp"
#include "model/adapter.hpp"
#include "model/case.hpp"
#include "model/text.hpp"
#include "model/topology.hpp"
#include "model/xml.hpp"
#include "runner/lab_runtime.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

namespace mxlab::runner {

namespace fs = std::filesystem;

std::string find_mta_binary(const std::string& binary, const std::string& mta_bin, const std::string& self_dir) {
  if (!mta_bin.empty()) return ::access(mta_bin.c_str(), X_OK) == 0 ? fs::absolute(mta_bin).string() : std::string();
  if (binary.empty()) return {};
  if (binary.find('/') != std::string::npos) return ::access(binary.c_str(), X_OK) == 0 ? binary : std::string();
  if (!self_dir.empty()) {
    std::string beside = self_dir + "/" + binary;
    if (::access(beside.c_str(), X_OK) == 0) return beside;
  }
  return lab::find_program(binary);
}

namespace {

bool listed(const std::vector<std::string>& list, const std::string& mta) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& x) { return x == "*" || x == mta; });
}

bool moves_clock(const model::Case& c) {
  return std::any_of(c.steps.begin(), c.steps.end(), [](const model::Step& s) {
    return s.kind == model::StepKind::advance || s.kind == model::StepKind::advance_to;
  });
}

// Runs inside the sandbox as PID 1: the whole case.
int case_body(const model::Case& c, const model::Topology& t, const model::Adapter& a, const CaseOptions& o,
              const std::string& bin, CaseResult base) {
  auto t0 = std::chrono::steady_clock::now();
  CaseResult r = std::move(base);
  LabOptions lo{o.run_dir, o.repo, fs::path(a.file).parent_path().string(), bin, o.faketime_lib};
  bool full_output = true;
  {
    Lab lab(c, t, a, lo);
    try {
      lab.build();
      lab.start_all();
    } catch (const std::exception& e) {
      r.status = Status::error;
      r.message = std::string("topology did not start: ") + e.what();
      r.message = r.message.substr(0, r.message.find('\n'));
      r.actual = e.what();
      r.output = lab.output(true);
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      write_result(r, o.result_file);
      return 0;
    }
    r.status = Status::pass;
    int n = 0;
    for (const auto& s : c.steps) {
      ++n;
      auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (elapsed > static_cast<double>(c.timeout)) {
        r.status = Status::error;
        r.message = "case timeout (" + std::to_string(c.timeout) + " s) reached before step " + std::to_string(n);
        r.step = s.describe();
        break;
      }
      try {
        run_step(lab, s);
      } catch (const StepFailure& f) {
        r.status = Status::fail;
        r.message = f.what();
        r.step = "step " + std::to_string(n) + ": " + s.describe();
        r.expected = f.expected;
        r.actual = f.actual;
        break;
      } catch (const std::exception& e) {
        r.status = Status::error;
        r.message = e.what();
        r.step = "step " + std::to_string(n) + ": " + s.describe();
        break;
      }
    }
    full_output = r.status != Status::pass;
    r.output = lab.output(full_output);
  }  // the MTAs stop here, before the result is final
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  write_result(r, o.result_file);
  return 0;
}

}  // namespace

CaseResult run_case(const CaseOptions& o) {
  CaseResult r;
  r.file = o.case_file;
  r.status = Status::error;
  auto finish = [&](CaseResult& res) {
    try {
      write_result(res, o.result_file);
    } catch (...) {
    }
    return res;
  };
  model::Case c;
  model::Topology t;
  model::Adapter a;
  try {
    c = model::load_case(o.case_file, o.repo);
    r.id = c.id;
    r.area = c.area;
    r.summary = c.summary;
    r.profile = c.profile;
    r.tags = model::join(c.tags, " ");
    a = model::load_adapter(o.adapter_file);
    for (const auto& [name, value] : o.mta_env) a.env[name] = value;
    r.mta = a.name;
    t = model::load_topology(c.topology_path);
    Services::validate(t);
  } catch (const std::exception& e) {
    r.message = e.what();
    if (r.id.empty()) r.id = fs::path(o.case_file).stem().string();
    return finish(r);
  }
  // lit: UNSUPPORTED before anything starts.
  auto unsupported = [&](const std::string& why) {
    r.status = Status::unsupported;
    r.message = why;
    return finish(r);
  };
  if (listed(c.unsupported, a.name)) return unsupported("marked unsupported for " + a.name);
  for (const auto& cap : model::required_capabilities(c))
    if (!a.has_capability(cap)) {
      bool implied = cap == "postfix-replies" &&
                     std::find(c.requires_.begin(), c.requires_.end(), cap) == c.requires_.end();
      return unsupported("requires " + cap + (implied ? " (profile postfix)" : "") + ", which adapter " + a.name +
                         " lacks");
    }
  // A host configured with Postfix's main.cf/master.cf lines means those
  // settings: an MTA that does not read them would run the case with its
  // role's defaults instead, and its result would say nothing.
  if (!a.has_capability("postfix-config") && !c.portable)
    for (const auto& h : t.hosts)
      for (const auto& cf : h.configs)
        if (cf.name == "main.cf" || cf.name == "master.cf")
          return unsupported("host " + h.name + " is configured with " + cf.name + (cf.file.empty() ? " lines" : "") +
                             ", which adapter " + a.name + " does not read (it lacks postfix-config)");
  if (a.requires_root && !lab::started_as_root()) return unsupported("adapter " + a.name + " needs root");
  if (moves_clock(c) && o.faketime_lib.empty()) return unsupported("moves the clock, but libfaketime was not found");
  // A <run> step names a tool of the adapter: an MTA without it (no
  // postconf in Exim) cannot be asked, which is not a failure of the MTA.
  for (const auto& s : c.steps)
    if (s.kind == model::StepKind::run) {
      std::string tool = model::split_command(s.attr("command")).front();
      // "/bin/cat /tmp/x" runs a program of the host, not one of the MTA's.
      if (!tool.empty() && tool.front() == '/') continue;
      if (!a.tools.count(tool)) return unsupported("runs " + tool + ", a tool adapter " + a.name + " does not name");
    }
  if ((t.dns.present || !t.peers.empty()) && !Services::available())
    return unsupported("needs the fake DNS or scripted peers, which this mxlab was built without");
  std::string bin = find_mta_binary(a.binary, o.mta_bin, o.self_dir);
  if (!a.binary.empty() && bin.empty()) {
    r.message = "MTA binary \"" + a.binary + "\" not found (looked in " +
                (o.mta_bin.empty() ? o.self_dir + " and PATH" : o.mta_bin) + ")";
    return finish(r);
  }
  bool xfail = listed(c.xfail, a.name);
  ::unlink(o.result_file.c_str());
  fs::create_directories(o.run_dir);
  std::string sup_err;
  int st = lab::run_supervised([&]() { return case_body(c, t, a, o, bin, r); }, o.run_dir, o.keep, &sup_err);
  CaseResult out;
  try {
    out = read_result(o.result_file);
  } catch (...) {
    out = r;
    out.status = Status::error;
    if (st == lab::kNoNamespaces) out.message = "cannot create namespaces: " + sup_err;
    else if (st >= 128) out.message = "the case was killed (signal " + std::to_string(st - 128) + ")";
    else out.message = "the case ended without a result (status " + std::to_string(st) + ")" + (sup_err.empty() ? "" : ": " + sup_err);
  }
  apply_xfail(out, xfail);
  if (o.keep) out.output += "\n(run directory kept: " + o.run_dir + ")\n";
  return finish(out);
}

}  // namespace mxlab::runner
