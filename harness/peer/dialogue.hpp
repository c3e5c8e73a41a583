// NAME
//   peer/dialogue - the scripted peer's SMTP server logic, without any I/O
// DESCRIPTION
//   RuleBook picks the reply for an attempt: the first rule whose command is
//   the client's (or "*": any command the client sends, not CONNECT or DOT)
//   and whose match is a case-insensitive substring of the argument. Each
//   rule counts its attempts across all sessions; attempt k takes the reply
//   whose repeat range covers k, and the last reply repeats. The arguments
//   matched are: CONNECT the client's IP address, EHLO/HELO the name, MAIL
//   and RCPT the text after the verb ("TO:<bob@remote.test> NOTIFY=NEVER"),
//   DOT the message data, other commands the text after the verb.
//
//   Dialogue is one SMTP session's state machine. Each event (connect, a
//   command line, the end of the data) yields an Action: what to send, after
//   how long, and whether to close. The session performs it and then calls
//   commit(), which applies the effects of the reply actually sent: HELO name,
//   transaction start, an accepted recipient, entering the data phase, an
//   accepted message. Effects follow the reply code that was sent, so a rule
//   that answers RCPT with 550 rejects that recipient and one that answers
//   DOT with 250 accepts the message. A 421 reply, QUIT and "disconnect"
//   close the session.
//
//   Without a rule the replies are a conforming server's, in Postfix's words
//   where Postfix has them (503 nested MAIL, 554 no valid recipients ...).
//
//   DataReader finds the end of the data and undoes dot-stuffing. Only
//   CRLF.CRLF ends the data (a bare LF or CR never does: no smuggling); a
//   line that starts with a dot after a CRLF loses that dot; every other byte,
//   bare LF and CR included, is kept as received.
// STANDARDS
//   RFC 5321 sections 4.1.1 (commands), 4.1.1.4 and 4.5.2 (DATA and dot
//   transparency), 4.2 (replies, multi-line), 3.8 (421); RFC 2920 (pipelining)
#pragma once
#include "peer/peer.hpp"

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxlab::peer {

class RuleBook {
 public:
  explicit RuleBook(std::vector<Rule> rules);
  // Counts the attempt against the first matching rule and returns its
  // reply; nullopt when no rule matches (the default reply applies).
  std::optional<Reply> next(std::string_view command, std::string_view argument);
  std::vector<int> counts() const;

 private:
  std::vector<Rule> rules_;
  mutable std::mutex mu_;
  std::vector<int> counts_;
};

struct Action {
  Reply::Action kind = Reply::Action::reply;
  int delay_ms = 0;          // before sending; for stall 0 means forever
  std::string text;          // reply lines separated by '\n'; empty: send nothing
  bool close_after = false;  // close once text (if any) is sent
};

class DataReader {
 public:
  // Consumes bytes up to and including the terminating CRLF.CRLF; returns
  // how many were consumed. done() tells whether the end was found.
  size_t feed(std::string_view bytes);
  bool done() const { return state_ == State::done; }
  // The data so far, dot-unstuffed. Bytes past max_size are counted, not kept.
  std::string take() { return std::move(data_); }
  size_t size() const { return size_; }
  bool too_big() const { return size_ > max_size_; }
  void reset(size_t max_size);

 private:
  enum class State { bol, mid, cr, dot, dot_cr, done };
  void put(char c);
  State state_ = State::bol;
  std::string data_;
  size_t size_ = 0;
  size_t max_size_ = 0;
};

class Dialogue {
 public:
  // next_id gives the ID for an accepted message ("SINK1"); the caller keeps
  // the counter so IDs are unique across sessions.
  Dialogue(const Spec& spec, RuleBook& book, std::string client, std::string client_ip);

  Action on_connect();
  Action on_command(std::string_view line);
  Action on_data_end(std::string data, bool too_big, std::string id);
  // Applies the effects of the action just performed. Returns the message
  // when a DOT was answered with 2xx.
  std::optional<ReceivedMessage> commit(const Action& a);

  bool in_data() const { return in_data_; }
  size_t max_message_size() const { return max_size_; }
  bool pipelining() const { return pipelining_; }
  const std::string& hostname() const { return hostname_; }

 private:
  enum class Cmd { connect, ehlo, helo, mail, rcpt, data, dot, rset, noop, quit, vrfy, other, bad };
  Action decide(const char* rule_command, std::string_view arg, std::string default_text);
  void reset_transaction();

  const Spec& spec_;
  RuleBook& book_;
  std::string client_, client_ip_, hostname_;
  bool pipelining_ = false;
  size_t max_size_ = 0;

  // Session and transaction state.
  std::string helo_;
  bool in_transaction_ = false;
  bool in_data_ = false;
  ReceivedMessage msg_;

  // What the pending action will do once sent.
  Cmd pending_ = Cmd::bad;
  std::string pending_arg_, pending_addr_, pending_params_;
  bool pending_parsed_ = false;
  std::vector<std::string> pending_param_list_;
  std::string pending_data_, pending_id_;
};

// Splits "FROM:<a@b> SIZE=10" into address and parameters; false on a
// syntax error. prefix is "FROM:" or "TO:".
bool parse_path(std::string_view arg, std::string_view prefix, std::string& addr, std::vector<std::string>& params);

}  // namespace mxlab::peer
