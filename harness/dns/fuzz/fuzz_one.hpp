// NAME
//   dns/fuzz/fuzz_one - the property checks one fuzz input goes through
// DESCRIPTION
//   Shared by the libFuzzer target (fuzz_wire.cpp) and the unit test that
//   feeds random and truncated packets (codec_fuzz.test.cpp). For any input:
//     - wire::parse either throws ParseError or returns a message whose
//       names are valid text names and whose known-type record data encodes
//       back to the same text;
//     - the Responder answers over UDP and TCP without crashing, and what it
//       sends parses, echoes the ID, has QR set and fits the transport
//       (512 octets over UDP without EDNS0).
//   A violated property aborts, which both harnesses report.
#pragma once
#include "dns/fake_dns.hpp"
#include "dns/responder.hpp"
#include "dns/wire.hpp"

#include <cstdint>
#include <cstdlib>
#include <vector>

namespace mxlab::dns::fuzz {

inline const char* fuzz_zone_text() {
  return "$ORIGIN example.test\n"
         "example.test MX 10 mx.example.test.\n"
         "mx A 192.0.2.25\n"
         "mx AAAA 2001:db8::25\n"
         "alias CNAME mx\n"
         "loop1 CNAME loop2\n"
         "loop2 CNAME loop1\n"
         "null MX 0 .\n"
         "txt TXT \"v=spf1 -all\" \"second \\\"q\\\" \\255\"\n"
         "25.2.0.192.in-addr.arpa. PTR mx.example.test.\n"
         "!fault fail.example.test * servfail first=1\n"
         "!fault cut.example.test A truncate\n";
}

inline void check(bool ok) {
  if (!ok) std::abort();
}

inline void fuzz_one(const uint8_t* data, size_t size) {
  // Built once and never freed: the fuzzer calls this millions of times.
  static Responder& responder = *[] {
    auto zs = parse_zone_text(fuzz_zone_text(), "fuzz");
    auto* r = new Responder(zs);
    r->set_faults(zs.faults);
    return r;
  }();
  std::span<const uint8_t> in(data, size);
  try {
    auto m = wire::parse(in);
    for (const auto* sec : {&m.answers, &m.authority, &m.additional})
      for (const auto& rr : *sec) {
        wire::split_name(rr.name);  // must not throw for a name parse() produced
        if (rr.type == wire::t_a || rr.type == wire::t_aaaa || rr.type == wire::t_mx || rr.type == wire::t_txt ||
            rr.type == wire::t_cname || rr.type == wire::t_ptr || rr.type == wire::t_ns || rr.type == wire::t_soa) {
          std::vector<uint8_t> buf;
          wire::Writer w(buf);
          w.header(wire::Header{});
          w.rr(wire::Section::answer, rr.name, rr.type, rr.cls, rr.ttl, wire::encode_rdata(rr.type, rr.data));
          auto back = wire::parse(buf);
          check(back.answers.size() == 1 && back.answers[0].data == rr.data);
        }
      }
    for (const auto& q : m.questions) wire::split_name(q.name);
  } catch (const wire::ParseError&) {
  }
  std::vector<uint8_t> out;
  for (bool tcp : {false, true}) {
    auto oc = responder.respond(in, tcp, "fuzz", out);
    if (!oc.send) continue;
    auto r = wire::parse(out);  // a ParseError here escapes: our own output must parse
    check(r.header.qr);
    check(r.header.id == wire::parse_header(in).id);
    if (!tcp) check(out.size() <= Responder::max_udp_payload);
    if (!tcp && out.size() > 512) {
      // Only a client that sent EDNS0 may get more than 512 octets.
      auto q = wire::parse(in);
      check(q.edns.has_value() && out.size() <= q.edns->udp_size);
    }
  }
}

}  // namespace mxlab::dns::fuzz
