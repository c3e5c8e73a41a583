// NAME
//   mxlab - the MTA conformance lab
// SYNOPSIS
//   mxlab run [--mta NAME|FILE[,NAME...]] [--mta-bin PATH] [--junit FILE] [-j N]
//             [--matrix FILE.md] [--matrix-html FILE.html]
//             [--filter GLOB] [--keep] [--run-dir DIR] [-v] PATH...
//   mxlab list PATH...
//   mxlab demo [--mta-bin PATH] [-j N] [--keep] [-v]
//   mxlab selfcheck [--faults-bin PATH] [-j N] [--fault NAME]... [--no-confirm] [--report FILE] [PATH...]
//   mxlab dns ZONEFILE --listen ADDR:PORT [--log FILE]
//   mxlab sink --listen ADDR:PORT [--rules FILE] [--rule LINE]... [--dump DIR]
// DESCRIPTION
//   run: run cases (files, or directories searched for *.xml) against an
//   MTA through its adapter (harness/adapters/NAME.xml; default
//   "reference", the mxmta beside this binary); several MTAs, comma-
//   separated, run every case against each and write the conformance
//   matrix (reports/out/matrix.md and .html). list: print id, area, file
//   and summary of each case. demo: the seed's starter suite (suites/seed)
//   on fixtures/topologies/seed-intranet.xml against the reference MTA,
//   JUnit in reports/out/demo-junit.xml. selfcheck: run the suites against
//   the reference MTA built with deliberate faults, once per fault, and
//   report the faults no case catches (runner/selfcheck.hpp,
//   docs/selfcheck.md). --mta-env NAME=VALUE (run): extra environment for
//   every MTA process. The repository is found from this
//   binary's location, else from the current directory. See docs/running.md.
// DIAGNOSTICS
//   Exit 0: all passed (or XFAIL/UNSUPPORTED); 1: failures; 2: could not
//   run (bad files, no namespaces, missing MTA); 64: usage.
#include "model/case.hpp"
#include "runner/driver.hpp"
#include "runner/selfcheck.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

// The fake DNS and the scripted peer live in their own libraries; weak
// references let this binary link (and say so) when they are not built.
#ifdef MXLAB_HAVE_LAB_SERVICES
#define MXLAB_LAB_SERVICE
#else
#define MXLAB_LAB_SERVICE __attribute__((weak))
#endif
namespace mxlab::dns {
MXLAB_LAB_SERVICE int dns_main(int, char**);
}
namespace mxlab::peer {
MXLAB_LAB_SERVICE int sink_main(int, char**);
}

namespace {

namespace fs = std::filesystem;

int usage() {
  std::fprintf(stderr,
               "usage: mxlab run [--mta NAME|FILE[,NAME...]] [--mta-bin PATH] [--mta-env NAME=VALUE]... [--junit FILE]\n"
               "                 [-j N] [--filter GLOB] [--matrix FILE.md] [--matrix-html FILE.html] [--keep] [--run-dir DIR] [-v] PATH...\n"
               "       mxlab list PATH...\n"
               "       mxlab demo [--mta-bin PATH] [-j N] [--keep] [-v]\n"
               "       mxlab selfcheck [--faults-bin PATH] [--mta NAME|FILE] [-j N] [--fault NAME]...\n"
               "                 [--no-confirm] [--report FILE] [--run-dir DIR] [--keep] [PATH...]\n"
               "       mxlab dns ZONEFILE --listen ADDR:PORT [--log FILE]\n"
               "       mxlab sink --listen ADDR:PORT [--rules FILE] [--rule LINE]... [--dump DIR]\n");
  return 64;
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  buf[n] = 0;
  return buf;
}

std::string repo_root(const std::string& self) {
  std::string r = mxlab::model::find_repo_root(fs::path(self).parent_path().string());
  if (r.empty()) r = mxlab::model::find_repo_root(fs::current_path().string());
  return r;
}

// Parses run/demo options; false on a usage error.
bool parse_run(int argc, char** argv, int first, mxlab::runner::RunOptions& o, bool paths_allowed) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](std::string& out) {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--mta") {
      if (!val(o.mta)) return false;
    } else if (a == "--mta-bin") {
      if (!val(o.mta_bin)) return false;
    } else if (a == "--junit") {
      if (!val(o.junit)) return false;
    } else if (a == "--matrix") {
      if (!val(o.matrix)) return false;
    } else if (a == "--matrix-html") {
      if (!val(o.matrix_html)) return false;
    } else if (a == "--filter") {
      if (!val(o.filter)) return false;
    } else if (a == "--run-dir") {
      if (!val(o.run_base)) return false;
    } else if (a == "--mta-env") {
      if (!val(v)) return false;
      if (v.find('=') == std::string::npos || v[0] == '=') {
        std::fprintf(stderr, "mxlab: --mta-env needs NAME=VALUE, not %s\n", v.c_str());
        return false;
      }
      o.mta_env.push_back(v);
    } else if (a == "-j" || a == "--jobs") {
      if (!val(v)) return false;
      o.jobs = std::atoi(v.c_str());
      if (o.jobs < 1 || o.jobs > 64) return false;
    } else if (a.size() > 2 && a.substr(0, 2) == "-j") {
      o.jobs = std::atoi(a.c_str() + 2);
      if (o.jobs < 1 || o.jobs > 64) return false;
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "-v" || a == "--verbose") {
      o.verbose = true;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "mxlab: unknown option %s\n", a.c_str());
      return false;
    } else if (paths_allowed) {
      o.paths.push_back(a);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  std::string cmd = argv[1];
  if (cmd == "__case") return mxlab::runner::case_command(argc, argv);
  if (cmd == "dns" || cmd == "sink") {
    auto fn = cmd == "dns" ? &mxlab::dns::dns_main : &mxlab::peer::sink_main;
    if (fn == nullptr) {
      std::fprintf(stderr, "mxlab: %s: not built into this binary (harness/%s is missing)\n", cmd.c_str(),
                   cmd == "dns" ? "dns" : "peer");
      return 69;
    }
    return fn(argc - 1, argv + 1);
  }
  mxlab::runner::RunOptions o;
  o.self_exe = self_exe();
  o.repo = repo_root(o.self_exe);
  if (cmd == "list") {
    std::vector<std::string> paths(argv + 2, argv + argc);
    if (paths.empty()) return usage();
    return mxlab::runner::list_command(paths, o.repo);
  }
  if (cmd == "run") {
    if (!parse_run(argc, argv, 2, o, true) || o.paths.empty()) return usage();
    return mxlab::runner::run_command(o);
  }
  if (cmd == "selfcheck") {
    mxlab::runner::SelfcheckOptions so;
    so.run = o;
    so.run.jobs = 2;
    for (int i = 2; i < argc; ++i) {
      std::string a = argv[i];
      auto val = [&](std::string& out) {
        if (i + 1 >= argc) return false;
        out = argv[++i];
        return true;
      };
      std::string v;
      bool ok = true;
      if (a == "--faults-bin") ok = val(so.faults_bin);
      else if (a == "--report") ok = val(so.report);
      else if (a == "--fault") {
        ok = val(v);
        if (ok) so.faults.push_back(v);
      }
      else if (a == "--mta") ok = val(so.run.mta);
      else if (a == "--run-dir") ok = val(so.run.run_base);
      else if (a == "--keep") so.run.keep = true;
      else if (a == "--no-confirm") so.confirm = false;
      else if (a == "-j" || a == "--jobs" || (a.size() > 2 && a.substr(0, 2) == "-j")) {
        if (a.size() > 2 && a[1] == 'j') v = a.substr(2);
        else ok = val(v);
        so.run.jobs = std::atoi(v.c_str());
        ok = ok && so.run.jobs >= 1 && so.run.jobs <= 64;
      } else if (!a.empty() && a[0] == '-') {
        std::fprintf(stderr, "mxlab: selfcheck: unknown option %s\n", a.c_str());
        ok = false;
      } else {
        so.run.paths.push_back(a);
      }
      if (!ok) return usage();
    }
    if (so.run.repo.empty()) {
      std::fprintf(stderr, "mxlab: selfcheck: cannot find the repository (run from inside it)\n");
      return 2;
    }
    return mxlab::runner::selfcheck_command(so);
  }
  if (cmd == "demo") {
    o.jobs = 2;
    if (!parse_run(argc, argv, 2, o, false)) return usage();
    if (o.repo.empty()) {
      std::fprintf(stderr, "mxlab: demo: cannot find the repository (run from inside it)\n");
      return 2;
    }
    o.mta = "reference";
    o.paths = {o.repo + "/suites/seed"};
    o.junit = o.repo + "/reports/out/demo-junit.xml";
    std::printf("mxlab demo: suites/seed on fixtures/topologies/seed-intranet.xml against the reference MTA\n"
                "            (repository %s)\n",
                o.repo.c_str());
    return mxlab::runner::run_command(o);
  }
  return usage();
}
