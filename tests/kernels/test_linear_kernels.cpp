// CPU linear (fully connected) kernels against naive double-precision loops, float and double, odd sizes, with and
// without bias; outputs poisoned with NaN so an unwritten element fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/error.h"
#include "kernels/linear.h"
#include "kernels/parallel.h"

namespace {

using pneuma::kernels::LinearShape;
namespace kernels = pneuma::kernels;
namespace cpu = pneuma::kernels::cpu;

LinearShape make_shape(int64_t rows, int64_t in_features, int64_t out_features) {
  LinearShape s;
  s.rows = rows, s.in_features = in_features, s.out_features = out_features;
  return s;
}

// rows 0 (an empty batch), 1, odd sizes, a classifier-like head and a long batch for the split reductions.
const std::vector<LinearShape> linear_cases = {make_shape(1, 3, 5),    make_shape(3, 17, 7), make_shape(37, 5, 1),
                                               make_shape(300, 65, 10), make_shape(4, 1280, 13),
                                               make_shape(2000, 7, 9), make_shape(0, 4, 3)};

template <class T>
std::vector<T> random_values(size_t count, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<T> values(count);
  for (T& v : values) v = static_cast<T>(uniform(generator));
  return values;
}

template <class T>
std::vector<T> poisoned(size_t count) {
  return std::vector<T>(count, std::numeric_limits<T>::quiet_NaN());
}

std::string describe(const LinearShape& s) {
  return "rows=" + std::to_string(s.rows) + " in=" + std::to_string(s.in_features) +
         " out=" + std::to_string(s.out_features);
}

// |got - ref| <= atol + rtol·|ref|, float tolerances widened by sqrt(terms / 64) for long sums.
template <class T>
void expect_close(const std::vector<T>& got, const std::vector<double>& ref, int64_t terms, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size());
  const double tolerance = sizeof(T) == 4 ? 1e-4 * std::max(1.0, std::sqrt(double(terms) / 64.0)) : 1e-10;
  size_t failures = 0, worst = 0;
  double worst_excess = -INFINITY;
  for (size_t i = 0; i < got.size(); ++i) {
    const double error = std::fabs(double(got[i]) - ref[i]);
    const double excess = std::isnan(double(got[i])) ? INFINITY : error - tolerance * (1.0 + std::fabs(ref[i]));
    if (excess > 0) ++failures;
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  EXPECT_EQ(failures, 0u) << what << ": " << failures << " of " << got.size() << " out of tolerance " << tolerance
                          << "; worst index " << worst << " got " << (got.empty() ? 0.0 : double(got[worst]))
                          << " expected " << (ref.empty() ? 0.0 : ref[worst]);
}

template <class T>
void check_linear() {
  uint32_t seed = 5;
  for (const LinearShape& s : linear_cases) {
    SCOPED_TRACE(describe(s));
    const int64_t rows = s.rows, in = s.in_features, out = s.out_features;
    const auto input = random_values<T>(rows * in, seed++);
    const auto weight = random_values<T>(out * in, seed++);
    const auto bias = random_values<T>(out, seed++);
    const auto grad_output = random_values<T>(rows * out, seed++);

    for (const T* b : {bias.data(), static_cast<const T*>(nullptr)}) {
      std::vector<double> expected(rows * out);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t o = 0; o < out; ++o) {
          double sum = b ? double(b[o]) : 0.0;
          for (int64_t i = 0; i < in; ++i) sum += double(input[r * in + i]) * double(weight[o * in + i]);
          expected[r * out + o] = sum;
        }
      auto output = poisoned<T>(rows * out);
      cpu::linear_forward(s, input.data(), weight.data(), b, output.data());
      expect_close(output, expected, in, b ? "forward with bias" : "forward without bias");
    }

    std::vector<double> expected_input(rows * in, 0.0), expected_weight(out * in, 0.0), expected_bias(out, 0.0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o) {
        const double g = grad_output[r * out + o];
        expected_bias[o] += g;
        for (int64_t i = 0; i < in; ++i) {
          expected_input[r * in + i] += g * double(weight[o * in + i]);
          expected_weight[o * in + i] += g * double(input[r * in + i]);
        }
      }
    auto grad_input = poisoned<T>(rows * in);
    cpu::linear_backward_input(s, grad_output.data(), weight.data(), grad_input.data());
    expect_close(grad_input, expected_input, out, "backward input");
    auto grad_weight = poisoned<T>(out * in);
    cpu::linear_backward_weight(s, input.data(), grad_output.data(), grad_weight.data());
    expect_close(grad_weight, expected_weight, rows, "backward weight");
    auto grad_bias = poisoned<T>(out);
    cpu::linear_backward_bias(s, grad_output.data(), grad_bias.data());
    expect_close(grad_bias, expected_bias, rows, "backward bias");
  }
}

TEST(LinearKernels, MatchesReferenceFloat) { check_linear<float>(); }
TEST(LinearKernels, MatchesReferenceDouble) { check_linear<double>(); }

TEST(LinearKernels, GradientsRepeatableAndThreadCountIndependent) {
  const LinearShape s = make_shape(3000, 33, 21);
  const auto input = random_values<float>(s.rows * s.in_features, 71);
  const auto grad_output = random_values<float>(s.rows * s.out_features, 72);
  const int saved_threads = kernels::max_threads();
  std::vector<float> weight_grad[3], bias_grad[3];
  for (int run = 0; run < 3; ++run) {
    kernels::set_max_threads(run == 2 ? 1 : 2);
    weight_grad[run] = poisoned<float>(s.out_features * s.in_features);
    bias_grad[run] = poisoned<float>(s.out_features);
    cpu::linear_backward_weight(s, input.data(), grad_output.data(), weight_grad[run].data());
    cpu::linear_backward_bias(s, grad_output.data(), bias_grad[run].data());
  }
  kernels::set_max_threads(saved_threads);
  EXPECT_EQ(weight_grad[0], weight_grad[1]);
  EXPECT_EQ(weight_grad[0], weight_grad[2]);
  EXPECT_EQ(bias_grad[0], bias_grad[1]);
  EXPECT_EQ(bias_grad[0], bias_grad[2]);
}

TEST(LinearKernels, RejectsInvalidShape) {
  std::vector<float> buffer(16, 0.0f);
  EXPECT_THROW(cpu::linear_forward(make_shape(2, 0, 3), buffer.data(), buffer.data(), (const float*)nullptr,
                                   buffer.data()),
               pneuma::Error);
}

}  // namespace
