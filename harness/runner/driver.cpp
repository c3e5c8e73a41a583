#include "runner/driver.hpp"

#include "lab/sandbox.hpp"
#include "model/adapter.hpp"
#include "model/case.hpp"
#include "model/text.hpp"
#include "model/topology.hpp"
#include "model/xml.hpp"
#include "report/junit.hpp"
#include "report/matrix.hpp"
#include "runner/case_run.hpp"
#include "runner/services.hpp"

#include <fcntl.h>
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

#ifndef MX_FAKETIME_LIB
#define MX_FAKETIME_LIB ""
#endif

namespace mxlab::runner {

namespace fs = std::filesystem;

namespace {

volatile sig_atomic_t g_signal = 0;
std::vector<pid_t>* g_children = nullptr;

void on_signal(int sig) {
  g_signal = sig;
  if (g_children)
    for (pid_t p : *g_children) ::kill(p, SIGTERM);
}

void on_case_signal(int sig) {
  g_signal = sig;
  lab::kill_supervisors();
}

std::string first_lines(const std::string& s, size_t n) {
  auto lines = model::split_lines(s);
  std::string out;
  for (size_t i = 0; i < lines.size() && i < n; ++i) out += "    " + lines[i] + "\n";
  if (lines.size() > n) out += "    [... " + std::to_string(lines.size() - n) + " more lines]\n";
  return out;
}

}  // namespace

std::string faketime_library() {
  const char* env = std::getenv("MXLAB_FAKETIME_LIB");
  std::string lib = env && *env ? env : MX_FAKETIME_LIB;
  if (lib.empty() || ::access(lib.c_str(), R_OK) != 0) return {};
  return lib;
}

std::string adapter_path(const std::string& mta, const std::string& repo) {
  if (mta.find('/') != std::string::npos || (mta.size() > 4 && mta.substr(mta.size() - 4) == ".xml")) return mta;
  return repo + "/harness/adapters/" + mta + ".xml";
}

std::vector<std::string> collect_case_files(const std::vector<std::string>& paths, std::string& error) {
  std::set<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file() && it->path().extension() == ".xml") files.insert(it->path().lexically_normal().string());
    } else if (fs::is_regular_file(p, ec)) {
      files.insert(fs::path(p).lexically_normal().string());
    } else {
      error = p + ": no such file or directory";
      return {};
    }
  }
  return {files.begin(), files.end()};
}

int list_command(const std::vector<std::string>& paths, const std::string& repo) {
  std::string err;
  auto files = collect_case_files(paths, err);
  if (!err.empty()) {
    std::cerr << "mxlab: " << err << "\n";
    return 2;
  }
  int bad = 0;
  for (const auto& f : files) {
    try {
      auto c = model::load_case(f, repo);
      std::cout << c.id << "\t" << c.area << "\t" << f << "\t" << c.summary << "\n";
    } catch (const std::exception& e) {
      std::cerr << "mxlab: " << e.what() << "\n";
      ++bad;
    }
  }
  return bad ? 2 : 0;
}

std::vector<std::string> split_mtas(const std::string& mta) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : mta + ",") {
    if (c == ',') {
      auto t = std::string(model::trim(cur));
      if (!t.empty()) out.push_back(t);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

namespace {

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

// The command as a user would type it again (for the matrix's header).
std::string command_line(const RunOptions& o) {
  std::string c = "mxlab run --mta " + o.mta;
  if (o.jobs > 1) c += " -j " + std::to_string(o.jobs);
  if (!o.filter.empty()) c += " --filter '" + o.filter + "'";
  for (const auto& p : o.paths) c += " " + p;
  return c;
}

}  // namespace

int run_command(const RunOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  std::string err;
  auto files = collect_case_files(o.paths, err);
  if (!err.empty()) {
    std::cerr << "mxlab: " << err << "\n";
    return 2;
  }
  // Everything is parsed before anything starts.
  std::vector<std::string> adapter_files;
  std::vector<model::Adapter> adapters;
  std::vector<model::Case> cases;
  int bad = 0;
  auto mta_names = split_mtas(o.mta);
  if (mta_names.empty()) {
    std::cerr << "mxlab: --mta: no adapter named\n";
    return 2;
  }
  for (const auto& m : mta_names) {
    try {
      adapter_files.push_back(adapter_path(m, o.repo));
      adapters.push_back(model::load_adapter(adapter_files.back()));
      for (size_t k = 0; k + 1 < adapters.size(); ++k)
        if (adapters[k].name == adapters.back().name)
          throw model::ParseError(adapter_files.back() + ":1: adapter \"" + adapters.back().name + "\" given twice");
    } catch (const std::exception& e) {
      std::cerr << "mxlab: " << e.what() << "\n";
      return 2;
    }
  }
  const bool multi = adapters.size() > 1;
  std::set<std::string> topologies, ids;
  for (const auto& f : files) {
    try {
      auto c = model::load_case(f, o.repo);
      if (!ids.insert(c.id).second) throw model::ParseError(f + ":1: duplicate case id \"" + c.id + "\"");
      if (!topologies.count(c.topology_path)) {
        auto t = model::load_topology(c.topology_path);
        Services::validate(t);
        topologies.insert(c.topology_path);
      }
      if (o.filter.empty() || model::glob_match(o.filter, c.id)) cases.push_back(std::move(c));
    } catch (const std::exception& e) {
      std::cerr << "mxlab: " << e.what() << "\n";
      ++bad;
    }
  }
  if (bad) {
    std::cerr << "mxlab: " << bad << " file(s) refused; nothing was run\n";
    return 2;
  }
  if (cases.empty()) {
    std::cerr << "mxlab: no case to run" << (o.filter.empty() ? "" : " (filter " + o.filter + ")") << "\n";
    return 2;
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string base_parent = !o.run_base.empty() ? o.run_base : (tmp && *tmp ? tmp : "/tmp");
  fs::create_directories(base_parent);
  std::string tmpl = base_parent + "/mxlab-run-XXXXXX";
  if (!::mkdtemp(tmpl.data())) {
    std::cerr << "mxlab: cannot create a run directory in " << base_parent << ": " << std::strerror(errno) << "\n";
    return 2;
  }
  const std::string base = tmpl;
  fs::create_directories(base + "/results");
  std::string faketime = faketime_library();
  std::string self_dir = fs::path(o.self_exe).parent_path().string();

  std::vector<pid_t> children;
  g_children = &children;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  // One job per (case, MTA), case by case, so a case's row fills up together.
  struct Job {
    size_t c, a;
  };
  std::vector<Job> jobs_list;
  for (size_t c = 0; c < cases.size(); ++c)
    for (size_t a = 0; a < adapters.size(); ++a) jobs_list.push_back({c, a});
  std::map<pid_t, size_t> running;
  std::vector<CaseResult> results(jobs_list.size());
  size_t next = 0, done = 0;
  const size_t total = jobs_list.size();
  const int jobs = std::max(1, o.jobs);
  auto result_file = [&](size_t i) { return base + "/results/" + std::to_string(i) + ".xml"; };
  auto launch = [&](size_t i) {
    const auto& c = cases[jobs_list[i].c];
    const auto& a = adapters[jobs_list[i].a];
    std::string run_dir = base + "/" + std::to_string(i) + "-" + c.id + (multi ? "-" + a.name : "");
    std::vector<std::string> args = {o.self_exe, "__case", "--adapter", adapter_files[jobs_list[i].a], "--result",
                                     result_file(i), "--run-dir", run_dir, "--repo", o.repo};
    // With several MTAs, --mta-bin is for the adapters whose binary has its file name.
    if (!o.mta_bin.empty() &&
        (!multi || fs::path(o.mta_bin).filename() == fs::path(a.binary).filename()))
      args.insert(args.end(), {"--mta-bin", o.mta_bin});
    for (const auto& e : o.mta_env) args.insert(args.end(), {"--mta-env", e});
    if (!faketime.empty()) args.insert(args.end(), {"--faketime", faketime});
    if (o.keep) args.push_back("--keep");
    args.push_back(c.file);
    std::string log = result_file(i) + ".log";
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
      }
      std::vector<char*> argv;
      for (auto& x : args) argv.push_back(x.data());
      argv.push_back(nullptr);
      ::execv(o.self_exe.c_str(), argv.data());
      std::perror("exec");
      ::_exit(127);
    }
    if (pid > 0) {
      running[pid] = i;
      children.push_back(pid);
    }
  };
  // What the case file says, for results made here (interrupted, crashed).
  auto from_case = [&](size_t i) {
    const auto& c = cases[jobs_list[i].c];
    CaseResult r;
    r.id = c.id;
    r.area = c.area;
    r.file = c.file;
    r.summary = c.summary;
    r.profile = c.profile;
    r.tags = model::join(c.tags, " ");
    r.mta = adapters[jobs_list[i].a].name;
    r.status = Status::error;
    return r;
  };
  int failures = 0, errors = 0;
  std::map<std::string, std::map<Status, int>> counts;  // MTA -> outcome -> n
  while (done < total) {
    while (!g_signal && next < total && running.size() < static_cast<size_t>(jobs)) launch(next++);
    if (running.empty()) break;
    int st = 0;
    pid_t pid = ::waitpid(-1, &st, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    size_t i = it->second;
    running.erase(it);
    children.erase(std::remove(children.begin(), children.end(), pid), children.end());
    CaseResult r;
    try {
      r = read_result(result_file(i));
    } catch (...) {
      r = from_case(i);
      r.message = g_signal ? "interrupted" : "the case process ended without a result";
      try {
        r.output = model::read_file(result_file(i) + ".log");
      } catch (...) {
      }
    }
    const auto& c = cases[jobs_list[i].c];
    if (r.id.empty()) r.id = c.id;
    if (r.profile.empty()) r.profile = c.profile;
    r.mta = adapters[jobs_list[i].a].name;
    results[i] = r;
    ++done;
    ++counts[r.mta][r.status];
    failures += is_failure(r.status);
    errors += r.status == Status::error;
    std::cout << status_name(r.status) << ": " << r.id << (multi ? " on " + r.mta : "") << " (" << done << " of "
              << total << ")";
    if (r.status == Status::unsupported || r.status == Status::xfail) std::cout << " [" << r.message << "]";
    std::cout << "\n";
    if (is_failure(r.status) || r.status == Status::error) {
      std::cout << "******************** " << status_name(r.status) << " " << r.id << (multi ? " on " + r.mta : "")
                << " (" << r.file << ")\n";
      std::cout << first_lines(report::failure_text(r), 40);
      if (o.verbose) std::cout << first_lines(r.output, 400);
      std::cout << "********************\n";
    } else if (o.verbose && !r.output.empty()) {
      std::cout << first_lines(r.output, 200);
    }
    std::cout.flush();
  }
  g_children = nullptr;
  // Cases never started (interrupted) are reported, never silently dropped.
  for (size_t i = next; i < total; ++i) {
    results[i] = from_case(i);
    results[i].message = "not run (interrupted)";
    ++counts[results[i].mta][Status::error];
    ++errors;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\nTesting Time: %.2fs\n", secs);
  const std::pair<Status, const char*> names[] = {{Status::pass, "Passed"},           {Status::xfail, "Expectedly Failed"},
                                                  {Status::unsupported, "Unsupported"}, {Status::error, "Unresolved"},
                                                  {Status::xpass, "Unexpectedly Passed"}, {Status::fail, "Failed"}};
  for (const auto& a : adapters) {
    if (multi) std::printf("  %s:\n", a.name.c_str());
    for (const auto& [s, n] : names)
      if (counts[a.name][s]) std::printf("%s  %-20s: %d\n", multi ? "  " : "", n, counts[a.name][s]);
  }
  if (!o.junit.empty()) {
    try {
      report::write_junit(results, adapters.front().name, o.junit);
      std::printf("JUnit: %s\n", o.junit.c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mxlab: %s\n", e.what());
    }
  }
  if (multi || !o.matrix.empty() || !o.matrix_html.empty()) {
    std::string out_dir = (o.repo.empty() ? fs::current_path().string() : o.repo) + "/reports/out";
    std::string md = o.matrix.empty() ? out_dir + "/matrix.md" : o.matrix;
    std::string htm = o.matrix_html.empty() ? out_dir + "/matrix.html" : o.matrix_html;
    report::MatrixInfo info;
    info.command = command_line(o);
    info.generated = utc_now();
    info.wall_seconds = secs;
    std::vector<std::string> names_in_order;
    for (const auto& a : adapters) names_in_order.push_back(a.name);
    try {
      report::write_text(md, report::matrix_markdown(results, names_in_order, info));
      report::write_text(htm, report::matrix_html(results, names_in_order, info));
      std::printf("Matrix: %s, %s\n", md.c_str(), htm.c_str());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mxlab: %s\n", e.what());
    }
  }
  if (!o.keep) lab::remove_tree(base);
  else std::printf("run directories kept in %s\n", base.c_str());
  std::fflush(nullptr);
  if (g_signal) return 128 + g_signal;
  if (failures) return 1;
  if (errors) return 2;
  return 0;
}

int case_command(int argc, char** argv) {
  CaseOptions o;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--adapter") o.adapter_file = val();
    else if (a == "--result") o.result_file = val();
    else if (a == "--run-dir") o.run_dir = val();
    else if (a == "--repo") o.repo = val();
    else if (a == "--mta-bin") o.mta_bin = val();
    else if (a == "--faketime") o.faketime_lib = val();
    else if (a == "--mta-env") {
      std::string e = val();
      auto eq = e.find('=');
      if (eq == std::string::npos || eq == 0) throw std::runtime_error("--mta-env needs NAME=VALUE, not " + e);
      o.mta_env[e.substr(0, eq)] = e.substr(eq + 1);
    }
    else if (a == "--keep") o.keep = true;
    else o.case_file = a;
  }
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = 0;
    o.self_dir = fs::path(self).parent_path().string();
  }
  struct sigaction sa {};
  sa.sa_handler = on_case_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  CaseResult r = run_case(o);
  if (g_signal && r.status != Status::pass) {
    r.status = Status::error;
    r.message = "interrupted";
    write_result(r, o.result_file);
  }
  return 0;
}

}  // namespace mxlab::runner
