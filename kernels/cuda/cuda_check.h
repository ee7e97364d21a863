// CUDA_CHECK(call) and PNEUMA_CHECK_LAUNCH(name): every CUDA call and every kernel launch is checked and turned
// into a pneuma::Error naming the call and file:line. With PNEUMA_DEBUG_SYNC=1 in the environment, each launch
// also synchronises so an asynchronous fault is pinned to the kernel that caused it.
#pragma once
#include <cuda_runtime.h>

#include <cstdlib>

#include "kernels/error.h"

#define CUDA_CHECK(call)                                                                   \
  do {                                                                                     \
    cudaError_t pneuma_cuda_status = (call);                                               \
    if (pneuma_cuda_status != cudaSuccess) [[unlikely]]                                    \
      PNEUMA_FAIL("CUDA error in %s: %s", #call, cudaGetErrorString(pneuma_cuda_status)); \
  } while (0)

namespace pneuma::kernels::cuda {
inline bool debug_sync_enabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("PNEUMA_DEBUG_SYNC");
    return value != nullptr && value[0] != '\0' && value[0] != '0';
  }();
  return enabled;
}
}  // namespace pneuma::kernels::cuda

#define PNEUMA_CHECK_LAUNCH(kernel_name)                                                                   \
  do {                                                                                                     \
    cudaError_t pneuma_launch_status = cudaGetLastError();                                                 \
    if (pneuma_launch_status != cudaSuccess) [[unlikely]]                                                  \
      PNEUMA_FAIL("CUDA launch of %s failed: %s", kernel_name, cudaGetErrorString(pneuma_launch_status));  \
    if (::pneuma::kernels::cuda::debug_sync_enabled()) {                                                   \
      pneuma_launch_status = cudaDeviceSynchronize();                                                      \
      if (pneuma_launch_status != cudaSuccess) [[unlikely]]                                                \
        PNEUMA_FAIL("CUDA kernel %s faulted: %s", kernel_name, cudaGetErrorString(pneuma_launch_status));  \
    }                                                                                                      \
  } while (0)
