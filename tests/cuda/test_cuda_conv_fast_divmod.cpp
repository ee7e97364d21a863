// FastDivmod (kernels/cuda/conv2d_fast_divmod.h), the multiply-shift division the CUDA convolution kernels index
// with, against '/' and '%': every divisor up to 4096 on numerators near multiples and powers of two, and random
// divisor/numerator pairs over the whole [1, 2^31) range. Host code, so it runs in every build.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cuda/conv2d_fast_divmod.h"

namespace pneuma {
namespace {

using kernels::cuda::FastDivmod;

void expect_exact(const FastDivmod& fast, int n) {
  int quotient = -1, remainder = -1;
  fast.divmod(n, quotient, remainder);
  ASSERT_EQ(quotient, n / fast.divisor) << n << " / " << fast.divisor;
  ASSERT_EQ(remainder, n % fast.divisor) << n << " % " << fast.divisor;
}

TEST(CudaConvFastDivmod, SmallDivisorsAtTheirEdges) {
  std::vector<int> numerators = {0, 1, 2, 3, INT32_MAX, INT32_MAX - 1};
  for (int bit = 1; bit < 31; ++bit) numerators.insert(numerators.end(), {(1 << bit) - 1, 1 << bit, (1 << bit) + 1});
  for (int divisor = 1; divisor <= 4096; ++divisor) {
    const FastDivmod fast(divisor);
    for (const int n : numerators) expect_exact(fast, n);
    for (int multiple = 1; multiple <= 64; ++multiple) {  // both sides of the first quotient steps
      expect_exact(fast, divisor * multiple - 1);
      expect_exact(fast, divisor * multiple);
    }
    for (const int64_t big : {int64_t{INT32_MAX} / divisor * divisor, int64_t{INT32_MAX} / divisor * divisor - 1})
      if (big >= 0) expect_exact(fast, static_cast<int>(big));
  }
}

TEST(CudaConvFastDivmod, RandomPairsOverTheWholeRange) {
  std::mt19937 generator(12345);
  std::uniform_int_distribution<int> any(0, INT32_MAX - 1);
  for (int trial = 0; trial < 200000; ++trial) {
    const int divisor = std::max(1, any(generator) >> (trial % 31));
    expect_exact(FastDivmod(divisor), any(generator));
  }
}

TEST(CudaConvFastDivmod, RejectsDivisorsOutOfRange) {
  EXPECT_THROW(FastDivmod(0), Error);
  EXPECT_THROW(FastDivmod(int64_t{1} << 31), Error);
}

}  // namespace
}  // namespace pneuma
