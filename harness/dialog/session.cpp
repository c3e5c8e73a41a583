#include "dialog/session.hpp"

#include "model/text.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <thread>

namespace mxlab::dialog {

namespace {

using Clock = std::chrono::steady_clock;

// Buffered line reader over a socket; keeps bytes after the current line.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  // 1 = got a line, 0 = EOF, -1 = timeout, -2 = error
  int next(std::string& line, Clock::time_point deadline) {
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        line = buf_.substr(0, nl);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        buf_.erase(0, nl + 1);
        return 1;
      }
      if (eof_) {
        if (!buf_.empty()) {  // a partial last line before EOF is still shown
          line = std::move(buf_);
          buf_.clear();
          return 1;
        }
        return 0;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return -1;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left));
      if (r < 0) {
        if (errno == EINTR) continue;
        return -2;
      }
      if (r == 0) return -1;
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        if (errno == ECONNRESET) {
          eof_ = true;
          continue;
        }
        return -2;
      }
      if (n == 0) eof_ = true;
      else buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  bool pending() const { return !buf_.empty(); }

 private:
  int fd_;
  std::string buf_;
  bool eof_ = false;
};

bool send_all(int fd, const std::string& data, int timeout_ms, std::string& error) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      error = std::strerror(errno);
      return false;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      error = "timeout while sending";
      return false;
    }
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(left));
  }
  return true;
}

// Follows what the client sent, so replies can be paired with commands
// (in order, as RFC 2920 requires) and accepted messages recorded.
class Tracker {
 public:
  // Commands end at LF (a CR before it dropped): servers take a bare LF as
  // the end of a command unless they refuse it outright, and a case that
  // sends "MAIL FROM:<a>\n" must still have its transaction followed.
  // Message text ends lines only at CRLF, the one end of data every MTA in
  // the lab recognises (smtpd_forbid_bare_newline = normalize).
  void sent(const std::string& bytes) {
    partial_ += bytes;
    for (;;) {
      size_t pos = in_data_ ? partial_.find("\r\n") : partial_.find('\n');
      if (pos == std::string::npos) break;
      size_t len = pos;
      if (!in_data_ && len > 0 && partial_[len - 1] == '\r') --len;
      line(partial_.substr(0, len));
      partial_.erase(0, pos + (in_data_ ? 2 : 1));
    }
  }
  void reply(const Reply& r, std::vector<Accepted>& accepted) {
    if (pending_.empty()) return;
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    int code = r.code();
    bool ok = code >= 200 && code < 300;
    switch (p.kind) {
      case 'M':
        if (ok) {
          cur_ = Accepted{};
          cur_.sender = p.arg;
          have_mail_ = true;
        }
        break;
      case 'R':
        if (ok && have_mail_) cur_.rcpts.push_back(p.arg);
        break;
      case 'D':
        if (code != 354) {
          data_failed_ = true;
          // A client waits for the reply to DATA (RFC 2920 3.1: DATA ends a
          // batch), so nothing was sent as text yet: what follows a refused
          // DATA is commands again.
          if (in_data_ && data_.empty() && partial_.empty()) in_data_ = false;
        }
        break;
      case '.':
        if (ok && have_mail_ && !p.data_failed) {
          Accepted a = cur_;
          a.data = p.arg;
          accepted.push_back(std::move(a));
        }
        have_mail_ = false;
        cur_ = Accepted{};
        break;
      case 'X':  // RSET
        have_mail_ = false;
        cur_ = Accepted{};
        break;
      default: break;
    }
  }

 private:
  struct Pending {
    char kind;  // M R D . X or ' ' (other command)
    std::string arg;
    bool data_failed = false;
  };
  static std::string address_of(const std::string& arg) {
    auto lt = arg.find('<');
    auto gt = arg.find('>', lt == std::string::npos ? 0 : lt);
    if (lt == std::string::npos || gt == std::string::npos) {
      auto colon = arg.find(':');
      std::string a = colon == std::string::npos ? arg : arg.substr(colon + 1);
      auto sp = a.find(' ');
      return std::string(model::trim(sp == std::string::npos ? a : a.substr(0, sp)));
    }
    return arg.substr(lt + 1, gt - lt - 1);
  }
  void line(const std::string& l) {
    if (in_data_) {
      if (l == ".") {
        in_data_ = false;
        pending_.push_back({'.', data_, data_failed_});
        data_.clear();
        data_failed_ = false;
      } else {
        data_ += (l.size() > 1 && l[0] == '.') ? l.substr(1) : l;
        data_ += "\r\n";
      }
      return;
    }
    std::string up = model::lower(l.substr(0, 10));
    if (model::starts_with(up, "mail from:")) pending_.push_back({'M', address_of(l), false});
    else if (model::starts_with(up, "rcpt to:")) pending_.push_back({'R', address_of(l), false});
    else if (up == "data") {
      pending_.push_back({'D', {}, false});
      in_data_ = true;
      data_failed_ = false;
    } else if (model::starts_with(up, "rset")) pending_.push_back({'X', {}, false});
    else pending_.push_back({' ', {}, false});
  }
  std::string partial_;
  std::deque<Pending> pending_;
  bool in_data_ = false;
  bool data_failed_ = false;
  std::string data_;
  bool have_mail_ = false;
  Accepted cur_;
};

// Reads one complete reply. 1 ok, 0 EOF before any line, -1 timeout, -2 error, -3 malformed
int read_one(LineReader& rd, Clock::time_point deadline, Reply& reply, std::string& bad) {
  reply.lines.clear();
  for (;;) {
    std::string line;
    int r = rd.next(line, deadline);
    if (r != 1) return reply.lines.empty() ? r : (r == 0 ? -4 : r);
    bool last = false;
    reply.lines.push_back(line);
    if (!reply_line(line, last)) {
      bad = line;
      return -3;
    }
    if (last) return 1;
  }
}

std::string describe_read_error(int r, int timeout_ms, const std::string& bad) {
  switch (r) {
    case 0: return "(connection closed by the server)";
    case -1: return "(no complete reply within " + std::to_string(timeout_ms / 1000.0).substr(0, 4) + " s)";
    case -3: return "(malformed reply line: \"" + model::escape(bad) + "\")";
    case -4: return "(connection closed in the middle of a multi-line reply)";
    default: return std::string("(read error: ") + std::strerror(errno) + ")";
  }
}

}  // namespace

std::string Result::transcript_text() const {
  std::string out;
  for (const auto& e : transcript) {
    out += e.dir == 'C' ? "C: " : e.dir == 'S' ? "S: " : "#  ";
    out += e.text;
    out += '\n';
  }
  return out;
}

Result run_script(int fd, const Script& script, int reply_timeout_ms) {
  Result res;
  LineReader rd(fd);
  Tracker tr;
  bool closed = false;
  auto fail = [&](const Directive& d, std::string expected, std::string actual, std::string why) {
    res.ok = false;
    res.failed_line = d.line;
    res.expected = std::move(expected);
    res.actual = std::move(actual);
    res.why = std::move(why);
    res.transcript.push_back({'#', "FAILED at line " + std::to_string(d.line) + ": " + res.why});
  };
  for (const auto& d : script.directives) {
    using K = Directive::Kind;
    if (closed && d.kind != K::sleep) {
      fail(d, d.source, "(the connection was already closed by \"close\")", "directive after close");
      return res;
    }
    switch (d.kind) {
      case K::send:
      case K::send_raw: {
        std::string bytes = d.kind == K::send ? d.text + "\r\n" : d.text;
        // Show what was sent line by line, raw bytes escaped.
        if (d.kind == K::send) res.transcript.push_back({'C', d.text});
        else res.transcript.push_back({'C', model::escape(bytes)});
        std::string err;
        if (!send_all(fd, bytes, reply_timeout_ms, err)) {
          fail(d, "(send " + model::escape(bytes) + ")", "(" + err + ")", "could not send");
          return res;
        }
        tr.sent(bytes);
        break;
      }
      case K::expect_exact:
      case K::expect_prefix:
      case K::expect_regex: {
        Reply reply;
        std::string bad;
        auto deadline = Clock::now() + std::chrono::milliseconds(reply_timeout_ms);
        int r = read_one(rd, deadline, reply, bad);
        for (const auto& l : reply.lines) res.transcript.push_back({'S', model::escape(l)});
        if (r != 1) {
          std::string got = reply.lines.empty() ? "" : reply.joined() + "\n";
          fail(d, expectation_text(d), got + describe_read_error(r, reply_timeout_ms, bad), "no reply");
          return res;
        }
        tr.reply(reply, res.accepted);
        std::string why;
        if (!matches(d, reply, why)) {
          fail(d, expectation_text(d), reply.joined(), why);
          return res;
        }
        break;
      }
      case K::expect_close: {
        std::string line;
        auto deadline = Clock::now() + std::chrono::milliseconds(reply_timeout_ms);
        int r = rd.next(line, deadline);
        if (r == 0) {
          res.transcript.push_back({'#', "connection closed by the server"});
          closed = true;
          break;
        }
        if (r == 1) res.transcript.push_back({'S', model::escape(line)});
        fail(d, expectation_text(d), r == 1 ? line : describe_read_error(r, reply_timeout_ms, line),
             "server did not close the connection");
        return res;
      }
      case K::close:
        ::shutdown(fd, SHUT_RDWR);
        res.transcript.push_back({'#', "client closed the connection"});
        closed = true;
        break;
      case K::sleep:
        std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(d.seconds * 1000)));
        break;
    }
  }
  return res;
}

int connect_tcp(const std::string& addr, unsigned port, const std::string& source, int timeout_ms, std::string& error) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, addr.c_str(), &to.sin_addr) != 1) {
    error = "not an IPv4 address: " + addr;
    return -1;
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = std::strerror(errno);
    return -1;
  }
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      error = "cannot bind source address " + source + ": " + std::strerror(errno);
      ::close(fd);
      return -1;
    }
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    if (errno != EINPROGRESS) {
      error = std::strerror(errno);
      ::close(fd);
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r <= 0) {
      error = "Connection timed out";
      ::close(fd);
      return -1;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr) {
      error = std::strerror(soerr);
      ::close(fd);
      return -1;
    }
  }
  return fd;
}

bool read_reply(int fd, int timeout_ms, Reply& reply, std::string& error) {
  LineReader rd(fd);
  std::string bad;
  int r = read_one(rd, Clock::now() + std::chrono::milliseconds(timeout_ms), reply, bad);
  if (r == 1) return true;
  error = describe_read_error(r, timeout_ms, bad);
  return false;
}

}  // namespace mxlab::dialog
