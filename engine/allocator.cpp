#include "engine/allocator.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/error.h"
#if PNEUMA_WITH_CUDA
#include "kernels/cuda/device_memory.h"
#endif

namespace pneuma {
namespace {

constexpr size_t kHostAlignment = 64;

// 64-byte aligned host memory straight from the C library.
class AlignedHostBackend final : public MemoryBackend {
 public:
  void* allocate(size_t bytes) override {
    const size_t padded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
    void* pointer = std::aligned_alloc(kHostAlignment, padded == 0 ? kHostAlignment : padded);
    PNEUMA_CHECK(pointer != nullptr, "out of host memory allocating %zu bytes", bytes);
    return pointer;
  }
  void free(void* pointer) override { std::free(pointer); }
};

// Without caching: every allocation goes to the backend (PNEUMA_HOST_CACHE=0, for memory-tight embedded use;
// PNEUMA_DEVICE_CACHE=0, so that compute-sanitizer sees every tensor's exact extent).
class UncachedAllocator final : public Allocator {
 public:
  UncachedAllocator(std::unique_ptr<MemoryBackend> backend, Device device)
      : backend_(std::move(backend)), device_(device) {}
  void* allocate(size_t bytes) override {
    void* pointer = backend_->allocate(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.allocations++;
    stats_.backend_allocations++;
    stats_.bytes_in_use += bytes;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
    return pointer;
  }
  void deallocate(void* pointer, size_t bytes) override {
    backend_->free(pointer);
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.bytes_in_use -= bytes;
  }
  AllocatorStats stats() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }
  void reset_peak() override {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_bytes_in_use = stats_.bytes_in_use;
  }
  Device device() const override { return device_; }

 private:
  std::unique_ptr<MemoryBackend> backend_;
  Device device_;
  mutable std::mutex mutex_;
  AllocatorStats stats_;
};

// False when the environment variable is "0".
bool cache_enabled(const char* variable) {
  const char* value = std::getenv(variable);
  return value == nullptr || std::strcmp(value, "0") != 0;
}

#if PNEUMA_WITH_CUDA
class CudaMemoryBackend final : public MemoryBackend {
 public:
  explicit CudaMemoryBackend(int device) : device_(device) {}
  void* allocate(size_t bytes) override { return kernels::cuda::device_malloc(bytes, device_); }
  void free(void* pointer) override { kernels::cuda::device_free(pointer, device_); }

 private:
  int device_;
};

class PinnedHostBackend final : public MemoryBackend {
 public:
  void* allocate(size_t bytes) override { return kernels::cuda::pinned_malloc(bytes); }
  void free(void* pointer) override { kernels::cuda::pinned_free(pointer); }
};
#endif

}  // namespace

CachingAllocator::CachingAllocator(std::unique_ptr<MemoryBackend> backend, Device device)
    : backend_(std::move(backend)), device_(device) {}

CachingAllocator::~CachingAllocator() {
  // Live blocks belong to tensors that outlive the allocator only at process exit; cached ones are ours.
  release_cached();
}

size_t CachingAllocator::rounded_size(size_t bytes) {
  constexpr size_t kSmallGranularity = 512;
  constexpr size_t kLargeThreshold = 1u << 20;
  if (bytes < kLargeThreshold) return std::max<size_t>(kSmallGranularity, (bytes + kSmallGranularity - 1) / kSmallGranularity * kSmallGranularity);
  // Large: round to 1/8 of the next power of two, so at most 12.5% is wasted.
  size_t power = 1;
  while (power < bytes) power <<= 1;
  const size_t step = std::max<size_t>(power / 8, kSmallGranularity);
  return (bytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = rounded_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.allocations++;
  void* block = nullptr;
  size_t block_size = size;
  // Best fit among cached blocks, but never hand out a block more than twice the request (it would pin memory).
  auto found = free_blocks_.lower_bound(size);
  if (found != free_blocks_.end() && found->first <= 2 * size) {
    block = found->second;
    block_size = found->first;
    free_blocks_.erase(found);
    stats_.bytes_cached -= block_size;
  } else {
    try {
      block = backend_->allocate(size);
    } catch (const Error&) {
      // Out of memory: give every cached block back and try once more.
      for (auto& [cached_size, cached] : free_blocks_) backend_->free(cached);
      free_blocks_.clear();
      stats_.bytes_cached = 0;
      block = backend_->allocate(size);
    }
    stats_.backend_allocations++;
  }
  live_block_sizes_[block] = block_size;
  stats_.bytes_in_use += block_size;
  if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  return block;
}

void CachingAllocator::deallocate(void* pointer, size_t /*bytes*/) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto live = live_block_sizes_.find(pointer);
  PNEUMA_CHECK(live != live_block_sizes_.end(), "CachingAllocator: freeing a pointer it did not allocate");
  const size_t size = live->second;
  live_block_sizes_.erase(live);
  stats_.bytes_in_use -= size;
  stats_.bytes_cached += size;
  free_blocks_.emplace(size, pointer);
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, block] : free_blocks_) backend_->free(block);
  free_blocks_.clear();
  stats_.bytes_cached = 0;
}

Allocator& host_allocator() {
  // Large activations come and go every step; caching them avoids a page-fault storm (fresh pages from the
  // kernel must be zeroed on first touch), which otherwise costs a third of a CPU training step.
  static Allocator* allocator =
      cache_enabled("PNEUMA_HOST_CACHE")
          ? static_cast<Allocator*>(new CachingAllocator(std::make_unique<AlignedHostBackend>(), Device::cpu()))
          : static_cast<Allocator*>(new UncachedAllocator(std::make_unique<AlignedHostBackend>(), Device::cpu()));
  return *allocator;  // never destroyed: tensors in static objects may outlive any destruction order
}

Allocator& device_allocator(Device device) {
  if (device.is_cpu()) return host_allocator();
#if PNEUMA_WITH_CUDA
  static std::mutex mutex;
  static std::vector<std::unique_ptr<Allocator>> allocators;
  static const int count = kernels::cuda::device_count();  // asked once: this runs for every device tensor
  static const bool caching = cache_enabled("PNEUMA_DEVICE_CACHE");
  std::lock_guard<std::mutex> lock(mutex);
  PNEUMA_CHECK(device.index >= 0 && device.index < count, "no CUDA device %s (this machine has %d)",
               device.name().c_str(), count);
  if (allocators.empty()) allocators.resize(count);
  auto& slot = allocators[device.index];
  if (!slot) {
    auto backend = std::make_unique<CudaMemoryBackend>(device.index);
    if (caching) slot = std::make_unique<CachingAllocator>(std::move(backend), device);
    else slot = std::make_unique<UncachedAllocator>(std::move(backend), device);
  }
  return *slot;
#else
  PNEUMA_FAIL("tensor on %s requested, but this build has no CUDA backend (configure with -DPNEUMA_CUDA=ON)",
              device.name().c_str());
#endif
}

Allocator& pinned_host_allocator() {
#if PNEUMA_WITH_CUDA
  static Allocator* allocator = new CachingAllocator(std::make_unique<PinnedHostBackend>(), Device::cpu());
  return *allocator;  // never destroyed, like the host allocator
#else
  return host_allocator();
#endif
}

bool cuda_built() {
#if PNEUMA_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#if PNEUMA_WITH_CUDA
  return kernels::cuda::device_count();
#else
  return 0;
#endif
}

Device device_from_name(const std::string& name) {
  if (name == "cpu") return Device::cpu();
  if (name == "cuda") return Device::cuda(0);
  if (name.rfind("cuda:", 0) == 0) {
    const std::string index = name.substr(5);
    PNEUMA_CHECK(!index.empty() && index.find_first_not_of("0123456789") == std::string::npos,
                 "bad device name '%s' (expected cpu, cuda or cuda:N)", name.c_str());
    return Device::cuda(std::stoi(index));
  }
  PNEUMA_FAIL("unknown device '%s' (expected cpu, cuda or cuda:N)", name.c_str());
}

}  // namespace pneuma
