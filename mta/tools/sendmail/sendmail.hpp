// NAME
//   tools/sendmail - sendmail(1): the Sendmail-compatible submission interface
// SYNOPSIS
//   sendmail [-c dir | -C dir] [-i] [-t] [-f sender] [-F full_name] [-N dsn]
//            [-R ret] [-V envid] [-B body_type] [recipient ...]
//   sendmail -bp | -bi | -I | -q | -qIqueue_id | -qRsite | -bd | -bl
// DESCRIPTION
//   In the default (delivery) mode the message is read from standard input,
//   to the end of the input or, unless -i or -oi is given, to a line that holds
//   only ".". Leading "From " lines are dropped and line endings are fixed as
//   $sendmail_fix_line_endings says (default: every CRLF becomes LF). A message
//   without a header block is fine.
//
//   The message goes into maildrop/ as a complete queue file
//   (queue::QueueWriter: temporary file, fsync, rename), so submission works
//   while the daemon is down; then pickup is woken through public/pickup (a
//   daemon that is down picks the file up when it starts). The envelope:
//     origin "pickup", uid = getuid()
//     sender     -f or -r; else the login name. '-f <>' is the null sender.
//                An argument holding more than one address gets the warning
//                "-f option specified malformed sender: ..." and the first one.
//     full name  -F; else $NAME; else the passwd GECOS field (up to ',', with
//                '&' the capitalised login name), as Postfix's fullname()
//     recipients the command-line arguments, each read as an address list
//                ("a@x, b@y", "Name <a@x>", and words separated by spaces)
//     -t         attrs["extract_recipients"] = "1": cleanup adds To:, Cc: and
//                Bcc: recipients to the command-line ones and removes Bcc:
//     -N         never | success,failure,delay   -> Recipient::notify
//     -R         full | hdrs                      -> Envelope::ret
//     -V envid   -> Envelope::envid;  -B 8BITMIME | 7BIT -> Envelope::body_type
//   Unqualified addresses are qualified later, by cleanup (@$myorigin).
//
//   Other modes run another tool of this binary: /proc/self/exe is executed
//   with argv[0] set to the tool's name, and MAIL_CONFIG set to -c/-C's
//   directory:
//     -bp                 mailq
//     -bi, -I             newaliases (postalias LIST with -oALIST); nothing to do
//                         when $alias_database is empty
//     -q                  postqueue -f
//     -qIqueue_id         postqueue -i queue_id
//     -qRsite             postqueue -f (mxmta has no fast-flush service, so the
//                         whole queue is flushed, which includes site's mail)
//     -bd, -bl            mxmta start
//   -q with an interval (-q1h) does nothing, as in Postfix. -bh, -bH do nothing.
//   Ignored as Postfix ignores them: -v, -A -G -L -O -U -e -h -m -p -x, and
//   -oX except -oA and -oi.
// STANDARDS
//   RFC 3461 (NOTIFY, RET, ENVID), RFC 6152 (8BITMIME)
// DIAGNOSTICS
//   Exactly as Postfix's sendmail, on stderr, and every fatal error exits with
//   status 75 (EX_TEMPFAIL), as Postfix's does:
//     sendmail: fatal: USER(UID): Recipient addresses must be specified on the
//       command line or via the -t option
//     sendmail: warning: -f option specified malformed sender: bad address
//     sendmail: fatal: -t can be used only in delivery mode
//     sendmail: fatal: unsupported: -bs
//   With -t, "No recipient addresses found in message header" is the daemon's
//   (cleanup's) to report, since sendmail does not parse the header.
// BUGS
//   -bs (SMTP on standard input), -bv (address verification) and -XV (VERP)
//   are not supported and say so.
// PARAMETERS
//   queue_directory, alias_database, sendmail_fix_line_endings
// SEE ALSO
//   queue/queue_store.hpp, core/trigger.hpp, docs/sendmail.md
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mta::tools::sendmail {

// Runs another tool of this binary (argv[0] is its name) and returns its exit
// status. The default replaces the process with /proc/self/exe (exec_tool)
// and so returns only when exec fails. Tests install a recorder here.
using ToolRunner = std::function<int(const std::vector<std::string>& argv)>;
void set_tool_runner(ToolRunner runner);  // an empty runner restores the default

// execv(program, argv) with argv[0] as given. Returns errno when exec fails.
int exec_tool(const std::string& program, const std::vector<std::string>& argv);

// A command-line argument read as an address list, as Postfix's tok822 reads
// it: "a@x, b@y" and "a@x b@y" are two addresses, "Name <a@x>" is one, "<>" is
// the empty address, comments are dropped, quoted strings are kept.
std::vector<std::string> parse_addresses(std::string_view arg);

// RFC 3461 NOTIFY for -N: "never", or a list of success, failure, delay.
// Returns 0 for anything else.
unsigned parse_notify(std::string_view arg);

}  // namespace mta::tools::sendmail
