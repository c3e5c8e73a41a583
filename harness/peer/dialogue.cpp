#include "peer/dialogue.hpp"

#include "common/strings.hpp"

#include <algorithm>

namespace mxlab::peer {
namespace {

// The reply code of a text, 0 when it does not start with three digits.
int code_of(std::string_view text) {
  if (text.size() < 3) return 0;
  for (int i = 0; i < 3; ++i)
    if (text[static_cast<size_t>(i)] < '0' || text[static_cast<size_t>(i)] > '9') return 0;
  return (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
}

constexpr size_t k_max_recipients = 1000;

}  // namespace

RuleBook::RuleBook(std::vector<Rule> rules) : rules_(std::move(rules)), counts_(rules_.size(), 0) {}

std::optional<Reply> RuleBook::next(std::string_view command, std::string_view argument) {
  const bool event = command == "CONNECT" || command == "DOT";
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < rules_.size(); ++i) {
    const auto& r = rules_[i];
    if (!(common::iequals(r.command, command) || (r.command == "*" && !event))) continue;
    if (!common::icontains(argument, r.match)) continue;
    if (r.replies.empty()) continue;
    int k = counts_[i]++;
    for (const auto& rep : r.replies) {
      if (k < std::max(rep.repeat, 1)) return rep;
      k -= std::max(rep.repeat, 1);
    }
    return r.replies.back();
  }
  return std::nullopt;
}

std::vector<int> RuleBook::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void DataReader::reset(size_t max_size) {
  state_ = State::bol;
  data_.clear();
  size_ = 0;
  max_size_ = max_size;
}

void DataReader::put(char c) {
  if (size_++ < max_size_) data_ += c;
}

size_t DataReader::feed(std::string_view b) {
  size_t i = 0;
  for (; i < b.size() && state_ != State::done; ++i) {
    const char c = b[i];
    switch (state_) {
      case State::bol:
        if (c == '.') {
          state_ = State::dot;  // stuffing dot or the end: wait and see
          break;
        }
        put(c);
        state_ = c == '\r' ? State::cr : State::mid;
        break;
      case State::mid:
        put(c);
        if (c == '\r') state_ = State::cr;
        break;
      case State::cr:
        put(c);
        state_ = c == '\n' ? State::bol : c == '\r' ? State::cr : State::mid;
        break;
      case State::dot:
        if (c == '\r') {
          state_ = State::dot_cr;
          break;
        }
        put(c);  // the leading dot is dropped
        state_ = State::mid;
        break;
      case State::dot_cr:
        if (c == '\n') {
          state_ = State::done;
          break;
        }
        // ".\r" then something else: an unstuffed line that starts with CR.
        put('\r');
        put(c);
        state_ = c == '\r' ? State::cr : State::mid;
        break;
      case State::done:
        break;
    }
  }
  return i;
}

bool parse_path(std::string_view arg, std::string_view prefix, std::string& addr, std::vector<std::string>& params) {
  addr.clear();
  params.clear();
  if (!common::istarts_with(arg, prefix)) return false;
  std::string_view rest = arg.substr(prefix.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);  // "FROM: <a>" as Postfix allows
  size_t end = 0;
  if (!rest.empty() && rest.front() == '<') {
    bool quoted = false;
    size_t i = 1;
    for (; i < rest.size(); ++i) {
      if (rest[i] == '\\') {
        ++i;
        continue;
      }
      if (rest[i] == '"') quoted = !quoted;
      if (!quoted && rest[i] == '>') break;
    }
    if (i >= rest.size()) return false;
    addr = std::string(rest.substr(1, i - 1));
    end = i + 1;
  } else {
    end = std::min(rest.find(' '), rest.size());
    addr = std::string(rest.substr(0, end));
    if (addr.empty()) return false;
  }
  if (end < rest.size() && rest[end] != ' ') return false;
  for (auto p : common::split_ws(rest.substr(end))) params.emplace_back(p);
  return true;
}

Dialogue::Dialogue(const Spec& spec, RuleBook& book, std::string client, std::string client_ip)
    : spec_(spec), book_(book), client_(std::move(client)), client_ip_(std::move(client_ip)) {
  hostname_ = spec.hostname.empty() ? "peer.mxlab.test" : spec.hostname;
  max_size_ = 100u << 20;
  for (const auto& e : spec.extensions) {
    if (common::iequals(e, "PIPELINING")) pipelining_ = true;
    if (common::istarts_with(e, "SIZE ")) {
      long long v = 0;
      if (common::parse_int(common::trim(std::string_view(e).substr(5)), 1, 1LL << 40, v)) max_size_ = static_cast<size_t>(v);
    }
  }
  if (!spec.esmtp) pipelining_ = false;
}

void Dialogue::reset_transaction() {
  in_transaction_ = false;
  in_data_ = false;
  msg_ = ReceivedMessage{};
}

Action Dialogue::decide(const char* rule_command, std::string_view arg, std::string default_text) {
  Action a;
  auto rule = book_.next(rule_command, arg);
  if (!rule) {
    a.text = std::move(default_text);
  } else {
    a.kind = rule->action;
    a.delay_ms = rule->delay_ms;
    if (rule->action == Reply::Action::disconnect) {
      a.text = rule->text;  // empty: disconnect before any reply
      a.close_after = true;
    } else {
      a.text = rule->text.empty() ? std::move(default_text) : rule->text;
    }
  }
  if (code_of(a.text) == 421) a.close_after = true;
  return a;
}

Action Dialogue::on_connect() {
  pending_ = Cmd::connect;
  return decide("CONNECT", client_ip_, "220 " + hostname_ + (spec_.esmtp ? " ESMTP mxlab" : " SMTP mxlab"));
}

Action Dialogue::on_command(std::string_view line) {
  std::string_view verb_text = line.substr(0, std::min(line.find(' '), line.size()));
  std::string verb = common::upper(verb_text);
  std::string_view arg = verb_text.size() < line.size() ? line.substr(verb_text.size() + 1) : std::string_view();
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  pending_arg_ = std::string(arg);
  pending_parsed_ = false;
  pending_params_.clear();
  pending_param_list_.clear();
  pending_addr_.clear();

  if (verb.empty()) {
    pending_ = Cmd::bad;
    Action a;
    a.text = "500 5.5.2 Error: bad syntax";
    return a;
  }
  if (verb == "EHLO") {
    pending_ = Cmd::ehlo;
    std::string text;
    if (!spec_.esmtp) {
      text = "502 5.5.2 Error: command not recognized";
    } else if (arg.empty()) {
      text = "501 5.5.4 Syntax: EHLO hostname";
    } else {
      text = "250";
      text += spec_.extensions.empty() ? ' ' : '-';
      text += hostname_;
      for (size_t i = 0; i < spec_.extensions.size(); ++i)
        text += "\n250" + std::string(i + 1 == spec_.extensions.size() ? " " : "-") + spec_.extensions[i];
    }
    return decide("EHLO", arg, std::move(text));
  }
  if (verb == "HELO") {
    pending_ = Cmd::helo;
    return decide("HELO", arg, arg.empty() ? "501 Syntax: HELO hostname" : "250 " + hostname_);
  }
  if (verb == "MAIL") {
    pending_ = Cmd::mail;
    pending_parsed_ = parse_path(arg, "FROM:", pending_addr_, pending_param_list_);
    std::string text = in_transaction_   ? "503 5.5.1 Error: nested MAIL command"
                       : pending_parsed_ ? "250 2.1.0 Ok"
                                         : "501 5.5.4 Syntax: MAIL FROM:<address>";
    return decide("MAIL", arg, std::move(text));
  }
  if (verb == "RCPT") {
    pending_ = Cmd::rcpt;
    std::vector<std::string> params;
    pending_parsed_ = parse_path(arg, "TO:", pending_addr_, params) && !pending_addr_.empty();
    for (const auto& p : params) pending_params_ += (pending_params_.empty() ? "" : " ") + p;
    std::string text = !in_transaction_                       ? "503 5.5.1 Error: need MAIL command"
                       : !pending_parsed_                     ? "501 5.5.4 Syntax: RCPT TO:<address>"
                       : msg_.rcpt_to.size() >= k_max_recipients ? "452 4.5.3 Error: too many recipients"
                                                              : "250 2.1.5 Ok";
    return decide("RCPT", arg, std::move(text));
  }
  if (verb == "DATA") {
    pending_ = Cmd::data;
    std::string text = !in_transaction_       ? "503 5.5.1 Error: need RCPT command"
                       : msg_.rcpt_to.empty() ? "554 5.5.1 Error: no valid recipients"
                       : !arg.empty()         ? "501 5.5.4 Syntax: DATA"
                                              : "354 End data with <CR><LF>.<CR><LF>";
    return decide("DATA", arg, std::move(text));
  }
  if (verb == "RSET") {
    pending_ = Cmd::rset;
    return decide("RSET", arg, "250 2.0.0 Ok");
  }
  if (verb == "NOOP") {
    pending_ = Cmd::noop;
    return decide("NOOP", arg, "250 2.0.0 Ok");
  }
  if (verb == "QUIT") {
    pending_ = Cmd::quit;
    Action a = decide("QUIT", arg, "221 2.0.0 Bye");
    a.close_after = true;
    return a;
  }
  if (verb == "VRFY") {
    pending_ = Cmd::vrfy;
    return decide("VRFY", arg, arg.empty() ? "501 5.5.4 Syntax: VRFY address" : "252 2.0.0 " + std::string(arg));
  }
  pending_ = Cmd::other;
  return decide(verb.c_str(), arg, "502 5.5.2 Error: command not recognized");
}

Action Dialogue::on_data_end(std::string data, bool too_big, std::string id) {
  pending_ = Cmd::dot;
  pending_id_ = std::move(id);
  pending_data_ = std::move(data);
  in_data_ = false;  // the data phase is over whatever the reply
  return decide("DOT", pending_data_,
                too_big ? "552 5.3.4 Message size exceeds fixed limit" : "250 2.0.0 Ok: queued as " + pending_id_);
}

std::optional<ReceivedMessage> Dialogue::commit(const Action& a) {
  const int code = code_of(a.text);
  const bool ok = code >= 200 && code < 300;
  std::optional<ReceivedMessage> out;
  switch (pending_) {
    case Cmd::ehlo:
    case Cmd::helo:
      if (ok) {
        helo_ = pending_arg_;
        reset_transaction();
      }
      break;
    case Cmd::mail:
      if (ok) {
        reset_transaction();
        in_transaction_ = true;
        msg_.client = client_;
        msg_.mail_from = pending_parsed_ ? pending_addr_ : pending_arg_;
        msg_.mail_params = pending_param_list_;
      }
      break;
    case Cmd::rcpt:
      if (ok) {
        msg_.rcpt_to.push_back(pending_parsed_ ? pending_addr_ : pending_arg_);
        msg_.rcpt_params.push_back(pending_params_);
      }
      break;
    case Cmd::data:
      if (code >= 300 && code < 400) in_data_ = true;
      break;
    case Cmd::dot:
      if (ok) {
        ReceivedMessage m = msg_;
        m.client = client_;
        m.helo = helo_;
        m.data = std::move(pending_data_);
        m.id = pending_id_;
        m.time = common::wall_seconds();
        out = std::move(m);
      }
      reset_transaction();
      break;
    case Cmd::rset:
      if (ok) reset_transaction();
      break;
    default:
      break;
  }
  pending_ = Cmd::bad;
  return out;
}

}  // namespace mxlab::peer
