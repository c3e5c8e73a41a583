#include "runner/driver.hpp"

#include "lab/sandbox.hpp"
#include "model/adapter.hpp"
#include "model/case.hpp"
#include "model/text.hpp"
#include "model/topology.hpp"
#include "model/xml.hpp"
#include "report/junit.hpp"
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

int run_command(const RunOptions& o) {
  auto t0 = std::chrono::steady_clock::now();
  std::string err;
  auto files = collect_case_files(o.paths, err);
  if (!err.empty()) {
    std::cerr << "mxlab: " << err << "\n";
    return 2;
  }
  // Everything is parsed before anything starts.
  std::string adapter_file = adapter_path(o.mta, o.repo);
  model::Adapter adapter;
  std::vector<model::Case> cases;
  int bad = 0;
  try {
    adapter = model::load_adapter(adapter_file);
  } catch (const std::exception& e) {
    std::cerr << "mxlab: " << e.what() << "\n";
    return 2;
  }
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

  std::map<pid_t, size_t> running;
  std::vector<CaseResult> results(cases.size());
  size_t next = 0, done = 0;
  const size_t total = cases.size();
  const int jobs = std::max(1, o.jobs);
  auto result_file = [&](size_t i) { return base + "/results/" + std::to_string(i) + ".xml"; };
  auto launch = [&](size_t i) {
    const auto& c = cases[i];
    std::vector<std::string> args = {o.self_exe, "__case", "--adapter", adapter_file, "--result", result_file(i),
                                     "--run-dir", base + "/" + std::to_string(i) + "-" + c.id, "--repo", o.repo};
    if (!o.mta_bin.empty()) args.insert(args.end(), {"--mta-bin", o.mta_bin});
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
      for (auto& a : args) argv.push_back(a.data());
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
  int failures = 0, errors = 0;
  std::map<Status, int> counts;
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
      r.id = cases[i].id;
      r.area = cases[i].area;
      r.file = cases[i].file;
      r.status = Status::error;
      r.message = g_signal ? "interrupted" : "the case process ended without a result";
      try {
        r.output = model::read_file(result_file(i) + ".log");
      } catch (...) {
      }
    }
    if (r.id.empty()) r.id = cases[i].id;
    r.mta = adapter.name;
    results[i] = r;
    ++done;
    ++counts[r.status];
    failures += is_failure(r.status);
    errors += r.status == Status::error;
    std::cout << status_name(r.status) << ": " << r.id << " (" << done << " of " << total << ")";
    if (r.status == Status::unsupported || r.status == Status::xfail) std::cout << " [" << r.message << "]";
    std::cout << "\n";
    if (is_failure(r.status) || r.status == Status::error) {
      std::cout << "******************** " << status_name(r.status) << " " << r.id << " (" << r.file << ")\n";
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
    results[i].id = cases[i].id;
    results[i].area = cases[i].area;
    results[i].file = cases[i].file;
    results[i].mta = adapter.name;
    results[i].status = Status::error;
    results[i].message = "not run (interrupted)";
    ++counts[Status::error];
    ++errors;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\nTesting Time: %.2fs\n", secs);
  const std::pair<Status, const char*> names[] = {{Status::pass, "Passed"},           {Status::xfail, "Expectedly Failed"},
                                                  {Status::unsupported, "Unsupported"}, {Status::error, "Unresolved"},
                                                  {Status::xpass, "Unexpectedly Passed"}, {Status::fail, "Failed"}};
  for (const auto& [s, n] : names)
    if (counts[s]) std::printf("  %-20s: %d\n", n, counts[s]);
  if (!o.junit.empty()) {
    try {
      report::write_junit(results, adapter.name, o.junit);
      std::printf("JUnit: %s\n", o.junit.c_str());
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
