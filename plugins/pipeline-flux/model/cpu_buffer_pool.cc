#include "model/cpu_buffer_pool.h"

#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "model/address_space.h"

namespace flx::flux {
namespace {

std::atomic<CpuBufferPool*> g_installed{nullptr};

// Above the allocator priority c10 registers its default CPU allocator with.
constexpr uint8_t kPoolPriority = 1;

// A header and `bytes` of data, or nullptr. aligned_alloc wants a multiple of the alignment.
void* allocate_with_header(size_t bytes) {
  constexpr size_t kAlign = CpuBufferPool::kAlignment;
  const size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
  return std::aligned_alloc(kAlign, kAlign + rounded);
}

}  // namespace

CpuBufferPool::~CpuBufferPool() { free_idle(); }

CpuBufferPool& CpuBufferPool::install() {
  static CpuBufferPool* const pool = [] {
    auto* created = new CpuBufferPool();
    c10::SetCPUAllocator(created, kPoolPriority);
    g_installed.store(created);
    return created;
  }();
  return *pool;
}

CpuBufferPool* CpuBufferPool::installed() { return g_installed.load(); }

size_t CpuBufferPool::size_class(size_t bytes) {
  if (bytes <= kMinPooledBytes) return kMinPooledBytes;
  int top = 63;
  while ((bytes >> top) == 0) --top;
  const size_t step = size_t{1} << (top - 3);
  return (bytes + step - 1) & ~(step - 1);
}

void* CpuBufferPool::data_of(Block* block) { return reinterpret_cast<char*>(block) + kAlignment; }

CpuBufferPool::Block* CpuBufferPool::block_of(void* data) {
  return reinterpret_cast<Block*>(static_cast<char*>(data) - kAlignment);
}

c10::DataPtr CpuBufferPool::allocate(size_t bytes) const {
  const bool pooled = bytes >= kMinPooledBytes;
  const size_t size = pooled ? size_class(bytes) : bytes;
  Block* block = nullptr;
  if (pooled) {
    std::lock_guard<std::mutex> lock(mutex_);
    // The smallest idle block of this class or up to kBestFitSlack larger.
    auto it = idle_.lower_bound(size);
    if (it != idle_.end() && it->first <= size + size / kBestFitSlack) {
      block = it->second.back();  // the most recently freed: likeliest still in cache
      it->second.pop_back();
      if (it->second.empty()) idle_.erase(it);
      idle_order_.erase(block->in_order);
      stats_.idle_bytes -= static_cast<int64_t>(block->bytes);
      ++stats_.hits;
    } else {
      ++stats_.misses;
    }
    const size_t held = block != nullptr ? block->bytes : size;
    stats_.live_bytes += static_cast<int64_t>(held);
    if (stats_.live_bytes > stats_.peak_live_bytes) stats_.peak_live_bytes = stats_.live_bytes;
  }
  if (block == nullptr) {
    void* memory = allocate_fresh(size, pooled);
    if (memory == nullptr) {
      if (pooled) {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.live_bytes -= static_cast<int64_t>(size);
      }
      // The wording of c10's own allocator, which out-of-memory detection recognises.
      TORCH_CHECK(false, "DefaultCPUAllocator: not enough memory: you tried to allocate ", bytes,
                  " bytes.", limit_note());
    }
    block = new (memory) Block{this, size, pooled, {}, {}};
  }
  void* data = data_of(block);
  return c10::DataPtr(data, data, &CpuBufferPool::deallocate, c10::Device(c10::kCPU));
}

void* CpuBufferPool::allocate_fresh(size_t size, bool pooled) const {
  // Large blocks keep the address-space reserve (model/address_space.h); small ones are
  // too many to check and too small to matter.
  const auto fits = [&] { return !pooled || AllocationLeavesReserve(kAlignment + size); };
  void* memory = fits() ? allocate_with_header(size) : nullptr;
  if (memory == nullptr && pooled) {
    free_idle();  // idle blocks of other sizes may be what stands in the way
    memory = fits() ? allocate_with_header(size) : nullptr;
  }
  return memory;
}

std::string CpuBufferPool::limit_note() {
  const uint64_t limit = AddressSpaceLimit();
  if (limit == 0) return "";
  return " (the process's address-space limit is " + std::to_string(limit >> 20) +
         " MiB, of which tensors leave " + std::to_string(kAddressSpaceReserve >> 20) +
         " MiB to other libraries)";
}

void CpuBufferPool::deallocate(void* data) {
  if (data == nullptr) return;
  Block* block = block_of(data);
  if (!block->pooled) {
    std::free(block);
    return;
  }
  block->pool->give_back(block);
}

void CpuBufferPool::give_back(Block* block) const {
  std::vector<Block*> to_free;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t bytes = static_cast<int64_t>(block->bytes);
    stats_.live_bytes -= bytes;
    // Idle memory stays within kIdleBoundFactor x the live high-water mark (see the header):
    // beyond that the oldest idle blocks go first.
    const int64_t bound = std::min(kIdleBoundFactor * stats_.peak_live_bytes, idle_cap_);
    evict_oldest_above(bound - bytes, &to_free);
    if (stats_.idle_bytes + bytes <= bound) {
      std::list<Block*>& same_class = idle_[block->bytes];
      block->in_class = same_class.insert(same_class.end(), block);
      block->in_order = idle_order_.insert(idle_order_.end(), block);
      stats_.idle_bytes += bytes;
    } else {
      to_free.push_back(block);
    }
  }
  for (Block* gone : to_free) std::free(gone);
}

void CpuBufferPool::evict_oldest_above(int64_t limit, std::vector<Block*>* evicted) const {
  while (!idle_order_.empty() && stats_.idle_bytes > limit) {
    Block* oldest = idle_order_.front();
    idle_order_.pop_front();
    auto it = idle_.find(oldest->bytes);
    it->second.erase(oldest->in_class);
    if (it->second.empty()) idle_.erase(it);
    stats_.idle_bytes -= static_cast<int64_t>(oldest->bytes);
    evicted->push_back(oldest);
  }
}

int64_t CpuBufferPool::release_idle() {
  const int64_t freed = free_idle();
  if (freed > 0) malloc_trim(0);
  return freed;
}

void CpuBufferPool::set_idle_cap(int64_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_cap_ = std::min(idle_cap_, std::max<int64_t>(bytes, 0));
  }
  trim();
}

int64_t CpuBufferPool::idle_cap() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_cap_;
}

int64_t CpuBufferPool::trim() {
  std::vector<Block*> to_free;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    evict_oldest_above(idle_cap_, &to_free);
  }
  int64_t freed = 0;
  for (Block* block : to_free) {
    freed += static_cast<int64_t>(block->bytes);
    std::free(block);
  }
  malloc_trim(0);
  return freed;
}

int64_t CpuBufferPool::free_idle() const {
  std::list<Block*> to_free;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    to_free.swap(idle_order_);
    idle_.clear();
    stats_.idle_bytes = 0;
  }
  int64_t freed = 0;
  for (Block* block : to_free) {
    freed += static_cast<int64_t>(block->bytes);
    std::free(block);
  }
  return freed;
}

CpuBufferPool::Stats CpuBufferPool::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace flx::flux
