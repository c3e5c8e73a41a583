// NAME
//   harness/peer/peer - scripted SMTP peers: deterministic remote MXes
// DESCRIPTION
//   A peer accepts SMTP connections and answers each command from its rules,
//   recording every transcript and every message it accepts. Rules choose a
//   reply per command, per argument (per recipient) and per attempt:
//     CONNECT "421 4.3.2 busy" x2, then "220 mx ESMTP"   -> "421 twice, then 220"
//     RCPT match "<bob@remote.test>" "550 5.1.1 unknown"  -> per recipient
//     DOT  "451 4.3.0 try later", then "250 2.0.0 Ok"     -> end of data
//   A reply can instead disconnect (before or after sending text) or stall
//   (send nothing for delay_ms, or forever), and can be multi-line.
//   Without a matching rule the peer behaves as a conforming server that
//   accepts everything (220, 250 with ESMTP extensions, 354, 250, 221).
//   Attempts are counted per rule across all sessions of the peer.
// STANDARDS
//   RFC 5321 (the server side of the dialogue), RFC 2920 (pipelining: replies
//   are sent in order, batched as received)
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mxlab::peer {

struct Reply {
  enum class Action { reply, disconnect, stall };
  Action action = Action::reply;
  std::string text;  // "250 2.0.0 Ok"; lines separated by '\n' for a multi-line reply ("250-a\n250 b")
  int delay_ms = 0;  // wait before replying (stall: how long; 0 = forever)
  int repeat = 1;    // how many attempts this reply covers
};

struct Rule {
  std::string command;  // CONNECT EHLO HELO MAIL RCPT DATA DOT RSET NOOP QUIT VRFY * (any)
  std::string match;    // substring of the argument, case-insensitive; empty matches all
  std::vector<Reply> replies;  // used in order by successive matching attempts; the last repeats
};

struct Spec {
  std::string name;      // for logs and reports
  std::string hostname;  // greeting and EHLO name
  std::vector<Rule> rules;
  bool esmtp = true;  // false: EHLO gets 502, HELO works
  std::vector<std::string> extensions = {"PIPELINING", "SIZE 10240000", "8BITMIME", "DSN", "ENHANCEDSTATUSCODES"};
  // A client that sends nothing for this long gets "421 4.4.2 ... timeout"
  // and is disconnected (RFC 5321 section 4.5.3.2.7: at least 5 minutes).
  int idle_timeout_ms = 300000;
};

struct Transcript {
  std::string client;  // "192.168.0.25:40001"
  double start = 0, end = 0;
  // 'C' a line from the client, 'S' a line from the peer, '#' an event ("disconnect", "timeout")
  std::vector<std::pair<char, std::string>> lines;
};

struct ReceivedMessage {
  std::string client;
  std::string helo;
  std::string mail_from;              // as given, without <>
  std::vector<std::string> rcpt_to;   // accepted recipients, without <>
  std::vector<std::string> mail_params, rcpt_params;  // raw ESMTP parameters
  std::string data;                   // dot-unstuffed, CRLF line endings kept
  double time = 0;
  std::string id;                     // "SINK1", "SINK2" ... as in "250 2.0.0 Ok: queued as SINK1"
};

class Peer {
 public:
  explicit Peer(Spec spec);
  ~Peer();
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;
  // Listen on addr:port (0: pick a port) on a thread of its own.
  void start(const std::string& addr, uint16_t port);
  uint16_t port() const;
  void stop();
  std::vector<Transcript> transcripts() const;
  std::vector<ReceivedMessage> messages() const;
  const Spec& spec() const;
  // Attempts counted so far for each rule, in the order of spec().rules.
  std::vector<int> rule_counts() const;
  // Called on the peer's thread for each accepted message, after it is in
  // messages(); set it before start(). mxlab sink prints and dumps this way.
  void on_message(std::function<void(const ReceivedMessage&)> fn);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Rule text, one rule per line, for `mxlab sink` and topology files:
//   CONNECT 421 4.3.2 try later x2; 220 mx.remote.test ESMTP
//   RCPT <bob@remote.test> 550 5.1.1 no such user
//   DOT disconnect
//   DATA stall 5000
// Throws std::runtime_error("FILE:LINE: reason").
std::vector<Rule> parse_rules(const std::string& text, const std::string& file);

// `mxlab sink --listen ADDR:PORT [--rules FILE] [--rule 'LINE']... [--dump DIR]`
int sink_main(int argc, char** argv);

}  // namespace mxlab::peer
