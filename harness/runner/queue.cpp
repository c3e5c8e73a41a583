#include "runner/queue.hpp"

#include "model/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <regex>
#include <stdexcept>

namespace mxlab::runner {

namespace {

// A minimal JSON value: enough for postqueue -j.
struct Value {
  enum class T { null, boolean, number, string, array, object } t = T::null;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<Value> a;
  std::map<std::string, Value> o;
  const Value* get(const std::string& k) const {
    auto it = o.find(k);
    return it == o.end() ? nullptr : &it->second;
  }
};

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}
  Value parse() {
    Value v = value(0);
    ws();
    if (i_ != s_.size()) fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) { throw std::runtime_error(why + " at column " + std::to_string(i_ + 1)); }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n')) ++i_;
  }
  Value value(int depth) {
    if (depth > 32) fail("nesting too deep");
    ws();
    if (i_ >= s_.size()) fail("unexpected end");
    Value v;
    char c = s_[i_];
    if (c == '{') {
      v.t = Value::T::object;
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return v;
      }
      for (;;) {
        ws();
        if (i_ >= s_.size() || s_[i_] != '"') fail("expected a key");
        std::string k = str();
        ws();
        if (i_ >= s_.size() || s_[i_] != ':') fail("expected ':'");
        ++i_;
        v.o[k] = value(depth + 1);
        ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
          return v;
        }
        fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.t = Value::T::array;
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return v;
      }
      for (;;) {
        v.a.push_back(value(depth + 1));
        ws();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == ']') {
          ++i_;
          return v;
        }
        fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.t = Value::T::string;
      v.s = str();
      return v;
    }
    if (s_.compare(i_, 4, "true") == 0) {
      i_ += 4;
      v.t = Value::T::boolean;
      v.b = true;
      return v;
    }
    if (s_.compare(i_, 5, "false") == 0) {
      i_ += 5;
      v.t = Value::T::boolean;
      return v;
    }
    if (s_.compare(i_, 4, "null") == 0) {
      i_ += 4;
      return v;
    }
    size_t start = i_;
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' || s_[i_] == '+' ||
                              s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E'))
      ++i_;
    if (start == i_) fail("unexpected character");
    v.t = Value::T::number;
    v.n = std::stod(s_.substr(start, i_ - start));
    return v;
  }
  std::string str() {
    ++i_;  // opening quote
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) fail("bad escape");
      char e = s_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (i_ + 4 > s_.size()) fail("bad \\u escape");
          unsigned cp = static_cast<unsigned>(std::stoul(s_.substr(i_, 4), nullptr, 16));
          i_ += 4;
          // UTF-8 encode (surrogate pairs are not expected in queue listings)
          if (cp < 0x80) out += static_cast<char>(cp);
          else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
          }
          break;
        }
        default: fail("bad escape");
      }
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return out;
  }
  const std::string& s_;
  size_t i_ = 0;
};

std::string str_of(const Value& o, const char* k) {
  auto v = o.get(k);
  return v && v->t == Value::T::string ? v->s : std::string();
}

long long num_of(const Value& o, const char* k) {
  auto v = o.get(k);
  return v && v->t == Value::T::number ? static_cast<long long>(v->n) : 0;
}

}  // namespace

std::vector<QueueEntry> parse_postqueue_json(const std::string& text) {
  std::vector<QueueEntry> out;
  int n = 0;
  for (const auto& line : model::split_lines(text)) {
    ++n;
    if (model::trim(line).empty()) continue;
    Value v;
    try {
      v = Parser(line).parse();
    } catch (const std::exception& e) {
      throw std::runtime_error("postqueue -j line " + std::to_string(n) + ": " + e.what());
    }
    if (v.t != Value::T::object) throw std::runtime_error("postqueue -j line " + std::to_string(n) + ": not an object");
    QueueEntry q;
    q.queue_name = str_of(v, "queue_name");
    q.queue_id = str_of(v, "queue_id");
    q.sender = str_of(v, "sender");
    q.arrival_time = num_of(v, "arrival_time");
    q.message_size = num_of(v, "message_size");
    if (auto f = v.get("forced_expire")) q.forced_expire = f->t == Value::T::boolean && f->b;
    if (auto r = v.get("recipients"); r && r->t == Value::T::array)
      for (const auto& x : r->a) q.recipients.push_back({str_of(x, "address"), str_of(x, "delay_reason")});
    if (q.queue_id.empty()) throw std::runtime_error("postqueue -j line " + std::to_string(n) + ": no queue_id");
    out.push_back(std::move(q));
  }
  return out;
}

namespace {

// Exim's message ids start with the arrival time in base 62.
long long exim_id_time(const std::string& id) {
  static const std::string digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  long long t = 0;
  for (size_t i = 0; i < 6 && i < id.size(); ++i) {
    auto d = digits.find(id[i]);
    if (d == std::string::npos) return 0;
    t = t * 62 + static_cast<long long>(d);
  }
  return t;
}

// "266", "2.9K", "12M": Exim rounds sizes for -bp.
long long exim_size(const std::string& s) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str()) return 0;
  if (*end == 'K') v *= 1024;
  else if (*end == 'M') v *= 1024 * 1024;
  else if (*end == 'G') v *= 1024.0 * 1024 * 1024;
  return static_cast<long long>(v);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool exim_id(const std::string& s) {
  // 4.x: 6-6-2 (1xXGKs-0003SW-1c); 4.97+: 6-11-4.
  static const std::regex re("[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}");
  return std::regex_match(s, re);
}

}  // namespace

std::vector<QueueEntry> parse_exim_bp(const std::string& text) {
  std::vector<QueueEntry> out;
  std::map<std::string, std::map<std::string, std::string>> reasons;  // id -> address -> last deferral
  std::map<std::string, bool> deferred;
  static const std::regex head(R"(^\s*(\d+[smhdw]?)\s+([0-9.]+[KMG]?)\s+(\S+)\s+<([^>]*)>(\s+\*\*\* frozen \*\*\*)?\s*$)");
  auto lines = model::split_lines(text);
  QueueEntry* cur = nullptr;
  std::string log_of;  // message id whose log follows
  size_t n = 0;
  for (const auto& raw : lines) {
    ++n;
    std::string line = raw;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto fail = [&](const std::string& why) { throw std::runtime_error("line " + std::to_string(n) + ": " + why + ": " + line); };
    if (model::starts_with(line, "==> ") && line.size() > 8 && line.compare(line.size() - 4, 4, " <==") == 0) {
      std::string name = line.substr(4, line.size() - 8);
      auto slash = name.rfind('/');
      log_of = slash == std::string::npos ? name : name.substr(slash + 1);
      if (!exim_id(log_of)) fail("not a message log header");
      cur = nullptr;
      continue;
    }
    if (!log_of.empty()) {
      // "2026-11-30 08:00:05 addr [<orig>] R=r T=t defer (-44) H=..: reason"
      auto d = line.find(" defer (");
      if (d == std::string::npos) continue;
      auto words = model::split_words(line.substr(0, d));
      if (words.size() < 3) continue;
      // An address made by redirection (an alias to "|command", a file or
      // another address) is logged as "child <original>"; -bp lists the
      // original, so the deferral belongs to the last <...> word before the
      // router (the top-level parent; the child itself may hold spaces).
      std::string addr = words[2];
      for (size_t i = 3; i < words.size() && !model::starts_with(words[i], "R="); ++i)
        if (words[i].size() > 2 && words[i].front() == '<' && words[i].back() == '>')
          addr = words[i].substr(1, words[i].size() - 2);
      auto close = line.find(')', d);
      if (close == std::string::npos) continue;
      std::string reason = line.substr(close + 1);
      if (model::starts_with(reason, ":")) reason.erase(0, 1);
      reasons[log_of][lower(addr)] = std::string(model::trim(reason));
      deferred[log_of] = true;
      continue;
    }
    if (model::trim(line).empty()) {
      cur = nullptr;
      continue;
    }
    std::smatch m;
    if (std::regex_match(line, m, head)) {
      if (!exim_id(m[3].str())) fail("bad message id");
      QueueEntry e;
      e.queue_id = m[3].str();
      e.message_size = exim_size(m[2].str());
      e.arrival_time = exim_id_time(e.queue_id);
      e.sender = m[4].str();
      e.queue_name = m[5].matched ? "hold" : "active";
      out.push_back(std::move(e));
      cur = &out.back();
      continue;
    }
    if (!cur || (line[0] != ' ' && line[0] != '\t')) fail("unexpected line");
    auto words = model::split_words(line);
    if (words[0] == "D" || words[0] == "+D") continue;  // delivered
    cur->recipients.push_back({words[0], ""});
  }
  for (auto& e : out) {
    auto& rs = reasons[e.queue_id];
    for (auto& r : e.recipients) {
      auto it = rs.find(lower(r.address));
      if (it != rs.end()) r.delay_reason = it->second;
    }
    if (e.queue_name != "hold" && deferred[e.queue_id]) e.queue_name = "deferred";
  }
  return out;
}

std::vector<QueueEntry> parse_smtpctl_queue(const std::string& text) {
  std::vector<QueueEntry> out;
  std::map<std::string, size_t> index;  // queue id -> entry
  auto addr = [](const std::string& a) { return a == "@" ? std::string() : a; };
  size_t n = 0;
  for (const auto& raw : model::split_lines(text)) {
    ++n;
    std::string line = raw;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (model::trim(line).empty()) continue;
    std::vector<std::string> f;
    size_t pos = 0;
    // 13 fields, then the error line, which may itself hold '|'.
    while (f.size() < 13) {
      auto bar = line.find('|', pos);
      if (bar == std::string::npos) break;
      f.push_back(line.substr(pos, bar - pos));
      pos = bar + 1;
    }
    if (f.size() < 13 || f[0].size() != 16 || f[0].find_first_not_of("0123456789abcdef") != std::string::npos)
      throw std::runtime_error("line " + std::to_string(n) + ": not an envelope of smtpctl show queue: " + line);
    std::string errorline = line.substr(pos);
    std::string msgid = f[0].substr(0, 8);
    bool bounce = f[2] == "bounce";
    std::string key = bounce ? msgid + "-bounce" : msgid;
    auto it = index.find(key);
    if (it == index.end()) {
      QueueEntry e;
      e.queue_id = key;
      e.sender = bounce ? std::string() : addr(f[4]);
      e.arrival_time = std::atoll(f[7].c_str());
      e.queue_name = "active";
      out.push_back(std::move(e));
      it = index.emplace(key, out.size() - 1).first;
    }
    QueueEntry& e = out[it->second];
    std::string flagtext = "," + f[3] + ",";
    bool held = flagtext.find(",hold,") != std::string::npos || flagtext.find(",suspend,") != std::string::npos;
    if (held) e.queue_name = "hold";
    else if (std::atoll(f[10].c_str()) > 0 && e.queue_name != "hold") e.queue_name = "deferred";
    std::string rcpt = bounce ? addr(f[4]) : addr(f[5]);
    bool dup = false;
    for (auto& r : e.recipients)
      if (model::iequals(r.address, rcpt)) {
        dup = true;
        if (r.delay_reason.empty()) r.delay_reason = errorline;
      }
    if (!dup) e.recipients.push_back({rcpt, errorline});
  }
  return out;
}

// A lister walks the queue directories one after another (Postfix's showq:
// incoming, active, deferred, hold ...), so a message that moves while it
// runs (active/ to deferred/ after a failed attempt) can be listed twice. A
// queue id names one message: the later entry is where the message went.
std::vector<QueueEntry> dedupe_by_id(std::vector<QueueEntry> in) {
  std::vector<QueueEntry> out;
  for (auto& e : in) {
    auto same = std::find_if(out.begin(), out.end(), [&](const QueueEntry& o) {
      return !e.queue_id.empty() && o.queue_id == e.queue_id;
    });
    if (same != out.end()) *same = std::move(e);
    else out.push_back(std::move(e));
  }
  return out;
}

std::vector<QueueEntry> parse_queue(const std::string& parser, const std::string& text) {
  if (parser == "postqueue-json") return dedupe_by_id(parse_postqueue_json(text));
  if (parser == "exim-bp") return dedupe_by_id(parse_exim_bp(text));
  if (parser == "smtpctl-queue") return dedupe_by_id(parse_smtpctl_queue(text));
  throw std::runtime_error("unknown queue parser \"" + parser + "\"");
}

}  // namespace mxlab::runner
