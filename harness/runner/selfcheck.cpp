#include "runner/selfcheck.hpp"

#include "model/case.hpp"
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
#include <deque>
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

bool is_selfcheck_case(const std::string& id) {
  // AREA.9NNN.name: the second component is exactly four digits, the first a 9.
  auto a = id.find('.');
  if (a == std::string::npos) return false;
  auto b = id.find('.', a + 1);
  std::string_view num = std::string_view(id).substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
  return num.size() == 4 && num[0] == '9' &&
         std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; });
}

size_t FaultResult::caught_by_area_cases() const {
  return static_cast<size_t>(
      std::count_if(caught.begin(), caught.end(), [](const CaseOutcome& c) { return !is_selfcheck_case(c.id); }));
}

void confirm_catches(FaultResult& fr, const std::vector<CaseOutcome>& again) {
  std::map<std::string, const CaseOutcome*> by_id;
  for (const auto& c : again) by_id[c.id] = &c;
  std::vector<CaseOutcome> kept;
  for (auto& c : fr.caught) {
    auto it = by_id.find(c.id);
    if (it != by_id.end() && it->second->catches()) {
      kept.push_back(std::move(c));
    } else if (it != by_id.end()) {
      fr.not_again.push_back(*it->second);
    } else {
      fr.not_again.push_back(CaseOutcome{c.id, "ERROR", "not in the second run's results"});
    }
  }
  fr.caught = std::move(kept);
}

std::vector<std::string> SelfcheckReport::only_9nnn() const {
  std::vector<std::string> v;
  for (const auto& f : faults)
    if (f.problem.empty() && !f.caught.empty() && f.caught_by_area_cases() == 0) v.push_back(f.fault.name);
  return v;
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
  for (const auto& c : v) names.push_back(c.status == "FAIL" ? c.id : c.id + " (" + c.status + ")");
  return model::join(names, ", ");
}

// Cases that failed with the fault but do not count: "id (ERROR)" (could
// not run) and "id (not again)" (failed once, not when run again).
std::string not_counted(const FaultResult& f) {
  std::vector<std::string> names;
  for (const auto& c : f.errored) names.push_back(c.id + " (ERROR)");
  for (const auto& c : f.not_again) names.push_back(c.id + " (not again)");
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
        "that passes without it FAILs with it (or XPASSes)"
     << (confirmed ? ", and fails again when it is run a second time with the fault" : "")
     << "; a case that ERRORs with it (could not run)"
     << (confirmed ? " or fails only once" : "")
     << " is listed but does not count. A fault that no case catches is a hole in the suites. *Area cases* are "
        "the catchers that are not 9NNN cases written for the self-check.\n\n";
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
  auto only9 = only_9nnn();
  md << "| faults | " << faults.size() << " run, " << caught << " caught, " << holes_v.size() << " holes, "
     << only9.size() << " caught only by 9NNN cases |\n";
  md << "| parallelism | -j " << jobs << " |\n";
  md << "| confirmation | "
     << (confirmed ? "every catch run a second time with its fault; counted only when it fails again"
                   : "none (--no-confirm): one run per fault")
     << " |\n";
  md << "| total time | " << seconds_text(total_seconds) << " |\n\n";

  if (!base_bad.empty()) {
    md << "## Baseline failures\n\nThese cases do not pass without a fault; they cannot catch one.\n\n";
    md << "| case | status | reason |\n|---|---|---|\n";
    for (const auto& c : base_bad) md << "| " << cell(c.id) << " | " << c.status << " | " << cell(c.message) << " |\n";
    md << "\n";
  }

  md << "## Faults\n\n| fault | what it breaks | caught by | cases | area cases | not counted | time "
        "|\n|---|---|---|---|---|---|---|\n";
  for (const auto& f : faults) {
    md << "| `" << f.fault.name << "` | " << cell(f.fault.what) << " | ";
    if (!f.problem.empty()) md << "**run broken** | " << cell(f.problem) << " | -";
    else if (f.caught.empty()) md << "**HOLE** | - | 0";
    else md << f.caught.size() << " | " << cell(ids(f.caught)) << " | " << f.caught_by_area_cases();
    std::string nc = not_counted(f);
    md << " | " << (nc.empty() ? "-" : cell(nc)) << " | " << seconds_text(f.seconds) << " |\n";
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
  if (!only9.empty()) {
    md << "## Caught only by cases written for the self-check\n\nNo area case fails with these faults; only a "
          "9NNN case does.\n\n";
    for (const auto& h : only9) md << "- `" << h << "`\n";
    md << "\n";
  }

  md << "## How each fault was caught\n\n";
  for (const auto& f : faults) {
    md << "### `" << f.fault.name << "`\n\n" << md_text(f.fault.what) << ".\n\n";
    if (!f.problem.empty()) md << "The run broke: " << md_text(f.problem) << "\n\n";
    else if (f.caught.empty()) md << "Not caught.\n\n";
    for (const auto& c : f.caught) md << "- " << c.status << " `" << c.id << "`: " << md_text(c.message) << "\n";
    if (!f.caught.empty()) md << "\n";
    if (!f.errored.empty()) {
      md << "Errored (could not run; not counted):\n\n";
      for (const auto& c : f.errored) md << "- ERROR `" << c.id << "`: " << md_text(c.message) << "\n";
      md << "\n";
    }
    if (!f.not_again.empty()) {
      md << "Failed once, but not when run again with the fault (not counted):\n\n";
      for (const auto& c : f.not_again)
        md << "- " << c.status << " the second time `" << c.id << "`"
           << (c.message.empty() ? "" : ": " + md_text(c.message)) << "\n";
      md << "\n";
    }
  }
  return md.str();
}

std::string SelfcheckReport::table() const {
  size_t w = 5;
  for (const auto& f : faults) w = std::max(w, f.fault.name.size());
  std::ostringstream t;
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %-6s  %-4s  %s\n", static_cast<int>(w), "fault", "caught", "area",
                "cases");
  t << line;
  for (const auto& f : faults) {
    std::string what = !f.problem.empty() ? "run broken: " + f.problem : f.caught.empty() ? "HOLE" : ids(f.caught);
    std::string n = f.problem.empty() ? std::to_string(f.caught.size()) : "-";
    std::string a = f.problem.empty() ? std::to_string(f.caught_by_area_cases()) : "-";
    std::snprintf(line, sizeof line, "%-*s  %-6s  %-4s  ", static_cast<int>(w), f.fault.name.c_str(), n.c_str(),
                  a.c_str());
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

// One `mxlab run` still to start: a fault's run over every case, or the
// confirmation of its catches (their case files only).
struct Work {
  size_t fault = 0;
  bool confirm = false;
  std::vector<std::string> files;  // confirm: the catchers' case files
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

  auto argv_for = [&](const std::string& fault, int jobs, const std::string& junit,
                      const std::vector<std::string>& cases) {
    std::vector<std::string> a = {o.run.self_exe, "run", "--mta", o.run.mta, "--mta-bin", abs_bin,
                                  "-j", std::to_string(jobs), "--junit", junit};
    if (!o.run.run_base.empty()) a.insert(a.end(), {"--run-dir", o.run.run_base});
    if (o.run.keep) a.push_back("--keep");
    if (!fault.empty()) a.insert(a.end(), {"--mta-env", "MXMTA_FAULT=" + fault});
    for (const auto& p : cases) a.push_back(p);
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
  base.pid = start(argv_for("", rep.jobs, base.junit, paths), base.log);
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

  // The case file of each id, for confirmation runs of single cases. The
  // baseline run has just parsed every file, so they load.
  std::map<std::string, std::string> file_of;
  if (o.confirm) {
    std::string cerr_text;
    for (const auto& f : collect_case_files(paths, cerr_text)) {
      try {
        file_of[model::load_case(f, o.run.repo).id] = f;
      } catch (const std::exception&) {
        // The baseline refused nothing; a file changed since is caught below
        // as a catcher without a file.
      }
    }
  }

  // 2. One run per fault, sharing the jobs; 3. the confirmation of each
  // fault's catches, as soon as its run ends (ahead of the faults not yet
  // started, so that results come in fault by fault).
  RunPlan plan = plan_runs(rep.jobs, chosen.size());
  rep.confirmed = o.confirm;
  rep.faults.resize(chosen.size());
  for (size_t i = 0; i < chosen.size(); ++i) rep.faults[i].fault = chosen[i];
  std::deque<Work> pending;
  for (size_t i = 0; i < chosen.size(); ++i) pending.push_back(Work{i, false, {}});
  struct Active {
    Work work;
    Run run;
  };
  std::map<pid_t, Active> active;
  size_t done = 0;
  auto report_fault = [&](const FaultResult& fr) {
    ++done;
    const std::string& name = fr.fault.name;
    if (!fr.problem.empty())
      std::printf("fault %s (%zu of %zu): RUN BROKEN: %s\n", name.c_str(), done, chosen.size(), fr.problem.c_str());
    else if (fr.caught.empty())
      std::printf("fault %s (%zu of %zu): HOLE, no case caught it (%s)\n", name.c_str(), done, chosen.size(),
                  seconds_text(fr.seconds).c_str());
    else
      std::printf("fault %s (%zu of %zu): caught by %zu (%zu area cases): %s (%s)\n", name.c_str(), done,
                  chosen.size(), fr.caught.size(), fr.caught_by_area_cases(), ids(fr.caught).c_str(),
                  seconds_text(fr.seconds).c_str());
    if (!fr.errored.empty() || !fr.not_again.empty())
      std::printf("  not counted as caught: %s\n", not_counted(fr).c_str());
    std::fflush(stdout);
  };
  while (done < chosen.size()) {
    while (!g_stop && !pending.empty() && active.size() < static_cast<size_t>(plan.concurrent)) {
      Work w = std::move(pending.front());
      pending.pop_front();
      Run r;
      r.name = chosen[w.fault].name;
      std::string stem = work + "/" + r.name + (w.confirm ? ".again" : "");
      r.junit = stem + ".xml";
      r.log = stem + ".log";
      r.t0 = std::chrono::steady_clock::now();
      r.pid = start(argv_for(r.name, plan.jobs, r.junit, w.confirm ? w.files : paths), r.log);
      running.insert(r.pid);
      active.emplace(r.pid, Active{std::move(w), std::move(r)});
    }
    if (active.empty()) break;
    pid_t pid = ::waitpid(-1, &st, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = active.find(pid);
    if (it == active.end()) continue;
    Active a = std::move(it->second);
    active.erase(it);
    running.erase(pid);
    if (g_stop) continue;
    finish_run(a.run, st);
    FaultResult& fr = rep.faults[a.work.fault];
    fr.seconds += a.run.seconds;
    std::string broke;
    auto outcomes = read_outcomes(a.run, broke);
    if (!a.work.confirm) {
      fr.problem = broke;
      for (const auto& c : outcomes) {
        if (!base_pass.count(c.id)) continue;
        if (c.catches()) fr.caught.push_back(c);
        else if (c.errored()) fr.errored.push_back(c);
      }
      if (fr.problem.empty() && o.confirm && !fr.caught.empty()) {
        Work again{a.work.fault, true, {}};
        std::vector<CaseOutcome> no_file;
        for (const auto& c : fr.caught) {
          auto f = file_of.find(c.id);
          if (f != file_of.end()) again.files.push_back(f->second);
          else no_file.push_back(CaseOutcome{c.id, "ERROR", "its case file was not found again"});
        }
        if (!again.files.empty()) {
          pending.push_front(std::move(again));
          continue;  // reported when the confirmation ends
        }
        confirm_catches(fr, no_file);
      }
    } else if (!broke.empty()) {
      fr.problem = "the confirmation run broke: " + broke;
    } else {
      confirm_catches(fr, outcomes);
    }
    report_fault(fr);
  }
  if (g_stop) {
    while (!active.empty()) {
      pid_t pid = ::waitpid(-1, &st, 0);
      if (pid < 0 && errno != EINTR) break;
      active.erase(pid);
    }
    cleanup();
    return 128 + g_stop;
  }
  rep.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::printf("\n%s", rep.table().c_str());
  auto holes = rep.holes();
  auto only9 = rep.only_9nnn();
  std::printf("\n%zu faults, %zu caught, %zu holes%s, %zu caught only by 9NNN cases%s; baseline %zu of %zu passed; "
              "total time %s\n",
              rep.faults.size(),
              static_cast<size_t>(std::count_if(rep.faults.begin(), rep.faults.end(),
                                                [](const FaultResult& f) { return !f.caught.empty(); })),
              holes.size(),
              holes.empty() ? "" : (" (" + model::join(holes, ", ") + ")").c_str(), only9.size(),
              only9.empty() ? "" : (" (" + model::join(only9, ", ") + ")").c_str(), base_pass.size(),
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
