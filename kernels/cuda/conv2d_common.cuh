// Device helpers shared by the CUDA convolution and GEMM kernels: asynchronous global→shared copies that zero-fill
// out-of-bounds elements (cp.async, sm_80+), and a small fixed-width vector of floats (Pack) for 16-byte accesses
// along the channel axis. Pack<4> loads and stores compile to LDG/LDS/STG.128; Pack<1> is the scalar fallback for
// channel counts that are not a multiple of 4. A bf16 variant would add a Pack of 8 bf16 with fp32 arithmetic.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace pneuma::kernels::cuda {

// ---- cp.async --------------------------------------------------------------------------------------------------
// Copies `bytes` (4, 8 or 16) from global to shared memory without staging through registers; when `valid` is
// false nothing is read and the destination is filled with zeros (this is how padding and ragged edges are loaded).
template <int bytes>
__device__ __forceinline__ void copy_async(void* shared_destination, const void* global_source, bool valid) {
  static_assert(bytes == 4 || bytes == 8 || bytes == 16, "cp.async copies 4, 8 or 16 bytes");
  const unsigned destination = static_cast<unsigned>(__cvta_generic_to_shared(shared_destination));
  const int source_bytes = valid ? bytes : 0;
  if constexpr (bytes == 16) {
    // .cg: cache in L2 only; tiles are staged in shared memory, so L1 would only hold dead copies.
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(destination), "l"(global_source),
                 "r"(source_bytes));
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(destination), "l"(global_source), "n"(bytes),
                 "r"(source_bytes));
  }
}
__device__ __forceinline__ void copy_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
// Waits until at most `pending` committed groups are still in flight.
template <int pending>
__device__ __forceinline__ void copy_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(pending));
}

// ---- Pack ------------------------------------------------------------------------------------------------------
template <int width>
struct Pack {
  float value[width];
};

template <int width>
__device__ __forceinline__ Pack<width> pack_zero() {
  Pack<width> p;
#pragma unroll
  for (int e = 0; e < width; ++e) p.value[e] = 0.0f;
  return p;
}

// Aligned load/store of `width` consecutive floats (16-byte aligned when width == 4).
template <int width>
__device__ __forceinline__ Pack<width> pack_load(const float* source) {
  Pack<width> p;
  if constexpr (width == 4) {
    const float4 v = *reinterpret_cast<const float4*>(source);
    p.value[0] = v.x, p.value[1] = v.y, p.value[2] = v.z, p.value[3] = v.w;
  } else {
#pragma unroll
    for (int e = 0; e < width; ++e) p.value[e] = source[e];
  }
  return p;
}
// Read-only global load through the non-coherent path (LDG.E.128.CONSTANT when width == 4).
template <int width>
__device__ __forceinline__ Pack<width> pack_load_global(const float* source) {
  Pack<width> p;
  if constexpr (width == 4) {
    const float4 v = __ldg(reinterpret_cast<const float4*>(source));
    p.value[0] = v.x, p.value[1] = v.y, p.value[2] = v.z, p.value[3] = v.w;
  } else {
#pragma unroll
    for (int e = 0; e < width; ++e) p.value[e] = __ldg(source + e);
  }
  return p;
}
template <int width>
__device__ __forceinline__ void pack_store(float* destination, const Pack<width>& p) {
  if constexpr (width == 4) {
    *reinterpret_cast<float4*>(destination) = make_float4(p.value[0], p.value[1], p.value[2], p.value[3]);
  } else {
#pragma unroll
    for (int e = 0; e < width; ++e) destination[e] = p.value[e];
  }
}
// accumulator += a · b, element-wise.
template <int width>
__device__ __forceinline__ void pack_fma(Pack<width>& accumulator, const Pack<width>& a, const Pack<width>& b) {
#pragma unroll
  for (int e = 0; e < width; ++e) accumulator.value[e] = fmaf(a.value[e], b.value[e], accumulator.value[e]);
}
template <int width>
__device__ __forceinline__ void pack_add(Pack<width>& accumulator, const Pack<width>& a) {
#pragma unroll
  for (int e = 0; e < width; ++e) accumulator.value[e] += a.value[e];
}

}  // namespace pneuma::kernels::cuda
