// What every .cu file needs to launch work: the compute stream, grid sizing and the scratch workspace. CUDA types appear here, so only .cu
// files include this header; the engine sees the plain declarations in kernels/<op>.h.
//
// Streams: every kernel and every synchronous copy runs on compute_stream(), today the legacy default stream, so
// all device work is ordered in the order the host issued it and the caching allocator can reuse a freed block at
// once. Host→device batch transfers run on a separate non-blocking stream (device_memory.h) and are ordered
// against compute with events.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/cuda_check.h"

namespace pneuma::kernels::cuda {

inline cudaStream_t compute_stream() { return cudaStreamLegacy; }

constexpr int kThreads = 256;  // threads per block for elementwise kernels

// Blocks for a grid-stride loop over `count` items: enough to fill the GPU, never more than needed.
inline unsigned grid_for(int64_t count, int threads = kThreads) {
  constexpr int64_t kMaxBlocks = 65535LL * 8;
  const int64_t blocks = (count + threads - 1) / threads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(blocks, kMaxBlocks)));
}

// Device scratch buffers, grown on demand and reused: slot kPartialsSlot holds the partials of the reductions in
// reduce.cuh, slot kTemporarySlot a kernel's own per-channel temporaries (which may live across a reduction).
// A buffer stays valid until the next workspace() call for the same slot; work on the compute stream is ordered,
// so the next user cannot overwrite it before the previous kernels have read it.
constexpr int kPartialsSlot = 0;
constexpr int kTemporarySlot = 1;
void* workspace(size_t bytes, int slot);

// Grid-stride loop index helpers.
__device__ __forceinline__ int64_t global_thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t global_thread_count() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

}  // namespace pneuma::kernels::cuda

// Launches `kernel<<<grid, block, shared, compute_stream()>>>(args...)` and checks the launch (and, with
// PNEUMA_DEBUG_SYNC=1, the kernel's completion). Nothing is launched for an empty grid.
#define PNEUMA_LAUNCH(kernel, grid, block, shared, ...)                                                      \
  do {                                                                                                       \
    const dim3 pneuma_grid(grid);                                                                            \
    if (pneuma_grid.x > 0 && pneuma_grid.y > 0 && pneuma_grid.z > 0) {                                       \
      kernel<<<pneuma_grid, (block), (shared), ::pneuma::kernels::cuda::compute_stream()>>>(__VA_ARGS__);    \
      PNEUMA_CHECK_LAUNCH(#kernel);                                                                          \
    }                                                                                                        \
  } while (0)
