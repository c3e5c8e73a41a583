#include "core/delivery.hpp"

#include "util/clock.hpp"
#include "util/strings.hpp"

#include <fmt/core.h>

namespace mta::core {

std::string delivery_log_text(const Recipient& r, const DeliveryResult& res, double total, double a, double b) {
  std::string s = fmt::format("to=<{}>", r.address);
  if (!r.orig.empty() && !util::iequals(r.orig, r.address)) s += fmt::format(", orig_to=<{}>", r.orig);
  const char* status = res.kind() == '2' ? "sent" : res.kind() == '5' ? "bounced" : "deferred";
  s += fmt::format(", relay={}", res.relay.empty() ? "none" : res.relay);
  if (res.conn_use > 1) s += fmt::format(", conn_use={}", res.conn_use);
  s += fmt::format(", delay={}, delays={}/{}/{}/{}, dsn={}, status={} ({})", util::format_delay(total),
                   util::format_delay(a), util::format_delay(b), util::format_delay(res.conn_delay),
                   util::format_delay(res.xfer_delay), res.dsn, status, res.reason);
  return s;
}

}  // namespace mta::core
