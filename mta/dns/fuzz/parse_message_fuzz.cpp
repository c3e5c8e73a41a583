// NAME
//   parse_message_fuzz - libFuzzer target for the DNS reply parser
// DESCRIPTION
//   Feeds arbitrary bytes to parse_message() and, when they parse, to
//   extract_answer() for the first question, as the resolver does with every
//   reply c-ares hands over. Build with clang:
//     cmake -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DMX_FUZZ=ON
//     cmake --build build-fuzz --target mta_dns_fuzz
//     build-fuzz/bin/mta_dns_fuzz -max_total_time=60
#include "dns/message.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mta::dns::Message m;
  std::string err;
  if (!mta::dns::parse_message(data, size, m, err)) return 0;
  std::string qname = m.questions.empty() ? "example.com" : m.questions[0].name;
  for (uint16_t t : {mta::dns::type_mx, mta::dns::type_a, mta::dns::type_aaaa, mta::dns::type_ptr})
    (void)mta::dns::extract_answer(m, qname, t);
  return 0;
}
