// NAME
//   mail/mailbox - read mbox files and Maildir folders as an MTA left them
// DESCRIPTION
//   read_mbox splits a file at "From " lines that start the file or follow
//   an empty line (Postfix writes "From sender  date", the message, and one
//   empty line; body lines starting "From " are quoted ">From "). The
//   empty separator line is not part of the message. read_maildir reads
//   new/ and cur/ in file-name order (names start with the delivery time).
//   A missing mailbox is an empty one: "no mail yet" is a fact to assert.
// STANDARDS
//   RFC 4155 (mbox, "From " lines); Maildir as in maildir(5)/Postfix local(8)
// DIAGNOSTICS
//   Throws std::runtime_error("PATH: reason") only when an existing mailbox
//   cannot be read.
#pragma once
#include "mail/message.hpp"

#include <string>
#include <vector>

namespace mxlab::mail {

std::vector<Message> read_mbox(const std::string& path);
std::vector<Message> parse_mbox(const std::string& text, const std::string& source);
std::vector<Message> read_maildir(const std::string& dir);

}  // namespace mxlab::mail
