#include "dns/test_dns_server.hpp"

// GCC 12: false -Wnull-dereference inside Asio's epoll reactor; see resolver.cpp.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include "util/asio.hpp"
#pragma GCC diagnostic pop

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <stdexcept>

namespace mta::dns::testing {
namespace {

using util::awaitable;
using util::use_awaitable;
using Bytes = std::vector<uint8_t>;

std::string lc(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

uint16_t type_code(const std::string& t) {
  if (t == "A") return 1;
  if (t == "CNAME") return 5;
  if (t == "PTR") return 12;
  if (t == "MX") return 15;
  if (t == "AAAA") return 28;
  return 0;
}

std::string type_str(uint16_t t) {
  switch (t) {
    case 1:
      return "A";
    case 5:
      return "CNAME";
    case 12:
      return "PTR";
    case 15:
      return "MX";
    case 28:
      return "AAAA";
    default:
      return "TYPE" + std::to_string(t);
  }
}

void put16(Bytes& b, unsigned v) {
  b.push_back(static_cast<uint8_t>((v >> 8) & 0xFF));
  b.push_back(static_cast<uint8_t>(v & 0xFF));
}

void put32(Bytes& b, uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xFFFF);
}

// Uncompressed name, except that the query name itself is written as a
// pointer to offset 12, so replies exercise the client's decompression.
void put_name(Bytes& b, const std::string& name, const std::string& qname) {
  if (!name.empty() && name == qname) {
    put16(b, 0xC00C);
    return;
  }
  size_t p = 0;
  while (p < name.size()) {
    size_t dot = name.find('.', p);
    std::string label = name.substr(p, dot == std::string::npos ? std::string::npos : dot - p);
    b.push_back(static_cast<uint8_t>(label.size()));
    b.insert(b.end(), label.begin(), label.end());
    if (dot == std::string::npos) break;
    p = dot + 1;
  }
  b.push_back(0);
}

struct Rec {
  std::string name;
  uint16_t type;
  std::string value;
};

struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;
  std::string name;  // lower case
  std::string name_raw;
  uint16_t type = 0;
  Bytes question;  // raw question section bytes
};

bool parse_query(const uint8_t* d, size_t n, Query& q) {
  if (n < 12) return false;
  q.id = static_cast<uint16_t>((d[0] << 8) | d[1]);
  q.flags = static_cast<uint16_t>((d[2] << 8) | d[3]);
  size_t p = 12;
  std::string name;
  while (p < n && d[p] != 0) {
    size_t len = d[p];
    if (len > 63 || p + 1 + len > n) return false;
    if (!name.empty()) name += '.';
    name.append(reinterpret_cast<const char*>(d + p + 1), len);
    p += 1 + len;
  }
  if (p + 5 > n) return false;
  p += 1;
  q.type = static_cast<uint16_t>((d[p] << 8) | d[p + 1]);
  p += 4;
  q.question.assign(d + 12, d + p);
  q.name_raw = name;
  q.name = lc(name);
  return true;
}

}  // namespace

struct TestDnsServer::State : std::enable_shared_from_this<TestDnsServer::State> {
  State(net::io_context& i, const std::string& a) : io(i), addr(a), udp(i), acceptor(i) {}

  net::io_context& io;
  std::string addr;
  net::ip::udp::socket udp;
  net::ip::tcp::acceptor acceptor;
  uint16_t port = 0;
  std::vector<Rec> recs;
  struct RuleState {
    Fault f;
    int used = 0;
  };
  std::map<std::pair<std::string, std::string>, RuleState> rules;
  std::vector<std::string> unchased;
  std::vector<QueryRecord> log;
  bool stopped = false;

  Fault fault_for(const Query& q) {
    for (const auto& key : {std::make_pair(q.name, type_str(q.type)), std::make_pair(q.name, std::string("*"))}) {
      auto it = rules.find(key);
      if (it == rules.end()) continue;
      auto& rs = it->second;
      if (rs.f.first_n > 0 && rs.used >= rs.f.first_n) continue;
      ++rs.used;
      return rs.f;
    }
    return Fault{};
  }

  bool has_name(const std::string& n) const {
    return std::any_of(recs.begin(), recs.end(), [&](const Rec& r) { return r.name == n; });
  }

  void put_rr(Bytes& b, const Rec& r, const std::string& qname) const {
    put_name(b, r.name, qname);
    put16(b, r.type);
    put16(b, 1);
    put32(b, 300);
    Bytes rd;
    if (r.type == 1 || r.type == 28) {
      uint8_t a[16];
      ::inet_pton(r.type == 1 ? AF_INET : AF_INET6, r.value.c_str(), a);
      rd.assign(a, a + (r.type == 1 ? 4 : 16));
    } else if (r.type == 15) {
      auto sp = r.value.find(' ');
      unsigned pref = static_cast<unsigned>(std::stoul(r.value.substr(0, sp)));
      put16(rd, pref);
      std::string host = lc(r.value.substr(sp + 1));
      if (host.empty() || host == ".")
        rd.push_back(0);
      else
        put_name(rd, host, "");
    } else {
      put_name(rd, lc(r.value), "");
    }
    put16(b, static_cast<unsigned>(rd.size()));
    b.insert(b.end(), rd.begin(), rd.end());
  }

  // Builds the reply. `tc`: truncated UDP form (no records).
  Bytes reply(const Query& q, int rcode, bool nodata, bool tc, const std::string& qname_override = "",
              uint16_t id_override = 0, bool id_set = false) const {
    std::vector<const Rec*> ans;
    if (rcode == 0 && !nodata && !tc) {
      std::string cur = q.name;
      for (int hop = 0; hop < 8; ++hop) {
        bool direct = false;
        for (const auto& r : recs)
          if (r.name == cur && r.type == q.type) {
            ans.push_back(&r);
            direct = true;
          }
        if (direct || q.type == 5) break;
        const Rec* cn = nullptr;
        for (const auto& r : recs)
          if (r.name == cur && r.type == 5) cn = &r;
        if (!cn) break;
        ans.push_back(cn);
        if (std::find(unchased.begin(), unchased.end(), cur) != unchased.end()) break;
        cur = lc(cn->value);
      }
    }
    Bytes b;
    put16(b, id_set ? id_override : q.id);
    unsigned flags = 0x8000 | 0x0400 | 0x0080 | (q.flags & 0x0100) | static_cast<unsigned>(rcode);
    if (tc) flags |= 0x0200;
    put16(b, flags);
    put16(b, 1);
    put16(b, static_cast<unsigned>(ans.size()));
    put16(b, 0);
    put16(b, 0);
    if (qname_override.empty()) {
      b.insert(b.end(), q.question.begin(), q.question.end());
    } else {
      put_name(b, qname_override, "");
      put16(b, q.type);
      put16(b, 1);
    }
    std::string qn = qname_override.empty() ? q.name : std::string();
    for (const Rec* r : ans) put_rr(b, *r, qn);
    return b;
  }

  // The replies to send for a query (in order), empty to drop it.
  std::vector<Bytes> answer(const Query& q, bool udp_transport, int& delay_ms) {
    log.push_back({udp_transport ? "udp" : "tcp", q.name, type_str(q.type)});
    Fault f = fault_for(q);
    delay_ms = f.delay_ms;
    switch (f.kind) {
      case Fault::drop:
        return {};
      case Fault::nxdomain:
        return {reply(q, 3, false, false)};
      case Fault::nodata:
        return {reply(q, 0, true, false)};
      case Fault::servfail:
        return {reply(q, 2, false, false)};
      case Fault::refused:
        return {reply(q, 5, false, false)};
      case Fault::formerr:
        return {reply(q, 1, false, false)};
      case Fault::truncate:
        if (udp_transport) return {reply(q, 0, false, true)};
        break;
      case Fault::bad_id:
        return {reply(q, 0, false, false, "", static_cast<uint16_t>(q.id ^ 0x5A5A), true), normal(q)};
      case Fault::bad_question:
        return {reply(q, 0, false, false, "wrong.invalid"), normal(q)};
      case Fault::garbage: {
        Bytes b = normal(q);
        // Claim one more answer than we send, and cut the last one short.
        if (b.size() > 12) {
          b[7] = static_cast<uint8_t>(b[7] + 1);
          b.push_back(0xC0);
        }
        return {b};
      }
      default:
        break;
    }
    return {normal(q)};
  }

  Bytes normal(const Query& q) const {
    bool any_type = false, this_type = false;
    for (const auto& r : recs)
      if (r.name == q.name) {
        any_type = true;
        if (r.type == q.type || r.type == 5) this_type = true;
      }
    if (!any_type) return reply(q, 3, false, false);
    if (!this_type) return reply(q, 0, true, false);
    return reply(q, 0, false, false);
  }

  awaitable<void> send_udp(Bytes b, net::ip::udp::endpoint to, int delay_ms) {
    auto self = shared_from_this();
    if (delay_ms > 0) {
      net::steady_timer t(io, std::chrono::milliseconds(delay_ms));
      boost::system::error_code ec;
      co_await t.async_wait(net::redirect_error(use_awaitable, ec));
    }
    if (stopped) co_return;
    boost::system::error_code ec;
    co_await udp.async_send_to(net::buffer(b), to, net::redirect_error(use_awaitable, ec));
  }

  awaitable<void> udp_loop() {
    auto self = shared_from_this();
    uint8_t buf[1500];
    for (;;) {
      net::ip::udp::endpoint from;
      boost::system::error_code ec;
      size_t n = co_await udp.async_receive_from(net::buffer(buf), from, net::redirect_error(use_awaitable, ec));
      if (ec || stopped) co_return;
      Query q;
      if (!parse_query(buf, n, q)) continue;
      int delay = 0;
      for (auto& r : answer(q, true, delay)) net::co_spawn(io, send_udp(std::move(r), from, delay), net::detached);
    }
  }

  awaitable<void> tcp_conn(net::ip::tcp::socket s) {
    auto self = shared_from_this();
    for (;;) {
      uint8_t lenb[2];
      boost::system::error_code ec;
      co_await net::async_read(s, net::buffer(lenb), net::redirect_error(use_awaitable, ec));
      if (ec || stopped) co_return;
      size_t len = (size_t{lenb[0]} << 8) | lenb[1];
      Bytes msg(len);
      co_await net::async_read(s, net::buffer(msg), net::redirect_error(use_awaitable, ec));
      if (ec || stopped) co_return;
      Query q;
      if (!parse_query(msg.data(), msg.size(), q)) co_return;
      int delay = 0;
      auto replies = answer(q, false, delay);
      if (delay > 0) {
        net::steady_timer t(io, std::chrono::milliseconds(delay));
        co_await t.async_wait(net::redirect_error(use_awaitable, ec));
      }
      for (auto& r : replies) {
        Bytes out;
        put16(out, static_cast<unsigned>(r.size()));
        out.insert(out.end(), r.begin(), r.end());
        co_await net::async_write(s, net::buffer(out), net::redirect_error(use_awaitable, ec));
        if (ec) co_return;
      }
    }
  }

  awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      boost::system::error_code ec;
      auto s = co_await acceptor.async_accept(net::redirect_error(use_awaitable, ec));
      if (ec || stopped) co_return;
      net::co_spawn(io, tcp_conn(std::move(s)), net::detached);
    }
  }
};

TestDnsServer::TestDnsServer(net::io_context& io, const std::string& addr, uint16_t want_port)
    : st_(std::make_shared<State>(io, addr)) {
  auto ip = net::ip::make_address(addr);
  // One port number for both transports: take a free UDP port, then bind
  // TCP to the same number (retry on the rare clash).
  for (int attempt = 0; attempt < 50; ++attempt) {
    boost::system::error_code ec;
    st_->udp = net::ip::udp::socket(io);
    st_->udp.open(ip.is_v4() ? net::ip::udp::v4() : net::ip::udp::v6());
    st_->udp.bind({ip, want_port});
    uint16_t p = st_->udp.local_endpoint().port();
    st_->acceptor = net::ip::tcp::acceptor(io);
    st_->acceptor.open(ip.is_v4() ? net::ip::tcp::v4() : net::ip::tcp::v6());
    st_->acceptor.set_option(net::socket_base::reuse_address(true));
    st_->acceptor.bind({ip, p}, ec);
    if (!ec) {
      st_->acceptor.listen();
      st_->port = p;
      break;
    }
    st_->udp.close();
    st_->acceptor.close();
  }
  if (!st_->port) throw std::runtime_error("test DNS server: no free port");
  net::co_spawn(io, st_->udp_loop(), net::detached);
  net::co_spawn(io, st_->accept_loop(), net::detached);
}

TestDnsServer::~TestDnsServer() {
  st_->stopped = true;
  boost::system::error_code ec;
  st_->udp.close(ec);
  st_->acceptor.close(ec);
}

uint16_t TestDnsServer::port() const { return st_->port; }
const std::string& TestDnsServer::address() const { return st_->addr; }

void TestDnsServer::add(const std::string& name, const std::string& type, const std::string& value) {
  uint16_t t = type_code(type);
  if (!t) throw std::invalid_argument("test DNS server: unsupported type " + type);
  if (t == 1 || t == 28) {
    uint8_t a[16];
    if (::inet_pton(t == 1 ? AF_INET : AF_INET6, value.c_str(), a) != 1)
      throw std::invalid_argument("test DNS server: bad address " + value);
  }
  if (t == 15 && value.find(' ') == std::string::npos)
    throw std::invalid_argument("test DNS server: MX needs 'PREF HOST': " + value);
  st_->recs.push_back({lc(name), t, value});
}

void TestDnsServer::rule(const std::string& name, const std::string& type, Fault f) {
  st_->rules[{lc(name), type}] = State::RuleState{f, 0};
}

void TestDnsServer::no_chase(const std::string& name) { st_->unchased.push_back(lc(name)); }

void TestDnsServer::clear() {
  st_->recs.clear();
  st_->rules.clear();
  st_->unchased.clear();
  st_->log.clear();
}

std::vector<QueryRecord> TestDnsServer::log() const { return st_->log; }

int TestDnsServer::queries(const std::string& transport) const {
  return static_cast<int>(
      std::count_if(st_->log.begin(), st_->log.end(), [&](const QueryRecord& r) { return r.transport == transport; }));
}

std::string TestDnsServer::resolv_conf_text(int timeout, int attempts) const {
  return "nameserver " + st_->addr + "\noptions timeout:" + std::to_string(timeout) +
         " attempts:" + std::to_string(attempts) + "\n";
}

}  // namespace mta::dns::testing
