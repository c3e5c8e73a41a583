// Feeds the fuzz target's checks (fuzz/fuzz_one.hpp) with random packets,
// every truncation of valid messages and bit flips of them. Deterministic
// (fixed seed), so a failure reproduces; the libFuzzer target explores more.
#include "dns/fuzz/fuzz_one.hpp"

#include <gtest/gtest.h>

#include <random>

using namespace mxlab::dns;
namespace w = mxlab::dns::wire;

namespace {

std::vector<std::vector<uint8_t>> seeds() {
  std::vector<std::vector<uint8_t>> out;
  const char* names[] = {"example.test", "mx.example.test", "alias.example.test", "loop1.example.test",
                         "null.example.test", "txt.example.test", "fail.example.test", "cut.example.test",
                         "25.2.0.192.in-addr.arpa", "nosuch.example.test", "outside.invalid"};
  const uint16_t types[] = {w::t_a, w::t_aaaa, w::t_mx, w::t_txt, w::t_ptr, w::t_cname, w::t_any, w::t_soa};
  for (auto n : names)
    for (auto t : types)
      for (int edns = 0; edns < 2; ++edns) {
        std::vector<uint8_t> b;
        w::Writer wr(b);
        w::Header h;
        h.id = static_cast<uint16_t>(out.size() + 1);
        h.rd = true;
        wr.header(h);
        wr.question(n, t, w::class_in);
        if (edns) wr.opt(w::Edns{1232, 0, 0, true, {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}});
        out.push_back(b);
      }
  // Some responses too (with compression pointers inside RDATA).
  auto zs = parse_zone_text(fuzz::fuzz_zone_text(), "seed");
  Responder r(zs);
  std::vector<std::vector<uint8_t>> responses;
  for (const auto& q : out) {
    std::vector<uint8_t> resp;
    if (r.respond(q, true, "seed", resp).send) responses.push_back(resp);
  }
  out.insert(out.end(), responses.begin(), responses.end());
  return out;
}

}  // namespace

TEST(CodecFuzzTest, RandomPackets) {
  std::mt19937 rng(20261128);
  std::vector<uint8_t> b;
  for (int i = 0; i < 100000; ++i) {
    b.resize(rng() % 600);
    for (auto& c : b) c = static_cast<uint8_t>(rng());
    // Plausible headers reach deeper: small counts, QR clear.
    if (b.size() >= 12 && (i & 1)) {
      b[2] &= 0x7f;
      for (int k = 4; k < 12; k += 2) {
        b[k] = 0;
        b[k + 1] = static_cast<uint8_t>(rng() % 3);
      }
    }
    fuzz::fuzz_one(b.data(), b.size());
  }
  SUCCEED();
}

TEST(CodecFuzzTest, TruncationsAndBitFlipsOfValidMessages) {
  std::mt19937 rng(7505);
  auto all = seeds();
  ASSERT_GT(all.size(), 200u);
  size_t parsed_mutants = 0;
  for (const auto& s : all) {
    for (size_t n = 0; n <= s.size(); ++n) fuzz::fuzz_one(s.data(), n);
    for (int k = 0; k < 60; ++k) {
      auto m = s;
      int flips = 1 + static_cast<int>(rng() % 3);
      for (int f = 0; f < flips; ++f) m[rng() % m.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      fuzz::fuzz_one(m.data(), m.size());
      try {
        w::parse(m);
        ++parsed_mutants;
      } catch (const w::ParseError&) {
      }
    }
  }
  // The mutations must also produce valid-but-odd messages, or the checks
  // above saw only the error paths.
  EXPECT_GT(parsed_mutants, 1000u);
}
