// NAME
//   dialog/session - run a dialogue script over a connected socket
// DESCRIPTION
//   run_script() plays a Script against a server on a connected stream
//   socket: it sends what "->"/"=>" say and reads one complete reply for
//   every "<-"/"<~", with a real-time bound per reply. It keeps a
//   transcript ('C' client bytes, 'S' server lines, '#' events) and follows
//   the SMTP state of what it sent (MAIL, RCPT, DATA, end of data, pipelined
//   or not) so that the runner knows which messages the server accepted
//   ("250" after the final dot): those are the case's injected messages.
//   connect_tcp() makes the socket, optionally bound to a source address.
// STANDARDS
//   RFC 5321 sections 4.1 and 4.2; RFC 2920 (replies come in command order)
// DIAGNOSTICS
//   Result.ok = false with the failed directive's line, the expectation and
//   what arrived ("(timeout after 10 s)", "(connection closed)").
#pragma once
#include "dialog/script.hpp"

#include <string>
#include <vector>

namespace mxlab::dialog {

struct Event {
  char dir = '#';  // 'C' sent by the client, 'S' received, '#' an event
  std::string text;
};

struct Accepted {
  std::string sender;              // MAIL FROM address, without <>
  std::vector<std::string> rcpts;  // recipients that got a 2xx reply
  std::string data;                // message as sent, CRLF line ends, dot-unstuffed
};

struct Result {
  bool ok = true;
  int failed_line = 0;
  std::string expected, actual, why;
  std::vector<Event> transcript;
  std::vector<Accepted> accepted;
  std::string transcript_text() const;
};

Result run_script(int fd, const Script& script, int reply_timeout_ms);

// A TCP socket connected to addr:port from `source` (empty: any), within
// timeout_ms. Returns the fd, or -1 with `error` set ("Connection refused").
// The socket belongs to the network namespace of the calling thread.
int connect_tcp(const std::string& addr, unsigned port, const std::string& source, int timeout_ms, std::string& error);

// Read one SMTP reply (e.g. the banner) from fd; false with `error` on
// timeout, EOF or a malformed line.
bool read_reply(int fd, int timeout_ms, Reply& reply, std::string& error);

}  // namespace mxlab::dialog
