#include <flx/codes.hpp>
#include <gtest/gtest.h>

#include <string>

namespace {

TEST(CodesTest, EveryFailureCodeRoundTripsThroughItsName) {
  for (const auto& [name, code] : flx::kFailureCodes) {
    EXPECT_EQ(flx::code_name(code), name);
    ASSERT_TRUE(flx::parse_failure_code(name).has_value()) << name;
    EXPECT_EQ(*flx::parse_failure_code(name), code) << name;
  }
  EXPECT_EQ(std::size(flx::kFailureCodes), 14u) << "every code of flx.h but FLX_OK";
}

TEST(CodesTest, OkAndUnknownNames) {
  EXPECT_STREQ(flx::code_name(FLX_OK), "OK");
  EXPECT_STREQ(flx::code_name(static_cast<flx_code>(99)), "UNKNOWN");
  EXPECT_FALSE(flx::parse_failure_code("OK").has_value());
  EXPECT_FALSE(flx::parse_failure_code("resource_exhausted").has_value()) << "names are exact";
  EXPECT_EQ(flx::failure_code_names().substr(0, 19), "CANCELLED, UNKNOWN,");
}

}  // namespace
