// NAME
//   mx_durability - no acknowledged message is lost when mxmta is killed
// SYNOPSIS
//   mx_durability --mxmta PATH [--sessions 20] [--messages 2000] [--seed N]
//                 [--kill-min-ms 20] [--kill-max-ms 250] [--keep]
// DESCRIPTION
//   Starts `mxmta start-fg` on a private configuration (smtpd on 127.0.0.1 and
//   a free port, local delivery to the invoking user's mbox in a temporary
//   spool), then SESSIONS concurrent SMTP clients send MESSAGES messages in all
//   while a killer thread SIGKILLs the daemon at random moments and starts it
//   again. A client retries a message until it gets "250 ... queued as".
//   Afterwards the daemon runs until the queue is empty and the mailbox is
//   checked:
//     lost        acknowledged but never delivered        (must be 0)
//     truncated   delivered without its last body line    (must be 0)
//     duplicates  extra copies (a crash between delivery and removal, or a
//                 retry of a message that was queued but not acknowledged):
//                 reported, not a failure
//   Exit status 0 when nothing was lost or cut short.
//   This program speaks SMTP itself and links nothing of mta/: it tests the
//   binary from outside, like the lab does.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mxmta;
  int sessions = 20;
  int messages = 2000;
  unsigned seed = 0;
  int kill_min_ms = 20, kill_max_ms = 250;  // about 30 kills in a 2,000-message run
  bool keep = false;
};

std::string g_dir;
int g_port = 0;
std::mutex g_pid_mu;
pid_t g_pid = 0;
std::atomic<bool> g_sending_done{false};
std::atomic<int> g_kills{0};

void die(const std::string& m) {
  std::fprintf(stderr, "mx_durability: %s\n", m.c_str());
  if (g_pid > 0) {  // never leave a daemon behind
    ::kill(g_pid, SIGKILL);
    ::waitpid(g_pid, nullptr, 0);
  }
  std::exit(2);
}

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t l = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &l);
  int p = ntohs(a.sin_port);
  ::close(s);
  return p;
}

pid_t start_daemon(const Options& o) {
  pid_t p = ::fork();
  if (p == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    std::string err = g_dir + "/daemon.stderr";
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(e, 2);
    std::string conf = g_dir + "/etc";
    ::execl(o.mxmta.c_str(), "mxmta", "-c", conf.c_str(), "start-fg", static_cast<char*>(nullptr));
    _exit(127);
  }
  return p;
}

int connect_once() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(g_port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}

bool wait_port(int seconds) {
  auto end = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < end) {
    int s = connect_once();
    if (s >= 0) {
      ::close(s);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Reads one (possibly multi-line) reply; "" on error.
std::string reply(int s, std::string& buf) {
  std::string out;
  for (;;) {
    auto nl = buf.find("\r\n");
    while (nl == std::string::npos) {
      char tmp[4096];
      ssize_t n = ::recv(s, tmp, sizeof tmp, 0);
      if (n <= 0) return {};
      buf.append(tmp, static_cast<size_t>(n));
      nl = buf.find("\r\n");
    }
    std::string line = buf.substr(0, nl);
    buf.erase(0, nl + 2);
    out += line + "\n";
    if (line.size() < 4 || line[3] != '-') return out;
  }
}

bool send_all(int s, const std::string& d) {
  size_t off = 0;
  while (off < d.size()) {
    ssize_t n = ::send(s, d.data() + off, d.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string body_for(const std::string& token, std::mt19937& rng) {
  std::ostringstream b;
  b << "Subject: durability " << token << "\r\nX-Token: " << token << "\r\n\r\n";
  int lines = 5 + static_cast<int>(rng() % 200);  // up to ~15 KB
  for (int i = 0; i < lines; ++i) b << "line " << i << " of " << token << " ..........................................\r\n";
  b << "From the middle of a line is data\r\n";
  b << "END-OF-BODY " << token << "\r\n";
  return b.str();
}

// One attempt; true when the message was acknowledged.
bool try_send(const std::string& rcpt, const std::string& token, const std::string& data) {
  int s = connect_once();
  if (s < 0) return false;
  std::string buf;
  bool ok = false;
  auto step = [&](const std::string& cmd, const char* want) {
    if (!cmd.empty() && !send_all(s, cmd)) return false;
    std::string r = reply(s, buf);
    return r.rfind(want, 0) == 0;
  };
  if (step("", "220") && step("EHLO durability.test\r\n", "250") && step("MAIL FROM:<tester@durability.test>\r\n", "250") &&
      step("RCPT TO:<" + rcpt + ">\r\n", "250") && step("DATA\r\n", "354")) {
    std::string r;
    if (send_all(s, data + ".\r\n")) {
      r = reply(s, buf);
      ok = r.rfind("250", 0) == 0 && r.find("queued as") != std::string::npos;
    }
    if (ok) send_all(s, "QUIT\r\n");
  }
  (void)token;
  ::close(s);
  return ok;
}

size_t queue_files() {
  size_t n = 0;
  for (const char* q : {"maildrop", "incoming", "active", "deferred", "hold"}) {
    std::string cmd = "find " + g_dir + "/spool/" + q + " -type f ! -name '.*' 2>/dev/null | wc -l";
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) continue;
    unsigned long c = 0;
    if (std::fscanf(f, "%lu", &c) == 1) n += c;
    ::pclose(f);
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--mxmta") o.mxmta = next();
    else if (a == "--sessions") o.sessions = std::atoi(next().c_str());
    else if (a == "--messages") o.messages = std::atoi(next().c_str());
    else if (a == "--seed") o.seed = static_cast<unsigned>(std::atol(next().c_str()));
    else if (a == "--kill-min-ms") o.kill_min_ms = std::atoi(next().c_str());
    else if (a == "--kill-max-ms") o.kill_max_ms = std::atoi(next().c_str());
    else if (a == "--keep") o.keep = true;
    else die("unknown option " + a);
  }
  if (o.mxmta.empty()) die("usage: mx_durability --mxmta PATH [--sessions N] [--messages N] [--seed N]");
  if (o.seed == 0) o.seed = static_cast<unsigned>(std::random_device{}());

  char t[] = "/tmp/mxdurabilityXXXXXX";
  g_dir = ::mkdtemp(t);
  g_port = free_port();
  struct passwd* pw = ::getpwuid(::getuid());
  if (!pw) die("no passwd entry for the current user");
  std::string user = pw->pw_name;
  ::mkdir((g_dir + "/etc").c_str(), 0755);
  ::mkdir((g_dir + "/mail").c_str(), 01777);
  {
    std::ofstream m(g_dir + "/etc/main.cf");
    m << "myhostname = durability.example.test\n"
      << "mydestination = localhost, $myhostname\n"
      << "queue_directory = " << g_dir << "/spool\n"
      << "data_directory = " << g_dir << "/data\n"
      << "mail_spool_directory = " << g_dir << "/mail\n"
      << "maillog_file = " << g_dir << "/maillog\n"
      << "alias_maps =\nalias_database =\n"
      << "local_recipient_maps = proxy:unix:passwd.byname\n"
      << "mxmta_drain_timeout = 1s\n";
    std::ofstream mc(g_dir + "/etc/master.cf");
    mc << "127.0.0.1:" << g_port << " inet n - n - - smtpd\n"
       << "local unix - n n - - local\n";
  }
  std::string rcpt = user + "@durability.example.test";
  std::printf("mx_durability: seed %u, %d sessions, %d messages, port %d, dir %s\n", o.seed, o.sessions, o.messages,
              g_port, g_dir.c_str());

  g_pid = start_daemon(o);
  if (!wait_port(20)) die("daemon did not start; see " + g_dir + "/daemon.stderr");

  std::mutex mu;
  std::set<std::string> acked;
  std::atomic<long> attempts{0};
  std::atomic<int> next_msg{0};
  auto start = Clock::now();

  std::thread killer([&] {
    std::mt19937 rng(o.seed ^ 0x9e3779b9u);
    while (!g_sending_done) {
      int ms = o.kill_min_ms + static_cast<int>(rng() % static_cast<unsigned>(std::max(1, o.kill_max_ms - o.kill_min_ms)));
      auto until = Clock::now() + std::chrono::milliseconds(ms);
      while (Clock::now() < until && !g_sending_done) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (g_sending_done) break;
      std::lock_guard lk(g_pid_mu);
      ::kill(g_pid, SIGKILL);
      ::waitpid(g_pid, nullptr, 0);
      ++g_kills;
      g_pid = start_daemon(o);
      wait_port(20);
    }
  });

  std::vector<std::thread> clients;
  for (int c = 0; c < o.sessions; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(o.seed + static_cast<unsigned>(c));
      for (;;) {
        int n = next_msg++;
        if (n >= o.messages) return;
        std::string token = "T" + std::to_string(o.seed) + "-" + std::to_string(n);
        std::string data = body_for(token, rng);
        auto give_up = Clock::now() + std::chrono::seconds(120);
        while (!try_send(rcpt, token, data)) {
          ++attempts;
          if (Clock::now() > give_up) {
            std::fprintf(stderr, "mx_durability: %s never acknowledged\n", token.c_str());
            return;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ++attempts;
        std::lock_guard lk(mu);
        acked.insert(token);
      }
    });
  }
  for (auto& th : clients) th.join();
  g_sending_done = true;
  killer.join();
  double send_secs = std::chrono::duration<double>(Clock::now() - start).count();

  // Let the surviving daemon drain the queue.
  {
    std::lock_guard lk(g_pid_mu);
    if (::waitpid(g_pid, nullptr, WNOHANG) != 0) g_pid = start_daemon(o);
  }
  wait_port(20);
  auto drain_end = Clock::now() + std::chrono::seconds(180);
  while (queue_files() > 0 && Clock::now() < drain_end) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  size_t left = queue_files();
  ::kill(g_pid, SIGTERM);
  ::waitpid(g_pid, nullptr, 0);

  // Read the mailbox.
  std::ifstream mb(g_dir + "/mail/" + user);
  std::map<std::string, int> copies;
  std::set<std::string> complete;
  std::string line, cur;
  auto close_msg = [&] {
    if (!cur.empty()) copies[cur]++;
    cur.clear();
  };
  while (std::getline(mb, line)) {
    // local delivery quotes body lines that start with "From ", so every such
    // line starts a message.
    if (line.rfind("From ", 0) == 0) {
      close_msg();
      continue;
    }
    if (line.rfind("X-Token: ", 0) == 0 && cur.empty()) cur = line.substr(9);
    if (line.rfind("END-OF-BODY ", 0) == 0) complete.insert(line.substr(12));
  }
  close_msg();

  int lost = 0, truncated = 0, dups = 0, unacked_delivered = 0;
  for (const auto& tok : acked) {
    auto it = copies.find(tok);
    if (it == copies.end()) {
      ++lost;
      if (lost <= 10) std::fprintf(stderr, "LOST: %s\n", tok.c_str());
    }
  }
  for (const auto& [tok, n] : copies) {
    if (!complete.count(tok)) {
      ++truncated;
      std::fprintf(stderr, "TRUNCATED: %s\n", tok.c_str());
    }
    if (n > 1) dups += n - 1;
    if (!acked.count(tok)) ++unacked_delivered;
  }
  std::printf("mx_durability: %zu acknowledged of %d in %.1f s (%ld attempts), %d daemon kills\n", acked.size(),
              o.messages, send_secs, attempts.load(), g_kills.load());
  std::printf("mx_durability: delivered %zu distinct, lost %d, truncated %d, duplicates %d, "
              "delivered without acknowledgement %d, left in queue %zu\n",
              copies.size(), lost, truncated, dups, unacked_delivered, left);
  bool ok = lost == 0 && truncated == 0 && static_cast<int>(acked.size()) == o.messages && left == 0;
  if (!o.keep && ok) std::system(("rm -rf " + g_dir).c_str());
  else std::printf("mx_durability: files kept in %s\n", g_dir.c_str());
  std::printf("mx_durability: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
