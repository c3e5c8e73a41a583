// libFuzzer entry for the harness's DNS codec and responder; see fuzz_one.hpp.
#include "dns/fuzz/fuzz_one.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mxlab::dns::fuzz::fuzz_one(data, size);
  return 0;
}
