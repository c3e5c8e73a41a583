#include "runner/queue.hpp"

#include "model/text.hpp"

#include <map>
#include <memory>
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

}  // namespace mxlab::runner
