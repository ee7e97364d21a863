// Philox4x32-10 counter-based random numbers (Salmon et al., SC'11). Header-only and usable from CUDA device
// code, so the CPU and the GPU draw identical streams: element i of a stream with (seed, offset) always gets
// the same number, whichever thread or device computes it.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define PNEUMA_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define PNEUMA_HOST_DEVICE inline
#endif

namespace pneuma::kernels {

struct Philox4x32 {
  uint32_t value[4];
};

PNEUMA_HOST_DEVICE uint32_t philox_mulhilo(uint32_t a, uint32_t b, uint32_t* high) {
  const uint64_t product = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *high = static_cast<uint32_t>(product >> 32);
  return static_cast<uint32_t>(product);
}

// Ten rounds of Philox4x32 on counter (c0..c3) with key (k0, k1).
PNEUMA_HOST_DEVICE Philox4x32 philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                                         uint32_t k1) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = philox_mulhilo(kMul0, c0, &hi0);
    const uint32_t lo1 = philox_mulhilo(kMul1, c2, &hi1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return Philox4x32{{c0, c1, c2, c3}};
}

// Four 32-bit random words for block `index` of the stream (seed, offset).
PNEUMA_HOST_DEVICE Philox4x32 philox_block(uint64_t seed, uint64_t offset, uint64_t index) {
  const uint64_t counter = offset + index;
  return philox4x32(static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), 0u, 0u,
                    static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Uniform in [0, 1) with 24 random bits (exactly representable in float).
PNEUMA_HOST_DEVICE float philox_uniform_float(uint32_t word) { return static_cast<float>(word >> 8) * (1.0f / 16777216.0f); }

// Element i of the uniform [0,1) stream (seed, offset): block i/4, word i%4.
PNEUMA_HOST_DEVICE float philox_uniform_at(uint64_t seed, uint64_t offset, uint64_t i) {
  return philox_uniform_float(philox_block(seed, offset, i >> 2).value[i & 3]);
}

// Element i of the standard normal stream (seed, offset): Box-Muller on block i/2, words (2(i%2), 2(i%2)+1).
PNEUMA_HOST_DEVICE float philox_normal_at(uint64_t seed, uint64_t offset, uint64_t i) {
  const Philox4x32 block = philox_block(seed, offset, i >> 1);
  const uint32_t a = block.value[(i & 1) * 2], b = block.value[(i & 1) * 2 + 1];
  const float u1 = (static_cast<float>(a >> 8) + 1.0f) * (1.0f / 16777216.0f);  // (0, 1]
  const float u2 = static_cast<float>(b >> 8) * (1.0f / 16777216.0f);
  return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864f * u2);
}

}  // namespace pneuma::kernels
