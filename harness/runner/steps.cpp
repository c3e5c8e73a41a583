// The steps of a case: each does one thing to the running topology and
// throws StepFailure when the MTA did not behave as written.
#include "dialog/session.hpp"
#include "lab/host.hpp"
#include "mail/message.hpp"
#include "model/text.hpp"
#include "runner/lab_runtime.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <thread>

namespace mxlab::runner {

namespace {

struct Endpoint {
  int netfd = -1;        // where the socket is made
  std::string address;   // target
  unsigned port = 25;
  std::string source;    // bind address, "" = any
  std::string label;
};

// Work out where a dialog's socket lives and what it binds (docs/cases.md):
// "from" names a host, a client, a peer, or an address of one of them.
Endpoint endpoint_for(Lab& lab, const model::Step& s) {
  const auto& topo = lab.topology();
  Endpoint e;
  std::string target = s.attr("host");
  e.port = static_cast<unsigned>(std::stoul(s.attr("port", "25")));
  HostRt* target_host = nullptr;
  if (lab.has_host(target)) {
    target_host = &lab.host(target);
    e.address = s.attr("address", target_host->def->addresses.front());
  } else if (auto p = topo.peer(target)) {
    e.address = s.attr("address", p->address);
    if (!s.attrs.count("port")) e.port = p->port;
  } else {
    throw std::runtime_error("dialog: no host or peer \"" + target + "\"");
  }
  std::string from = s.attr("from");
  if (model::is_loopback_v4(e.address)) {
    // Only reachable from inside the target host.
    if (!target_host) throw std::runtime_error("dialog: " + e.address + " is only reachable inside a host");
    if (!from.empty() && !model::iequals(from, target_host->def->name) && !model::is_loopback_v4(from))
      throw std::runtime_error("dialog: " + e.address + " of " + target + " is only reachable from " + target);
    e.netfd = target_host->host->ns().net;
    e.source = model::is_loopback_v4(from) ? from : "";
    e.label = target + " (inside, " + e.address + ")";
    return e;
  }
  if (from.empty()) {
    // Default: the lab's first outside client, else the lab's first address.
    if (!topo.clients.empty()) from = topo.clients.front().address;
    else if (!topo.lab_addresses().empty()) from = topo.lab_addresses().front();
  }
  if (lab.has_host(from)) {
    HostRt& h = lab.host(from);
    e.netfd = h.host->ns().net;
    e.source = h.def->addresses.front();
  } else if (const model::Host* h = topo.host_by_address(from)) {
    e.netfd = lab.host(h->name).host->ns().net;
    e.source = from;
  } else {
    std::string addr = from;
    for (const auto& c : topo.clients)
      if (model::iequals(c.name, from)) addr = c.address;
    if (auto p = topo.peer(from)) addr = p->address;
    bool lab_addr = false;
    for (const auto& a : topo.lab_addresses()) lab_addr |= a == addr;
    if (!lab_addr && !addr.empty()) throw std::runtime_error("dialog: from=\"" + from + "\" is no host, client, peer or lab address");
    e.source = addr;
  }
  e.label = e.address + ":" + std::to_string(e.port) + " from " + (e.source.empty() ? "the lab" : e.source);
  return e;
}

std::string address_only(std::string a) {
  a = std::string(model::trim(a));
  auto lt = a.find('<');
  auto gt = a.rfind('>');
  if (lt != std::string::npos && gt != std::string::npos && gt > lt) a = a.substr(lt + 1, gt - lt - 1);
  return a;
}

void do_dialog(Lab& lab, const model::Step& s) {
  Endpoint e = endpoint_for(lab, s);
  int timeout_ms = static_cast<int>(s.seconds * 1000);
  std::string err;
  int fd = lab::connect_in(e.netfd, e.address, e.port, e.source, 3000, err);
  if (s.attr("connect", "ok") == "refused") {
    if (fd >= 0) {
      dialog::Reply r;
      std::string rerr;
      bool got = dialog::read_reply(fd, 2000, r, rerr);
      ::close(fd);
      lab.note("# dialog " + e.label + ": connected (expected a refusal)\n");
      throw StepFailure("the connection to " + e.label + " was accepted", "connection refused",
                        got ? "connected, banner: " + r.joined() : "connected (" + rerr + ")");
    }
    lab.note("# dialog " + e.label + ": " + err + " (as expected)\n");
    return;
  }
  if (fd < 0) throw StepFailure("cannot connect to " + e.label, "a connection", err);
  dialog::Result r = dialog::run_script(fd, s.script, timeout_ms);
  ::close(fd);
  lab.note("==== dialog " + e.label + " (line " + std::to_string(s.line) + ")\n" + r.transcript_text());
  for (const auto& a : r.accepted) {
    Injected inj;
    inj.via = "SMTP to " + s.attr("host");
    inj.sender = a.sender;
    inj.rcpts = a.rcpts;
    mail::Message m = mail::parse_message(a.data);
    inj.token = address_only(m.header("Message-ID").value_or(""));
    lab.injected().push_back(inj);
  }
  if (!r.ok)
    throw StepFailure("dialog line " + std::to_string(r.failed_line) + ": " + r.why, r.expected, r.actual);
}

// Recipients of a sendmail command line: words that are not options or
// option values; with -t also the To/Cc/Bcc headers.
std::vector<std::string> sendmail_recipients(const std::vector<std::string>& args, const std::string& body,
                                             std::string& sender) {
  std::vector<std::string> rcpts;
  bool from_headers = false;
  static const std::string with_value = "fFrNRVBCLOo";
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() >= 2 && a[0] == '-') {
      if (a == "-t") from_headers = true;
      if (a.size() == 2 && with_value.find(a[1]) != std::string::npos && a[1] != 'o' && i + 1 < args.size()) {
        if (a == "-f" || a == "-r") sender = args[i + 1];
        ++i;
      } else if ((a[1] == 'f' || a[1] == 'r') && a.size() > 2) {
        sender = a.substr(2);
      }
      continue;
    }
    rcpts.push_back(a);
  }
  if (from_headers) {
    mail::Message m = mail::parse_message(body);
    for (const char* h : {"To", "Cc", "Bcc"})
      for (const auto& v : m.headers_named(h))
        for (auto w : model::split_words(v)) {
          w = address_only(w);
          if (w.find('@') != std::string::npos) rcpts.push_back(w);
        }
  }
  return rcpts;
}

void do_sendmail(Lab& lab, const model::Step& s) {
  HostRt& h = lab.host(s.attr("host"));
  if (lab.adapter().submit.empty()) throw std::runtime_error("adapter " + lab.adapter().name + " has no <submit> command");
  std::vector<std::string> args = model::split_command(s.attr("args"));
  std::string body = s.text;
  Injected inj;
  inj.via = "sendmail on " + h.def->name;
  if (lab.tracing()) {
    inj.token = lab.next_token();
    body = "X-Mxlab-Trace: " + inj.token + "\n" + body;
  }
  inj.rcpts = sendmail_recipients(args, s.text, inj.sender);
  auto r = lab.command(h, lab.adapter().submit, args, body, 60000);
  int want = std::stoi(s.attr("status", "0"));
  if (r.timed_out) throw StepFailure("sendmail did not finish within 60 s", "exit status " + std::to_string(want), "timed out");
  if (r.status != want)
    throw StepFailure("sendmail exited with status " + std::to_string(r.status), "exit status " + std::to_string(want),
                      "exit status " + std::to_string(r.status) + "\n" + r.err);
  if (r.status == 0) lab.injected().push_back(inj);
}

void run_admin(Lab& lab, const model::Step& s, const std::string& tmpl, const char* what) {
  HostRt& h = lab.host(s.attr("host"));
  if (tmpl.empty()) throw std::runtime_error("adapter " + lab.adapter().name + " has no <" + what + "> command");
  auto r = lab.command(h, tmpl, {}, "", 60000);
  if (r.status != 0)
    throw StepFailure(std::string(what) + " on " + h.def->name + " failed", "exit status 0",
                      (r.timed_out ? std::string("timed out") : "exit status " + std::to_string(r.status)) + "\n" + r.err);
}

void do_edit(Lab& lab, const model::Step& s) {
  HostRt& h = lab.host(s.attr("host"));
  std::string inside = s.attr("path");
  std::string out = lab.outside(h, inside);
  if (out.empty()) throw std::runtime_error("edit-file: " + inside + " is not on a file or folder the harness mounted in " + h.def->name);
  // Written in place (same inode): a bind-mounted file keeps pointing at it.
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (s.attr("mode", "replace") == "append" ? O_APPEND : O_TRUNC);
  int fd = ::open(out.c_str(), flags, 0644);
  if (fd < 0) throw std::runtime_error("edit-file: cannot open " + inside);
  bool ok = ::write(fd, s.text.data(), s.text.size()) == static_cast<ssize_t>(s.text.size());
  ::close(fd);
  if (!ok) throw std::runtime_error("edit-file: cannot write " + inside);
  lab.note("# edited " + h.def->name + ":" + inside + "\n");
}

// {queue-id} (the only queued message) and {queue-id:ADDRESS} (the queued
// message with that recipient) in a <run> command word: the id from the
// adapter's queue listing, so that "postsuper -d {queue-id:bob@x}" works
// with any MTA's ids.
std::string resolve_queue_ids(Lab& lab, HostRt& h, std::string word) {
  for (;;) {
    auto open = word.find("{queue-id");
    if (open == std::string::npos) return word;
    auto close = word.find('}', open);
    if (close == std::string::npos) return word;
    std::string inner = word.substr(open + 1, close - open - 1);
    if (inner != "queue-id" && inner.rfind("queue-id:", 0) != 0) return word;
    std::string rcpt = inner == "queue-id" ? "" : inner.substr(9);
    std::vector<std::string> ids;
    std::string listing;
    for (const auto& e : lab.queue(h)) {
      bool has = rcpt.empty();
      listing += e.queue_id;
      for (const auto& r : e.recipients) {
        listing += " <" + r.address + ">";
        has |= model::iequals(r.address, rcpt);
      }
      listing += "\n";
      if (has) ids.push_back(e.queue_id);
    }
    if (ids.size() != 1)
      throw StepFailure("{" + inner + "}: " + std::to_string(ids.size()) + " queued messages on " + h.def->name +
                            (rcpt.empty() ? "" : " with recipient " + rcpt),
                        "exactly one", listing.empty() ? "(queue empty)" : listing);
    word.replace(open, close - open + 1, ids.front());
  }
}

// <run host= command=>: the first word names one of the adapter's <tool>s
// (the others are its arguments) or, starting with '/', a program in the
// host; the exit status and the output must be as the step says.
void do_run(Lab& lab, const model::Step& s) {
  HostRt& h = lab.host(s.attr("host"));
  std::vector<std::string> words = model::split_command(s.attr("command"));
  std::string tmpl = "{args}";
  auto it = lab.adapter().tools.find(words.front());
  if (it != lab.adapter().tools.end()) {
    tmpl = it->second;
    bool has_args = false;
    for (const auto& w : model::split_command(tmpl)) has_args |= w == "{args}";
    if (!has_args) tmpl += " {args}";
    words.erase(words.begin());
  } else if (words.front().empty() || words.front().front() != '/') {
    throw std::runtime_error("adapter " + lab.adapter().name + " has no <tool name=\"" + words.front() + "\">");
  }
  // The arguments are substituted as the adapter's own words are, and
  // {queue-id:ADDRESS} becomes an id from the queue listing.
  for (auto& w : words) w = resolve_queue_ids(lab, h, model::substitute(w, h.vars));
  auto r = lab.command(h, tmpl, words, "", static_cast<int>(s.seconds * 1000));
  lab.note("# run on " + h.def->name + ": " + s.attr("command") + "\n" + (r.out.empty() ? "" : "stdout:\n" + r.out) +
           (r.out.empty() || r.out.back() == '\n' ? "" : "\n") + (r.err.empty() ? "" : "stderr:\n" + r.err));
  int want = std::stoi(s.attr("status", "0"));
  if (r.timed_out)
    throw StepFailure(s.attr("command") + " did not finish within " + std::to_string(s.seconds) + " s",
                      "exit status " + std::to_string(want), "timed out");
  if (r.status != want)
    throw StepFailure(s.attr("command") + " exited with status " + std::to_string(r.status),
                      "exit status " + std::to_string(want),
                      "exit status " + std::to_string(r.status) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err);
  for (const auto& c : s.checks) {
    const std::string& text = c.kind == "stdout" ? r.out : r.err;
    if (!c.text.empty()) {
      // A template (model/text.hpp): line by line, {{RE}} masks.
      std::string why;
      if (model::match_template(c.text, text, why)) continue;
      throw StepFailure(c.describe() + ": " + why, c.text, text.empty() ? "(empty)" : text);
    }
    bool negate = c.attr("absent") == "true";
    std::string want_text;
    bool ok = output_matches(c, text, want_text);
    if (ok != negate) continue;
    throw StepFailure(c.describe() + ": " + c.kind + (negate ? " is " : " is not ") + want_text,
                      (negate ? "not " : "") + want_text, text.empty() ? "(empty)" : text);
  }
}

void do_wait(Lab& lab, const model::Step& s) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::seconds(s.seconds);
  for (;;) {
    Verdict last;
    bool all = true;
    for (const auto& c : s.checks) {
      Verdict v = evaluate(lab, c);
      if (!v.ok) {
        all = false;
        last = v;
        break;
      }
    }
    if (all) return;
    if (Clock::now() >= deadline)
      throw StepFailure("not true within " + std::to_string(s.seconds) + " s: " + last.message, last.expected, last.actual);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace

void run_step(Lab& lab, const model::Step& s) {
  using K = model::StepKind;
  std::string notes;
  switch (s.kind) {
    case K::dialog: do_dialog(lab, s); break;
    case K::sendmail: do_sendmail(lab, s); break;
    case K::advance:
      lab.clock().advance(s.seconds);
      lab.note("# clock advanced by " + std::to_string(s.seconds) + " s to " + model::format_date(lab.clock().now()) + "\n");
      lab.wake_all(notes);
      break;
    case K::advance_to:
      lab.clock().advance_to(s.date);
      lab.note("# clock set to " + model::format_date(lab.clock().now()) + "\n");
      lab.wake_all(notes);
      break;
    case K::restart: {
      HostRt& h = lab.host(s.attr("host"));
      lab.stop_mta(h);
      lab.start_mta(h);
      try {
        lab.wait_ready(h);
      } catch (const std::exception& e) {
        throw StepFailure("the MTA did not come back after a restart", "a 220 banner", e.what());
      }
      break;
    }
    case K::flush: run_admin(lab, s, lab.adapter().flush, "flush"); break;
    case K::newaliases: run_admin(lab, s, lab.adapter().newaliases, "newaliases"); break;
    case K::edit_file: do_edit(lab, s); break;
    case K::run: do_run(lab, s); break;
    case K::wait_until: do_wait(lab, s); break;
    case K::verify:
      for (const auto& c : s.checks) {
        Verdict v = evaluate(lab, c);
        // <accounted/> compares mailboxes, peers and the queue, which an MTA does
        // not change atomically: between writing a mailbox and removing its queue
        // file a message is briefly in both. A real loss or duplicate persists, so
        // the check is polled for a few seconds before it counts as failed.
        // <log> likewise: Postfix's programs log through postlogd, so a line
        // can reach maillog_file after the queue file is gone.
        auto settle = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!v.ok && (c.kind == "accounted" || c.kind == "log") && std::chrono::steady_clock::now() < settle) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          v = evaluate(lab, c);
        }
        if (!v.ok) throw StepFailure(c.describe() + ": " + v.message, v.expected, v.actual);
      }
      break;
  }
  if (!notes.empty()) lab.note(notes);
}

}  // namespace mxlab::runner
