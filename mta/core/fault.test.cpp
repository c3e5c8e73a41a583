// The fault catalogue, and that a build without MX_FAULTS can never turn a
// fault on (the normal mxmta behaves as it always did).
#include "core/fault.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace mta::core::fault {
namespace {

class FaultTest : public ::testing::Test {};

TEST_F(FaultTest, CatalogueNamesAreUniqueAndParse) {
  std::set<std::string> names;
  for (const auto& f : all()) {
    EXPECT_NE(f.id, Id::none);
    EXPECT_FALSE(f.what.empty()) << f.name;
    EXPECT_TRUE(names.insert(std::string(f.name)).second) << "duplicate " << f.name;
    EXPECT_EQ(parse(f.name), f.id);
  }
  EXPECT_EQ(names.size(), 23u);
  EXPECT_EQ(parse("no_such_fault"), Id::none);
  EXPECT_EQ(parse(""), Id::none);
  EXPECT_EQ(parse("OPEN_RELAY"), Id::none);  // names are exact
}

#ifdef MX_FAULTS
TEST_F(FaultTest, SelectTurnsOneFaultOn) {
  select("open_relay");
  EXPECT_TRUE(active(Id::open_relay));
  EXPECT_FALSE(active(Id::wrong_ehlo));
  EXPECT_FALSE(active(Id::none));
  select("no_such_fault");
  EXPECT_FALSE(active(Id::open_relay));
  select("");
  for (const auto& f : all()) EXPECT_FALSE(active(f.id)) << f.name;
}
#else
TEST_F(FaultTest, NormalBuildHasNoFaults) {
  static_assert(!active(Id::open_relay), "faults are compiled out");
  select("open_relay");
  for (const auto& f : all()) EXPECT_FALSE(active(f.id)) << f.name;
}
#endif

}  // namespace
}  // namespace mta::core::fault
