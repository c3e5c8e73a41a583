#include "model/case.hpp"

#include "model/adapter.hpp"
#include "model/text.hpp"
#include "model/xml.hpp"

#include <filesystem>
#include <regex>
#include <set>

namespace mxlab::model {

namespace fs = std::filesystem;

std::string Check::attr(const std::string& k, const std::string& dflt) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? dflt : it->second;
}

std::string Check::describe() const {
  std::string s = "<" + kind;
  for (const auto& [k, v] : attrs) s += " " + k + "=\"" + v + "\"";
  return s + "> (line " + std::to_string(line) + ")";
}

std::string Step::attr(const std::string& k, const std::string& dflt) const {
  auto it = attrs.find(k);
  return it == attrs.end() ? dflt : it->second;
}

std::string Step::describe() const {
  std::string s = "<" + element;
  for (const auto& [k, v] : attrs) s += " " + k + "=\"" + v + "\"";
  return s + "> (line " + std::to_string(line) + ")";
}

std::string find_repo_root(const std::string& start) {
  std::error_code ec;
  fs::path p = fs::absolute(start, ec);
  if (!fs::is_directory(p, ec)) p = p.parent_path();
  for (; !p.empty(); p = p.parent_path()) {
    if (fs::is_directory(p / "harness", ec) && fs::is_directory(p / "fixtures", ec)) return p.string();
    if (p == p.root_path()) break;
  }
  return {};
}

namespace {

// What each assertion element may carry: attributes and child elements.
struct CheckSpec {
  std::set<std::string> attrs;
  std::set<std::string> required;
  std::set<std::string> children;
};

const std::map<std::string, CheckSpec>& check_specs() {
  static const std::set<std::string> value = {"equals", "contains", "matches", "absent"};
  static const std::map<std::string, CheckSpec> specs = {
      {"mailbox",
       {{"host", "user", "format", "path", "count", "min", "absent", "message"}, {"host", "user"},
        {"header", "body", "from-line", "return-path"}}},
      {"peer", {{"name", "count", "min", "message"}, {"name"}, {"header", "body", "mail-from", "rcpt-to"}}},
      {"queue", {{"host", "count", "min", "empty"}, {"host"}, {"recipient", "sender"}}},
      {"bounce", {{"host", "user", "peer", "count", "message"}, {}, {"dsn", "header", "body"}}},
      {"dns", {{"name", "type", "count", "min", "result"}, {}, {"query"}}},
      {"log", {{"host", "pattern", "count", "min", "max"}, {"host", "pattern"}, {}}},
      {"accounted", {{}, {}, {}}},
      // children
      {"header", {{"name", "equals", "contains", "matches", "absent"}, {"name"}, {}}},
      {"body", {value, {}, {}}},
      {"stdout", {value, {}, {}}},
      {"stderr", {value, {}, {}}},
      {"from-line", {{"sender", "matches"}, {}, {}}},
      {"return-path", {{"equals"}, {"equals"}, {}}},
      {"mail-from", {{"equals"}, {"equals"}, {}}},
      {"rcpt-to", {{"equals"}, {"equals"}, {}}},
      {"recipient", {{"address", "reason", "absent"}, {"address"}, {}}},
      {"sender", {{"equals"}, {"equals"}, {}}},
      {"dsn",
       {{"recipient", "original-recipient", "action", "status", "remote-mta", "diagnostic", "reporting-mta"}, {}, {}}},
      {"query", {{"name", "type", "result"}, {"name"}, {}}},
  };
  return specs;
}

bool is_value_attr(const std::string& k) { return k == "equals" || k == "contains" || k == "matches"; }

Check parse_check(const XmlFile& x, const pugi::xml_node& n, bool top) {
  const auto& specs = check_specs();
  std::string kind = n.name();
  auto it = specs.find(kind);
  static const std::set<std::string> tops = {"mailbox", "peer", "queue", "bounce", "dns", "log", "accounted"};
  if (it == specs.end() || (top && !tops.count(kind)))
    x.fail(n, "unknown assertion <" + kind + "> (expected mailbox, peer, queue, bounce, dns, log, accounted)");
  const CheckSpec& spec = it->second;
  Check c;
  c.kind = kind;
  c.line = x.line_of(n);
  for (auto a : n.attributes()) {
    if (!spec.attrs.count(a.name())) x.fail(n, "<" + kind + ">: unknown attribute \"" + a.name() + "\"");
    c.attrs[a.name()] = a.value();
  }
  for (const auto& r : spec.required)
    if (!c.has(r)) x.fail(n, "<" + kind + ">: missing attribute \"" + r + "\"");
  for (const auto& [k, v] : c.attrs) {
    if (k == "count" || k == "min" || k == "max") {
      if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos)
        x.fail(n, "<" + kind + ">: " + k + " must be a number, not \"" + v + "\"");
    }
    if (k == "matches" || k == "pattern" || (k == "reason" && v.size() > 1 && v.front() == '/')) {
      std::string re = v;
      if (k == "reason") re = v.substr(1, v.size() - 2);
      try {
        std::regex r(re, std::regex::ECMAScript | std::regex::multiline);
      } catch (const std::regex_error& e) {
        x.fail(n, "<" + kind + ">: bad regular expression \"" + re + "\": " + e.what());
      }
    }
    if ((k == "absent" || k == "empty") && v != "true" && v != "false")
      x.fail(n, "<" + kind + ">: " + k + " must be true or false");
    if (k == "format" && v != "mbox" && v != "maildir") x.fail(n, "<" + kind + ">: format must be mbox or maildir");
    if (k == "message" && v != "any" && v != "first" && v != "last" && v.find_first_not_of("0123456789") != std::string::npos)
      x.fail(n, "<" + kind + ">: message must be any, first, last or a number");
  }
  if (kind == "header" || kind == "body" || kind == "stdout" || kind == "stderr") {
    int values = 0;
    for (const auto& [k, v] : c.attrs) values += is_value_attr(k);
    bool absent = c.attr("absent") == "true";
    if (values != 1 && !(kind == "header" && absent && values == 0))
      x.fail(n, "<" + kind + ">: give exactly one of equals, contains, matches");
  }
  if (kind == "bounce" && c.has("peer") == (c.has("host") || c.has("user")))
    x.fail(n, "<bounce>: give host and user (a mailbox) or peer");
  if (kind == "bounce" && c.has("host") != c.has("user")) x.fail(n, "<bounce>: host and user go together");
  if (kind == "dns" && !c.has("name") && n.first_child().type() == pugi::node_null)
    x.fail(n, "<dns>: give name (and type) or <query> children in the expected order");
  for (auto ch : n.children()) {
    if (ch.type() == pugi::node_pcdata && !trim(ch.value()).empty())
      x.fail(n, "<" + kind + ">: unexpected text (values go in attributes)");
    if (ch.type() != pugi::node_element) continue;
    if (!spec.children.count(ch.name()))
      x.fail(ch, "<" + kind + ">: unexpected child <" + std::string(ch.name()) + ">");
    c.children.push_back(parse_check(x, ch, false));
  }
  return c;
}

const std::map<std::string, StepKind>& step_kinds() {
  static const std::map<std::string, StepKind> m = {
      {"dialog", StepKind::dialog},         {"sendmail", StepKind::sendmail},
      {"advance", StepKind::advance},       {"advance-to", StepKind::advance_to},
      {"restart", StepKind::restart},       {"flush", StepKind::flush},
      {"newaliases", StepKind::newaliases}, {"edit-file", StepKind::edit_file},
      {"run", StepKind::run},
      {"wait-until", StepKind::wait_until}, {"verify", StepKind::verify},
  };
  return m;
}

std::vector<std::string> words(const std::string& s) { return split_words(s); }

}  // namespace

Case load_case(const std::string& path, const std::string& repo_root_in) {
  auto xf = XmlFile::load(path);
  const XmlFile& x = *xf;
  auto root = x.root();
  if (std::string(root.name()) != "case") x.fail(root, "root element must be <case>, not <" + std::string(root.name()) + ">");
  x.check_attrs(root, {"id", "area", "profile", "tags", "rfc", "requires", "unsupported", "xfail", "timeout"});
  Case c;
  c.file = path;
  c.id = x.req(root, "id");
  static const std::regex id_re("^[A-Za-z0-9][A-Za-z0-9._-]*$");
  if (!std::regex_match(c.id, id_re)) x.fail(root, "<case>: id may hold letters, digits, '.', '_' and '-' only: \"" + c.id + "\"");
  c.area = x.req(root, "area");
  c.profile = x.opt(root, "profile", "postfix");
  if (c.profile != "postfix" && c.profile != "rfc") x.fail(root, "<case>: profile must be rfc or postfix");
  c.tags = words(x.opt(root, "tags"));
  if (auto rfc = x.opt(root, "rfc"); !rfc.empty())
    for (const auto& r : words(rfc)) c.tags.push_back("rfc" + r);
  c.requires_ = words(x.opt(root, "requires"));
  c.unsupported = words(x.opt(root, "unsupported"));
  c.xfail = words(x.opt(root, "xfail"));
  c.timeout = x.duration(root, "timeout", 300);
  std::string repo_root = repo_root_in.empty() ? find_repo_root(path) : repo_root_in;
  bool have_summary = false, have_topology = false;
  int index = 0;
  for (auto n : root.children()) {
    if (n.type() == pugi::node_pcdata && !trim(n.value()).empty()) x.fail(n.parent(), "<case>: unexpected text");
    if (n.type() != pugi::node_element) continue;
    std::string el = n.name();
    if (el == "summary") {
      if (index != 0) x.fail(n, "<summary> comes first");
      x.check_attrs(n, {});
      c.summary = std::string(trim(XmlFile::text(n)));
      have_summary = true;
      ++index;
      continue;
    }
    ++index;
    if (el == "topology") {
      if (have_topology) x.fail(n, "only one <topology>");
      x.check_attrs(n, {"ref"});
      c.topology_ref = x.req(n, "ref");
      fs::path ref(c.topology_ref);
      std::error_code ec;
      fs::path near = fs::path(path).parent_path() / ref;
      if (ref.is_absolute()) c.topology_path = ref.string();
      else if (fs::exists(near, ec)) c.topology_path = near.lexically_normal().string();
      else if (!repo_root.empty() && fs::exists(fs::path(repo_root) / ref, ec))
        c.topology_path = (fs::path(repo_root) / ref).lexically_normal().string();
      else x.fail(n, "<topology>: no such file \"" + c.topology_ref + "\" (looked beside the case and in the repository root)");
      have_topology = true;
      continue;
    }
    auto kit = step_kinds().find(el);
    if (kit == step_kinds().end()) x.fail(n, "<case>: unknown step <" + el + ">");
    Step s;
    s.kind = kit->second;
    s.element = el;
    s.line = x.line_of(n);
    for (auto a : n.attributes()) s.attrs[a.name()] = a.value();
    auto need_host = [&] { x.req(n, "host"); };
    switch (s.kind) {
      case StepKind::dialog: {
        x.check_attrs(n, {"host", "address", "port", "from", "timeout", "connect"});
        need_host();
        x.integer(n, "port", 25, 1, 65535);
        s.seconds = x.duration(n, "timeout", 10);
        if (auto cn = x.opt(n, "connect", "ok"); cn != "ok" && cn != "refused")
          x.fail(n, "<dialog>: connect must be ok or refused");
        if (auto a = x.opt(n, "address"); !a.empty() && !is_ipv4(a)) x.fail(n, "<dialog>: address is not IPv4: " + a);
        std::string text = XmlFile::text(n);
        s.script = dialog::parse_script(text, path, x.text_line(n));
        if (x.opt(n, "connect", "ok") == "ok" && s.script.directives.empty()) x.fail(n, "<dialog>: empty script");
        break;
      }
      case StepKind::sendmail: {
        x.check_attrs(n, {"host", "args", "status"});
        need_host();
        x.integer(n, "status", 0, 0, 255);
        s.text = dedent(XmlFile::text(n));
        if (s.text.empty()) x.fail(n, "<sendmail>: no message text");
        break;
      }
      case StepKind::advance:
        x.check_attrs(n, {"by"});
        x.req(n, "by");
        s.seconds = x.duration(n, "by", 0);
        if (s.seconds <= 0) x.fail(n, "<advance>: by must be positive");
        break;
      case StepKind::advance_to: {
        x.check_attrs(n, {"date"});
        std::string d = x.req(n, "date");
        if (!parse_date(d, s.date)) x.fail(n, "<advance-to>: not a date like \"2026-11-28 07:00:00\": \"" + d + "\"");
        break;
      }
      case StepKind::restart:
      case StepKind::flush:
      case StepKind::newaliases:
        x.check_attrs(n, {"host"});
        need_host();
        break;
      case StepKind::edit_file: {
        x.check_attrs(n, {"host", "path", "mode"});
        need_host();
        std::string p = x.req(n, "path");
        if (p.front() != '/') x.fail(n, "<edit-file>: path must be absolute (inside the host)");
        if (auto m = x.opt(n, "mode", "replace"); m != "replace" && m != "append")
          x.fail(n, "<edit-file>: mode must be replace or append");
        s.text = dedent(XmlFile::text(n));
        break;
      }
      case StepKind::run: {
        // <run host= command="postconf -n" status="0" timeout="30s">, then
        // <stdout>/<stderr> children: equals, contains or matches (absent="true"
        // turns contains/matches into "must not").
        x.check_attrs(n, {"host", "command", "status", "timeout"});
        need_host();
        std::string cmdline = x.req(n, "command");
        // (req refuses an empty value, so there is at least one word)
        try {
          split_command(cmdline);
        } catch (const std::exception& e) {
          x.fail(n, std::string("<run>: ") + e.what());
        }
        x.integer(n, "status", 0, 0, 255);
        s.seconds = x.duration(n, "timeout", 30);
        for (auto ch : n.children()) {
          if (ch.type() == pugi::node_pcdata && !trim(ch.value()).empty()) x.fail(n, "<run>: unexpected text");
          if (ch.type() != pugi::node_element) continue;
          std::string k = ch.name();
          if (k != "stdout" && k != "stderr")
            x.fail(ch, "<run>: unexpected child <" + k + "> (expected stdout, stderr)");
          s.checks.push_back(parse_check(x, ch, false));
        }
        break;
      }
      case StepKind::wait_until:
      case StepKind::verify: {
        if (s.kind == StepKind::wait_until) {
          x.check_attrs(n, {"timeout"});
          s.seconds = x.duration(n, "timeout", 30);
        } else {
          x.check_attrs(n, {});
        }
        for (auto ch : n.children()) {
          if (ch.type() == pugi::node_pcdata && !trim(ch.value()).empty()) x.fail(n, "<" + el + ">: unexpected text");
          if (ch.type() == pugi::node_element) s.checks.push_back(parse_check(x, ch, true));
        }
        if (s.checks.empty()) x.fail(n, "<" + el + ">: no assertion");
        break;
      }
    }
    c.steps.push_back(std::move(s));
  }
  if (!have_summary) x.fail(root, "<case>: missing <summary>");
  if (!have_topology) x.fail(root, "<case>: missing <topology ref=...>");
  if (c.steps.empty()) x.fail(root, "<case>: no steps");
  return c;
}

}  // namespace mxlab::model
