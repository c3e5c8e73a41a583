#include "local/expand.hpp"

#include <cctype>

namespace mta::local {
namespace {

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

size_t match_close(std::string_view s, size_t open) {
  char o = s[open], c = o == '{' ? '}' : ')';
  int level = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == o) ++level;
    else if (s[i] == c && --level == 0) return i;
  }
  return std::string_view::npos;
}

struct Expander {
  const AttrLookup& lookup;
  std::string_view filter;
  Expansion r;

  std::optional<std::string> value(std::string_view name) {
    auto v = lookup(name);
    if (name == "extension" && v && !v->empty()) r.extension_matched = true;
    return v;
  }
  void put_value(std::string& out, const std::string& v) {
    for (char c : v) out += (filter.empty() || filter.find(c) != std::string_view::npos) ? c : '_';
  }
  void run(std::string_view s, std::string& out, int depth) {
    if (depth > 100) {
      r.error = true;
      return;
    }
    size_t i = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c != '$' || i + 1 >= s.size()) {
        out += c;
        ++i;
        continue;
      }
      char d = s[i + 1];
      if (d == '$') {
        out += '$';
        i += 2;
        continue;
      }
      if (name_char(d)) {
        size_t j = i + 1;
        while (j < s.size() && name_char(s[j])) ++j;
        if (auto v = value(s.substr(i + 1, j - i - 1))) put_value(out, *v);
        else r.undefined = true;
        i = j;
        continue;
      }
      if (d != '{' && d != '(') {
        out += c;
        ++i;
        continue;
      }
      size_t close = match_close(s, i + 1);
      if (close == std::string_view::npos) {
        r.error = true;
        return;
      }
      std::string_view inner = s.substr(i + 2, close - i - 2);
      i = close + 1;
      size_t k = 0;
      while (k < inner.size() && name_char(inner[k])) ++k;
      std::string_view name = inner.substr(0, k);
      if (name.empty()) {
        r.error = true;
        return;
      }
      if (k == inner.size()) {
        if (auto v = value(name)) put_value(out, *v);
        else r.undefined = true;
        continue;
      }
      char op = inner[k];
      if (op != '?' && op != ':') {
        r.error = true;
        return;
      }
      std::string_view rest = inner.substr(k + 1), t1 = rest, t2;
      bool has_t2 = false;
      if (!rest.empty() && rest[0] == '{') {
        size_t e1 = match_close(rest, 0);
        if (e1 == std::string_view::npos) {
          r.error = true;
          return;
        }
        t1 = rest.substr(1, e1 - 1);
        std::string_view after = rest.substr(e1 + 1);
        if (op == '?' && after.size() >= 2 && after[0] == ':' && after[1] == '{') {
          size_t e2 = match_close(after, 1);
          if (e2 == std::string_view::npos) {
            r.error = true;
            return;
          }
          t2 = after.substr(2, e2 - 2);
          has_t2 = true;
        }
      }
      // Only the test, not the value, is used here: looking up $extension
      // in a condition does not count as using the extension.
      auto v = lookup(name);
      bool set = v && !v->empty();
      if (op == '?') {
        if (set) run(t1, out, depth + 1);
        else if (has_t2) run(t2, out, depth + 1);
      } else if (!set) {
        run(t1, out, depth + 1);
      }
    }
  }
};

}  // namespace

Expansion local_expand(std::string_view pattern, const AttrLookup& lookup, std::string_view filter) {
  Expander e{lookup, filter, {}};
  e.run(pattern, e.r.text, 0);
  return e.r;
}

}  // namespace mta::local
