// Device memory and transfers: the caching device allocator reuses freed blocks (no driver allocation in a steady
// loop), tensors move between host and device in every dtype (strided sources, device-side conversion and
// strided copies, fills), pinned memory, and asynchronous uploads give the same data as blocking ones even when
// their destination block was just freed by queued kernels and when compute runs while the copy is in flight.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/allocator.h"
#include "engine/ops.h"
#include "kernels/cuda/device_memory.h"
#include "kernels/elementwise.h"
#include "tests/cuda/cuda_test_support.h"

namespace pneuma {
namespace {

TEST(CudaMemory, DeviceReportsItsProperties) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  const kernels::cuda::DeviceInfo info = kernels::cuda::device_info(0);
  EXPECT_FALSE(info.name.empty());
  EXPECT_GT(info.multiprocessors, 0);
  EXPECT_GT(info.total_memory, size_t{0});
  EXPECT_GE(info.driver_version, info.runtime_version) << "the driver is older than the CUDA runtime it must run";
  ::testing::Test::RecordProperty("device", info.name);
  ::testing::Test::RecordProperty("compute_capability", std::to_string(info.compute_major) + "." +
                                                            std::to_string(info.compute_minor));
  ::testing::Test::RecordProperty("multiprocessors", info.multiprocessors);
  ::testing::Test::RecordProperty("driver_cuda_version", info.driver_version);
  ::testing::Test::RecordProperty("runtime_cuda_version", info.runtime_version);
#endif
}

TEST(CudaMemory, CachingAllocatorReusesBlocksInASteadyLoop) {
  PNEUMA_REQUIRE_GPU();
  Allocator& allocator = device_allocator(Device::cuda());
  if (dynamic_cast<CachingAllocator*>(&allocator) == nullptr) GTEST_SKIP() << "the device cache is off (PNEUMA_DEVICE_CACHE=0)";
  auto iteration = [] {
    Tensor a = Tensor::empty({1024, 1024}, DType::f32, Device::cuda());
    Tensor b = Tensor::empty({3, 17, 17, 37}, DType::f32, Device::cuda());
    Tensor c = Tensor::empty({1000}, DType::f32, Device::cuda());
    a.fill(1.0);
    b.fill(2.0);
    c.fill(3.0);
  };
  iteration();  // warms the cache
  const AllocatorStats before = allocator.stats();
  for (int i = 0; i < 20; ++i) iteration();
  const AllocatorStats after = allocator.stats();
  EXPECT_EQ(after.backend_allocations, before.backend_allocations) << "a steady loop must not reach cudaMalloc";
  EXPECT_EQ(after.allocations, before.allocations + 60);
  EXPECT_EQ(after.bytes_in_use, before.bytes_in_use);
  EXPECT_GE(after.bytes_cached, size_t{1024} * 1024 * 4);
}

TEST(CudaMemory, RoundTripsInEveryDtypeAndLayout) {
  PNEUMA_REQUIRE_GPU();
  const Tensor x = testing::random_normal({3, 17, 5, 37}, 0, 10, 3);
  for (DType dtype : {DType::f32, DType::f64, DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(dtype));
    const Tensor host = x.to(dtype);
    const Tensor device = host.to(Device::cuda());
    EXPECT_TRUE(device.device().is_cuda());
    EXPECT_EQ(device.dtype(), dtype);
    EXPECT_TRUE(testing::expect_identical(std::string("round_trip.") + dtype_name(dtype), device.to(Device::cpu()), host));
    // Strided device view → contiguous on the device, and a strided host view uploaded.
    const Tensor view = device.permute({2, 0, 3, 1}).narrow(2, 1, 30);
    const Tensor host_view = host.permute({2, 0, 3, 1}).narrow(2, 1, 30);
    EXPECT_TRUE(testing::expect_identical("strided_device", view.contiguous(), host_view.contiguous()));
    EXPECT_TRUE(testing::expect_identical("strided_upload", host_view.to(Device::cuda()), host_view.contiguous()));
    // Device-side dtype conversion from f32 gives the host's conversion.
    EXPECT_TRUE(testing::expect_identical("device_conversion", x.to(Device::cuda()).to(dtype), host));
  }
  for (DType dtype : {DType::i32, DType::i64, DType::u8}) {
    const Tensor host = testing::random_uniform({7, 9}, 0, 100, 4).to(dtype);
    EXPECT_EQ(host.to(Device::cuda()).to(Device::cpu()).to_vector<double>(), host.to_vector<double>()) << dtype_name(dtype);
  }
}

TEST(CudaMemory, FillsOnTheDevice) {
  PNEUMA_REQUIRE_GPU();
  EXPECT_TRUE(testing::expect_identical("zeros", Tensor::zeros({5, 4099}, DType::f32, Device::cuda()), Tensor::zeros({5, 4099})));
  EXPECT_TRUE(testing::expect_identical("full", Tensor::full({5, 4099}, -2.5, DType::f32, Device::cuda()),
                                        Tensor::full({5, 4099}, -2.5)));
  EXPECT_TRUE(testing::expect_identical("full_bf16", Tensor::full({33}, 1.5, DType::bf16, Device::cuda()),
                                        Tensor::full({33}, 1.5, DType::bf16)));
  Tensor negative_zero = Tensor::full({3}, -0.0, DType::f32, Device::cuda());
  for (float v : negative_zero.to_vector<float>()) EXPECT_TRUE(std::signbit(v));
}

TEST(CudaMemory, PinnedMemoryAndAsynchronousUploads) {
  PNEUMA_REQUIRE_GPU();
  const Tensor x = testing::random_normal({4, 32, 32, 3}, 0, 1, 9);
  const Tensor pinned = x.pin_memory();
  EXPECT_TRUE(pinned.is_pinned());
  EXPECT_FALSE(x.is_pinned());
  EXPECT_TRUE(pinned.pin_memory().same_storage(pinned)) << "pinning a pinned tensor is free";
  EXPECT_TRUE(testing::expect_identical("pinned", pinned, x));
  // From pageable, from pinned, from a strided view.
  EXPECT_TRUE(testing::expect_identical("upload_pageable", x.to(Device::cuda(), true), x));
  EXPECT_TRUE(testing::expect_identical("upload_pinned", pinned.to(Device::cuda(), true), x));
  const Tensor view = x.permute({3, 1, 2, 0});
  EXPECT_TRUE(testing::expect_identical("upload_strided", view.to(Device::cuda(), true), view.contiguous()));
}

TEST(CudaMemory, UploadsOverlappingComputeAndReusingFreedBlocksStayCorrect) {
  PNEUMA_REQUIRE_GPU();
  // A pipeline: batch i+1 is uploaded while step i computes on batch i; each step's result is checked against the
  // same computation on the CPU. Freed batches' blocks come back from the cache while kernels may still read them.
  const int steps = 12;
  std::vector<Tensor> batches;
  for (int i = 0; i < steps; ++i) batches.push_back(testing::random_normal({8, 64, 64, 16}, 0, 1, 100 + i));
  Tensor current = batches[0].to(Device::cuda(), true);
  for (int i = 0; i < steps; ++i) {
    Tensor next = i + 1 < steps ? batches[i + 1].to(Device::cuda(), true) : Tensor();
    // A chain of kernels long enough to still be running when the next upload is issued.
    Tensor y = current;
    for (int k = 0; k < 20; ++k) y = silu(y * 1.01);
    const Tensor reference = [&] {
      Tensor r = batches[i];
      for (int k = 0; k < 20; ++k) r = silu(r * 1.01);
      return r;
    }();
    ASSERT_TRUE(testing::expect_close("pipeline.step" + std::to_string(i), y, reference, {.atol = 1e-5, .rtol = 1e-5}));
    current = next;
  }
}

TEST(CudaMemory, AFailingCudaCallIsOneClearLine) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  Tensor source = Tensor::zeros({20}, DType::f32, Device::cuda()), destination = Tensor::zeros({20}, DType::f32, Device::cuda());
  try {
    // Rows of 10 elements read with a pitch of 5: cudaMemcpy2DAsync refuses (a non-sticky error).
    kernels::cuda::copy_rows(2, 10, sizeof(float), source.raw_data(), 5, destination.raw_data(), 10);
    ADD_FAILURE() << "an invalid pitch was accepted";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("CUDA error in cudaMemcpy2DAsync"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  destination.fill(4.0);  // the device still works
  EXPECT_TRUE(testing::expect_identical("after_error", destination, Tensor::full({20}, 4.0)));
#endif
}

}  // namespace
}  // namespace pneuma
