// NAME
//   mxmta - the reference MTA, one multi-call binary
// SYNOPSIS
//   mxmta [-c DIR] start | start-fg | stop | reload | status | check | flush
//   mxmta TOOL [options]          TOOL: postconf postqueue mailq postsuper
//                                       sendmail newaliases postalias
//   mxmta faults                  the self-check's fault catalogue
//   postconf ... (and the other tools) through a link of that name
// DESCRIPTION
//   Daemon control mirrors postfix(1); the tools mirror Postfix's. Every
//   command takes -c CONFIG_DIR and honours MAIL_CONFIG.
//   faults prints "NAME<TAB>WHAT" for each deliberate fault compiled into a
//   build with MX_FAULTS (core/fault.hpp; mxlab selfcheck reads it); in a
//   normal build it says so on stderr and exits 69.
#include "core/fault.hpp"
#include "tools/tools.hpp"
#include "util/log.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

// Tools are linked in from their own libraries. Weak references let a build
// that lacks one still link; calling a missing tool is reported, not crashed.
namespace mta::tools {
__attribute__((weak)) int postconf_main(int, char**);
__attribute__((weak)) int postqueue_main(int, char**);
__attribute__((weak)) int postsuper_main(int, char**);
__attribute__((weak)) int sendmail_main(int, char**);
__attribute__((weak)) int newaliases_main(int, char**);
__attribute__((weak)) int master_main(int, char**);
}  // namespace mta::tools

namespace {

using Fn = int (*)(int, char**);

struct Tool {
  std::string_view name;
  Fn fn;
};

int usage() {
  std::fprintf(stderr,
               "usage: mxmta [-c config_dir] start|start-fg|stop|reload|status|check|flush\n"
               "       mxmta postconf|postqueue|mailq|postsuper|sendmail|newaliases|postalias [options]\n");
  return 64;
}

int list_faults() {
#ifdef MX_FAULTS
  for (const auto& f : mta::core::fault::all())
    std::printf("%.*s\t%.*s\n", static_cast<int>(f.name.size()), f.name.data(), static_cast<int>(f.what.size()),
                f.what.data());
  return 0;
#else
  std::fprintf(stderr, "mxmta: faults: this binary was built without MX_FAULTS (cmake --preset faults)\n");
  return 69;
#endif
}

int run(std::string_view name, Fn fn, int argc, char** argv) {
  if (!fn) {
    std::fprintf(stderr, "mxmta: %.*s: not built into this binary\n", static_cast<int>(name.size()), name.data());
    return 69;
  }
  mta::log::set_program(name);
  return fn(argc, argv);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mta::tools;
  const Tool tools[] = {
      {"postconf", postconf_main},   {"postqueue", postqueue_main},   {"mailq", postqueue_main},
      {"postsuper", postsuper_main}, {"sendmail", sendmail_main},     {"newaliases", newaliases_main},
      {"postalias", newaliases_main},
  };
  std::string_view self = argv[0];
  if (auto s = self.rfind('/'); s != std::string_view::npos) self.remove_prefix(s + 1);
  for (const auto& t : tools)
    if (self == t.name) return run(t.name, t.fn, argc, argv);

  // mxmta TOOL args...: the tool sees argv[0] = TOOL.
  if (argc >= 2) {
    for (const auto& t : tools)
      if (t.name == argv[1]) {
        argv[1] = const_cast<char*>(t.name.data());
        return run(t.name, t.fn, argc - 1, argv + 1);
      }
  }
  if (argc < 2) return usage();
  if (std::string_view(argv[1]) == "faults" && argc == 2) return list_faults();
  return run("mxmta", master_main, argc, argv);
}
