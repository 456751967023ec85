#include "common/tenant.h"

#include <gtest/gtest.h>

#include <string>

namespace ariadne {
namespace {

TEST(TenantIdTest, SafeAsADirectoryAndALabel) {
  for (const char* ok : {"acme", "team-a.prod", "A_1", "x"}) {
    EXPECT_TRUE(ValidateTenantId(ok).ok()) << ok;
  }
  EXPECT_TRUE(ValidateTenantId(std::string(64, 'a')).ok());
  const std::string bad_ids[] = {"",    ".",        "..", "../etc", "a/b", "a b", "tenant\"x",
                                 "é",   std::string(65, 'a'), std::string("a\0b", 3)};
  for (const std::string& bad : bad_ids) {
    EXPECT_FALSE(ValidateTenantId(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace ariadne
