#include "local/mail_copy.hpp"

#include "core/address.hpp"
#include "core/fault.hpp"
#include "util/clock.hpp"

#include <cerrno>

namespace mta::local {
namespace {

// Quote the local part of an address as it is written in an address.
std::string quote_addr(std::string_view a) {
  auto p = core::split_address(a);
  std::string out = core::quote_local(core::unquote_local(p.local));
  if (p.has_at) out += "@" + p.domain;
  return out;
}

}  // namespace

std::string mail_copy(std::string_view content, const CopyAttrs& attrs, unsigned flags, int64_t now) {
  std::string out;
  out.reserve(content.size() + 256);
  std::string sender = attrs.sender.empty() ? std::string() : quote_addr(attrs.sender);
  if (flags & copy_from) {
    out += "From ";
    out += attrs.sender.empty() ? "MAILER-DAEMON" : sender;
    out += "  ";
    out += util::asctime24(now);
    out += '\n';
  }
  if (flags & copy_return_path) out += "Return-Path: <" + sender + ">\n";
  // An empty original recipient means original-recipient tracking was off
  // (or an owner- alias reset it): no header, as Postfix.
  if ((flags & copy_orig_rcpt) && !attrs.orig_rcpt.empty()) out += "X-Original-To: " + quote_addr(attrs.orig_rcpt) + "\n";
  if (flags & copy_delivered) out += "Delivered-To: " + quote_addr(attrs.delivered) + "\n";

  size_t i = 0;
  while (i < content.size()) {
    size_t j = content.find('\n', i);
    size_t end = j == std::string_view::npos ? content.size() : j;
    std::string_view line = content.substr(i, end - i);
    if ((flags & copy_quote) && line.substr(0, 5) == "From " && !core::fault::active(core::fault::Id::no_from_quoting))
      out += '>';
    out += line;
    out += '\n';
    i = end + 1;
  }
  if (flags & copy_blank) out += '\n';
  return out;
}

std::string mbox_dsn(int err, std::string_view def) {
  if (err == EAGAIN || err == ESTALE) return "4.2.0";
  if (err == ENOSPC) return "4.3.0";
  if (err == EDQUOT || err == EFBIG) return "5.2.2";
  return std::string(def);
}

}  // namespace mta::local
