// Peer: the scripted peer's sockets. One coroutine per connection on the
// peer's own io_context and thread; the SMTP logic is in dialogue.cpp.
#include "common/asio.hpp"
#include "common/strings.hpp"
#include "peer/dialogue.hpp"
#include "peer/peer.hpp"

#include <array>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

namespace mxlab::peer {

using net::ip::tcp;

namespace {

constexpr size_t k_max_line = 2048;  // Postfix's line_length_limit

struct State {
  explicit State(Spec s) : spec(std::move(s)), book(spec.rules) {}

  Spec spec;
  RuleBook book;
  std::function<void(const ReceivedMessage&)> on_message;

  mutable std::mutex mu;  // transcripts and messages are read from other threads
  std::vector<Transcript> transcripts;
  std::vector<ReceivedMessage> messages;
  int last_id = 0;  // the io thread's only

  std::unique_ptr<net::io_context> io;
  std::optional<tcp::acceptor> acceptor;
  std::list<std::weak_ptr<tcp::socket>> sockets;  // so stop() can close them
  std::thread thread;
  uint16_t port = 0;

  size_t open_transcript(std::string client) {
    std::lock_guard lock(mu);
    Transcript t;
    t.client = std::move(client);
    t.start = common::wall_seconds();
    transcripts.push_back(std::move(t));
    return transcripts.size() - 1;
  }
  void note(size_t t, char kind, std::string_view text) {
    std::lock_guard lock(mu);
    transcripts[t].lines.emplace_back(kind, std::string(text));
  }
  void close_transcript(size_t t) {
    std::lock_guard lock(mu);
    if (transcripts[t].end == 0) transcripts[t].end = common::wall_seconds();
  }
  void accept(ReceivedMessage m) {
    {
      std::lock_guard lock(mu);
      messages.push_back(m);
    }
    if (on_message) on_message(m);
  }
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(State& st, std::shared_ptr<tcp::socket> sock)
      : st_(st), sock_(std::move(sock)), deadline_(sock_->get_executor()) {}

  static net::awaitable<void> run(std::shared_ptr<Session> self) { co_await self->main(); }

 private:
  net::awaitable<void> main();
  net::awaitable<bool> perform(const Action& a);
  net::awaitable<bool> flush();
  net::awaitable<void> drain_until_eof();
  static net::awaitable<void> watchdog(std::shared_ptr<Session> self);
  void idle_deadline() { deadline_.expires_after(std::chrono::milliseconds(std::max(st_.spec.idle_timeout_ms, 1))); }
  void close() {
    boost::system::error_code ec;
    sock_->close(ec);
    deadline_.cancel();
  }

  State& st_;
  std::shared_ptr<tcp::socket> sock_;
  net::steady_timer deadline_;
  bool timed_out_ = false;
  size_t transcript_ = 0;
  std::optional<Dialogue> d_;
  std::string out_;
};

net::awaitable<void> Session::watchdog(std::shared_ptr<Session> self) {
  while (self->sock_->is_open()) {
    boost::system::error_code ec;
    co_await self->deadline_.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (!self->sock_->is_open()) co_return;
    if (self->deadline_.expiry() <= net::steady_timer::clock_type::now()) {
      // Cancel the pending read; the session answers 421 and closes.
      self->timed_out_ = true;
      self->sock_->cancel(ec);
      co_return;
    }
  }
}

net::awaitable<bool> Session::flush() {
  if (out_.empty()) co_return sock_->is_open();
  boost::system::error_code ec;
  co_await net::async_write(*sock_, net::buffer(out_), net::redirect_error(net::use_awaitable, ec));
  out_.clear();
  co_return !ec;
}

net::awaitable<void> Session::drain_until_eof() {
  std::array<char, 4096> buf;
  std::string partial;
  for (;;) {
    boost::system::error_code ec;
    size_t n = co_await sock_->async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
    if (ec) break;
    partial.append(buf.data(), n);
    for (size_t nl; (nl = partial.find('\n')) != std::string::npos; partial.erase(0, nl + 1)) {
      std::string_view line(partial.data(), nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      st_.note(transcript_, 'C', line);
    }
  }
  st_.note(transcript_, '#', "client closed the connection");
}

net::awaitable<bool> Session::perform(const Action& a) {
  if (a.kind == Reply::Action::stall && a.delay_ms == 0) {
    if (!co_await flush()) co_return false;
    st_.note(transcript_, '#', "stall forever");
    deadline_.expires_at(net::steady_timer::time_point::max());
    co_await drain_until_eof();
    co_return false;
  }
  if (a.delay_ms > 0) {
    if (!co_await flush()) co_return false;
    st_.note(transcript_, '#',
             (a.kind == Reply::Action::stall ? "stall " : "delay ") + std::to_string(a.delay_ms) + " ms");
    deadline_.expires_at(net::steady_timer::time_point::max());
    net::steady_timer t(sock_->get_executor());
    t.expires_after(std::chrono::milliseconds(a.delay_ms));
    boost::system::error_code ec;
    co_await t.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (!sock_->is_open()) co_return false;
    idle_deadline();
  }
  if (!a.text.empty()) {
    size_t start = 0;
    for (;;) {
      size_t nl = a.text.find('\n', start);
      std::string_view line = std::string_view(a.text).substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      out_.append(line);
      out_ += "\r\n";
      st_.note(transcript_, 'S', line);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }
  if (auto m = d_->commit(a)) st_.accept(std::move(*m));
  if (a.close_after) {
    co_await flush();
    st_.note(transcript_, '#', "disconnect");
    close();
    co_return false;
  }
  // Without PIPELINING each reply goes out at once; with it, replies are
  // batched until the input read so far is used up (RFC 2920 section 3.2).
  if (!d_->pipelining()) co_return co_await flush();
  co_return true;
}

net::awaitable<void> Session::main() {
  boost::system::error_code ec;
  auto ep = sock_->remote_endpoint(ec);
  const std::string client = ec ? std::string("?") : common::endpoint_string(ep.address(), ep.port());
  transcript_ = st_.open_transcript(client);
  d_.emplace(st_.spec, st_.book, client, ec ? std::string() : ep.address().to_string());
  idle_deadline();
  common::spawn_logged(sock_->get_executor(), watchdog(shared_from_this()), "peer watchdog");

  std::string in;
  size_t pos = 0;
  bool discarding = false;  // inside an over-long line
  bool reading_data = false;
  DataReader data;
  std::array<char, 16384> buf;

  bool open = co_await perform(d_->on_connect());
  while (open) {
    // Use up what has been read, then flush the batched replies and read.
    bool need_input = false;
    while (open && !need_input) {
      if (d_->in_data()) {
        if (!reading_data) {
          data.reset(d_->max_message_size());
          reading_data = true;
        }
        pos += data.feed(std::string_view(in).substr(pos));
        if (!data.done()) {
          need_input = true;
          continue;
        }
        reading_data = false;
        st_.note(transcript_, '#', "message data, " + std::to_string(data.size()) + " octets");
        const bool big = data.too_big();
        open = co_await perform(d_->on_data_end(data.take(), big, "SINK" + std::to_string(++st_.last_id)));
        continue;
      }
      size_t nl = in.find('\n', pos);
      if (nl == std::string::npos) {
        if (in.size() - pos > k_max_line) {
          discarding = true;
          pos = in.size();
        }
        need_input = true;
        continue;
      }
      std::string_view line(in.data() + pos, nl - pos);
      pos = nl + 1;
      if (line.size() > k_max_line) discarding = true;  // arrived whole, still too long
      if (discarding) {
        discarding = false;
        st_.note(transcript_, '#', "line too long");
        Action a;
        a.text = "500 5.5.0 Error: line too long";
        open = co_await perform(a);
        continue;
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      st_.note(transcript_, 'C', line);
      open = co_await perform(d_->on_command(line));
    }
    if (!open) break;
    if (!co_await flush()) {
      st_.note(transcript_, '#', "write failed");
      break;
    }
    in.erase(0, pos);
    pos = 0;
    size_t n = co_await sock_->async_read_some(net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      if (timed_out_ && sock_->is_open()) {
        Action a;
        a.text = "421 4.4.2 " + d_->hostname() + " Error: timeout exceeded";
        a.close_after = true;
        st_.note(transcript_, '#', "timeout");
        co_await perform(a);
      } else {
        st_.note(transcript_, '#', ec == net::error::eof ? "client closed the connection" : "read error: " + ec.message());
      }
      break;
    }
    idle_deadline();
    in.append(buf.data(), n);
  }
  close();
  st_.close_transcript(transcript_);
}

net::awaitable<void> accept_loop(State& st) {
  for (;;) {
    boost::system::error_code ec;
    auto sock = std::make_shared<tcp::socket>(st.acceptor->get_executor());
    co_await st.acceptor->async_accept(*sock, net::redirect_error(net::use_awaitable, ec));
    if (ec == net::error::operation_aborted || !st.acceptor->is_open()) co_return;
    if (ec) continue;
    st.sockets.remove_if([](const auto& w) { return w.expired(); });
    st.sockets.push_back(sock);
    auto session = std::make_shared<Session>(st, sock);
    common::spawn_logged(st.acceptor->get_executor(), Session::run(session), "peer session");
  }
}

}  // namespace

struct Peer::Impl : State {
  using State::State;
};

Peer::Peer(Spec spec) : impl_(std::make_unique<Impl>(std::move(spec))) {}

Peer::~Peer() { stop(); }

void Peer::start(const std::string& addr, uint16_t port) {
  auto& s = *impl_;
  if (s.io) throw std::logic_error("mxlab::peer::Peer::start: already started");
  boost::system::error_code ec;
  auto ip = net::ip::make_address(addr, ec);
  if (ec) common::throw_std_system_error(ec, "peer " + s.spec.name + ": bad address \"" + addr + "\"");
  s.io = std::make_unique<net::io_context>(1);
  s.acceptor.emplace(*s.io);
  tcp::endpoint ep(ip, port);
  s.acceptor->open(ep.protocol(), ec);
  if (!ec) s.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(ep, ec);
  if (!ec) s.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    s.acceptor.reset();
    s.io.reset();
    common::throw_std_system_error(ec, "peer " + s.spec.name + ": listen " + addr + ":" + std::to_string(port));
  }
  s.port = s.acceptor->local_endpoint().port();
  common::spawn_logged(s.io->get_executor(), accept_loop(s), "peer accept");
  s.thread = std::thread([io = s.io.get()] { io->run(); });
}

uint16_t Peer::port() const { return impl_->port; }

void Peer::stop() {
  auto& s = *impl_;
  if (!s.io) return;
  net::post(*s.io, [&s] {
    boost::system::error_code ec;
    if (s.acceptor) s.acceptor->close(ec);
    for (auto& w : s.sockets)
      if (auto p = w.lock()) p->close(ec);
    s.io->stop();
  });
  if (s.thread.joinable()) s.thread.join();
  s.sockets.clear();
  s.acceptor.reset();
  s.io.reset();  // destroys the sessions still pending
  std::lock_guard lock(s.mu);
  for (auto& t : s.transcripts)
    if (t.end == 0) {
      t.lines.emplace_back('#', "peer stopped");
      t.end = common::wall_seconds();
    }
}

std::vector<Transcript> Peer::transcripts() const {
  std::lock_guard lock(impl_->mu);
  return impl_->transcripts;
}

std::vector<ReceivedMessage> Peer::messages() const {
  std::lock_guard lock(impl_->mu);
  return impl_->messages;
}

const Spec& Peer::spec() const { return impl_->spec; }

std::vector<int> Peer::rule_counts() const { return impl_->book.counts(); }

void Peer::on_message(std::function<void(const ReceivedMessage&)> fn) { impl_->on_message = std::move(fn); }

}  // namespace mxlab::peer
