// The CPU buffer pool (cpu_buffer_pool.h): size classes, reuse of freed blocks, the bound on
// idle memory, release. Each test drives its own pool, not the process-wide one.
#include "model/cpu_buffer_pool.h"

#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace flx::flux {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

TEST(CpuBufferPoolTest, SizeClassesRoundUpByAtMostAnEighth) {
  EXPECT_EQ(CpuBufferPool::size_class(1), kMiB);
  EXPECT_EQ(CpuBufferPool::size_class(kMiB), kMiB);
  EXPECT_EQ(CpuBufferPool::size_class(kMiB + 1), kMiB + kMiB / 8);
  EXPECT_EQ(CpuBufferPool::size_class(3 * kMiB), 3 * kMiB);
  EXPECT_EQ(CpuBufferPool::size_class(100 * kMiB + 5), 104 * kMiB);
  for (size_t bytes : {kMiB + 3, 5 * kMiB + 7, 77 * kMiB + 1, 1000 * kMiB + 123}) {
    const size_t size = CpuBufferPool::size_class(bytes);
    EXPECT_GE(size, bytes);
    EXPECT_LE(size, bytes + bytes / 8) << bytes;
    EXPECT_EQ(size % CpuBufferPool::kAlignment, 0u);
  }
}

TEST(CpuBufferPoolTest, AFreedBlockServesTheNextAllocationOfItsClass) {
  CpuBufferPool pool;
  void* first = nullptr;
  {
    c10::DataPtr a = pool.allocate(4 * kMiB);
    first = a.get();
    std::memset(first, 1, 4 * kMiB);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(first) % CpuBufferPool::kAlignment, 0u);
  }
  EXPECT_EQ(pool.stats().idle_bytes, static_cast<int64_t>(4 * kMiB));
  c10::DataPtr b = pool.allocate(4 * kMiB - 100);  // same class
  EXPECT_EQ(b.get(), first);
  const CpuBufferPool::Stats stats = pool.stats();
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.idle_bytes, 0);
  EXPECT_EQ(stats.live_bytes, static_cast<int64_t>(4 * kMiB));
}

TEST(CpuBufferPoolTest, SmallAllocationsBypassThePool) {
  CpuBufferPool pool;
  {
    c10::DataPtr small = pool.allocate(1000);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(small.get()) % CpuBufferPool::kAlignment, 0u);
  }
  const CpuBufferPool::Stats stats = pool.stats();
  EXPECT_EQ(stats.hits + stats.misses, 0u);
  EXPECT_EQ(stats.idle_bytes, 0);
}

TEST(CpuBufferPoolTest, IdleMemoryStaysWithinTheBound) {
  static_assert(CpuBufferPool::kIdleBoundFactor == 4, "the sizes below assume a 4x bound");
  CpuBufferPool pool;
  {
    std::vector<c10::DataPtr> held;
    for (int i = 0; i < 4; ++i) held.push_back(pool.allocate(2 * kMiB));  // peak 8 MiB
  }
  EXPECT_EQ(pool.stats().idle_bytes, static_cast<int64_t>(8 * kMiB));
  // Other sizes (none above the 8 MiB peak), one at a time: 8 + 5 + 6 + 7 = 26 MiB fit in
  // the 32 MiB bound; keeping an 8 MiB block as well pushes the oldest 2 MiB block out:
  // 6 + 5 + 6 + 7 + 8 = 32.
  for (size_t mib : {5, 6, 7, 8}) {
    c10::DataPtr other = pool.allocate(mib * kMiB);
  }
  const CpuBufferPool::Stats stats = pool.stats();
  EXPECT_EQ(stats.peak_live_bytes, static_cast<int64_t>(8 * kMiB));
  EXPECT_LE(stats.idle_bytes, CpuBufferPool::kIdleBoundFactor * stats.peak_live_bytes);
  EXPECT_EQ(stats.idle_bytes, static_cast<int64_t>(32 * kMiB));
  c10::DataPtr reused = pool.allocate(5 * kMiB);
  EXPECT_EQ(pool.stats().hits, 1u) << "the 5 MiB block is still idle";
  std::vector<c10::DataPtr> twos;
  for (int i = 0; i < 4; ++i) twos.push_back(pool.allocate(2 * kMiB));
  EXPECT_EQ(pool.stats().hits, 4u) << "three 2 MiB blocks were still idle, the oldest freed";
}

// An absolute cap bounds idle memory below the 4x-live-peak bound: one huge request must
// not leave its blocks idle behind it.
TEST(CpuBufferPoolTest, IdleCapBoundsIdleMemoryWhateverThePeak) {
  CpuBufferPool pool;
  {
    std::vector<c10::DataPtr> held;
    for (int i = 0; i < 8; ++i) held.push_back(pool.allocate(2 * kMiB));  // peak 16 MiB
  }
  EXPECT_EQ(pool.stats().idle_bytes, static_cast<int64_t>(16 * kMiB));
  pool.set_idle_cap(5 * kMiB);
  EXPECT_EQ(pool.idle_cap(), static_cast<int64_t>(5 * kMiB));
  EXPECT_EQ(pool.stats().idle_bytes, static_cast<int64_t>(4 * kMiB)) << "the oldest went first";
  {
    std::vector<c10::DataPtr> held;
    for (int i = 0; i < 6; ++i) held.push_back(pool.allocate(3 * kMiB));
  }
  EXPECT_LE(pool.stats().idle_bytes, static_cast<int64_t>(5 * kMiB));
  pool.set_idle_cap(64 * kMiB);
  EXPECT_EQ(pool.idle_cap(), static_cast<int64_t>(5 * kMiB)) << "the smallest cap wins";
}

TEST(CpuBufferPoolTest, TrimFreesWhatIsAboveTheCap) {
  CpuBufferPool pool;
  { c10::DataPtr a = pool.allocate(4 * kMiB); }
  EXPECT_EQ(pool.trim(), 0) << "no cap: nothing to trim";
  EXPECT_EQ(pool.stats().idle_bytes, static_cast<int64_t>(4 * kMiB));
  pool.set_idle_cap(0);
  EXPECT_EQ(pool.stats().idle_bytes, 0);
  { c10::DataPtr b = pool.allocate(4 * kMiB); }
  EXPECT_EQ(pool.stats().idle_bytes, 0) << "with a zero cap nothing stays idle";
  EXPECT_EQ(pool.trim(), 0);
}

TEST(CpuBufferPoolTest, RawInterfaceRoundTrips) {
  // Some libtorch kernels allocate through raw_allocate / raw_deallocate, which need the data
  // pointer to be its own deleter context.
  CpuBufferPool pool;
  for (size_t bytes : {size_t{100}, 3 * kMiB}) {
    void* data = pool.raw_allocate(bytes);
    ASSERT_NE(data, nullptr);
    std::memset(data, 7, bytes);
    pool.raw_deallocate(data);
  }
  EXPECT_EQ(pool.stats().live_bytes, 0);
  EXPECT_EQ(pool.stats().idle_bytes, static_cast<int64_t>(3 * kMiB));
}

TEST(CpuBufferPoolTest, ReleaseIdleFreesEveryIdleBlock) {
  CpuBufferPool pool;
  c10::DataPtr kept = pool.allocate(2 * kMiB);
  { c10::DataPtr freed = pool.allocate(3 * kMiB); }
  EXPECT_EQ(pool.release_idle(), static_cast<int64_t>(3 * kMiB));
  EXPECT_EQ(pool.stats().idle_bytes, 0);
  EXPECT_EQ(pool.stats().live_bytes, static_cast<int64_t>(2 * kMiB));
}

TEST(CpuBufferPoolTest, TensorsComputeTheSameThroughTheInstalledPool) {
  // The process-wide pool: results must not depend on whether memory is reused.
  const at::Tensor a = at::randn({512, 1024});
  const at::Tensor expected = at::mm(a, a.t());
  CpuBufferPool& pool = CpuBufferPool::install();
  EXPECT_EQ(CpuBufferPool::installed(), &pool);
  // install() returns the pool an earlier test of this process may have capped; give this
  // one room to keep a product's buffer.
  pool.set_idle_cap(int64_t{1} << 30);
  const uint64_t hits_before = pool.stats().hits;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(at::equal(at::mm(a, a.t()), expected));
  EXPECT_GT(pool.stats().hits, hits_before) << "the second product reuses the first one's buffer";
}

}  // namespace
}  // namespace flx::flux
