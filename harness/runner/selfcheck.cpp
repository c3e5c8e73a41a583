#include "runner/selfcheck.hpp"

#include "model/text.hpp"

#include <fcntl.h>
#include <pugixml.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace mxlab::runner {

namespace fs = std::filesystem;

std::vector<FaultInfo> parse_fault_list(const std::string& text) {
  std::vector<FaultInfo> out;
  for (const auto& line : model::split_lines(text)) {
    std::string_view l = model::trim(line);
    if (l.empty()) continue;
    auto tab = l.find('\t');
    FaultInfo f;
    f.name = std::string(model::trim(l.substr(0, tab)));
    if (tab != std::string_view::npos) f.what = std::string(model::trim(l.substr(tab + 1)));
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<CaseOutcome> parse_junit_outcomes(const std::string& xml) {
  pugi::xml_document doc;
  auto res = doc.load_buffer(xml.data(), xml.size());
  if (!res) throw std::runtime_error(std::string("not JUnit XML: ") + res.description());
  auto suites = doc.child("testsuites");
  if (!suites) throw std::runtime_error("not JUnit XML: no <testsuites>");
  auto first_line = [](std::string s) {
    s = s.substr(0, s.find('\n'));
    return s;
  };
  std::vector<CaseOutcome> out;
  for (auto suite : suites.children("testsuite")) {
    for (auto tc : suite.children("testcase")) {
      CaseOutcome c;
      c.id = tc.attribute("name").value();
      if (auto f = tc.child("failure")) {
        std::string type = f.attribute("type").value();
        c.status = type == "XPASS" ? "XPASS" : "FAIL";
        c.message = first_line(f.attribute("message").value());
        // "FAIL: reason": the status is a column of its own in the report.
        if (model::starts_with(c.message, c.status + ": ")) c.message.erase(0, c.status.size() + 2);
      } else if (auto e = tc.child("error")) {
        c.status = "ERROR";
        c.message = first_line(e.attribute("message").value());
      } else if (auto s = tc.child("skipped")) {
        c.status = "UNSUPPORTED";
        c.message = first_line(s.attribute("message").value());
      } else {
        std::string so = tc.child("system-out").text().get();
        c.status = model::starts_with(so, "XFAIL") ? "XFAIL" : "PASS";
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

RunPlan plan_runs(int jobs, size_t runs) {
  RunPlan p;
  jobs = std::max(1, jobs);
  p.concurrent = static_cast<int>(std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(jobs), runs)));
  p.jobs = std::max(1, jobs / p.concurrent);
  return p;
}

std::vector<std::string> SelfcheckReport::holes() const {
  std::vector<std::string> h;
  for (const auto& f : faults)
    if (f.problem.empty() && f.caught.empty()) h.push_back(f.fault.name);
  return h;
}

std::vector<CaseOutcome> SelfcheckReport::baseline_failures() const {
  std::vector<CaseOutcome> v;
  for (const auto& c : baseline)
    if (c.status != "PASS" && c.status != "XFAIL" && c.status != "UNSUPPORTED") v.push_back(c);
  return v;
}

int SelfcheckReport::exit_status() const {
  for (const auto& f : faults)
    if (!f.problem.empty()) return 2;
  if (!holes().empty() || !baseline_failures().empty()) return 1;
  return 0;
}

namespace {

std::string seconds_text(double s) {
  char b[64];
  if (s < 120) std::snprintf(b, sizeof b, "%.1f s", s);
  else std::snprintf(b, sizeof b, "%.0f s (%dm%02ds)", s, static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return b;
}

// Free text in Markdown: "<LF>" or "<nobody@pref.test>" would be taken
// for HTML tags and vanish from the rendered page.
std::string md_text(std::string s) {
  s = model::replace_all(std::move(s), "&", "&amp;");
  s = model::replace_all(std::move(s), "<", "&lt;");
  return model::replace_all(std::move(s), ">", "&gt;");
}

// Markdown table cells: a '|' would end the cell, a newline the row.
std::string cell(std::string s) {
  s = model::replace_all(md_text(std::move(s)), "|", "\\|");
  return model::replace_all(std::move(s), "\n", " ");
}

// A path as the report shows it: relative to the repository when inside it,
// so that a committed report names no folder of one machine.
std::string shown(const std::string& path, const std::string& repo) {
  std::string p = fs::path(path).lexically_normal().string();
  if (!repo.empty() && model::starts_with(p, repo + "/")) return p.substr(repo.size() + 1);
  return p;
}

std::string ids(const std::vector<CaseOutcome>& v) {
  std::vector<std::string> names;
  for (const auto& c : v) names.push_back(c.status == "ERROR" ? c.id + " (ERROR)" : c.id);
  return model::join(names, ", ");
}

}  // namespace

std::string SelfcheckReport::markdown() const {
  std::ostringstream md;
  std::map<std::string, int> counts;
  for (const auto& c : baseline) ++counts[c.status];
  auto holes_v = holes();
  auto base_bad = baseline_failures();
  size_t caught = 0;
  for (const auto& f : faults) caught += !f.caught.empty();

  md << "# mxlab selfcheck\n\n";
  md << "Every fault below is a deliberate mistake compiled into the reference MTA (`cmake --preset faults`, "
        "`mta/core/fault.hpp`) and switched on by name with `MXMTA_FAULT`. A fault is caught when at least one case "
        "that passes without it fails with it; a fault that no case catches is a hole in the suites.\n\n";
  md << "| | |\n|---|---|\n";
  md << "| started | " << cell(started) << " |\n";
  md << "| MTA | " << cell(mta) << ", binary `" << cell(binary) << "` |\n";
  md << "| cases | " << cell(paths) << ": " << baseline.size() << " cases |\n";
  md << "| baseline | ";
  bool first = true;
  for (const char* s : {"PASS", "XFAIL", "UNSUPPORTED", "FAIL", "XPASS", "ERROR"})
    if (counts[s]) {
      md << (first ? "" : ", ") << counts[s] << " " << s;
      first = false;
    }
  if (first) md << "no case";
  md << " (" << seconds_text(baseline_seconds) << ") |\n";
  md << "| faults | " << faults.size() << " run, " << caught << " caught, " << holes_v.size() << " holes |\n";
  md << "| parallelism | -j " << jobs << " |\n";
  md << "| total time | " << seconds_text(total_seconds) << " |\n\n";

  if (!base_bad.empty()) {
    md << "## Baseline failures\n\nThese cases do not pass without a fault; they cannot catch one.\n\n";
    md << "| case | status | reason |\n|---|---|---|\n";
    for (const auto& c : base_bad) md << "| " << cell(c.id) << " | " << c.status << " | " << cell(c.message) << " |\n";
    md << "\n";
  }

  md << "## Faults\n\n| fault | what it breaks | caught by | cases | time |\n|---|---|---|---|---|\n";
  for (const auto& f : faults) {
    md << "| `" << f.fault.name << "` | " << cell(f.fault.what) << " | ";
    if (!f.problem.empty()) md << "**run broken** | " << cell(f.problem);
    else if (f.caught.empty()) md << "**HOLE** | -";
    else md << f.caught.size() << " | " << cell(ids(f.caught));
    md << " | " << seconds_text(f.seconds) << " |\n";
  }
  md << "\n";
  if (!holes_v.empty()) {
    md << "## Holes\n\nNo case fails when these faults are on: the suites cannot tell a correct MTA from one "
          "with this mistake.\n\n";
    for (const auto& h : holes_v) md << "- `" << h << "`\n";
    md << "\n";
  } else if (!faults.empty()) {
    md << "No holes: every fault was caught by at least one case.\n\n";
  }

  md << "## How each fault was caught\n\n";
  for (const auto& f : faults) {
    md << "### `" << f.fault.name << "`\n\n" << md_text(f.fault.what) << ".\n\n";
    if (!f.problem.empty()) md << "The run broke: " << md_text(f.problem) << "\n\n";
    else if (f.caught.empty()) md << "Not caught.\n\n";
    for (const auto& c : f.caught) md << "- " << c.status << " `" << c.id << "`: " << md_text(c.message) << "\n";
    if (!f.caught.empty()) md << "\n";
  }
  return md.str();
}

std::string SelfcheckReport::table() const {
  size_t w = 5;
  for (const auto& f : faults) w = std::max(w, f.fault.name.size());
  std::ostringstream t;
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %-6s  %s\n", static_cast<int>(w), "fault", "caught", "cases");
  t << line;
  for (const auto& f : faults) {
    std::string what = !f.problem.empty() ? "run broken: " + f.problem : f.caught.empty() ? "HOLE" : ids(f.caught);
    std::string n = f.problem.empty() ? std::to_string(f.caught.size()) : "-";
    std::snprintf(line, sizeof line, "%-*s  %-6s  ", static_cast<int>(w), f.fault.name.c_str(), n.c_str());
    t << line << what << "\n";
  }
  return t.str();
}

// ------------------------------------------------------------------ running

namespace {

volatile sig_atomic_t g_stop = 0;
std::set<pid_t>* g_running = nullptr;

void on_signal(int sig) {
  g_stop = sig;
  if (g_running)
    for (pid_t p : *g_running) ::kill(p, SIGTERM);
}

// Runs argv with stdout and stderr to `log` (stdin /dev/null); the pid.
pid_t start(const std::vector<std::string>& argv, const std::string& log) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    if (in >= 0) ::dup2(in, 0);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::perror(args[0]);
    ::_exit(127);
  }
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  return pid;
}

int wait_status(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

// The catalogue of the faults binary, or "" and `error`.
std::vector<FaultInfo> catalogue(const std::string& bin, const std::string& scratch, std::string& error) {
  std::string log = scratch + "/faults.txt";
  pid_t pid = start({bin, "faults"}, log);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  std::string text;
  try {
    text = model::read_file(log);
  } catch (...) {
  }
  auto list = parse_fault_list(text);
  if (wait_status(st) != 0 || list.empty()) {
    error = bin + " lists no faults (`" + bin + " faults` said: " + std::string(model::trim(text)) +
            "): it was not built with MX_FAULTS";
    return {};
  }
  return list;
}

struct Run {
  std::string name;  // "" = baseline
  std::string junit, log;
  pid_t pid = -1;
  std::chrono::steady_clock::time_point t0;
  double seconds = 0;
  int status = -1;
};

}  // namespace

int selfcheck_command(const SelfcheckOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string bin = !o.faults_bin.empty() ? o.faults_bin : o.run.repo + "/build-faults/bin/mxmta";
  if (::access(bin.c_str(), X_OK) != 0) {
    std::cerr << "mxlab: selfcheck: no faults binary at " << bin << " (" << std::strerror(errno) << ")\n"
              << "  build it with: cmake --preset faults && nice cmake --build build-faults --target mxmta -j2\n"
              << "  or name one with --faults-bin PATH\n";
    return 2;
  }
  const std::string abs_bin = fs::absolute(bin).lexically_normal().string();
  std::vector<std::string> paths = o.run.paths;
  if (paths.empty()) paths.push_back(o.run.repo + "/suites");
  const std::string report_file = !o.report.empty() ? o.report : o.run.repo + "/reports/out/selfcheck.md";

  const char* tmp = std::getenv("TMPDIR");
  std::string parent = !o.run.run_base.empty() ? o.run.run_base : (tmp && *tmp ? tmp : "/tmp");
  fs::create_directories(parent);
  std::string work = parent + "/mxlab-selfcheck-XXXXXX";
  if (!::mkdtemp(work.data())) {
    std::cerr << "mxlab: selfcheck: cannot create a directory in " << parent << ": " << std::strerror(errno) << "\n";
    return 2;
  }

  std::string err;
  auto all = catalogue(abs_bin, work, err);
  if (all.empty()) {
    std::cerr << "mxlab: selfcheck: " << err << "\n"
              << "  build one with: cmake --preset faults && nice cmake --build build-faults --target mxmta -j2\n";
    fs::remove_all(work);
    return 2;
  }
  std::vector<FaultInfo> chosen;
  for (const auto& name : o.faults) {
    auto it = std::find_if(all.begin(), all.end(), [&](const FaultInfo& f) { return f.name == name; });
    if (it == all.end()) {
      std::string known;
      for (const auto& f : all) known += " " + f.name;
      std::cerr << "mxlab: selfcheck: unknown fault \"" << name << "\"; " << abs_bin << " knows:" << known << "\n";
      fs::remove_all(work);
      return 64;
    }
    chosen.push_back(*it);
  }
  if (chosen.empty()) chosen = all;

  SelfcheckReport rep;
  rep.mta = o.run.mta;
  rep.binary = shown(abs_bin, o.run.repo);
  rep.jobs = std::max(1, o.run.jobs);
  for (const auto& p : paths) rep.paths += (rep.paths.empty() ? "" : " ") + shown(fs::absolute(p).string(), o.run.repo);
  {
    std::time_t now = std::time(nullptr);
    char b[64];
    std::strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
    rep.started = b;
  }

  std::set<pid_t> running;
  g_running = &running;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  auto argv_for = [&](const std::string& fault, int jobs, const std::string& junit) {
    std::vector<std::string> a = {o.run.self_exe, "run", "--mta", o.run.mta, "--mta-bin", abs_bin,
                                  "-j", std::to_string(jobs), "--junit", junit};
    if (!o.run.run_base.empty()) a.insert(a.end(), {"--run-dir", o.run.run_base});
    if (o.run.keep) a.push_back("--keep");
    if (!fault.empty()) a.insert(a.end(), {"--mta-env", "MXMTA_FAULT=" + fault});
    for (const auto& p : paths) a.push_back(p);
    return a;
  };
  auto finish_run = [&](Run& r, int st) {
    r.status = wait_status(st);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - r.t0).count();
  };
  auto read_outcomes = [&](const Run& r, std::string& problem) -> std::vector<CaseOutcome> {
    try {
      return parse_junit_outcomes(model::read_file(r.junit));
    } catch (const std::exception& e) {
      std::string log;
      try {
        log = model::read_file(r.log);
      } catch (...) {
      }
      auto lines = model::split_lines(log);
      std::string tail;
      for (size_t i = lines.size() > 5 ? lines.size() - 5 : 0; i < lines.size(); ++i) tail += " " + lines[i];
      problem = "mxlab run exited " + std::to_string(r.status) + " without results (" + e.what() + ");" + tail;
      return {};
    }
  };
  auto cleanup = [&] {
    g_running = nullptr;
    if (!o.run.keep) fs::remove_all(work);
    else std::printf("selfcheck files kept in %s\n", work.c_str());
  };

  // 1. The baseline: every case, no fault, all the jobs.
  std::printf("mxlab selfcheck: %zu faults of %s, cases in %s, -j %d\n", chosen.size(), abs_bin.c_str(),
              rep.paths.c_str(), rep.jobs);
  std::printf("baseline (no fault) ...\n");
  std::fflush(stdout);
  Run base;
  base.junit = work + "/baseline.xml";
  base.log = work + "/baseline.log";
  base.t0 = std::chrono::steady_clock::now();
  base.pid = start(argv_for("", rep.jobs, base.junit), base.log);
  running.insert(base.pid);
  int st = 0;
  while (::waitpid(base.pid, &st, 0) < 0 && errno == EINTR) {
  }
  running.erase(base.pid);
  finish_run(base, st);
  std::string problem;
  rep.baseline = read_outcomes(base, problem);
  rep.baseline_seconds = base.seconds;
  if (g_stop) {
    cleanup();
    return 128 + g_stop;
  }
  if (!problem.empty()) {
    std::cerr << "mxlab: selfcheck: the baseline run broke: " << problem << "\n";
    cleanup();
    return 2;
  }
  std::set<std::string> base_pass;
  for (const auto& c : rep.baseline)
    if (c.status == "PASS") base_pass.insert(c.id);
  auto bad = rep.baseline_failures();
  std::printf("baseline: %zu cases, %zu pass, %zu did not pass (%s)\n", rep.baseline.size(), base_pass.size(),
              bad.size(), seconds_text(base.seconds).c_str());
  for (const auto& c : bad) std::printf("  baseline %s: %s: %s\n", c.status.c_str(), c.id.c_str(), c.message.c_str());
  std::fflush(stdout);

  // 2. One run per fault, sharing the jobs.
  RunPlan plan = plan_runs(rep.jobs, chosen.size());
  std::vector<Run> runs(chosen.size());
  rep.faults.resize(chosen.size());
  std::map<pid_t, size_t> by_pid;
  size_t next = 0, done = 0;
  while (done < chosen.size()) {
    while (!g_stop && next < chosen.size() && by_pid.size() < static_cast<size_t>(plan.concurrent)) {
      Run& r = runs[next];
      r.name = chosen[next].name;
      r.junit = work + "/" + r.name + ".xml";
      r.log = work + "/" + r.name + ".log";
      r.t0 = std::chrono::steady_clock::now();
      r.pid = start(argv_for(r.name, plan.jobs, r.junit), r.log);
      running.insert(r.pid);
      by_pid[r.pid] = next++;
    }
    if (by_pid.empty()) break;
    pid_t pid = ::waitpid(-1, &st, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = by_pid.find(pid);
    if (it == by_pid.end()) continue;
    size_t i = it->second;
    by_pid.erase(it);
    running.erase(pid);
    Run& r = runs[i];
    finish_run(r, st);
    FaultResult& fr = rep.faults[i];
    fr.fault = chosen[i];
    fr.seconds = r.seconds;
    auto outcomes = read_outcomes(r, fr.problem);
    for (const auto& c : outcomes)
      if (c.failed() && base_pass.count(c.id)) fr.caught.push_back(c);
    ++done;
    if (!fr.problem.empty())
      std::printf("fault %s (%zu of %zu): RUN BROKEN: %s\n", r.name.c_str(), done, chosen.size(), fr.problem.c_str());
    else if (fr.caught.empty())
      std::printf("fault %s (%zu of %zu): HOLE, no case caught it (%s)\n", r.name.c_str(), done, chosen.size(),
                  seconds_text(r.seconds).c_str());
    else
      std::printf("fault %s (%zu of %zu): caught by %zu: %s (%s)\n", r.name.c_str(), done, chosen.size(),
                  fr.caught.size(), ids(fr.caught).c_str(), seconds_text(r.seconds).c_str());
    std::fflush(stdout);
  }
  if (g_stop) {
    while (!by_pid.empty()) {
      pid_t pid = ::waitpid(-1, &st, 0);
      if (pid < 0 && errno != EINTR) break;
      by_pid.erase(pid);
    }
    cleanup();
    return 128 + g_stop;
  }
  rep.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::printf("\n%s", rep.table().c_str());
  auto holes = rep.holes();
  std::printf("\n%zu faults, %zu caught, %zu holes%s; baseline %zu of %zu passed; total time %s\n", rep.faults.size(),
              rep.faults.size() - holes.size(), holes.size(),
              holes.empty() ? "" : (" (" + model::join(holes, ", ") + ")").c_str(), base_pass.size(),
              rep.baseline.size(), seconds_text(rep.total_seconds).c_str());
  try {
    std::error_code ec;
    if (auto dir = fs::path(report_file).parent_path(); !dir.empty()) fs::create_directories(dir, ec);
    model::write_file(report_file, rep.markdown());
    std::printf("report: %s\n", report_file.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mxlab: selfcheck: %s\n", e.what());
    cleanup();
    return 2;
  }
  cleanup();
  return rep.exit_status();
}

}  // namespace mxlab::runner
