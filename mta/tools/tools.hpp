// NAME
//   tools/tools - the command-line tools inside the mxmta multi-call binary
// DESCRIPTION
//   Each tool is a main()-like function. mxmta runs one when it is invoked
//   through a link of that name (postconf, mailq, ...) or as
//   "mxmta TOOL args...". Tools that need another tool (sendmail -bp, -bi, -q)
//   exec the binary under that tool's name, as Postfix's sendmail runs postqueue
//   and postalias, so no tool links another.
//   All honour -c CONFIG_DIR and MAIL_CONFIG. Their messages go to stderr as
//   "postconf: warning: ..." and, for tools that act on the queue, to the log.
#pragma once

namespace mta::tools {

int postconf_main(int argc, char** argv);
int postqueue_main(int argc, char** argv);  // also "mailq" (argv[0] decides)
int postsuper_main(int argc, char** argv);
int sendmail_main(int argc, char** argv);
int newaliases_main(int argc, char** argv);  // also "postalias"
int master_main(int argc, char** argv);      // start start-fg stop reload status check flush

}  // namespace mta::tools
