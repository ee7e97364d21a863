// FastDivmod: division of a non-negative 32-bit int by a divisor fixed at launch time, as one multiply-high, an add
// and a shift (the round-up method of Granlund and Montgomery). The convolution kernels split flat indices into
// (row, column, channel) with it instead of a ~20-instruction integer division. Plain C++ when compiled by the host
// compiler, so the host tests can check it exhaustively against '/' and '%'.
#pragma once
#include <cstdint>

#include "kernels/error.h"

#if defined(__CUDACC__)
#define PNEUMA_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define PNEUMA_HOST_DEVICE inline
#endif

namespace pneuma::kernels::cuda {

struct FastDivmod {
  int divisor = 1;
  uint32_t multiplier = 1;  // ceil-style magic number: floor(2^32 · (2^shift - divisor) / divisor) + 1
  uint32_t shift = 0;       // ceil(log2(divisor))

  FastDivmod() = default;
  explicit FastDivmod(int64_t value) {
    PNEUMA_CHECK(value >= 1 && value <= INT32_MAX, "FastDivmod: divisor %lld out of range [1, 2^31)",
                 static_cast<long long>(value));
    divisor = static_cast<int>(value);
    while ((uint64_t{1} << shift) < static_cast<uint64_t>(divisor)) ++shift;
    multiplier = static_cast<uint32_t>(((uint64_t{1} << 32) * ((uint64_t{1} << shift) - divisor)) / divisor + 1);
  }

  // n must lie in [0, 2^31).
  PNEUMA_HOST_DEVICE int divide(int n) const {
#if defined(__CUDA_ARCH__)
    const uint32_t high = __umulhi(static_cast<uint32_t>(n), multiplier);
#else
    const uint32_t high = static_cast<uint32_t>((static_cast<uint64_t>(static_cast<uint32_t>(n)) * multiplier) >> 32);
#endif
    return static_cast<int>((high + static_cast<uint32_t>(n)) >> shift);
  }
  PNEUMA_HOST_DEVICE void divmod(int n, int& quotient, int& remainder) const {
    quotient = divide(n);
    remainder = n - quotient * divisor;
  }
};

}  // namespace pneuma::kernels::cuda
