#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "engine/allocator.h"
#include "engine/tensor.h"

namespace pneuma {
namespace {

// Backend that counts calls and can be told to fail, standing in for cudaMalloc.
class CountingBackend : public MemoryBackend {
 public:
  void* allocate(size_t bytes) override {
    if (fail_above > 0 && live + bytes > fail_above) PNEUMA_FAIL("fake out of memory");
    ++allocations;
    live += bytes;
    void* p = std::malloc(bytes);
    sizes[p] = bytes;
    return p;
  }
  void free(void* pointer) override {
    ++frees;
    live -= sizes[pointer];
    sizes.erase(pointer);
    std::free(pointer);
  }
  int allocations = 0, frees = 0;
  size_t live = 0, fail_above = 0;
  std::map<void*, size_t> sizes;
};

TEST(CachingAllocator, ReusesFreedBlocksWithoutCallingTheBackend) {
  auto backend = std::make_unique<CountingBackend>();
  CountingBackend* raw = backend.get();
  CachingAllocator allocator(std::move(backend), Device::cpu());
  void* a = allocator.allocate(1000);
  allocator.deallocate(a, 1000);
  void* b = allocator.allocate(900);  // same 1024-byte size class
  EXPECT_EQ(a, b);
  EXPECT_EQ(raw->allocations, 1);
  const AllocatorStats stats = allocator.stats();
  EXPECT_EQ(stats.allocations, 2u);
  EXPECT_EQ(stats.backend_allocations, 1u);
  EXPECT_EQ(stats.bytes_in_use, 1024u);
  allocator.deallocate(b, 900);
  EXPECT_EQ(allocator.stats().bytes_cached, 1024u);
  allocator.release_cached();
  EXPECT_EQ(raw->frees, 1);
  EXPECT_EQ(allocator.stats().bytes_cached, 0u);
}

TEST(CachingAllocator, DoesNotHandOutBlocksMoreThanTwiceTheRequest) {
  auto backend = std::make_unique<CountingBackend>();
  CountingBackend* raw = backend.get();
  CachingAllocator allocator(std::move(backend), Device::cpu());
  void* big = allocator.allocate(1 << 20);
  allocator.deallocate(big, 1 << 20);
  void* small = allocator.allocate(512);
  EXPECT_NE(big, small);
  EXPECT_EQ(raw->allocations, 2);
  allocator.deallocate(small, 512);
}

TEST(CachingAllocator, FreesTheCacheAndRetriesWhenTheBackendIsOutOfMemory) {
  auto backend = std::make_unique<CountingBackend>();
  CountingBackend* raw = backend.get();
  raw->fail_above = 3u << 20;
  CachingAllocator allocator(std::move(backend), Device::cpu());
  void* a = allocator.allocate(2u << 20);
  allocator.deallocate(a, 2u << 20);  // cached, still held from the backend
  void* b = allocator.allocate(5u << 19);  // 2.5 MiB: does not fit beside the cached 2 MiB
  EXPECT_EQ(raw->frees, 1);
  allocator.deallocate(b, 5u << 19);
  raw->fail_above = 1;  // everything fails now, even after the retry
  allocator.release_cached();
  EXPECT_THROW(allocator.allocate(4096), Error);
}

TEST(CachingAllocator, TracksPeakAndRejectsForeignPointers) {
  CachingAllocator allocator(std::make_unique<CountingBackend>(), Device::cpu());
  void* a = allocator.allocate(4096);
  void* b = allocator.allocate(4096);
  allocator.deallocate(a, 4096);
  EXPECT_EQ(allocator.stats().peak_bytes_in_use, 8192u);
  allocator.reset_peak();
  EXPECT_EQ(allocator.stats().peak_bytes_in_use, 4096u);
  int local = 0;
  EXPECT_THROW(allocator.deallocate(&local, 4), Error);
  allocator.deallocate(b, 4096);
}

TEST(CachingAllocator, RoundedSizesWasteLittle) {
  for (size_t bytes : {1ul, 511ul, 513ul, 100000ul, (1ul << 20) + 1, 3ul << 24, (5ul << 24) + 7}) {
    const size_t rounded = CachingAllocator::rounded_size(bytes);
    EXPECT_GE(rounded, bytes);
    if (bytes >= (1u << 20)) EXPECT_LE(rounded, bytes + bytes / 4) << bytes;
  }
}

TEST(HostAllocator, TensorsReturnTheirMemory) {
  const size_t before = host_allocator().stats().bytes_in_use;
  {
    Tensor t = Tensor::zeros({1000});
    EXPECT_GE(host_allocator().stats().bytes_in_use, before + 4000);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
  }
  EXPECT_EQ(host_allocator().stats().bytes_in_use, before);
}

}  // namespace
}  // namespace pneuma
