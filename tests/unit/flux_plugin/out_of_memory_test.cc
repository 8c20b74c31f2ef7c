#include "out_of_memory.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace flx::flux {
namespace {

struct MessageCase {
  const char* name;
  const char* message;
  bool out_of_memory;
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const MessageCase& c, std::ostream* os) { *os << c.name; }

class OutOfMemoryTest : public ::testing::TestWithParam<MessageCase> {};

TEST_P(OutOfMemoryTest, RecognisesAllocatorFailures) {
  EXPECT_EQ(is_out_of_memory_message(GetParam().message), GetParam().out_of_memory)
      << GetParam().message;
}

INSTANTIATE_TEST_SUITE_P(
    Messages, OutOfMemoryTest,
    ::testing::Values(
        MessageCase{"cpu_allocator",
                    "[enforce fail at alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: can't "
                    "allocate memory: you tried to allocate 85899345920 bytes. Error code 12 "
                    "(Cannot allocate memory)",
                    true},
        MessageCase{"cuda",
                    "CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 79.15 GiB total)",
                    true},
        MessageCase{"cpu_allocator_no_pointer",
                    "DefaultCPUAllocator: not enough memory: you tried to allocate 1073741824 "
                    "bytes.",
                    true},
        MessageCase{"c10_sizes_and_strides", "Could not allocate memory for Tensor "
                                             "SizesAndStrides!",
                    true},
        MessageCase{"c10_oom", "C10 Out of Memory. Trying to allocate 1024 bytes", true},
        MessageCase{"cuda_error", "CUDA error: out of memory", true},
        MessageCase{"enomem", "mmap of /models/flux1-dev.safetensors failed: Cannot allocate memory",
                    true},
        MessageCase{"injected", "out of memory (injected: try 1 of the first 1 (oom_first_n))",
                    true},
        MessageCase{"mps", "MPS backend out of memory (MPS allocated: 17.00 GB)", true},
        MessageCase{"any_case", "Can't Allocate Memory", true},
        MessageCase{"device_mismatch", "Expected all tensors to be on the same device", false},
        MessageCase{"bad_shape", "shape '[1, 16, 8, 8]' is invalid for input of size 100", false},
        MessageCase{"memory_format", "unsupported memory format ChannelsLast3d", false},
        MessageCase{"empty", "", false}),
    [](const ::testing::TestParamInfo<MessageCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace flx::flux
