#include "mail/mailbox.hpp"

#include "model/text.hpp"

#include <algorithm>
#include <filesystem>

namespace mxlab::mail {

namespace fs = std::filesystem;

std::vector<Message> parse_mbox(const std::string& text, const std::string& source) {
  std::vector<Message> out;
  std::string from, cur;
  bool have = false;
  bool prev_empty = true;
  auto flush = [&] {
    if (!have) return;
    // Drop the one empty line the MTA appended as a separator.
    if (cur.size() >= 2 && cur.compare(cur.size() - 2, 2, "\n\n") == 0) cur.pop_back();
    Message m = parse_message(cur);
    m.from_line = from;
    auto sp = from.find(' ');
    m.envelope_sender = from.substr(0, sp);
    m.source = source;
    out.push_back(std::move(m));
  };
  size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl;
    std::string line = text.substr(pos, end - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (prev_empty && line.compare(0, 5, "From ") == 0) {
      flush();
      from = line.substr(5);
      cur.clear();
      have = true;
      prev_empty = false;
      continue;
    }
    if (have) {
      cur += line;
      cur += '\n';
    }
    prev_empty = line.empty() || line == "\r";
  }
  flush();
  return out;
}

std::vector<Message> read_mbox(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return {};
  return parse_mbox(model::read_file(path), path);
}

std::vector<Message> read_maildir(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> files;
  std::error_code ec;
  for (const char* sub : {"new", "cur"}) {
    fs::path d = fs::path(dir) / sub;
    if (!fs::is_directory(d, ec)) continue;
    for (const auto& e : fs::directory_iterator(d, ec)) {
      if (!e.is_regular_file()) continue;
      std::string name = e.path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      files.emplace_back(name, e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<Message> out;
  for (const auto& [name, path] : files) {
    Message m = parse_message(model::read_file(path));
    m.source = path;
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace mxlab::mail
