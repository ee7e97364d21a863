// CPU dropout / drop-path kernels: Philox masks (element i kept iff philox_uniform_at(seed, offset, i) >= p),
// keep fraction, 1/(1−p) scaling, backward reusing the mask, reproducibility and argument checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/dropout.h"
#include "kernels/error.h"
#include "kernels/parallel.h"
#include "kernels/philox.h"

namespace {

namespace kernels = pneuma::kernels;
namespace cpu = pneuma::kernels::cpu;

template <class T>
std::vector<T> random_values(size_t count, uint32_t seed, double low = 0.5, double high = 2.0) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> uniform(low, high);
  std::uniform_int_distribution<int> sign(0, 1);
  std::vector<T> values(count);
  for (T& v : values) v = static_cast<T>(uniform(generator) * (sign(generator) ? 1 : -1));  // never zero
  return values;
}

template <class T>
std::vector<T> nan_filled(size_t count) {
  return std::vector<T>(count, std::numeric_limits<T>::quiet_NaN());
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <class T>
class DropoutKernels : public ::testing::Test {};
using FloatingTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(DropoutKernels, FloatingTypes);

// Every element: dropped → 0, kept → x/(1−p), exactly where the Philox number is >= p; keep fraction ≈ 1 − p.
TYPED_TEST(DropoutKernels, ForwardFollowsPhiloxMaskAndScales) {
  using T = TypeParam;
  const int64_t count = 1000003;  // not a multiple of 4, so threads split Philox blocks
  const std::vector<T> input = random_values<T>(count, 1);
  const uint64_t seed = 0x1234abcd5678ull, offset = 12;
  for (const T p : {T(0.1), T(0.5), T(0.8)}) {
    std::vector<T> output = nan_filled<T>(count);
    cpu::dropout_forward(count, p, seed, offset, input.data(), output.data());
    const T scale = T(1) / (T(1) - p);
    int64_t kept = 0;
    for (int64_t i = 0; i < count; ++i) {
      const bool keep = kernels::philox_uniform_at(seed, offset, static_cast<uint64_t>(i)) >= p;
      kept += keep;
      ASSERT_EQ(output[i], keep ? input[i] * scale : T(0)) << "p=" << p << " element " << i;
    }
    const double fraction = static_cast<double>(kept) / static_cast<double>(count);
    // Binomial standard deviation is sqrt(p(1−p)/n) <= 5e-4; allow 5 of them.
    EXPECT_NEAR(fraction, 1.0 - static_cast<double>(p), 2.5e-3) << "p=" << p;
  }
}

TYPED_TEST(DropoutKernels, BackwardReusesTheForwardMask) {
  using T = TypeParam;
  const int64_t count = 100001;
  const std::vector<T> input = random_values<T>(count, 2), grad_output = random_values<T>(count, 3);
  const T p = T(0.3), scale = T(1) / (T(1) - p);
  std::vector<T> output = nan_filled<T>(count), grad_input = nan_filled<T>(count);
  cpu::dropout_forward(count, p, 99, 7, input.data(), output.data());
  cpu::dropout_backward(count, p, 99, 7, grad_output.data(), grad_input.data());
  for (int64_t i = 0; i < count; ++i) {
    const bool kept = output[i] != T(0);
    ASSERT_EQ(grad_input[i], kept ? grad_output[i] * scale : T(0)) << "element " << i;
  }
}

// The kernel is linear for a fixed mask: central differences of Σ w·y give back w·mask/(1−p).
TEST(DropoutKernels, BackwardMatchesFiniteDifferences) {
  const int64_t count = 37;
  const std::vector<double> input = random_values<double>(count, 4), weights = random_values<double>(count, 5);
  const double p = 0.4, eps = 1e-6;
  std::vector<double> grad_input = nan_filled<double>(count);
  cpu::dropout_backward(count, p, 5, 3, weights.data(), grad_input.data());
  auto loss = [&](const std::vector<double>& x) {
    std::vector<double> y(count);
    cpu::dropout_forward(count, p, 5, 3, x.data(), y.data());
    double sum = 0;
    for (int64_t i = 0; i < count; ++i) sum += weights[i] * y[i];
    return sum;
  };
  for (int64_t i = 0; i < count; ++i) {
    std::vector<double> plus = input, minus = input;
    plus[i] += eps;
    minus[i] -= eps;
    const double numeric = (loss(plus) - loss(minus)) / (2 * eps);
    EXPECT_NEAR(grad_input[i], numeric, 1e-8 + 1e-7 * std::abs(numeric)) << "element " << i;
  }
}

TEST(DropoutKernels, SameSeedAndOffsetGiveTheSameMaskForAnyThreadCount) {
  const int64_t count = 200003;
  const std::vector<float> input = random_values<float>(count, 6);
  const int saved_threads = kernels::max_threads();
  std::vector<float> outputs[3];
  for (int run = 0; run < 3; ++run) {
    kernels::set_max_threads(run == 0 ? 1 : 2);
    outputs[run] = nan_filled<float>(count);
    cpu::dropout_forward(count, 0.5f, 42, 1000, input.data(), outputs[run].data());
  }
  kernels::set_max_threads(saved_threads);
  EXPECT_TRUE(same_bits(outputs[0], outputs[1]));
  EXPECT_TRUE(same_bits(outputs[1], outputs[2]));
}

TEST(DropoutKernels, DifferentOffsetsOrSeedsGiveDifferentMasks) {
  const int64_t count = 10000;
  const std::vector<float> input = random_values<float>(count, 7);
  auto mask = [&](uint64_t seed, uint64_t offset) {
    std::vector<float> output(count);
    cpu::dropout_forward(count, 0.5f, seed, offset, input.data(), output.data());
    std::vector<bool> kept(count);
    for (int64_t i = 0; i < count; ++i) kept[i] = output[i] != 0.0f;
    return kept;
  };
  auto disagreement = [&](const std::vector<bool>& a, const std::vector<bool>& b) {
    int64_t differ = 0;
    for (int64_t i = 0; i < count; ++i) differ += a[i] != b[i];
    return static_cast<double>(differ) / static_cast<double>(count);
  };
  const std::vector<bool> base = mask(42, 0);
  // Independent masks with p = 0.5 disagree on about half the elements.
  EXPECT_NEAR(disagreement(base, mask(42, 1 << 20)), 0.5, 0.05);
  EXPECT_NEAR(disagreement(base, mask(43, 0)), 0.5, 0.05);
  EXPECT_EQ(disagreement(base, mask(42, 0)), 0.0);
}

TYPED_TEST(DropoutKernels, EdgeProbabilities) {
  using T = TypeParam;
  const int64_t count = 1001;
  const std::vector<T> input = random_values<T>(count, 8);
  std::vector<T> output = nan_filled<T>(count);
  cpu::dropout_forward(count, T(0), 1, 2, input.data(), output.data());
  EXPECT_TRUE(same_bits(output, input)) << "p = 0 is the identity";
  output = nan_filled<T>(count);
  cpu::dropout_forward(count, T(1), 1, 2, input.data(), output.data());
  for (T v : output) ASSERT_EQ(v, T(0)) << "p = 1 drops everything";
  output = nan_filled<T>(count);
  cpu::drop_path_forward(7, 11, T(1), 1, 2, input.data(), output.data());
  for (int64_t i = 0; i < 77; ++i) ASSERT_EQ(output[i], T(0)) << "drop path with p = 1";
}

TEST(DropoutKernels, RejectsProbabilitiesOutsideTheUnitInterval) {
  float x = 1.0f, y = 0.0f;
  for (float p : {-0.1f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    EXPECT_THROW(cpu::dropout_forward(1, p, 0, 0, &x, &y), pneuma::Error) << p;
    EXPECT_THROW(cpu::dropout_backward(1, p, 0, 0, &x, &y), pneuma::Error) << p;
    EXPECT_THROW(cpu::drop_path_forward(1, 1, p, 0, 0, &x, &y), pneuma::Error) << p;
    EXPECT_THROW(cpu::drop_path_backward(1, 1, p, 0, 0, &x, &y), pneuma::Error) << p;
  }
}

// Sample b is kept whole (scaled by 1/(1−p)) iff philox_uniform_at(seed, offset, b) >= p; backward uses the same.
TYPED_TEST(DropoutKernels, DropPathKeepsOrDropsWholeSamples) {
  using T = TypeParam;
  const T p = T(0.25), scale = T(1) / (T(1) - p);
  const uint64_t seed = 314, offset = 15;
  const std::pair<int64_t, int64_t> sizes[] = {{3, 5 * 7 * 17}, {20000, 1}, {5, 20011}};  // (batch, per_sample)
  for (const auto& [batch, per_sample] : sizes) {
    const size_t count = static_cast<size_t>(batch * per_sample);
    const std::vector<T> input = random_values<T>(count, 9), grad_output = random_values<T>(count, 10);
    std::vector<T> output = nan_filled<T>(count), grad_input = nan_filled<T>(count);
    cpu::drop_path_forward(batch, per_sample, p, seed, offset, input.data(), output.data());
    cpu::drop_path_backward(batch, per_sample, p, seed, offset, grad_output.data(), grad_input.data());
    int64_t kept_samples = 0;
    for (int64_t b = 0; b < batch; ++b) {
      const bool keep = kernels::philox_uniform_at(seed, offset, static_cast<uint64_t>(b)) >= p;
      kept_samples += keep;
      for (int64_t j = 0; j < per_sample; ++j) {
        const int64_t i = b * per_sample + j;
        ASSERT_EQ(output[i], keep ? input[i] * scale : T(0)) << "sample " << b;
        ASSERT_EQ(grad_input[i], keep ? grad_output[i] * scale : T(0)) << "sample " << b;
      }
    }
    if (batch >= 20000) {  // standard deviation sqrt(p(1−p)/n) ≈ 3e-3
      EXPECT_NEAR(static_cast<double>(kept_samples) / static_cast<double>(batch), 1.0 - static_cast<double>(p), 0.015);
    }
  }
}

// PyTorch multiplies by the mask, so a dropped NaN stays NaN (0·NaN), and a kept one too.
TEST(DropoutKernels, DroppedNonFiniteInputsPropagateLikePyTorch) {
  const int64_t count = 64;
  std::vector<float> input(count, std::numeric_limits<float>::quiet_NaN()), output(count, 0.0f);
  cpu::dropout_forward(count, 0.5f, 1, 1, input.data(), output.data());
  for (float v : output) EXPECT_TRUE(std::isnan(v));
}

}  // namespace
