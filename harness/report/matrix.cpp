#include "report/matrix.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <stdexcept>

namespace mxlab::report {

using runner::CaseResult;
using runner::Status;

namespace {

const Status kOrder[] = {Status::pass, Status::fail, Status::unsupported, Status::xfail, Status::xpass, Status::error};

struct Row {
  std::string id, profile, summary, tags;
  std::vector<const CaseResult*> cells;  // one per MTA, nullptr = not run
};

// Everything both writers show, computed once so they cannot disagree.
struct Grid {
  std::vector<std::string> mtas;
  std::vector<std::string> areas;
  std::map<std::string, std::vector<Row>> rows;
  std::vector<std::string> notes;           // text of note N at N-1
  std::map<const CaseResult*, int> note_of;  // cell -> note number
  std::map<std::string, std::map<Status, int>> by_mta;
  std::vector<std::string> profiles;
  std::map<std::pair<std::string, std::string>, std::map<Status, int>> by_profile;  // (profile, mta)
  size_t cases = 0;
  // Time per MTA: the sum of its cases' durations and its slowest case.
  std::map<std::string, double> seconds;
  std::map<std::string, const CaseResult*> slowest;
  bool timed = false;  // some result has a duration
};

std::string first_line(const std::string& s, size_t max = 200) {
  std::string l = s.substr(0, s.find('\n'));
  while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.pop_back();
  if (l.size() > max) l = l.substr(0, max) + "...";
  return l;
}

std::string note_text(const CaseResult& r) {
  switch (r.status) {
    case Status::unsupported: return r.message;
    case Status::xfail: return r.mta + ", " + r.id + ": failed as expected: " + first_line(r.message);
    case Status::pass: return {};
    default: break;
  }
  std::string t = r.mta + ", " + r.id + ": ";
  if (!r.step.empty()) t += first_line(r.step) + ": ";
  if (r.message.empty() && r.status == Status::xpass) t += "passed although expected to fail";
  else t += first_line(r.message);
  if (!r.expected.empty() || !r.actual.empty())
    t += "; expected: " + first_line(r.expected) + "; actual: " + first_line(r.actual);
  return t;
}

Grid make_grid(const std::vector<CaseResult>& results, const std::vector<std::string>& mtas) {
  Grid g;
  g.mtas = mtas;
  for (const auto& r : results)
    if (std::find(g.mtas.begin(), g.mtas.end(), r.mta) == g.mtas.end()) g.mtas.push_back(r.mta);
  std::map<std::pair<std::string, std::string>, size_t> where;  // (area, id) -> row
  for (const auto& r : results) {
    std::string area = r.area.empty() ? "unknown" : r.area;
    auto& rows = g.rows[area];
    auto key = std::make_pair(area, r.id);
    auto it = where.find(key);
    if (it == where.end()) {
      Row row;
      row.id = r.id;
      row.profile = r.profile;
      row.summary = r.summary;
      row.tags = r.tags;
      row.cells.assign(g.mtas.size(), nullptr);
      rows.push_back(row);
      it = where.emplace(key, rows.size() - 1).first;
      ++g.cases;
    }
    Row& row = rows[it->second];
    if (row.profile.empty()) row.profile = r.profile;
    if (row.summary.empty()) row.summary = r.summary;
    size_t col = static_cast<size_t>(std::find(g.mtas.begin(), g.mtas.end(), r.mta) - g.mtas.begin());
    row.cells[col] = &r;
  }
  for (const auto& [area, _] : g.rows) g.areas.push_back(area);
  std::map<std::string, int> note_index;
  for (const auto& area : g.areas) {
    for (const auto& row : g.rows[area]) {
      for (size_t c = 0; c < g.mtas.size(); ++c) {
        const CaseResult* r = row.cells[c];
        if (!r) continue;
        ++g.by_mta[g.mtas[c]][r->status];
        std::string profile = row.profile.empty() ? "-" : row.profile;
        if (std::find(g.profiles.begin(), g.profiles.end(), profile) == g.profiles.end()) g.profiles.push_back(profile);
        ++g.by_profile[{profile, g.mtas[c]}][r->status];
        g.seconds[g.mtas[c]] += r->seconds;
        if (r->seconds > 0) g.timed = true;
        const CaseResult*& slow = g.slowest[g.mtas[c]];
        if (!slow || r->seconds > slow->seconds) slow = r;
        std::string t = note_text(*r);
        if (t.empty()) continue;
        auto n = note_index.find(t);
        if (n == note_index.end()) {
          g.notes.push_back(t);
          n = note_index.emplace(t, static_cast<int>(g.notes.size())).first;
        }
        g.note_of[r] = n->second;
      }
    }
  }
  std::sort(g.profiles.begin(), g.profiles.end());
  return g;
}

// Markdown: backslash-escape what would turn text into markup or break a table.
std::string md(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '\n' || c == '\r') {
      o += ' ';
      continue;
    }
    if (c == '\\' || c == '<' || c == '|' || c == '*' || c == '[' || c == ']' || c == '`') o += '\\';
    o += c;
  }
  return o;
}

std::string html(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

int total(const std::map<Status, int>& m) {
  int n = 0;
  for (const auto& [_, v] : m) n += v;
  return n;
}

int count(const std::map<Status, int>& m, Status s) {
  auto it = m.find(s);
  return it == m.end() ? 0 : it->second;
}

std::string lower(const char* s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(c + ((c >= 'A' && c <= 'Z') ? 32 : 0));
  return o;
}

// "1234 s (20 min 34 s)": seconds for sorting by eye, minutes for reading.
std::string duration(double secs) {
  long long s = static_cast<long long>(secs + 0.5);
  std::string o = std::to_string(s) + " s";
  if (s >= 60) o += " (" + std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s)";
  return o;
}

std::string made_line(const Grid& g, const MatrixInfo& info) {
  std::string made = std::to_string(g.cases) + " case" + (g.cases == 1 ? "" : "s") + " by " +
                     std::to_string(g.mtas.size()) + " MTA" + (g.mtas.size() == 1 ? "" : "s");
  if (!info.generated.empty()) made += ", " + info.generated;
  if (info.wall_seconds > 0) made += ", wall time " + duration(info.wall_seconds);
  return made;
}

const char* kTimeNote =
    "Time in cases: the sum of the durations of the MTA's cases (the MTAs share the run's -j slots, so these "
    "add up to about the wall time times the slots in use).";

const char* kLegend =
    "PASS passed; FAIL failed; SKIP unsupported by this MTA or here (the note says why); XFAIL failed as "
    "expected; XPASS passed although expected to fail; ERROR could not run; - not run.";

}  // namespace

const char* matrix_word(Status s) {
  switch (s) {
    case Status::pass: return "PASS";
    case Status::fail: return "FAIL";
    case Status::unsupported: return "SKIP";
    case Status::xfail: return "XFAIL";
    case Status::xpass: return "XPASS";
    case Status::error: return "ERROR";
  }
  return "ERROR";
}

std::string matrix_markdown(const std::vector<CaseResult>& results, const std::vector<std::string>& mtas,
                            const MatrixInfo& info) {
  Grid g = make_grid(results, mtas);
  std::string o = "# " + info.title + "\n\n";
  std::string made = made_line(g, info);
  if (!info.command.empty()) made = "`" + info.command + "`: " + made;
  o += made + ".\n\n" + kLegend + "\n\n";

  auto header = [&](const std::string& first) {
    std::string h = "| " + first + " |";
    std::string rule = "|" + std::string(first == "profile | MTA" ? "---|---|" : "---|");
    for (Status s : kOrder) {
      h += std::string(" ") + matrix_word(s) + " |";
      rule += "---:|";
    }
    return h + " cases |\n" + rule + "---:|\n";
  };
  auto counts = [&](const std::map<Status, int>& m) {
    std::string r;
    for (Status s : kOrder) r += " " + std::to_string(count(m, s)) + " |";
    return r + " " + std::to_string(total(m)) + " |\n";
  };
  o += "## Totals by MTA\n\n" + header("MTA");
  for (const auto& m : g.mtas) o += "| " + md(m) + " |" + counts(g.by_mta[m]);
  o += "\n## Totals by profile\n\n" + header("profile | MTA");
  for (const auto& p : g.profiles)
    for (const auto& m : g.mtas)
      if (g.by_profile.count({p, m})) o += "| " + md(p) + " | " + md(m) + " |" + counts(g.by_profile[{p, m}]);
  if (g.timed) {
    o += "\n## Time by MTA\n\n" + std::string(kTimeNote) +
         "\n\n| MTA | time in cases | slowest case |\n|---|---:|---|\n";
    for (const auto& m : g.mtas) {
      const CaseResult* s = g.slowest[m];
      o += "| " + md(m) + " | " + duration(g.seconds[m]) + " | " +
           (s ? md(s->id) + " (" + duration(s->seconds) + ")" : std::string("-")) + " |\n";
    }
  }

  for (const auto& area : g.areas) {
    const auto& rows = g.rows[area];
    o += "\n## " + md(area) + " (" + std::to_string(rows.size()) + " case" + (rows.size() == 1 ? "" : "s") + ")\n\n";
    o += "| case | profile |";
    std::string rule = "|---|---|";
    for (const auto& m : g.mtas) {
      o += " " + md(m) + " |";
      rule += "---|";
    }
    o += "\n" + rule + "\n";
    for (const auto& row : rows) {
      o += "| " + md(row.id) + " | " + md(row.profile.empty() ? "-" : row.profile) + " |";
      for (const CaseResult* r : row.cells) {
        if (!r) {
          o += " - |";
          continue;
        }
        o += std::string(" ") + matrix_word(r->status);
        auto n = g.note_of.find(r);
        if (n != g.note_of.end()) o += " [" + std::to_string(n->second) + "]";
        o += " |";
      }
      o += "\n";
    }
  }
  if (!g.notes.empty()) {
    o += "\n## Notes\n\n";
    for (size_t i = 0; i < g.notes.size(); ++i) o += std::to_string(i + 1) + ". " + md(g.notes[i]) + "\n";
  }
  return o;
}

std::string matrix_html(const std::vector<CaseResult>& results, const std::vector<std::string>& mtas,
                        const MatrixInfo& info) {
  Grid g = make_grid(results, mtas);
  std::string o =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + html(info.title) +
      "</title>\n<style>\n"
      "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\n"
      "table{border-collapse:collapse;margin:0 0 1.5em}\n"
      "th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left}\n"
      "td.n{text-align:right}\n"
      "td.pass{background:#c8e6c9}td.fail{background:#ffab91}td.skip{background:#eeeeee;color:#666}\n"
      "td.xfail{background:#fff59d}td.xpass{background:#ffcc80}td.error{background:#ce93d8}td.none{color:#999}\n"
      "sup a{text-decoration:none}\nol.notes li{margin:.2em 0}\ncode{font-size:90%}\n"
      "</style>\n</head>\n<body>\n<h1>" +
      html(info.title) + "</h1>\n<p>";
  if (!info.command.empty()) o += "<code>" + html(info.command) + "</code>: ";
  o += html(made_line(g, info)) + ".</p>\n<p>" + html(kLegend) + "</p>\n";

  auto header = [&](bool profile) {
    std::string h = "<tr>" + std::string(profile ? "<th>profile</th>" : "") + "<th>MTA</th>";
    for (Status s : kOrder) h += std::string("<th>") + matrix_word(s) + "</th>";
    return h + "<th>cases</th></tr>\n";
  };
  auto counts = [&](const std::map<Status, int>& m) {
    std::string r;
    for (Status s : kOrder) r += "<td class=\"n\">" + std::to_string(count(m, s)) + "</td>";
    return r + "<td class=\"n\">" + std::to_string(total(m)) + "</td></tr>\n";
  };
  o += "<h2>Totals by MTA</h2>\n<table>\n" + header(false);
  for (const auto& m : g.mtas) o += "<tr><td>" + html(m) + "</td>" + counts(g.by_mta[m]);
  o += "</table>\n<h2>Totals by profile</h2>\n<table>\n" + header(true);
  for (const auto& p : g.profiles)
    for (const auto& m : g.mtas)
      if (g.by_profile.count({p, m}))
        o += "<tr><td>" + html(p) + "</td><td>" + html(m) + "</td>" + counts(g.by_profile[{p, m}]);
  o += "</table>\n";
  if (g.timed) {
    o += "<h2>Time by MTA</h2>\n<p>" + html(kTimeNote) +
         "</p>\n<table>\n<tr><th>MTA</th><th>time in cases</th><th>slowest case</th></tr>\n";
    for (const auto& m : g.mtas) {
      const CaseResult* s = g.slowest[m];
      o += "<tr><td>" + html(m) + "</td><td class=\"n\">" + html(duration(g.seconds[m])) + "</td><td>" +
           (s ? html(s->id) + " (" + html(duration(s->seconds)) + ")" : std::string("-")) + "</td></tr>\n";
    }
    o += "</table>\n";
  }

  for (const auto& area : g.areas) {
    const auto& rows = g.rows[area];
    o += "<h2 id=\"area-" + html(area) + "\">" + html(area) + " (" + std::to_string(rows.size()) + " case" +
         (rows.size() == 1 ? "" : "s") + ")</h2>\n<table>\n<tr><th>case</th><th>profile</th>";
    for (const auto& m : g.mtas) o += "<th>" + html(m) + "</th>";
    o += "</tr>\n";
    for (const auto& row : rows) {
      std::string title = row.summary + (row.tags.empty() ? "" : " [" + row.tags + "]");
      o += "<tr><td title=\"" + html(title) + "\">" + html(row.id) + "</td><td>" +
           html(row.profile.empty() ? "-" : row.profile) + "</td>";
      for (const CaseResult* r : row.cells) {
        if (!r) {
          o += "<td class=\"none\">-</td>";
          continue;
        }
        std::string word = matrix_word(r->status);
        auto n = g.note_of.find(r);
        if (n == g.note_of.end()) {
          o += "<td class=\"" + lower(word.c_str()) + "\">" + word + "</td>";
        } else {
          std::string num = std::to_string(n->second);
          o += "<td class=\"" + lower(word.c_str()) + "\" title=\"" + html(g.notes[static_cast<size_t>(n->second - 1)]) +
               "\">" + word + " <sup><a href=\"#note-" + num + "\">" + num + "</a></sup></td>";
        }
      }
      o += "</tr>\n";
    }
    o += "</table>\n";
  }
  if (!g.notes.empty()) {
    o += "<h2>Notes</h2>\n<ol class=\"notes\">\n";
    for (size_t i = 0; i < g.notes.size(); ++i)
      o += "<li id=\"note-" + std::to_string(i + 1) + "\">" + html(g.notes[i]) + "</li>\n";
    o += "</ol>\n";
  }
  o += "</body>\n</html>\n";
  return o;
}

void write_text(const std::string& path, const std::string& text) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw std::runtime_error("cannot write " + path);
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok &= std::fclose(f) == 0;
  if (!ok) throw std::runtime_error("cannot write " + path);
}

}  // namespace mxlab::report
