#include "tools/queue/showq.hpp"

#include "core/fault.hpp"
#include "queue/queue_file.hpp"
#include "util/clock.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mta::tools::queue {
namespace mq = ::mta::queue;
namespace {

constexpr mq::Q kOrder[] = {mq::Q::maildrop, mq::Q::active, mq::Q::incoming, mq::Q::deferred, mq::Q::hold};

bool done(const core::Recipient& r) {
  return !r.dsn_status.empty() && (r.dsn_status[0] == '2' || r.dsn_status[0] == '5');
}

// Addresses and reasons are shown with control characters masked, as
// showq's printable() does: a queue file must not drive the terminal.
std::string shown(std::string_view s) { return util::printable(s, '?'); }

}  // namespace

Listing scan(const mq::QueueStore& store, const std::string& empty_address) {
  Listing out;
  for (mq::Q q : kOrder) {
    if (q == mq::Q::deferred && core::fault::active(core::fault::Id::mailq_misses_deferred)) continue;
    std::vector<std::string> ids = store.list(q);
    std::sort(ids.begin(), ids.end());
    for (const auto& id : ids) {
      std::string path = store.path(q, id);
      core::Envelope env;
      auto r = mq::read_queue_file(path, env, nullptr);
      if (r.ec) {
        // Gone meanwhile: delivered, or moved to another queue by the daemon.
        if (r.ec == std::errc::no_such_file_or_directory) continue;
        out.warnings.push_back(fmt::format("open {} {}: {}", mq::name(q), id, r.ec.message()));
        continue;
      }
      if (!r.bad.empty()) {
        out.warnings.push_back(fmt::format("{}/{}: malformed queue file: {} -- skipped", mq::name(q), id, r.bad));
        continue;
      }
      ListedMessage m;
      m.queue_name = std::string(mq::name(q));
      m.id = id;
      m.arrival = env.arrival.sec;
      m.size = env.content_size;
      m.forced_expire = env.force_expired;
      if (m.arrival <= 0 || m.size <= 0) {
        struct stat st;
        if (::stat(path.c_str(), &st) == 0) {
          if (m.arrival <= 0) m.arrival = static_cast<int64_t>(st.st_mtime);
          if (m.size <= 0) m.size = static_cast<int64_t>(st.st_size);
        }
      }
      m.sender = shown(env.sender.empty() ? empty_address : env.sender);
      for (const auto& rc : env.rcpts)
        if (!done(rc) && !rc.reason.empty()) m.rcpts.push_back({shown(rc.address), shown(rc.reason)});
      for (const auto& rc : env.rcpts)
        if (!done(rc) && rc.reason.empty()) m.rcpts.push_back({shown(rc.address), ""});
      out.messages.push_back(std::move(m));
    }
  }
  return out;
}

std::string format_mailq(const std::vector<ListedMessage>& messages, bool long_ids) {
  // showq_compat.c S_* and L_* formats.
  const char* string_fmt = long_ids ? "{:<17} {:>8} {:<19} {}\n" : "{:<11} {:>7} {:<20} {}\n";
  std::string out;
  unsigned long total = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ListedMessage& m = messages[i];
    if (i == 0) {
      if (long_ids)
        out += fmt::format(fmt::runtime(string_fmt), "----Queue ID-----", "--Size--", "---Arrival Time----",
                           "--Sender/Recipient------");
      else
        out += fmt::format(fmt::runtime(string_fmt), "-Queue ID-", "--Size--", "----Arrival Time----",
                           "-Sender/Recipient-------");
    } else {
      out += '\n';
    }
    std::string id_status = m.id;
    if (m.queue_name == "active") id_status += '*';
    else if (m.queue_name == "hold") id_status += '!';
    if (m.forced_expire) id_status += '#';
    std::string when = util::asctime20(m.arrival).substr(0, long_ids ? 19 : 20);
    if (long_ids)
      out += fmt::format("{:<17} {:>8} {} {}\n", id_status, m.size, when, m.sender);
    else
      out += fmt::format("{:<11} {:>7} {} {}\n", id_status, m.size, when, m.sender);
    std::string saved;
    for (const auto& r : m.rcpts) {
      if (r.reason != saved) {
        saved = r.reason;
        std::string show = saved.empty() ? "reason unavailable" : saved;
        size_t pad = show.size() < 76 ? 76 - show.size() : 0;
        out += std::string(pad, ' ') + "(" + show + ")\n";
      }
      out += fmt::format(fmt::runtime(string_fmt), "", "", "", r.address);
    }
    total += static_cast<unsigned long>(m.size);
  }
  if (messages.empty())
    out += "Mail queue is empty\n";
  else
    out += fmt::format("\n-- {} Kbytes in {} Request{}.\n", total / 1024, messages.size(),
                       messages.size() == 1 ? "" : "s");
  return out;
}

std::string json_escape(std::string_view s) {
  std::string r;
  r.reserve(s.size() + 8);
  for (unsigned char c : s) {
    switch (c) {
      case '\b': r += "\\b"; break;
      case '\f': r += "\\f"; break;
      case '\n': r += "\\n"; break;
      case '\r': r += "\\r"; break;
      case '\t': r += "\\t"; break;
      case '"': r += "\\\""; break;
      case '\\': r += "\\\\"; break;
      default:
        if (c < 0x20 || c == 0x7f) r += fmt::format("\\u{:04X}", static_cast<unsigned>(c));
        else r += static_cast<char>(c);
    }
  }
  return r;
}

std::string format_json(const std::vector<ListedMessage>& messages) {
  std::string out;
  for (const auto& m : messages) {
    out += fmt::format(
        "{{\"queue_name\": \"{}\", \"queue_id\": \"{}\", \"arrival_time\": {}, \"message_size\": {}, "
        "\"forced_expire\": {}, \"sender\": \"{}\", \"recipients\": [",
        json_escape(m.queue_name), json_escape(m.id), m.arrival, m.size, m.forced_expire ? "true" : "false",
        json_escape(m.sender));
    for (size_t i = 0; i < m.rcpts.size(); ++i) {
      if (i > 0) out += ", ";
      out += fmt::format("{{\"address\": \"{}\"", json_escape(m.rcpts[i].address));
      if (!m.rcpts[i].reason.empty()) out += fmt::format(", \"delay_reason\": \"{}\"", json_escape(m.rcpts[i].reason));
      out += "}";
    }
    out += "]}\n";
  }
  return out;
}

}  // namespace mta::tools::queue
