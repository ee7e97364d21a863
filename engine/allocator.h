// Memory allocators. Every tensor's storage comes from one of these:
//  - host_allocator(): 64-byte aligned host memory behind a CachingAllocator (PNEUMA_HOST_CACHE=0 in the
//    environment turns the cache off, for memory-tight embedded use);
//  - device_allocator(device): a CachingAllocator over cudaMalloc/cudaFree (only in CUDA builds). Freed blocks
//    are kept in size-binned free lists and reused, so a training step allocates nothing from the driver after
//    the first iteration. The caching logic is device-independent and tested on the host with a fake backend.
//    Reusing a block at once is safe because all device work runs in issue order on one compute stream; the
//    asynchronous uploads on the transfer stream are ordered against it with events (engine/transfer.h).
//    PNEUMA_DEVICE_CACHE=0 turns the cache off (exact cudaMalloc extents, for compute-sanitizer).
//  - pinned_host_allocator(): page-locked host memory (cudaHostAlloc) behind a CachingAllocator, the source of
//    asynchronous host→device copies. Without CUDA it is the host allocator.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "engine/device.h"

namespace pneuma {

struct AllocatorStats {
  size_t bytes_in_use = 0;       // handed out to tensors right now
  size_t peak_bytes_in_use = 0;  // maximum of bytes_in_use since the last reset_peak()
  size_t bytes_cached = 0;       // held in free lists (caching allocators only)
  uint64_t allocations = 0;      // allocate() calls
  uint64_t backend_allocations = 0;  // calls that reached the backend (driver) — cache misses
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* pointer, size_t bytes) = 0;
  virtual AllocatorStats stats() const = 0;
  virtual void reset_peak() = 0;
  virtual void release_cached() {}  // return cached blocks to the backend
  virtual Device device() const = 0;
};

// Where a caching allocator gets its real memory from (cudaMalloc in production, a fake in tests).
class MemoryBackend {
 public:
  virtual ~MemoryBackend() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void free(void* pointer) = 0;
};

class CachingAllocator final : public Allocator {
 public:
  CachingAllocator(std::unique_ptr<MemoryBackend> backend, Device device);
  ~CachingAllocator() override;
  void* allocate(size_t bytes) override;
  void deallocate(void* pointer, size_t bytes) override;
  AllocatorStats stats() const override;
  void reset_peak() override;
  void release_cached() override;
  Device device() const override { return device_; }

  // Requests are rounded up to this granularity (small) or to 2 MiB / 1/8 of their size (large) so that
  // slightly different sizes share blocks.
  static size_t rounded_size(size_t bytes);

 private:
  std::unique_ptr<MemoryBackend> backend_;
  Device device_;
  mutable std::mutex mutex_;
  std::multimap<size_t, void*> free_blocks_;           // block size -> block
  std::unordered_map<void*, size_t> live_block_sizes_;  // block -> rounded size
  AllocatorStats stats_;
};

Allocator& host_allocator();
Allocator& device_allocator(Device device);  // the host allocator for Device::cpu()
Allocator& pinned_host_allocator();

}  // namespace pneuma
