// NAME
//   fake_mta - a deliberately small SMTP server for the runner's own tests
// SYNOPSIS
//   fake_mta serve CONFDIR | sendmail CONFDIR [-f SENDER] RCPT... |
//            queue | flush | wake | newaliases | faults
// DESCRIPTION
//   Not an MTA: a test double at the adapter seam, so the runner's steps
//   and assertions can be exercised end to end before the reference MTA
//   exists. It reads CONFDIR/main.cf (myhostname, mydestination,
//   inet_interfaces), answers one connection at a time, delivers to
//   /var/mail/USER in mbox form (users from /etc/passwd), refuses relaying
//   with 554 5.7.1 and unknown users with 550 5.1.1, keeps mail for the
//   domain "defer.test" in /var/spool/mxmta/queue.jsonl (postqueue -j
//   lines), logs to /var/log/maillog, and takes its time from time(2), so
//   libfaketime moves its clock.
//   For the self-check's own test it has three deliberate faults, chosen
//   with MXMTA_FAULT as mxmta's are and listed by `fake_mta faults`:
//   open_relay (relaying is accepted), log_only (a log line nobody checks:
//   the hole) and no_start (the daemon exits at once: every case ERRORs,
//   which must not count as catching it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::map<std::string, std::string> g_conf;
std::string g_confdir;

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

void load_conf() {
  std::ifstream f(g_confdir + "/main.cf");
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq != std::string::npos) g_conf[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
}

std::string now_text() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[64];
  std::strftime(b, sizeof b, "%a %b %e %H:%M:%S %Y", &tm);
  return b;
}

void log(const std::string& s) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%b %d %H:%M:%S", &tm);
  std::ofstream("/var/log/maillog", std::ios::app) << b << " " << g_conf["myhostname"] << " fake[" << getpid() << "]: " << s << "\n";
}

bool is_user(const std::string& u) {
  std::ifstream f("/etc/passwd");
  std::string line;
  while (std::getline(f, line))
    if (line.compare(0, u.size() + 1, u + ":") == 0) return true;
  return false;
}

bool fault(const char* name) {
  const char* f = std::getenv("MXMTA_FAULT");
  return f && std::strcmp(f, name) == 0;
}

bool local_domain(const std::string& d) {
  std::string list = g_conf["mydestination"] + "," + g_conf["myhostname"];
  std::stringstream ss(list);
  std::string x;
  while (std::getline(ss, x, ',')) {
    x = trim(x);
    if (!x.empty() && strcasecmp(x.c_str(), d.c_str()) == 0) return true;
  }
  return false;
}

void deliver(const std::string& sender, const std::string& rcpt, const std::string& data) {
  std::string user = rcpt.substr(0, rcpt.find('@'));
  std::ofstream mb("/var/mail/" + user, std::ios::app);
  mb << "From " << (sender.empty() ? "MAILER-DAEMON" : sender) << "  " << now_text() << "\n";
  mb << "Return-Path: <" << sender << ">\nX-Original-To: " << rcpt << "\nDelivered-To: " << rcpt << "\n";
  std::stringstream ss(data);
  std::string l;
  while (std::getline(ss, l)) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (l.compare(0, 5, "From ") == 0) mb << ">";
    mb << l << "\n";
  }
  mb << "\n";
  log("to=<" + rcpt + ">, relay=local, status=sent (delivered to mailbox)");
}

void enqueue(const std::string& sender, const std::string& rcpt) {
  std::ofstream q("/var/spool/mxmta/queue.jsonl", std::ios::app);
  q << "{\"queue_name\": \"deferred\", \"queue_id\": \"F" << std::time(nullptr) % 100000 << "\", \"arrival_time\": "
    << std::time(nullptr) << ", \"message_size\": 1, \"forced_expire\": false, \"sender\": \"" << sender
    << "\", \"recipients\": [{\"address\": \"" << rcpt << "\", \"delay_reason\": \"connect to defer.test: Connection refused\"}]}\n";
  log("to=<" + rcpt + ">, status=deferred (connect to defer.test: Connection refused)");
}

std::string addr_of(const std::string& arg) {
  auto lt = arg.find('<'), gt = arg.find('>');
  if (lt == std::string::npos || gt == std::string::npos) return "";
  return arg.substr(lt + 1, gt - lt - 1);
}

void session(int fd, const std::string& client) {
  FILE* in = fdopen(dup(fd), "r");
  auto say = [&](const std::string& s) {
    std::string x = s + "\r\n";
    (void)!write(fd, x.data(), x.size());
  };
  log("connect from " + client);
  say("220 " + g_conf["myhostname"] + " ESMTP fake");
  std::string sender;
  std::vector<std::string> rcpts;
  char buf[4096];
  while (fgets(buf, sizeof buf, in)) {
    std::string line = trim(buf);
    std::string up = line.substr(0, 4);
    for (auto& c : up) c = static_cast<char>(toupper(c));
    if (up == "EHLO") say("250-" + g_conf["myhostname"] + "\r\n250-PIPELINING\r\n250 8BITMIME");
    else if (up == "HELO") say("250 " + g_conf["myhostname"]);
    else if (up == "MAIL") {
      sender = addr_of(line);
      rcpts.clear();
      say("250 2.1.0 Ok");
    } else if (up == "RCPT") {
      std::string r = addr_of(line);
      std::string dom = r.substr(r.find('@') + 1);
      if (dom == "defer.test") {
        rcpts.push_back(r);
        say("250 2.1.5 Ok");
      } else if (!local_domain(dom) && !fault("open_relay")) {
        say("554 5.7.1 <" + r + ">: Relay access denied");
        log("NOQUEUE: reject: RCPT from " + client + ": 554 5.7.1 <" + r + ">: Relay access denied");
      } else if (!is_user(r.substr(0, r.find('@')))) {
        say("550 5.1.1 <" + r + ">: Recipient address rejected: User unknown in local recipient table");
      } else {
        rcpts.push_back(r);
        say("250 2.1.5 Ok");
      }
    } else if (up == "DATA") {
      if (rcpts.empty()) {
        say("554 5.5.1 Error: no valid recipients");
        continue;
      }
      say("354 End data with <CR><LF>.<CR><LF>");
      std::string data;
      while (fgets(buf, sizeof buf, in)) {
        std::string l = buf;
        if (l == ".\r\n" || l == ".\n") break;
        if (l[0] == '.') l.erase(0, 1);
        data += l;
      }
      for (const auto& r : rcpts) {
        if (r.substr(r.find('@') + 1) == "defer.test") enqueue(sender, r);
        else deliver(sender, r, data);
      }
      say("250 2.0.0 Ok: queued as F" + std::to_string(std::time(nullptr) % 100000));
    } else if (up == "QUIT") {
      say("221 2.0.0 Bye");
      break;
    } else if (up == "RSET" || up == "NOOP") {
      say("250 2.0.0 Ok");
    } else {
      say("502 5.5.2 Error: command not recognized");
    }
  }
  fclose(in);
  log("disconnect from " + client);
}

int serve() {
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(25);
  a.sin_addr.s_addr = g_conf["inet_interfaces"] == "loopback-only" ? htonl(INADDR_LOOPBACK) : htonl(INADDR_ANY);
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(s, 16) != 0) {
    perror("fake_mta: bind");
    return 1;
  }
  log("daemon started");
  for (;;) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    int c = accept(s, reinterpret_cast<sockaddr*>(&peer), &len);
    if (c < 0) continue;
    char ip[32];
    inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    session(c, ip);
    close(c);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 64;
  std::string cmd = argv[1];
  g_confdir = argc > 2 ? argv[2] : "/etc/mxmta";
  load_conf();
  if (cmd == "faults") {
    std::cout << "open_relay\trelaying is accepted\nlog_only\tlogs a line that no case checks\n"
                 "no_start\tthe daemon does not start\n";
    return 0;
  }
  if (cmd == "serve") {
    if (fault("log_only")) log("deliberate fault log_only");
    if (fault("no_start")) {
      std::cerr << "fake_mta: fatal: deliberate fault no_start\n";
      return 1;
    }
    return serve();
  }
  if (cmd == "sendmail") {
    std::string sender = "root@" + g_conf["myhostname"];
    std::vector<std::string> rcpts;
    for (int i = 3; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-f" && i + 1 < argc) sender = argv[++i];
      else if (a[0] != '-') rcpts.push_back(a.find('@') == std::string::npos ? a + "@" + g_conf["myhostname"] : a);
    }
    if (rcpts.empty()) {
      std::cerr << "sendmail: fatal: Recipient addresses must be specified on the command line\n";
      return 75;
    }
    std::stringstream ss;
    ss << std::cin.rdbuf();
    for (const auto& r : rcpts) deliver(sender, r, ss.str());
    return 0;
  }
  if (cmd == "queue") {
    std::ifstream q("/var/spool/mxmta/queue.jsonl");
    std::cout << q.rdbuf();
    return 0;
  }
  if (cmd == "flush") {
    std::ofstream("/var/spool/mxmta/queue.jsonl", std::ios::trunc);
    log("flush");
    return 0;
  }
  if (cmd == "wake") {
    log("wake at " + now_text());
    return 0;
  }
  if (cmd == "newaliases") {
    std::ifstream a("/etc/aliases");
    std::ofstream("/etc/aliases.db") << a.rdbuf();
    return 0;
  }
  return 64;
}
