// The address-space reserve (model/address_space.h) and the CPU buffer pool keeping it: under
// a finite RLIMIT_AS a large tensor allocation fails while room is left for other libraries.
#include "model/address_space.h"

#include <c10/util/Exception.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "model/cpu_buffer_pool.h"

namespace flx::flux {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

TEST(AddressSpaceTest, NoLimitAlwaysLeavesTheReserve) {
  EXPECT_TRUE(LeavesReserve(1000 * kMiB, 1000 * kMiB, 0, 256 * kMiB));
}

TEST(AddressSpaceTest, AnAllocationMustStayBelowTheLimitLessTheReserve) {
  const uint64_t limit = 2048 * kMiB;
  const uint64_t reserve = 256 * kMiB;
  EXPECT_TRUE(LeavesReserve(1000 * kMiB, 792 * kMiB, limit, reserve));  // exactly to the reserve
  EXPECT_FALSE(LeavesReserve(1000 * kMiB, 793 * kMiB, limit, reserve));
  EXPECT_FALSE(LeavesReserve(1900 * kMiB, 1 * kMiB, limit, reserve));  // already in the reserve
  EXPECT_FALSE(LeavesReserve(3000 * kMiB, 0, limit, reserve));         // already over the limit
}

TEST(AddressSpaceTest, HugeRequestsDoNotOverflow) {
  EXPECT_FALSE(LeavesReserve(100 * kMiB, UINT64_MAX - 10, 2048 * kMiB, 256 * kMiB));
}

TEST(AddressSpaceTest, ALimitBelowTheReserveKeepsOnlyTheLimit) {
  EXPECT_TRUE(LeavesReserve(100 * kMiB, 28 * kMiB, 128 * kMiB, 256 * kMiB));
  EXPECT_FALSE(LeavesReserve(100 * kMiB, 29 * kMiB, 128 * kMiB, 256 * kMiB));
}

TEST(AddressSpaceTest, ReadsThisProcess) {
  EXPECT_GT(AddressSpaceInUse(), 1 * kMiB);
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_AS, &limit), 0);
  const uint64_t expected = limit.rlim_cur == RLIM_INFINITY ? 0 : limit.rlim_cur;
  EXPECT_EQ(AddressSpaceLimit(), expected);
}

// In a child process (a limit cannot be undone for this one): with RLIMIT_AS set to what is
// mapped now plus the reserve plus 64 MiB, the pool refuses 128 MiB, which the system alone
// would still grant, and says why; 16 MiB still fits.
TEST(AddressSpaceTest, ThePoolKeepsTheReserveUnderALimit) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const uint64_t limit = AddressSpaceInUse() + kAddressSpaceReserve + 64 * kMiB;
    const rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_AS, &rl) != 0) ::_exit(10);
    CpuBufferPool pool;
    try {
      c10::DataPtr small = pool.allocate(16 * kMiB);
    } catch (const c10::Error&) {
      ::_exit(11);
    }
    void* raw = std::malloc(128 * kMiB);
    if (raw == nullptr) ::_exit(12);
    std::free(raw);
    try {
      c10::DataPtr large = pool.allocate(128 * kMiB);
      ::_exit(13);
    } catch (const c10::Error& e) {
      const std::string what = e.what();
      if (what.find("not enough memory") == std::string::npos) ::_exit(14);
      if (what.find("address-space limit") == std::string::npos) ::_exit(15);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10 setrlimit, 11 16 MiB refused, 12 malloc refused 128 MiB, 13 pool granted 128 MiB, "
         "14/15 the message";
}

}  // namespace
}  // namespace flx::flux
