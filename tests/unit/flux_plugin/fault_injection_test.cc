#include "fault_injection.h"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "fake_host_setup.h"

namespace flx::flux {
namespace {

FaultInjection Injection(std::optional<int64_t> first_n, std::optional<int64_t> above_pixels,
                         std::optional<std::string> dtype) {
  FaultInjection injection;
  injection.oom_first_n = first_n;
  injection.oom_above_pixels = above_pixels;
  injection.oom_when_dtype = std::move(dtype);
  return injection;
}

struct TryCase {
  const char* name;
  FaultInjection injection;
  int64_t number;
  int64_t width;
  int64_t height;
  const char* dtype;
  const char* reason;  // nullptr: the try runs
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const TryCase& c, std::ostream* os) { *os << c.name; }

class InjectedFailureTest : public ::testing::TestWithParam<TryCase> {};

TEST_P(InjectedFailureTest, FailsExactlyTheChosenTries) {
  const TryCase& c = GetParam();
  const std::optional<std::string> expected =
      c.reason != nullptr ? std::optional<std::string>(c.reason) : std::nullopt;
  EXPECT_EQ(injected_failure(c.injection, TryShape{c.number, c.width, c.height, c.dtype}),
            expected);
}

INSTANTIATE_TEST_SUITE_P(
    Tries, InjectedFailureTest,
    ::testing::Values(
        TryCase{"off", {}, 1, 4096, 4096, "float32", nullptr},
        TryCase{"first_n_zero", Injection(0, {}, {}), 1, 64, 64, "float32", nullptr},
        TryCase{"first_n_first_try", Injection(2, {}, {}), 1, 64, 64, "float32",
                "try 1 of the first 2 (oom_first_n)"},
        TryCase{"first_n_last_failing_try", Injection(2, {}, {}), 2, 64, 64, "float32",
                "try 2 of the first 2 (oom_first_n)"},
        TryCase{"first_n_after", Injection(2, {}, {}), 3, 64, 64, "float32", nullptr},
        TryCase{"pixels_above", Injection({}, 4096, {}), 1, 128, 64, "float32",
                "128x64 is 8192 pixels, above 4096 (oom_above_pixels)"},
        TryCase{"pixels_equal_runs", Injection({}, 4096, {}), 1, 64, 64, "float32", nullptr},
        TryCase{"dtype_match", Injection({}, {}, "bfloat16"), 1, 64, 64, "bfloat16",
                "computing in bfloat16 (oom_when_dtype)"},
        TryCase{"dtype_other", Injection({}, {}, "bfloat16"), 1, 64, 64, "float32", nullptr},
        TryCase{"first_key_names_it", Injection(1, 16, "float32"), 1, 64, 64, "float32",
                "try 1 of the first 1 (oom_first_n)"},
        TryCase{"any_key_fails_it", Injection(1, 16, "bfloat16"), 5, 64, 64, "float32",
                "64x64 is 4096 pixels, above 16 (oom_above_pixels)"}),
    [](const ::testing::TestParamInfo<TryCase>& info) { return std::string(info.param.name); });

TEST(FaultInjectionTest, EnabledWhenAnyKeyIsSet) {
  EXPECT_FALSE(FaultInjection().enabled());
  EXPECT_TRUE(Injection(0, {}, {}).enabled()) << "oom_first_n: 0 was still asked for";
  EXPECT_TRUE(Injection({}, 1, {}).enabled());
  EXPECT_TRUE(Injection({}, {}, "float16").enabled());
}

TEST(FaultInjectionTest, SummaryListsTheSetKeysInOrder) {
  EXPECT_EQ(fault_injection_summary(Injection(1, {}, "bfloat16")),
            "oom_first_n: 1, oom_when_dtype: bfloat16");
  EXPECT_EQ(fault_injection_summary(Injection({}, 262144, {})), "oom_above_pixels: 262144");
}

TEST(FaultInjectionTest, MessageReadsAsAnOutOfMemoryFailure) {
  EXPECT_EQ(injected_out_of_memory_message("try 1 of the first 1 (oom_first_n)"),
            "out of memory (injected: try 1 of the first 1 (oom_first_n))");
}

TEST(FaultInjectionTest, DtypesAreThoseATryCanComputeIn) {
  EXPECT_EQ(fault_injection_dtypes(), (std::vector<std::string>{"float32", "bfloat16", "float16"}));
}

class ReadFaultInjectionTest : public FakeHostTest {};

TEST_F(ReadFaultInjectionTest, AbsentKeyMeansOff) {
  flx_config config;
  config.scalars = {{"model", "m"}};
  std::vector<std::string> errors;
  EXPECT_FALSE(read_fault_injection(flx::Config(&config), &errors).enabled());
  EXPECT_TRUE(errors.empty());
}

TEST_F(ReadFaultInjectionTest, AScalarIsRefusedWhereItStands) {
  flx_config config;
  config.scalars = {{"fault_injection", "1"}};
  std::vector<std::string> errors;
  EXPECT_FALSE(read_fault_injection(flx::Config(&config), &errors).enabled());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("fake.yaml:1:1: ", 0), 0u) << errors[0];
  EXPECT_NE(errors[0].find("fault_injection"), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace flx::flux
