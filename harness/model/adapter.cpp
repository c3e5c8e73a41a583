#include "model/adapter.hpp"

#include "model/text.hpp"
#include "model/xml.hpp"

#include <algorithm>
#include <stdexcept>

namespace mxlab::model {

bool Adapter::has_capability(const std::string& c) const {
  return std::find(capabilities.begin(), capabilities.end(), c) != capabilities.end();
}

std::vector<std::string> split_command(const std::string& cmd) {
  std::vector<std::string> out;
  std::string cur;
  bool have = false;
  char quote = 0;
  for (size_t i = 0; i < cmd.size(); ++i) {
    char c = cmd[i];
    if (quote) {
      if (c == quote) quote = 0;
      else if (quote == '"' && c == '\\' && i + 1 < cmd.size() && (cmd[i + 1] == '"' || cmd[i + 1] == '\\')) cur += cmd[++i];
      else cur += c;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      have = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (have) out.push_back(std::move(cur));
      cur.clear();
      have = false;
    } else {
      cur += c;
      have = true;
    }
  }
  if (quote) throw std::runtime_error("unterminated quote in command: " + cmd);
  if (have) out.push_back(std::move(cur));
  return out;
}

std::string substitute(const std::string& text, const std::map<std::string, std::string>& vars) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '{') {
      auto close = text.find('}', i + 1);
      if (close != std::string::npos) {
        auto it = vars.find(text.substr(i + 1, close - i - 1));
        if (it != vars.end()) {
          out += it->second;
          i = close + 1;
          continue;
        }
      }
    }
    out += text[i++];
  }
  return out;
}

Adapter load_adapter(const std::string& path) {
  auto xf = XmlFile::load(path);
  const XmlFile& x = *xf;
  auto root = x.root();
  if (std::string(root.name()) != "adapter") x.fail(root, "root element must be <adapter>");
  x.check_attrs(root, {"name", "binary", "requires-root"});
  Adapter a;
  a.file = path;
  a.name = x.req(root, "name");
  a.binary = x.opt(root, "binary");
  a.requires_root = x.flag(root, "requires-root", false);
  auto cmd = [&](const pugi::xml_node& n) {
    std::string c(trim(XmlFile::text(n)));
    if (c.empty()) x.fail(n, std::string("<") + n.name() + ">: empty command");
    try {
      split_command(c);
    } catch (const std::exception& e) {
      x.fail(n, e.what());
    }
    return c;
  };
  bool have_start = false;
  for (auto n : root.children()) {
    if (n.type() != pugi::node_element) continue;
    std::string el = n.name();
    if (el == "capabilities") {
      x.check_attrs(n, {});
      a.capabilities = split_words(XmlFile::text(n));
    } else if (el == "roles") {
      x.check_attrs(n, {});
      a.roles = split_words(XmlFile::text(n));
    } else if (el == "config") {
      x.check_attrs(n, {"dir"});
      a.confdir = x.req(n, "dir");
      for (auto f : n.children()) {
        if (f.type() != pugi::node_element) continue;
        if (std::string(f.name()) != "file") x.fail(f, "<config>: unknown element <" + std::string(f.name()) + ">");
        x.check_attrs(f, {"name", "template", "required", "mode"});
        AdapterFile af;
        af.name = x.req(f, "name");
        af.template_ = x.opt(f, "template");
        af.required = x.flag(f, "required", false);
        std::string mode = x.opt(f, "mode", "0644");
        af.mode = static_cast<unsigned>(std::strtoul(mode.c_str(), nullptr, 8));
        af.text = dedent(XmlFile::text(f));
        a.files.push_back(af);
      }
    } else if (el == "mount") {
      x.check_attrs(n, {"path"});
      std::string p = x.req(n, "path");
      if (p.front() != '/') x.fail(n, "<mount>: path must be absolute");
      a.mounts.push_back(p);
    } else if (el == "start") {
      x.check_attrs(n, {"foreground", "ready-timeout"});
      a.start = cmd(n);
      a.foreground = x.flag(n, "foreground", true);
      a.ready_timeout = static_cast<int>(x.duration(n, "ready-timeout", 30));
      have_start = true;
    } else if (el == "prepare") {
      x.check_attrs(n, {});
      a.prepare = cmd(n);
    } else if (el == "stop") {
      x.check_attrs(n, {});
      a.stop = cmd(n);
    } else if (el == "flush") {
      x.check_attrs(n, {});
      a.flush = cmd(n);
    } else if (el == "queue") {
      x.check_attrs(n, {"parser"});
      a.queue = cmd(n);
      a.queue_parser = x.req(n, "parser");
      if (a.queue_parser != "postqueue-json")
        x.fail(n, "<queue>: unknown parser \"" + a.queue_parser + "\" (known: postqueue-json)");
    } else if (el == "submit") {
      x.check_attrs(n, {});
      a.submit = cmd(n);
    } else if (el == "newaliases") {
      x.check_attrs(n, {});
      a.newaliases = cmd(n);
    } else if (el == "wake") {
      x.check_attrs(n, {});
      a.wake = cmd(n);
    } else if (el == "mailbox") {
      x.check_attrs(n, {"format", "path"});
      a.mailbox_format = x.opt(n, "format", "mbox");
      if (a.mailbox_format != "mbox" && a.mailbox_format != "maildir")
        x.fail(n, "<mailbox>: format must be mbox or maildir");
      a.mailbox_path = x.req(n, "path");
    } else if (el == "log") {
      x.check_attrs(n, {"path"});
      a.log_path = x.req(n, "path");
    } else if (el == "tool") {
      x.check_attrs(n, {"name"});
      std::string name = x.req(n, "name");
      if (name.empty() || name.find_first_of(" \t") != std::string::npos) x.fail(n, "<tool>: name must be one word");
      if (a.tools.count(name)) x.fail(n, "<tool>: \"" + name + "\" is defined twice");
      a.tools[name] = cmd(n);
    } else if (el == "env") {
      x.check_attrs(n, {"name", "value"});
      a.env[x.req(n, "name")] = x.opt(n, "value");
    } else {
      x.fail(n, "<adapter>: unknown element <" + el + ">");
    }
  }
  if (!have_start) x.fail(root, "<adapter>: no <start> command");
  if (!a.foreground && a.stop.empty()) x.fail(root, "<adapter>: a daemon that is not started in the foreground needs <stop>");
  return a;
}

}  // namespace mxlab::model
