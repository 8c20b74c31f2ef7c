// cpu_buffer_pool.h — libtorch's CPU allocator replaced by one that keeps large freed buffers
// for reuse, so a denoising step or a VAE decode gets back the memory the previous one
// released instead of fresh pages from the kernel.
//
// Why: glibc serves blocks over its mmap threshold (at most 32 MiB, often 128 KiB to a few
// MiB) with fresh mmap'ed pages and unmaps them on free, so every large activation of every
// step is faulted in page by page again; on the wide demo model at 256x256 that was ~490 000
// minor faults per image (~430 000 in the VAE decode) and a tenth of the step time.
// The networks allocate the same shapes every step, so keeping freed blocks by size class
// makes nearly every large allocation after the first step a hit.
//
// Every block carries a 64-byte header in front of the data (its pool, its size, whether it is
// pooled), so the deleter needs nothing but the data pointer: libtorch's raw_allocate /
// raw_deallocate interface, which some kernels use, requires exactly that. Blocks under
// kMinPooledBytes are allocated and freed directly (as c10's default allocator does). Larger
// ones are
// rounded up to a size class (8 classes per power of two, at most 12.5% slack) and, when
// freed, kept as idle blocks of that class. Idle memory is bounded: it never exceeds
// kIdleBoundFactor times the largest total of live pooled memory seen, and the oldest idle
// blocks go back to the system first. The bound must hold the distinct blocks one whole
// generation uses, which is more than its live peak because each phase (text encoders,
// transformer steps, VAE decode, each VAE resolution) has sizes of its own: measured on the
// wide demo model at 256x256, 1.06 GB of distinct blocks for a 0.31 GB live peak (3.5x; the
// VAE alone 2.2x). With a bound of 1x or 2x the oldest blocks were evicted and faulted in again
// every image (74 misses, ~100 000 page faults per image); with 4x there are no misses after
// the first image. An absolute cap (set_idle_cap(); the stage's buffer_pool_idle_max, by
// default a quarter of its memory budget) bounds idle memory whatever the live peak was: one
// huge request must not leave gigabytes idle behind it. release_idle() frees every idle
// block; the pipeline stage calls it when it runs out of memory and for the empty_cache
// override. Freed blocks go back to the system (trim() also returns what glibc's heap kept).
// Under an address-space limit (ulimit -v), a fresh pooled block fails while
// kAddressSpaceReserve of the limit is still free, for the libraries that crash rather than
// fail when they cannot allocate (model/address_space.h). With `buffer_pool: false` c10's own
// allocator runs and keeps no such reserve.
#ifndef FLX_FLUX_MODEL_CPU_BUFFER_POOL_H_
#define FLX_FLUX_MODEL_CPU_BUFFER_POOL_H_

#include <c10/core/Allocator.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace flx::flux {

class CpuBufferPool : public c10::Allocator {
 public:
  static constexpr size_t kMinPooledBytes = size_t{1} << 20;  // 1 MiB
  static constexpr size_t kAlignment = 64;                    // what c10's allocator gives
  static constexpr int64_t kIdleBoundFactor = 4;
  // An idle block up to 1/kBestFitSlack larger than the request's class may serve it.
  static constexpr size_t kBestFitSlack = 2;

  struct Stats {
    uint64_t hits = 0;       // pooled allocations served from an idle block
    uint64_t misses = 0;     // pooled allocations that asked the system
    int64_t live_bytes = 0;  // pooled blocks in use
    int64_t idle_bytes = 0;  // pooled blocks kept for reuse
    int64_t peak_live_bytes = 0;
  };

  CpuBufferPool() = default;
  ~CpuBufferPool() override;
  CpuBufferPool(const CpuBufferPool&) = delete;
  CpuBufferPool& operator=(const CpuBufferPool&) = delete;

  // The process's pool, installed as libtorch's CPU allocator on the first call (thread-safe;
  // never destroyed, since tensors may outlive static destructors). Install it before any
  // libtorch work: memory taken with raw_allocate from the previous allocator and given back
  // with raw_deallocate afterwards would reach this pool's deleter without a header (tensors
  // are safe either way: each carries its own deleter). The flux stage installs it when it
  // is created, before it loads or computes anything.
  static CpuBufferPool& install();
  // The installed pool, or nullptr when install() was never called.
  static CpuBufferPool* installed();

  c10::DataPtr allocate(size_t bytes) const override;
  c10::DeleterFnPtr raw_deleter() const override { return &CpuBufferPool::deallocate; }

  // Frees every idle block; returns the bytes freed.
  int64_t release_idle();
  // Caps idle memory at `bytes` from now on (the smallest cap asked for wins, since stages
  // share the pool) and frees the oldest idle blocks above it.
  void set_idle_cap(int64_t bytes);
  int64_t idle_cap() const;
  // Frees idle blocks above the cap and hands memory glibc's heap still holds back to the
  // system (malloc_trim); the stage calls it after each request. Returns the bytes freed.
  int64_t trim();
  Stats stats() const;

  // The size class `bytes` is rounded up to (bytes >= kMinPooledBytes).
  static size_t size_class(size_t bytes);

 private:
  // Sits kAlignment bytes before the data it describes.
  struct Block {
    const CpuBufferPool* pool;
    size_t bytes;  // the size class (pooled) or the requested size
    bool pooled;
    // While idle: its places in idle_[bytes] and in idle_order_, so taking it out of either
    // is constant time on the allocation path.
    std::list<Block*>::iterator in_class;
    std::list<Block*>::iterator in_order;
  };
  static_assert(sizeof(Block) <= kAlignment, "the header must fit in front of the data");
  static void* data_of(Block* block);
  static Block* block_of(void* data);
  static void deallocate(void* data);
  // A header and `size` bytes from the system, or nullptr: when the system refuses, or when
  // a pooled block would eat into the address-space reserve, after idle blocks were freed.
  void* allocate_fresh(size_t size, bool pooled) const;
  // Says, for the out-of-memory message, that an address-space limit is in force.
  static std::string limit_note();
  void give_back(Block* block) const;
  // Takes the oldest idle blocks out until idle memory is at most `limit`; hold mutex_.
  void evict_oldest_above(int64_t limit, std::vector<Block*>* evicted) const;
  // release_idle() for allocate(), which is const in c10's interface.
  int64_t free_idle() const;

  mutable std::mutex mutex_;
  // Idle blocks by size class; the list is oldest first within a class. `idle_order_` holds
  // every idle block oldest first for trimming.
  mutable std::map<size_t, std::list<Block*>> idle_;
  mutable std::list<Block*> idle_order_;
  mutable Stats stats_;
  int64_t idle_cap_ = INT64_MAX;  // guarded by mutex_
};

}  // namespace flx::flux

#endif  // FLX_FLUX_MODEL_CPU_BUFFER_POOL_H_
