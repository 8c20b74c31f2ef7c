#include "exception_mapping.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <flx/plugin.hpp>
#include <functional>
#include <new>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>

#include "device_memory.h"
#include "io/tensor.h"
#include "model/flux_pipeline.h"

namespace flx::flux {
namespace {

// What rethrow_as_flx_error made of one exception.
struct Mapped {
  flx_code code = FLX_OK;
  std::string message;
  std::optional<std::string> during;  // the "during" detail
};

Mapped MapWhileGenerating(const std::function<void()>& thrower) {
  try {
    try {
      thrower();
    } catch (...) {
      rethrow_as_flx_error("generating");
    }
  } catch (const flx::Error& e) {
    Mapped mapped{e.code(), e.what(), std::nullopt};
    for (const auto& [key, value] : e.details()) {
      if (key == "during") mapped.during = value;
    }
    return mapped;
  }
  ADD_FAILURE() << "nothing was thrown";
  return {};
}

struct MappingCase {
  const char* name;
  std::function<void()> thrower;
  flx_code code;
  std::string message;
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const MappingCase& c, std::ostream* os) { *os << c.name; }

class ExceptionMappingTest : public ::testing::TestWithParam<MappingCase> {};

TEST_P(ExceptionMappingTest, MapsToTheDocumentedCodeAndMessage) {
  const MappingCase& c = GetParam();
  const Mapped mapped = MapWhileGenerating(c.thrower);
  EXPECT_EQ(mapped.code, c.code) << mapped.message;
  EXPECT_EQ(mapped.message, c.message);
  if (c.code == FLX_RESOURCE_EXHAUSTED) {
    EXPECT_EQ(mapped.during, "generating") << "out of memory names what was going on in a detail";
  } else {
    EXPECT_EQ(mapped.during, std::nullopt);
  }
}

const char* const kCpuMessage =
    "DefaultCPUAllocator: can't allocate memory: you tried to allocate 85899345920 bytes. Error "
    "code 12 (Cannot allocate memory)";
const char* const kCudaMessage =
    "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity)";
const char* const kMpsMessage = "MPS backend out of memory (MPS allocated: 17.00 GB)";
const char* const kInjectedMessage = "out of memory (injected: try 1 of the first 1 (oom_first_n))";

INSTANTIATE_TEST_SUITE_P(
    Thrown, ExceptionMappingTest,
    ::testing::Values(
        MappingCase{"c10_out_of_memory_error",
                    [] { C10_THROW_ERROR(OutOfMemoryError, kCudaMessage); },
                    FLX_RESOURCE_EXHAUSTED, kCudaMessage},
        MappingCase{"c10_error_cuda_message", [] { C10_THROW_ERROR(Error, kCudaMessage); },
                    FLX_RESOURCE_EXHAUSTED, kCudaMessage},
        MappingCase{"c10_error_mps_message", [] { C10_THROW_ERROR(Error, kMpsMessage); },
                    FLX_RESOURCE_EXHAUSTED, kMpsMessage},
        MappingCase{"c10_error_cpu_allocator", [] { C10_THROW_ERROR(Error, kCpuMessage); },
                    FLX_RESOURCE_EXHAUSTED, kCpuMessage},
        MappingCase{"c10_error_cpu_allocator_no_pointer",
                    [] {
                      C10_THROW_ERROR(Error, "DefaultCPUAllocator: not enough memory: you tried "
                                             "to allocate 1024 bytes.");
                    },
                    FLX_RESOURCE_EXHAUSTED,
                    "DefaultCPUAllocator: not enough memory: you tried to allocate 1024 bytes."},
        MappingCase{"std_bad_alloc", [] { throw std::bad_alloc(); }, FLX_RESOURCE_EXHAUSTED,
                    "out of memory (std::bad_alloc)"},
        MappingCase{"injected", [] { throw std::runtime_error(kInjectedMessage); },
                    FLX_RESOURCE_EXHAUSTED, kInjectedMessage},
        MappingCase{"c10_error_other",
                    [] { C10_THROW_ERROR(Error, "shape '[2, 3]' is invalid for input of size 5"); },
                    FLX_INTERNAL, "generating: shape '[2, 3]' is invalid for input of size 5"},
        MappingCase{"cancelled", [] { throw Cancelled("cancelled before step 2"); },
                    FLX_CANCELLED, "generating: cancelled before step 2"},
        MappingCase{"load_error", [] { throw LoadError("missing tensor x.weight"); },
                    FLX_FAILED_PRECONDITION, "generating: missing tensor x.weight"},
        MappingCase{"invalid_argument", [] { throw std::invalid_argument("bfloat16 on mps"); },
                    FLX_INVALID_ARGUMENT, "generating: bfloat16 on mps"},
        MappingCase{"runtime_error", [] { throw std::runtime_error("boom"); }, FLX_INTERNAL,
                    "generating: boom"},
        MappingCase{"flx_error_as_it_is",
                    [] { throw flx::Error(FLX_UNAVAILABLE, "busy"); }, FLX_UNAVAILABLE, "busy"}),
    [](const ::testing::TestParamInfo<MappingCase>& info) { return std::string(info.param.name); });

// A real allocation failure: more bytes than a 47-bit address space holds, so the CPU
// allocator fails whatever the overcommit policy.
TEST(ExceptionMappingRealAllocationTest, ImpossibleCpuAllocationIsResourceExhausted) {
  const Mapped mapped =
      MapWhileGenerating([] { at::empty({int64_t{1} << 46}, at::kFloat); });
  EXPECT_EQ(mapped.code, FLX_RESOURCE_EXHAUSTED) << mapped.message;
  EXPECT_NE(mapped.message.find("DefaultCPUAllocator"), std::string::npos) << mapped.message;
  EXPECT_NE(mapped.message.find("281474976710656 bytes"), std::string::npos)
      << "the allocator's own message, with the size it was asked for: " << mapped.message;
  EXPECT_EQ(mapped.message.find("Exception raised from"), std::string::npos)
      << "no C++ backtrace: " << mapped.message;
}

TEST(DeviceMemoryTest, CpuOnlyBuildsHaveNothingToRelease) {
#ifdef FLX_TORCH_HAS_C10_CUDA
  GTEST_SKIP() << "this libtorch has CUDA; what is released depends on the machine";
#else
  EXPECT_STREQ(release_cached_device_memory(), "");
#endif
}

}  // namespace
}  // namespace flx::flux
