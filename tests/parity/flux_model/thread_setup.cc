// Runs every test of this binary on two intra-op threads, the CI machine's core count.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

namespace {

class TwoThreads : public ::testing::Environment {
 public:
  void SetUp() override { at::set_num_threads(2); }
};

const ::testing::Environment* const kTwoThreads =
    ::testing::AddGlobalTestEnvironment(new TwoThreads);

}  // namespace
