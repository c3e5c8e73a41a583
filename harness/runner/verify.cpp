// Assertions: facts about mailboxes, peers, queues, bounces, the DNS log,
// the MTA log and the accounting of every injected message.
#include "mail/mailbox.hpp"
#include "mail/message.hpp"
#include "model/text.hpp"
#include "runner/lab_runtime.hpp"

#include <regex>
#include <cstdint>
#include <set>

namespace mxlab::runner {

namespace {

using model::Check;

std::regex re_of(const std::string& s) { return std::regex(s, std::regex::ECMAScript | std::regex::multiline); }

// A message with what is known of its envelope.
struct Item {
  mail::Message msg;
  bool envelope = false;  // mail_from/rcpts known (peer)
  std::string mail_from;
  std::vector<std::string> rcpts;
  std::string where;
};

std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s.size() > 160 ? s.substr(0, 157) + "..." : s;
}

std::string describe(const Item& it) {
  std::string s;
  if (!it.msg.from_line.empty()) s += "From " + it.msg.from_line + "; ";
  if (it.envelope) s += "MAIL FROM:<" + it.mail_from + "> RCPT TO:<" + model::join(it.rcpts, ">,<") + ">; ";
  s += "Subject: " + it.msg.header("Subject").value_or("(none)");
  if (auto x = it.msg.header("X-Original-To")) s += "; X-Original-To: " + *x;
  return one_line(s);
}

std::string describe_all(const std::vector<Item>& items) {
  if (items.empty()) return "(no messages)";
  std::string s;
  for (size_t i = 0; i < items.size(); ++i) s += std::to_string(i + 1) + ": " + describe(items[i]) + "\n";
  return s;
}

// equals / contains / matches against `text`.
bool value_ok(const Check& c, const std::string& text, std::string& want) {
  if (c.has("equals")) {
    want = "equal to \"" + c.attr("equals") + "\"";
    return text == c.attr("equals");
  }
  if (c.has("contains")) {
    want = "containing \"" + c.attr("contains") + "\"";
    return text.find(c.attr("contains")) != std::string::npos;
  }
  if (c.has("matches")) {
    want = "matching /" + c.attr("matches") + "/";
    return std::regex_search(text, re_of(c.attr("matches")));
  }
  want = "present";
  return true;
}

// "/re/" is a regex, anything else a substring (or exact when `exact`).
bool pattern_ok(const std::string& pattern, const std::string& text, bool exact) {
  if (pattern.size() >= 2 && pattern.front() == '/' && pattern.back() == '/')
    return std::regex_search(text, re_of(pattern.substr(1, pattern.size() - 2)));
  return exact ? model::iequals(pattern, text) : model::icontains(text, pattern);
}

bool same_address(std::string a, std::string b) {
  auto strip = [](std::string s) {
    s = std::string(model::trim(s));
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
    return model::lower(s);
  };
  a = strip(a);
  b = strip(b);
  if (a == b) return true;
  // An unqualified address as given ("alice") matches its qualified form.
  if (a.find('@') == std::string::npos) return b.substr(0, b.find('@')) == a;
  if (b.find('@') == std::string::npos) return a.substr(0, a.find('@')) == b;
  return false;
}

bool check_item(const Check& c, const Item& it, std::string& why) {
  std::string want;
  const auto& m = it.msg;
  if (c.kind == "header") {
    auto values = m.headers_named(c.attr("name"));
    if (c.attr("absent") == "true") {
      if (values.empty()) return true;
      why = "header " + c.attr("name") + " is present: " + one_line(values.front());
      return false;
    }
    for (const auto& v : values)
      if (value_ok(c, v, want)) return true;
    why = "no " + c.attr("name") + " header " + want + (values.empty() ? " (none at all)" : " (has: " + one_line(values.front()) + ")");
    return false;
  }
  if (c.kind == "body") {
    if (c.attr("absent") == "true") {
      bool present = value_ok(c, m.body, want);
      if (!present) return true;
      why = "body is " + want;
      return false;
    }
    if (value_ok(c, m.body, want)) return true;
    why = "body not " + want;
    return false;
  }
  if (c.kind == "from-line") {
    if (m.from_line.empty()) {
      why = "no From_ line (not an mbox message)";
      return false;
    }
    if (c.has("sender") && m.envelope_sender != c.attr("sender")) {
      why = "From_ line sender is " + m.envelope_sender + ", not " + c.attr("sender");
      return false;
    }
    if (c.has("matches") && !std::regex_search(m.from_line, re_of(c.attr("matches")))) {
      why = "From_ line \"" + m.from_line + "\" does not match /" + c.attr("matches") + "/";
      return false;
    }
    return true;
  }
  if (c.kind == "return-path") {
    auto rp = m.header("Return-Path");
    if (rp && *rp == c.attr("equals")) return true;
    why = "Return-Path is " + rp.value_or("(absent)") + ", not " + c.attr("equals");
    return false;
  }
  if (c.kind == "mail-from") {
    std::string want_from = c.attr("equals");
    if (want_from == "<>") want_from.clear();
    if (it.mail_from == want_from) return true;
    why = "MAIL FROM was <" + it.mail_from + ">";
    return false;
  }
  if (c.kind == "rcpt-to") {
    for (const auto& r : it.rcpts)
      if (same_address(r, c.attr("equals"))) return true;
    why = "RCPT TO were <" + model::join(it.rcpts, ">, <") + ">";
    return false;
  }
  why = "unexpected check <" + c.kind + ">";
  return false;
}

Verdict fail(std::string msg, std::string expected, std::string actual) { return {false, std::move(msg), std::move(expected), std::move(actual)}; }

// count / min / absent / empty on a number of things.
bool count_ok(const Check& c, size_t n, std::string& expected, bool default_min_one) {
  if (c.has("count")) {
    expected = c.attr("count");
    return n == std::stoul(c.attr("count"));
  }
  if (c.attr("absent") == "true" || c.attr("empty") == "true") {
    expected = "0";
    return n == 0;
  }
  if (c.has("min")) {
    expected = "at least " + c.attr("min");
    if (n < std::stoul(c.attr("min"))) return false;
  } else if (default_min_one) {
    expected = "at least 1";
    if (n < 1) return false;
  }
  if (c.has("max")) {
    expected += (expected.empty() ? "" : ", ") + std::string("at most ") + c.attr("max");
    if (n > std::stoul(c.attr("max"))) return false;
  }
  return true;
}

// Items satisfying all children, under the `message` selector.
Verdict select_items(const Check& c, const std::vector<Item>& items, const std::string& what) {
  std::string expected;
  if (!count_ok(c, items.size(), expected, c.children.empty()))
    return fail(what + ": " + std::to_string(items.size()) + " message(s)", expected + " message(s)", describe_all(items));
  if (c.children.empty()) return {};
  std::string sel = c.attr("message", "any");
  std::vector<const Item*> cands;
  if (sel == "any") {
    for (const auto& it : items) cands.push_back(&it);
  } else {
    size_t idx = sel == "first" ? 1 : sel == "last" ? items.size() : std::stoul(sel);
    if (idx >= 1 && idx <= items.size()) cands.push_back(&items[idx - 1]);
  }
  std::string first_why;
  for (const Item* it : cands) {
    bool all = true;
    for (const auto& ch : c.children) {
      std::string why;
      if (!check_item(ch, *it, why)) {
        all = false;
        if (first_why.empty()) first_why = why;
        break;
      }
    }
    if (all) return {};
  }
  std::string exp;
  for (const auto& ch : c.children) exp += ch.describe() + "\n";
  return fail(what + ": no " + (sel == "any" ? std::string("message") : "message " + sel) + " satisfies every check" +
                  (first_why.empty() ? std::string() : " (" + first_why + ")"),
              exp, describe_all(items));
}

std::vector<Item> mailbox_items(Lab& lab, const std::string& host, const std::string& user, const std::string& format,
                                const std::string& path) {
  std::vector<Item> items;
  for (auto& m : lab.mailbox(lab.host(host), user, format, path)) {
    Item it;
    it.where = host + ":" + user;
    it.msg = std::move(m);
    items.push_back(std::move(it));
  }
  return items;
}

std::vector<Item> peer_items(Lab& lab, const std::string& name) {
  if (!lab.topology().peer(name)) throw std::runtime_error("no peer \"" + name + "\" in the topology");
  std::vector<Item> items;
  for (const auto& p : lab.services().peer_messages(lab.topology().peer(name)->name)) {
    Item it;
    it.msg = mail::parse_message(p.data);
    it.envelope = true;
    it.mail_from = p.mail_from;
    it.rcpts = p.rcpt_to;
    it.where = "peer " + name;
    items.push_back(std::move(it));
  }
  return items;
}

Verdict check_queue(Lab& lab, const Check& c) {
  auto entries = lab.queue(lab.host(c.attr("host")));
  std::string listing;
  for (const auto& e : entries) {
    listing += e.queue_id + " " + e.queue_name + " from=<" + e.sender + ">";
    for (const auto& r : e.recipients) listing += " to=<" + r.address + ">" + (r.delay_reason.empty() ? "" : " (" + r.delay_reason + ")");
    listing += "\n";
  }
  if (listing.empty()) listing = "(queue empty)";
  std::string expected;
  if (!count_ok(c, entries.size(), expected, c.children.empty()))
    return fail("queue of " + c.attr("host") + ": " + std::to_string(entries.size()) + " message(s)", expected + " message(s)", listing);
  for (const auto& ch : c.children) {
    bool found = false;
    for (const auto& e : entries) {
      if (ch.kind == "sender") {
        std::string want = ch.attr("equals") == "<>" ? "" : ch.attr("equals");
        found |= same_address(e.sender, want) || (want.empty() && (e.sender.empty() || e.sender == "MAILER-DAEMON"));
        continue;
      }
      for (const auto& r : e.recipients) {
        if (!same_address(r.address, ch.attr("address"))) continue;
        if (ch.has("reason") && !pattern_ok(ch.attr("reason"), r.delay_reason, false)) continue;
        found = true;
      }
    }
    bool want_present = ch.attr("absent") != "true";
    if (found != want_present)
      return fail("queue of " + c.attr("host") + ": " + ch.describe() + (want_present ? " not found" : " is queued"),
                  ch.describe(), listing);
  }
  return {};
}

bool dsn_ok(const Check& c, const mail::Dsn& d, std::string& why) {
  for (const auto& r : d.recipients) {
    bool all = true;
    auto cmp = [&](const char* attr, const std::string& have, bool exact) {
      if (!c.has(attr)) return;
      if (!pattern_ok(c.attr(attr), have, exact)) all = false;
    };
    if (c.has("recipient") && !same_address(r.final_recipient, c.attr("recipient"))) all = false;
    if (c.has("original-recipient") && !same_address(r.original_recipient, c.attr("original-recipient"))) all = false;
    cmp("action", r.action, true);
    cmp("status", r.status, true);
    cmp("remote-mta", r.remote_mta, true);
    cmp("diagnostic", r.diagnostic_code, false);
    if (c.has("reporting-mta")) {
      auto it = d.message_fields.find("reporting-mta");
      if (it == d.message_fields.end() || !pattern_ok(c.attr("reporting-mta"), it->second, false)) all = false;
    }
    if (all) return true;
  }
  why = "no recipient group matches " + c.describe() + "; groups:";
  for (const auto& r : d.recipients)
    why += " [Final-Recipient " + r.final_recipient + ", Action " + r.action + ", Status " + r.status +
           (r.remote_mta.empty() ? "" : ", Remote-MTA " + r.remote_mta) +
           (r.diagnostic_code.empty() ? "" : ", Diagnostic-Code " + r.diagnostic_code) + "]";
  return false;
}

Verdict check_bounce(Lab& lab, const Check& c) {
  std::vector<Item> items = c.has("peer") ? peer_items(lab, c.attr("peer"))
                                          : mailbox_items(lab, c.attr("host"), c.attr("user"), "", "");
  std::string where = c.has("peer") ? "peer " + c.attr("peer") : c.attr("user") + "'s mailbox on " + c.attr("host");
  std::vector<std::pair<const Item*, mail::Dsn>> dsns;
  std::string notes;
  for (const auto& it : items) {
    mail::Dsn d;
    std::string why;
    if (mail::parse_dsn(it.msg, d, why)) dsns.emplace_back(&it, std::move(d));
    else notes += describe(it) + ": " + why + "\n";
  }
  std::string expected;
  if (!count_ok(c, dsns.size(), expected, true))
    return fail(where + ": " + std::to_string(dsns.size()) + " delivery status notification(s)", expected, describe_all(items) + notes);
  // A bounce goes from the null sender (RFC 5321 4.5.5, RFC 3464).
  for (const auto& [it, d] : dsns) {
    bool null_sender = it->envelope ? it->mail_from.empty()
                                    : (it->msg.header("Return-Path").value_or("") == "<>" ||
                                       it->msg.envelope_sender == "MAILER-DAEMON");
    if (!null_sender)
      return fail(where + ": a bounce was not sent from the null sender <>", "MAIL FROM:<> (Return-Path: <>)", describe(*it));
  }
  if (c.children.empty() || dsns.empty()) return {};
  std::string first_why;
  for (const auto& [it, d] : dsns) {
    bool all = true;
    for (const auto& ch : c.children) {
      std::string why;
      bool ok = ch.kind == "dsn" ? dsn_ok(ch, d, why) : check_item(ch, *it, why);
      if (!ok) {
        all = false;
        if (first_why.empty()) first_why = why;
        break;
      }
    }
    if (all) return {};
  }
  std::string exp;
  for (const auto& ch : c.children) exp += ch.describe() + "\n";
  return fail(where + ": no bounce satisfies every check (" + first_why + ")", exp, describe_all(items));
}

std::string norm_name(std::string n) {
  n = model::lower(model::trim(n));
  if (!n.empty() && n.back() == '.') n.pop_back();
  return n;
}

bool query_ok(const Check& q, const DnsQuery& x) {
  if (norm_name(q.attr("name")) != norm_name(x.name)) return false;
  if (q.has("type") && !model::iequals(q.attr("type"), x.type)) return false;
  if (q.has("result") && !model::iequals(q.attr("result"), x.result)) return false;
  return true;
}

Verdict check_dns(Lab& lab, const Check& c) {
  auto log = lab.services().dns_log();
  std::string listing;
  for (const auto& x : log) listing += x.client + " " + x.name + " " + x.type + " -> " + x.result + "\n";
  if (listing.empty()) listing = "(no DNS queries)";
  if (!c.children.empty()) {
    // An ordered subsequence: each <query> after the previous one.
    size_t pos = 0;
    for (const auto& q : c.children) {
      while (pos < log.size() && !query_ok(q, log[pos])) ++pos;
      if (pos == log.size()) {
        std::string exp;
        for (const auto& qq : c.children) exp += qq.attr("name") + " " + qq.attr("type", "*") + "\n";
        return fail("DNS log: " + q.describe() + " not found in this order", exp, listing);
      }
      ++pos;
    }
    return {};
  }
  size_t n = 0;
  for (const auto& x : log) n += query_ok(c, x);
  std::string expected;
  if (!count_ok(c, n, expected, true))
    return fail("DNS log: " + std::to_string(n) + " matching quer" + (n == 1 ? "y" : "ies"), expected, listing);
  return {};
}

Verdict check_log(Lab& lab, const Check& c) {
  std::string text = lab.log_text(lab.host(c.attr("host")));
  auto re = re_of(c.attr("pattern"));
  size_t n = 0;
  std::string hits;
  for (const auto& l : model::split_lines(text))
    if (std::regex_search(l, re)) {
      ++n;
      hits += l + "\n";
    }
  std::string expected;
  if (!count_ok(c, n, expected, true))
    return fail("log of " + c.attr("host") + ": " + std::to_string(n) + " line(s) match /" + c.attr("pattern") + "/",
                expected + " line(s)", hits.empty() ? "(no matching line; the log has " + std::to_string(model::split_lines(text).size()) + " lines)" : hits);
  return {};
}

// Every (injected message, recipient) has exactly one fate: delivered
// (one copy per mailbox or peer it reached), bounced (one DSN entry), or
// queued. Alias fan-out may deliver to several mailboxes and bounce others.
Verdict check_accounted(Lab& lab) {
  struct Fate {
    std::map<std::string, int> copies;  // where -> copies
    int bounces = 0;
    int queued = 0;
  };
  auto& injected = lab.injected();
  if (injected.empty()) return fail("accounted: the case injected no message", "at least one injected message", "none");
  std::map<std::pair<size_t, std::string>, Fate> fates;
  auto token_of = [&](const mail::Message& m) -> long {
    std::string t = m.header("X-Mxlab-Trace").value_or("");
    std::string mid = m.header("Message-ID").value_or("");
    for (size_t i = 0; i < injected.size(); ++i) {
      const auto& tok = injected[i].token;
      if (tok.empty()) continue;
      if (t == tok || (!mid.empty() && mid.find(tok) != std::string::npos)) return static_cast<long>(i);
    }
    return -1;
  };
  auto attribute = [&](long idx, const std::string& rcpt_hint, const std::string& where, bool bounce) {
    const auto& inj = injected[static_cast<size_t>(idx)];
    for (const auto& r : inj.rcpts) {
      if (!rcpt_hint.empty() && !same_address(r, rcpt_hint)) continue;
      auto& f = fates[{static_cast<size_t>(idx), r}];
      if (bounce) ++f.bounces;
      else ++f.copies[where];
    }
  };
  auto consider = [&](const Item& it) {
    mail::Dsn d;
    std::string why;
    if (mail::parse_dsn(it.msg, d, why) && d.returned) {
      long idx = token_of(*d.returned);
      if (idx < 0) return;
      for (const auto& r : d.recipients)
        attribute(idx, r.original_recipient.empty() ? r.final_recipient : r.original_recipient, it.where, true);
      return;
    }
    long idx = token_of(it.msg);
    if (idx < 0) return;
    if (it.envelope) {
      for (const auto& r : it.rcpts) attribute(idx, r, it.where, false);
    } else {
      std::string orig = it.msg.header("X-Original-To").value_or(it.msg.header("Delivered-To").value_or(""));
      attribute(idx, orig, it.where, false);
    }
  };
  for (auto& h : lab.hosts()) {
    for (const auto& u : h.def->users)
      for (const auto& it : mailbox_items(lab, h.def->name, u.name, "", "")) consider(it);
    for (const auto& it : mailbox_items(lab, h.def->name, "root", "", "")) consider(it);
  }
  for (const auto& p : lab.topology().peers)
    for (const auto& it : peer_items(lab, p.name)) consider(it);
  // A queued copy carries no trace header: it is given to the first
  // injected message with that recipient (and sender) not yet seen queued,
  // so two messages to one recipient, both queued, are not a duplicate.
  for (auto& h : lab.hosts()) {
    for (const auto& e : lab.queue(h)) {
      if (e.sender.empty() || e.sender == "MAILER-DAEMON") continue;  // bounces in transit
      for (const auto& r : e.recipients) {
        std::pair<size_t, std::string> first{SIZE_MAX, ""}, free{SIZE_MAX, ""};
        for (size_t i = 0; i < injected.size() && free.first == SIZE_MAX; ++i) {
          if (!injected[i].sender.empty() && !same_address(injected[i].sender, e.sender)) continue;
          for (const auto& ir : injected[i].rcpts) {
            if (!same_address(ir, r.address)) continue;
            if (first.first == SIZE_MAX) first = {i, ir};
            if (fates[{i, ir}].queued == 0) {
              free = {i, ir};
              break;
            }
          }
        }
        auto pick = free.first != SIZE_MAX ? free : first;
        if (pick.first != SIZE_MAX) ++fates[pick].queued;
      }
    }
  }
  std::string problems, report;
  for (size_t i = 0; i < injected.size(); ++i) {
    const auto& inj = injected[i];
    if (inj.token.empty()) {
      problems += "message " + std::to_string(i + 1) + " (" + inj.via + ") has no Message-ID to follow it by\n";
      continue;
    }
    for (const auto& r : inj.rcpts) {
      const Fate& f = fates[{i, r}];
      std::string line = "message " + std::to_string(i + 1) + " (" + inj.via + ", " + inj.token + ") to <" + r + ">: ";
      int delivered = 0;
      bool dup = false;
      for (const auto& [where, n] : f.copies) {
        delivered += n;
        if (n > 1) dup = true;
        line += "delivered to " + where + (n > 1 ? " " + std::to_string(n) + " times" : "") + "; ";
      }
      if (f.bounces) line += "bounced" + (f.bounces > 1 ? " " + std::to_string(f.bounces) + " times" : "") + "; ";
      if (f.queued) line += "queued" + (f.queued > 1 ? " " + std::to_string(f.queued) + " times" : "") + "; ";
      if (!delivered && !f.bounces && !f.queued) problems += line + "LOST\n";
      else if (dup || f.bounces > 1 || f.queued > 1 || (f.queued && (delivered || f.bounces)))
        problems += line + "DUPLICATED\n";
      report += line + "\n";
    }
  }
  if (!problems.empty())
    return fail("accounted: a message was lost or duplicated", "every injected message delivered, bounced or queued exactly once",
                problems + "--\n" + report);
  lab.note("# accounted:\n" + report);
  return {};
}

}  // namespace

Verdict evaluate(Lab& lab, const Check& c) {
  if (c.kind == "mailbox") {
    auto items = mailbox_items(lab, c.attr("host"), c.attr("user"), c.attr("format"), c.attr("path"));
    return select_items(c, items, c.attr("user") + "'s mailbox on " + c.attr("host"));
  }
  if (c.kind == "peer") return select_items(c, peer_items(lab, c.attr("name")), "peer " + c.attr("name"));
  if (c.kind == "queue") return check_queue(lab, c);
  if (c.kind == "bounce") return check_bounce(lab, c);
  if (c.kind == "dns") return check_dns(lab, c);
  if (c.kind == "log") return check_log(lab, c);
  if (c.kind == "accounted") return check_accounted(lab);
  return fail("unknown assertion " + c.kind, "", "");
}

bool output_matches(const model::Check& c, const std::string& text, std::string& want) {
  return value_ok(c, text, want);
}

}  // namespace mxlab::runner
