#include "smtpd/data.hpp"

#include "core/fault.hpp"
#include "util/clock.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>

namespace mta::smtpd {

void LineBuffer::append(std::string_view bytes) {
  compact();
  buf_.append(bytes);
}

void LineBuffer::compact() {
  // Keep the buffer small: drop consumed bytes once they dominate.
  if (pos_ > 0 && (pos_ >= buf_.size() || pos_ > 4096)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

bool LineBuffer::next(size_t limit, Line& out) {
  if (limit < 2) limit = 2;
  size_t avail = pending();
  std::string_view v(buf_.data() + pos_, avail);
  // As Postfix's bounded read, the limit counts the terminator too.
  size_t lf = v.substr(0, std::min(avail, limit)).find('\n');
  if (lf != std::string_view::npos) {
    std::string_view text = v.substr(0, lf);
    size_t crs = 0;
    while (!text.empty() && text.back() == '\r') {
      text.remove_suffix(1);
      ++crs;
    }
    out.text.assign(text);
    out.eol = crs ? Eol::crlf : Eol::bare_lf;
    out.stray_cr = crs > 1;
    pos_ += lf + 1;
    return true;
  }
  if (avail < limit) return false;
  size_t take = limit;
  // Do not separate a CR from the LF that may follow in the next read.
  if (v[take - 1] == '\r') --take;
  out.text.assign(v.substr(0, take));
  out.eol = Eol::none;
  out.stray_cr = false;
  pos_ += take;
  return true;
}

bool LineBuffer::skip_line() {
  std::string_view v(buf_.data() + pos_, pending());
  auto lf = v.find('\n');
  if (lf == std::string_view::npos) {
    pos_ = buf_.size();
    compact();
    return false;
  }
  pos_ += lf + 1;
  return true;
}

std::string_view LineBuffer::peek(size_t n) const {
  return std::string_view(buf_.data() + pos_, std::min(n, pending()));
}

void LineBuffer::clear() {
  buf_.clear();
  pos_ = 0;
}

std::optional<BareLf> parse_bare_lf(std::string_view v) {
  v = util::trim(v);
  if (util::iequals(v, "no")) return BareLf::no;
  if (util::iequals(v, "normalize") || util::iequals(v, "yes")) return BareLf::normalize;
  if (util::iequals(v, "reject")) return BareLf::reject;
  return std::nullopt;
}

DataReceiver::DataReceiver(BareLf mode, long long size_limit)
    : mode_(mode), limit_(size_limit > 0 && size_limit < kUnlimited ? size_limit : kUnlimited) {}

void DataReceiver::store(std::string_view text, bool complete) {
  if (too_big_) return;
  // Postfix counts every record as its length plus CRLF.
  long long need = static_cast<long long>(text.size()) + 2;
  if (limit_ - act_size_ < need) {
    too_big_ = true;
    std::string().swap(content_);  // the message is lost anyway: free it now
    return;
  }
  act_size_ += need;
  content_.append(text);
  if (complete) content_ += '\n';
}

bool DataReceiver::feed(const Line& l) {
  const bool bare = l.eol == Eol::bare_lf;
  const bool complete = l.eol != Eol::none;
  if (bare && mode_ == BareLf::reject && !core::fault::active(core::fault::Id::accept_bare_lf_reject))
    bare_lf_seen_ = true;
  std::string_view text = l.text;

  auto done = [&](bool result) {
    prev_cont_ = !complete;
    prev_bare_ = bare;
    return result;
  };

  if (first_) {
    if (!prev_cont_) {
      size_t g = text.find_first_not_of('>');
      if (g != std::string_view::npos && text.substr(g).substr(0, 5) == "From ") {
        // Sendmail-style From_ line in SMTP content: keep it as a header.
        store("X-Mailbox-Line: " + std::string(text), complete);
        mailbox_line_ = true;
        return done(false);
      }
      mailbox_line_ = false;
    } else if (mailbox_line_) {
      store(text, complete);
      return done(false);
    }
    first_ = false;
    // Content that starts with white space would continue our Received:
    // header; an empty line makes it body, as Postfix does.
    if (!text.empty() && (text.front() == ' ' || text.front() == '\t') && !too_big_) content_ += '\n';
  }

  if (!prev_cont_ && !text.empty() && text.front() == '.') {
    if (text.size() == 1 && complete) {
      // Under normalize/reject only <CR><LF>.<CR><LF> ends DATA; a
      // non-standard end is neither the end nor stored. (Postfix also takes
      // ".<CR><CR><LF>" as the end; mxmta does not: see docs/smtpd.md.)
      if (mode_ != BareLf::no && (bare || prev_bare_ || l.stray_cr) &&
          !core::fault::active(core::fault::Id::data_ends_at_lf_dot_lf))
        return done(false);
      return done(true);
    }
    text.remove_prefix(1);  // dot-unstuffing (RFC 5321 4.5.2)
  }
  store(text, complete);
  return done(false);
}

std::string received_header(const std::string& helo, const std::string& client_name, const std::string& rfc_addr,
                            const std::string& myhostname, const std::string& mail_name, const std::string& protocol,
                            const std::string& queue_id, const std::string* single_rcpt, int64_t when) {
  std::string h = fmt::format("Received: from {} ({} [{}])\n", helo.empty() ? client_name : helo, client_name,
                              rfc_addr);
  if (single_rcpt) {
    h += fmt::format("\tby {} ({}) with {} id {}\n", myhostname, mail_name, protocol, queue_id);
    h += fmt::format("\tfor <{}>; {}\n", *single_rcpt, util::rfc5322_date(when));
  } else {
    h += fmt::format("\tby {} ({}) with {} id {};\n", myhostname, mail_name, protocol, queue_id);
    h += fmt::format("\t{}\n", util::rfc5322_date(when));
  }
  return h;
}

}  // namespace mta::smtpd
