#include "qmgr/agents.hpp"

#include <cctype>

namespace mta::qmgr {
namespace {

bool is_dsn(const std::string& s) {
  // d.ddd.ddd with a class of 2, 4 or 5
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  size_t dots = 0;
  for (char c : s) {
    if (c == '.') ++dots;
    else if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return dots == 2 && s.back() != '.';
}

}  // namespace

void ErrorAgent::deliver(core::DeliveryRequest req, core::DeliveryDone done) {
  std::string text = req.nexthop, dsn = soft_ ? "4.0.0" : "5.0.0";
  auto sp = text.find(' ');
  if (sp != std::string::npos && is_dsn(text.substr(0, sp))) {
    dsn = text.substr(0, sp);
    if (soft_ && dsn[0] == '5') dsn[0] = '4';
    text = text.substr(sp + 1);
  }
  if (text.empty()) text = soft_ ? "delivery temporarily suspended" : "mail delivery disabled";
  std::vector<core::DeliveryResult> out;
  for (size_t i : req.rcpts) {
    core::DeliveryResult r;
    r.rcpt = i;
    r.dsn = dsn;
    r.reason = text;
    r.relay = "none";
    r.diagnostic = "X-Postfix; " + text;
    out.push_back(std::move(r));
  }
  done(std::move(out));
}

void DiscardAgent::deliver(core::DeliveryRequest req, core::DeliveryDone done) {
  std::vector<core::DeliveryResult> out;
  for (size_t i : req.rcpts) {
    core::DeliveryResult r;
    r.rcpt = i;
    r.dsn = "2.0.0";
    r.reason = req.nexthop.empty() ? "discarded" : req.nexthop;
    r.relay = "none";
    out.push_back(std::move(r));
  }
  done(std::move(out));
}

}  // namespace mta::qmgr
