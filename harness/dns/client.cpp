#include "dns/client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <stdexcept>

namespace mxlab::dns {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

// Fills a sockaddr for an IPv4 or IPv6 literal.
socklen_t make_addr(const std::string& addr, uint16_t port, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return sizeof(sockaddr_in6);
  }
  throw std::runtime_error("not an IP address: " + addr);
}

using Clock = std::chrono::steady_clock;

// Waits for the descriptor to be readable until the deadline; false on timeout.
bool wait_readable(int fd, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) throw std::runtime_error(errno_text("poll"));
  }
}

bool read_full(int fd, uint8_t* p, size_t n, Clock::time_point deadline) {
  while (n) {
    if (!wait_readable(fd, deadline)) return false;
    ssize_t r = ::recv(fd, p, n, 0);
    if (r == 0) throw std::runtime_error("connection closed by the server");
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(errno_text("recv"));
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

}  // namespace

std::vector<uint8_t> exchange(const std::string& addr, uint16_t port, std::span<const uint8_t> msg, bool tcp,
                              int timeout_ms) {
  sockaddr_storage ss;
  socklen_t sl = make_addr(addr, port, ss);
  Fd s;
  s.fd = ::socket(ss.ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (s.fd < 0) throw std::runtime_error(errno_text("socket"));
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&ss), sl) != 0) throw std::runtime_error(errno_text("connect"));
  std::vector<uint8_t> out;
  if (!tcp) {
    if (::send(s.fd, msg.data(), msg.size(), 0) < 0) throw std::runtime_error(errno_text("send"));
    out.resize(65536);
    for (;;) {
      if (!wait_readable(s.fd, deadline)) return {};
      ssize_t r = ::recv(s.fd, out.data(), out.size(), 0);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw std::runtime_error(errno_text("recv"));
      out.resize(static_cast<size_t>(r));
      return out;
    }
  }
  std::vector<uint8_t> framed;
  framed.reserve(msg.size() + 2);
  framed.push_back(static_cast<uint8_t>(msg.size() >> 8));
  framed.push_back(static_cast<uint8_t>(msg.size()));
  framed.insert(framed.end(), msg.begin(), msg.end());
  for (size_t off = 0; off < framed.size();) {
    ssize_t r = ::send(s.fd, framed.data() + off, framed.size() - off, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw std::runtime_error(errno_text("send"));
    off += static_cast<size_t>(r);
  }
  uint8_t len[2];
  if (!read_full(s.fd, len, 2, deadline)) return {};
  out.resize(static_cast<size_t>(len[0] << 8 | len[1]));
  if (!read_full(s.fd, out.data(), out.size(), deadline)) return {};
  return out;
}

wire::Message query(const std::string& addr, uint16_t port, std::string_view name, uint16_t type,
                    const QueryOptions& opt) {
  const std::string what =
      "dns query " + std::string(name) + " " + wire::type_name(type) + " to " + addr + ":" + std::to_string(port);
  try {
    wire::Header h;
    h.id = opt.id;
    if (!h.id) {
      static thread_local std::mt19937 rng{std::random_device{}()};
      h.id = static_cast<uint16_t>(rng() % 65535 + 1);
    }
    h.rd = opt.rd;
    std::vector<uint8_t> msg;
    wire::Writer w(msg);
    w.header(h);
    w.question(name, type, wire::class_in);
    if (opt.edns_udp_size) w.opt(wire::Edns{*opt.edns_udp_size, 0, 0, false, {}});
    auto resp = exchange(addr, port, msg, opt.tcp, opt.timeout_ms);
    if (resp.empty()) throw std::runtime_error("timed out after " + std::to_string(opt.timeout_ms) + " ms");
    auto m = wire::parse(resp);
    if (m.header.id != h.id) throw std::runtime_error("response has another ID");
    if (!m.header.qr) throw std::runtime_error("response without QR");
    return m;
  } catch (const std::exception& e) {
    throw std::runtime_error(what + ": " + e.what());
  }
}

}  // namespace mxlab::dns
