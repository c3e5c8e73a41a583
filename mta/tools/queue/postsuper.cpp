// postsuper(1): queue maintenance (docs/queue-tools.md).
//
// postsuper [-psv] [-c config_dir] [-d queue_id] [-e queue_id] [-f queue_id]
//           [-h queue_id] [-H queue_id] [-r queue_id] [queue ...]
//
// queue_id is an id, ALL (upper case, as a safety measure), or "-" to read
// ids from standard input, one per line. Operations and the queues they look
// in when none is named (named queues narrow that set):
//   -d  delete                     hold incoming active deferred
//   -h  hold -> hold/              incoming active deferred
//   -H  release hold/ -> deferred/ hold
//   -r  requeue -> maildrop/       hold incoming active deferred
//       (pickup and cleanup take it again, as in Postfix)
//   -e  force-expire               hold incoming active deferred
//   -f  force-expire and release from hold
//   -p  purge temporary files older than a day; -s move deferred files into
//       their hash directory. Without options postsuper does -s -p.
// State changes are renames (QueueStore::move); -e rewrites the file with
// QueueStore::replace and keeps its mtime, which in deferred/ is the next
// attempt time, so the message expires at its next attempt as in Postfix.
// A file in active/ may be moved or removed under the running daemon: that is
// what Postfix does too. Messages go to stderr and the log, service postsuper:
//   "ID: removed" ... then "Deleted: N messages" (singular for 1); with ALL
//   only the count, as Postfix's mass operations.
// After any change the queue manager is woken with 'A' on public/qmgr.
#include "core/trigger.hpp"
#include "queue/queue_file.hpp"
#include "queue/queue_store.hpp"
#include "tools/queue/common.hpp"
#include "tools/tools.hpp"
#include "util/log.hpp"
#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>

namespace mta::tools {
namespace {

namespace mq = ::mta::queue;
using mq::Q;

constexpr std::string_view kProgram = "postsuper";
constexpr long kMaxTempAge = 60 * 60 * 24;  // Postfix MAX_TEMP_AGE

enum class Op { remove, expire, expire_release, hold, release, requeue };

std::vector<Q> default_queues(Op op) {
  switch (op) {
    case Op::hold: return {Q::incoming, Q::active, Q::deferred};
    case Op::release: return {Q::hold};
    case Op::remove:
    case Op::expire:
    case Op::expire_release:
    case Op::requeue: return {Q::hold, Q::incoming, Q::active, Q::deferred};
  }
  return {};
}

// Whether `op` may act on a message in `q` when the user names that queue.
bool applicable(Op op, Q q) {
  switch (op) {
    case Op::remove: return q != Q::corrupt;
    case Op::hold: return q == Q::incoming || q == Q::active || q == Q::deferred;
    case Op::release: return q == Q::hold;
    // Maildrop mail is not sanitised yet: it cannot be requeued or expired.
    case Op::requeue:
    case Op::expire:
    case Op::expire_release: return q == Q::hold || q == Q::incoming || q == Q::active || q == Q::deferred;
  }
  return false;
}

struct Counters {
  int deleted = 0, expired = 0, held = 0, released = 0, requeued = 0;
};

class Super {
 public:
  explicit Super(const mq::QueueStore& store) : store_(store) {}

  // Applies `op` to one message; searches `queues` twice, since the daemon
  // may move the file between two queues while we look (Postfix does too).
  void one(Op op, const std::string& id, const std::vector<Q>& queues) {
    if (!mq::looks_like_queue_id(id)) {
      log::warn(kProgram, "invalid mail queue id: {}", util::printable(id));
      return;
    }
    for (int tries = 0; tries < 2; ++tries)
      for (Q q : queues)
        if (util::exists(store_.path(q, id)) && act(op, q, id)) return;
  }

  // Postfix's mass operations (super()) count but do not name the
  // messages: "postsuper -d ALL" says only "Deleted: 2 messages" (observed
  // with 3.7 by suites/queue/0007-postsuper-delete-all).
  void all(Op op, const std::vector<Q>& queues) {
    named_ = false;
    for (Q q : queues) {
      std::vector<std::string> ids = store_.list(q);
      std::sort(ids.begin(), ids.end());
      for (const auto& id : ids) act(op, q, id);
    }
    named_ = true;
  }

  void purge_temp_files() {
    time_t now = std::time(nullptr);
    for (Q q : {Q::maildrop, Q::incoming, Q::active, Q::deferred, Q::hold}) {
      std::vector<std::string> dirs = {store_.dir(q)};
      if (q == Q::deferred)
        for (const char* h = "0123456789ABCDEF"; *h; ++h) dirs.push_back(store_.dir(q) + "/" + *h);
      for (const auto& d : dirs)
        for (const auto& f : entries(d, true)) {
          // The daemon's reused files (queue/queue_store.hpp): it owns them
          // and sorts them out itself at start-up.
          if (mta::queue::is_reuse_name(f)) continue;
          std::string p = d + "/" + f;
          struct stat st;
          if (::lstat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < now - kMaxTempAge)
            ::unlink(p.c_str());
        }
    }
  }

  // Deferred files that are not in their hash directory (hash_queue_depth 1)
  // are moved there, as postsuper -s does after a layout change.
  void fix_structure() {
    std::string top = store_.dir(Q::deferred);
    std::vector<std::string> misplaced;
    for (const auto& f : entries(top, false)) {
      struct stat st;
      if (::lstat((top + "/" + f).c_str(), &st) == 0 && S_ISREG(st.st_mode)) misplaced.push_back(top + "/" + f);
    }
    for (const char* h = "0123456789ABCDEF"; *h; ++h) {
      std::string d = top + "/" + *h;
      for (const auto& f : entries(d, false))
        if (store_.dir_for(Q::deferred, f) != d) misplaced.push_back(d + "/" + f);
    }
    for (const auto& from : misplaced) {
      std::string id = util::basename(from);
      if (!mq::looks_like_queue_id(id)) continue;
      std::string to = store_.path(Q::deferred, id);
      ::mkdir(store_.dir_for(Q::deferred, id).c_str(), 0700);
      if (::rename(from.c_str(), to.c_str()) != 0)
        log::warn(kProgram, "rename file {} as {}: {}", from, to, util::last_errno().message());
      else
        changed_ = true;
    }
  }

  Counters counters;
  bool changed() const { return changed_; }

 private:
  // Names in a directory; `dot` selects temporary files (".name") instead of
  // ordinary names. Single-letter hash directories are never returned.
  static std::vector<std::string> entries(const std::string& dir, bool dot) {
    std::vector<std::string> out;
    DIR* dp = ::opendir(dir.c_str());
    if (!dp) return out;
    while (auto* de = ::readdir(dp)) {
      std::string_view n = de->d_name;
      if (n == "." || n == "..") continue;
      if ((n[0] == '.') != dot) continue;
      if (!dot && n.size() == 1) continue;
      out.emplace_back(n);
    }
    ::closedir(dp);
    return out;
  }

  bool act(Op op, Q q, const std::string& id) {
    switch (op) {
      case Op::remove: {
        if (auto ec = store_.remove(q, id)) {
          if (ec != std::errc::no_such_file_or_directory)
            log::warn(kProgram, "remove file {}: {}", store_.path(q, id), ec.message());
          return false;  // lost a race: look again
        }
        if (named_) log::info(kProgram, "{}: removed", id);
        ++counters.deleted;
        break;
      }
      case Op::hold:
        if (!rename(q, Q::hold, id)) return false;
        if (named_) log::info(kProgram, "{}: placed on hold", id);
        ++counters.held;
        break;
      case Op::release:
        if (!rename(q, Q::deferred, id)) return false;
        if (named_) log::info(kProgram, "{}: released from hold", id);
        ++counters.released;
        break;
      case Op::requeue:
        if (!rename(q, Q::maildrop, id)) return false;
        // Postfix resets the time stamps: pickup takes the file as new mail.
        store_.set_mtime(Q::maildrop, id, static_cast<long long>(std::time(nullptr)));
        if (named_) log::info(kProgram, "{}: requeued", id);
        ++counters.requeued;
        break;
      case Op::expire:
      case Op::expire_release: {
        if (!expire(q, id)) return false;
        if (named_) log::info(kProgram, "{}: force-expired", id);
        ++counters.expired;
        if (op == Op::expire_release && q == Q::hold && rename(Q::hold, Q::deferred, id)) {
          if (named_) log::info(kProgram, "{}: released from hold", id);
          ++counters.released;
        }
        break;
      }
    }
    changed_ = true;
    return true;
  }

  bool rename(Q from, Q to, const std::string& id) {
    if (auto ec = store_.move(from, to, id)) {
      if (ec != std::errc::no_such_file_or_directory)
        log::warn(kProgram, "rename file {} as {}: {}", store_.path(from, id), store_.path(to, id), ec.message());
      return false;
    }
    return true;
  }

  // Sets the force_expired flag: a rewrite (temp + fsync + rename), never an
  // edit in place. The mtime is kept: in deferred/ it is the next attempt.
  bool expire(Q q, const std::string& id) {
    std::string path = store_.path(q, id);
    core::Message m;
    auto r = mq::read_queue_file(path, m.env, &m.content);
    if (r.ec) {
      if (r.ec != std::errc::no_such_file_or_directory)
        log::warn(kProgram, "open {}: {}", path, r.ec.message());
      return false;
    }
    if (!r.bad.empty()) {
      log::warn(kProgram, "{}: malformed queue file: {} -- not expired", id, r.bad);
      return true;  // found, but left alone: do not look in other queues
    }
    struct stat st;
    bool have_time = ::stat(path.c_str(), &st) == 0;
    m.env.force_expired = true;
    if (auto ec = store_.replace(q, id, mq::serialize(m))) {
      log::warn(kProgram, "rewrite {}: {}", path, ec.message());
      return false;
    }
    if (have_time) store_.set_mtime(q, id, static_cast<long long>(st.st_mtime));
    return true;
  }

  const mq::QueueStore& store_;
  bool changed_ = false;
  bool named_ = true;  // one line per message (not for ALL)
};

std::string messages(int n) { return fmt::format("{} message{}", n, n == 1 ? "" : "s"); }

int fatal(std::string_view text) {
  log::emit(log::Level::fatal, kProgram, text);
  return 1;
}

constexpr std::string_view kUsage =
    "usage: postsuper [-psv] [-c config_dir] [-d queue_id] [-e queue_id] [-f queue_id] [-h queue_id] "
    "[-H queue_id] [-r queue_id] [directory ...]";

}  // namespace

int postsuper_main(int argc, char** argv) {
  log::set_program(kProgram);
  std::vector<queue::Option> opts;
  std::vector<std::string> operands;
  std::string err;
  if (!queue::parse_options(argc, argv, "c:d:e:f:h:H:r:psv", opts, operands, err)) {
    log::emit(log::Level::warning, kProgram, err);
    return fatal(kUsage);
  }

  std::string dash_c;
  bool purge = false, structure = false, any_op = false;
  std::vector<std::pair<Op, std::string>> requests;
  for (const auto& o : opts) {
    switch (o.flag) {
      case 'c': dash_c = o.value; break;
      case 'v': break;
      case 'p': purge = any_op = true; break;
      case 's': structure = any_op = true; break;
      case 'd': requests.emplace_back(Op::remove, o.value); break;
      case 'e': requests.emplace_back(Op::expire, o.value); break;
      case 'f': requests.emplace_back(Op::expire_release, o.value); break;
      case 'h': requests.emplace_back(Op::hold, o.value); break;
      case 'H': requests.emplace_back(Op::release, o.value); break;
      case 'r': requests.emplace_back(Op::requeue, o.value); break;
      default: return fatal(kUsage);
    }
  }
  // Postfix: with no operation at all, check the structure and purge.
  if (!any_op && requests.empty()) purge = structure = true;

  std::vector<Q> named;
  for (const auto& n : operands) {
    auto q = mq::q_from_name(n);
    if (!q || *q == Q::corrupt) return fatal(fmt::format("invalid directory name: {}", n));
    named.push_back(*q);
  }

  auto config = queue::load_tool_config(kProgram, dash_c);
  if (!config) return 1;
  mq::QueueStore store(config->get("queue_directory"));
  Super super(store);

  if (structure) super.fix_structure();
  if (purge) super.purge_temp_files();

  // Postfix's order: all deletions, then the other operations by kind.
  const Op order[] = {Op::remove, Op::expire, Op::expire_release, Op::hold, Op::release, Op::requeue};
  bool asked[6] = {false, false, false, false, false, false};
  std::vector<std::string> stdin_ids;
  bool stdin_read = false;
  for (size_t k = 0; k < 6; ++k) {
    Op op = order[k];
    std::vector<Q> queues;
    for (Q q : named.empty() ? default_queues(op) : named)
      if (applicable(op, q)) queues.push_back(q);
    for (const auto& [rop, id] : requests) {
      if (rop != op) continue;
      asked[k] = true;
      if (id == "ALL") {
        super.all(op, queues);
      } else if (id == "-") {
        if (!stdin_read) {
          for (std::string line; std::getline(std::cin, line);) {
            auto t = util::trim(line);
            if (!t.empty()) stdin_ids.emplace_back(t);
          }
          stdin_read = true;
        }
        for (const auto& sid : stdin_ids) super.one(op, sid, queues);
      } else {
        super.one(op, id, queues);
      }
    }
  }

  const Counters& c = super.counters;
  if (asked[0]) log::info(kProgram, "Deleted: {}", messages(c.deleted));
  if (asked[1] || asked[2]) log::info(kProgram, "Force-expired: {}", messages(c.expired));
  if (asked[3]) log::info(kProgram, "Placed on hold: {}", messages(c.held));
  if (asked[4] || asked[2]) log::info(kProgram, "Released from hold: {}", messages(c.released));
  if (asked[5]) log::info(kProgram, "Requeued: {}", messages(c.requeued));

  if (super.changed()) {
    // Wake the queue manager; when it is down there is nobody to tell.
    (void)core::send_trigger(store.fifo("qmgr"), std::string(1, core::trigger::scan_all));
    if (c.requeued > 0) (void)core::send_trigger(store.fifo("pickup"), std::string(1, core::trigger::wakeup));
  }
  return 0;
}

}  // namespace mta::tools
