#include "dns/responder.hpp"

#include "common/strings.hpp"

#include <algorithm>
#include <stdexcept>

namespace mxlab::dns {
namespace {

bool under(std::string_view name, std::string_view origin) {
  if (origin == ".") return true;
  return name == origin ||
         (name.size() > origin.size() && name.substr(name.size() - origin.size()) == origin &&
          name[name.size() - origin.size() - 1] == '.');
}

std::string parent(std::string_view name) {
  auto dot = name.find('.');
  // Escaped dots ("a\.b") are not label separators; skip them.
  while (dot != std::string_view::npos && dot > 0 && name[dot - 1] == '\\') dot = name.find('.', dot + 1);
  if (dot == std::string_view::npos) return ".";
  return std::string(name.substr(dot + 1));
}

const char* result_text(unsigned rcode, size_t answers) {
  switch (rcode) {
    case wire::noerror: return answers ? "NOERROR" : "NODATA";
    case wire::nxdomain: return "NXDOMAIN";
    case wire::servfail: return "SERVFAIL";
    case wire::refused: return "REFUSED";
    case wire::formerr: return "FORMERR";
    case wire::notimp: return "NOTIMP";
    default: return "BADVERS";
  }
}

}  // namespace

Responder::Responder(const ZoneSet& zs) {
  for (const auto& o : zs.origins) {
    Zone z;
    z.origin = wire::canonical_name(o);
    if (std::none_of(zones_.begin(), zones_.end(), [&](const Zone& x) { return x.origin == z.origin; }))
      zones_.push_back(std::move(z));
  }
  for (const auto& r : zs.records) {
    std::string name;
    uint16_t type = 0;
    try {
      name = wire::canonical_name(r.name == "@" && zones_.size() == 1 ? zones_[0].origin : r.name);
      auto t = wire::type_from_name(r.type);
      if (!t) throw std::invalid_argument("unknown type");
      type = *t;
      Compiled c{type, r.ttl, wire::encode_rdata(type, r.value), {}};
      if (type == wire::t_cname) c.target = wire::canonical_name(c.rdata.parts.at(0).name);
      names_[name].push_back(std::move(c));
    } catch (const std::exception& e) {
      throw std::runtime_error("record " + r.name + " " + r.type + " \"" + r.value + "\": " + e.what());
    }
  }
  // Every apex answers SOA and NS even when the zone text gives neither.
  for (const auto& z : zones_) {
    auto& rrs = names_[z.origin];
    const std::string host = z.origin == "." ? "" : z.origin + ".";
    auto has = [&](uint16_t t) { return std::any_of(rrs.begin(), rrs.end(), [&](const Compiled& c) { return c.type == t; }); };
    if (!has(wire::t_soa))
      rrs.push_back({wire::t_soa, 300, wire::encode_rdata(wire::t_soa, "ns." + host + " hostmaster." + host + " 1 3600 600 86400 60"), {}});
    if (!has(wire::t_ns)) rrs.push_back({wire::t_ns, 300, wire::encode_rdata(wire::t_ns, "ns." + host), {}});
  }
  for (auto& z : zones_) {
    for (const auto& c : names_[z.origin])
      if (c.type == wire::t_soa) z.soa = &c;
    exists_.insert(z.origin);
  }
  // A name exists when it has data, and so do its ancestors down to its
  // zone's apex (empty non-terminals answer NODATA, not NXDOMAIN).
  for (const auto& [name, rrs] : names_) {
    exists_.insert(name);
    const Zone* z = zone_of(name);
    if (!z) continue;
    for (std::string p = name; p != z->origin && p != ".";) {
      p = parent(p);
      exists_.insert(p);
    }
  }
}

const Responder::Zone* Responder::zone_of(std::string_view name) const {
  const Zone* best = nullptr;
  for (const auto& z : zones_)
    if (under(name, z.origin) && (!best || z.origin.size() > best->origin.size())) best = &z;
  return best;
}

void Responder::set_faults(std::vector<Fault> faults) {
  for (auto& f : faults) {
    // Checked here so a fault built in code fails loudly instead of never
    // matching.
    try {
      if (f.name != "*") {
        bool wild = f.name.size() > 2 && f.name.substr(0, 2) == "*.";
        f.name = (wild ? "*." : "") + wire::canonical_name(wild ? f.name.substr(2) : f.name);
      }
    } catch (const wire::ParseError& e) {
      throw std::invalid_argument("fault name \"" + f.name + "\": " + e.what());
    }
    if (f.type != "*" && !wire::type_from_name(f.type)) throw std::invalid_argument("fault type \"" + f.type + "\" is not a type");
    if (f.first_n < 0 || f.delay_ms < 0) throw std::invalid_argument("fault " + f.name + ": negative first_n or delay_ms");
  }
  std::lock_guard lock(faults_mu_);
  faults_ = std::move(faults);
  fault_used_.assign(faults_.size(), 0);
}

bool Responder::match_fault(std::string_view name, uint16_t qtype, bool tcp, Fault& out) {
  std::lock_guard lock(faults_mu_);
  for (size_t i = 0; i < faults_.size(); ++i) {
    const auto& f = faults_[i];
    if (f.kind == FaultKind::truncate && tcp) continue;  // truncation is a UDP matter
    bool name_ok = f.name == "*" || f.name == name ||
                   (f.name.size() > 2 && f.name[0] == '*' && name != std::string_view(f.name).substr(2) &&
                    under(name, std::string_view(f.name).substr(2)));
    if (!name_ok) continue;
    if (f.type != "*") {
      auto t = wire::type_from_name(f.type);
      if (!t || *t != qtype) continue;
    }
    if (f.first_n > 0 && fault_used_[i] >= f.first_n) continue;
    ++fault_used_[i];
    out = f;
    return true;
  }
  return false;
}

Responder::Result Responder::resolve(std::string_view qname, std::string_view qname_as_sent, uint16_t qtype,
                                     const Zone*& soa_zone) {
  answers_.clear();
  std::string_view name = qname;
  std::string_view owner = qname_as_sent;  // echo the client's spelling (0x20 case randomisation)
  for (int depth = 0; depth < 16; ++depth) {
    soa_zone = zone_of(name);
    auto it = names_.find(std::string(name));
    if (it == names_.end()) return exists_.count(std::string(name)) ? Result::nodata : Result::nxdomain;
    bool found = false;
    const Compiled* cname = nullptr;
    for (const auto& c : it->second) {
      if (qtype == wire::t_any || c.type == qtype) {
        answers_.push_back({owner, &c});
        found = true;
      } else if (c.type == wire::t_cname) {
        cname = &c;
      }
    }
    if (found) return Result::noerror;
    if (!cname) return answers_.empty() ? Result::nodata : Result::noerror;
    answers_.push_back({owner, cname});
    // Stop at a loop: the chain so far is the answer.
    for (size_t i = 0; i + 1 < answers_.size(); ++i)
      if (answers_[i].rr->type == wire::t_cname && answers_[i].rr->target == cname->target) return Result::noerror;
    if (cname->target == qname) return Result::noerror;
    name = cname->target;
    owner = cname->target;
  }
  return Result::noerror;
}

Responder::Outcome Responder::respond(std::span<const uint8_t> query, bool tcp, std::string_view client,
                                      std::vector<uint8_t>& out) {
  Outcome oc;
  oc.log.time = common::wall_seconds();
  oc.log.transport = tcp ? "tcp" : "udp";
  oc.log.client = std::string(client);
  out.clear();
  if (query.size() < 12) {  // no ID to answer to
    oc.log.result = "FORMERR";
    return oc;
  }
  wire::Header qh = wire::parse_header(query);
  if (qh.qr) {
    oc.logged = false;
    return oc;
  }
  wire::Header h;
  h.id = qh.id;
  h.qr = true;
  h.opcode = qh.opcode;
  h.rd = qh.rd;
  h.ra = true;  // the lab answers every name it knows, as a recursive server would
  wire::Writer w(out);
  auto finish_error = [&](uint8_t rcode, const wire::Message* m) {
    h.rcode = rcode;
    w.header(h);
    if (m && m->questions.size() == 1) w.question(m->questions[0].name, m->questions[0].type, m->questions[0].cls);
    if (m && m->edns) w.opt(wire::Edns{advertised_udp_payload, 0, 0, m->edns->do_bit, {}});
    oc.send = true;
    oc.log.result = result_text(rcode, 0);
  };

  wire::Message m;
  try {
    m = wire::parse(query);
  } catch (const wire::ParseError&) {
    finish_error(wire::formerr, nullptr);
    return oc;
  }
  if (m.questions.size() == 1) {
    try {
      oc.log.name = wire::canonical_name(m.questions[0].name);
    } catch (const wire::ParseError&) {
      oc.log.name = m.questions[0].name;
    }
    oc.log.type = wire::type_name(m.questions[0].type);
  }
  if (qh.opcode != 0) {
    finish_error(wire::notimp, &m);
    return oc;
  }
  if (m.questions.size() != 1 || m.questions[0].type == wire::t_opt) {
    finish_error(wire::formerr, &m);
    return oc;
  }
  if (m.edns && m.edns->version != 0) {
    // BADVERS is 16: extended RCODE 1 in the OPT record, 0 in the header.
    h.rcode = 0;
    w.header(h);
    w.question(m.questions[0].name, m.questions[0].type, m.questions[0].cls);
    w.opt(wire::Edns{advertised_udp_payload, 1, 0, m.edns->do_bit, {}});
    oc.send = true;
    oc.log.result = "BADVERS";
    return oc;
  }
  const auto& q = m.questions[0];
  if ((q.cls != wire::class_in && q.cls != wire::class_any) || q.type == wire::t_axfr || q.type == wire::t_ixfr) {
    finish_error(wire::refused, &m);
    return oc;
  }
  const std::string& qname = oc.log.name;

  const size_t limit = !tcp ? (m.edns ? std::clamp<size_t>(m.edns->udp_size, 512, max_udp_payload) : 512) : 65535;
  auto build = [&](uint8_t rcode, bool aa, bool tc, const Zone* soa_zone, bool with_answers) {
    h.rcode = rcode;
    h.aa = aa;
    h.tc = tc;
    w.header(h);
    w.question(q.name, q.type, q.cls);
    if (with_answers) {
      for (const auto& a : answers_) w.rr(wire::Section::answer, a.owner, a.rr->type, wire::class_in, a.rr->ttl, a.rr->rdata);
      if (soa_zone && soa_zone->soa) {
        // RFC 2308 section 5: the negative TTL is the smaller of the two.
        uint32_t minimum = 0;
        const auto& b = soa_zone->soa->rdata.parts.back().bytes;
        if (b.size() == 20) minimum = (uint32_t{b[16]} << 24) | (uint32_t{b[17]} << 16) | (uint32_t{b[18]} << 8) | b[19];
        w.rr(wire::Section::authority, soa_zone->origin, wire::t_soa, wire::class_in, std::min(soa_zone->soa->ttl, minimum),
             soa_zone->soa->rdata);
      }
    }
    if (m.edns) w.opt(wire::Edns{advertised_udp_payload, 0, 0, m.edns->do_bit, {}});
  };

  Fault fault;
  bool faulted = match_fault(qname, q.type, tcp, fault);
  if (faulted) oc.delay_ms = fault.delay_ms;
  if (faulted && fault.kind != FaultKind::delay) {
    const Zone* z = zone_of(qname);
    answers_.clear();
    switch (fault.kind) {
      case FaultKind::drop:
        oc.log.result = "DROPPED";
        return oc;
      case FaultKind::servfail:
        build(wire::servfail, false, false, nullptr, false);
        oc.log.result = "SERVFAIL";
        break;
      case FaultKind::refused:
        build(wire::refused, false, false, nullptr, false);
        oc.log.result = "REFUSED";
        break;
      case FaultKind::nxdomain:
        build(wire::nxdomain, true, false, z, true);
        oc.log.result = "NXDOMAIN";
        break;
      case FaultKind::nodata:
        build(wire::noerror, true, false, z, true);
        oc.log.result = "NODATA";
        break;
      case FaultKind::truncate:
        build(wire::noerror, true, true, nullptr, false);
        oc.log.result = "TRUNCATED";
        break;
      case FaultKind::delay:
        break;
    }
    oc.send = true;
    return oc;
  }

  const Zone* soa_zone = nullptr;
  Result r = resolve(qname, q.name, q.type, soa_zone);
  const uint8_t rcode = r == Result::nxdomain ? wire::nxdomain : wire::noerror;
  const bool negative = r != Result::noerror;
  build(rcode, true, false, negative ? soa_zone : nullptr, true);
  if (out.size() > limit) {
    if (tcp) {  // cannot be framed: say so rather than send a broken message
      answers_.clear();
      build(wire::servfail, false, false, nullptr, false);
      oc.log.result = "SERVFAIL";
    } else {
      build(rcode, true, true, nullptr, false);
      oc.log.result = "TRUNCATED";
    }
    oc.send = true;
    return oc;
  }
  oc.send = true;
  oc.log.answers = static_cast<int>(answers_.size());
  oc.log.result = result_text(rcode, answers_.size());
  return oc;
}

}  // namespace mxlab::dns
