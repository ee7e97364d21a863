// CPU softmax / log-softmax kernels against a double-precision reference and finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/softmax.h"

namespace {

namespace cpu = pneuma::kernels::cpu;

struct Matrix {
  int64_t rows, cols;
};
const Matrix kShapes[] = {{1, 1}, {1, 5}, {7, 17}, {3, 1000}, {2049, 3}};

template <class T>
std::vector<T> random_values(size_t count, uint32_t seed, double low, double high) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> uniform(low, high);
  std::vector<T> values(count);
  for (T& v : values) v = static_cast<T>(uniform(generator));
  return values;
}

template <class T>
std::vector<T> nan_filled(size_t count) {
  return std::vector<T>(count, std::numeric_limits<T>::quiet_NaN());
}

std::vector<double> reference_softmax(const Matrix& m, const std::vector<double>& x, bool logarithm) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < m.rows; ++r) {
    const double* row = x.data() + r * m.cols;
    double maximum = row[0];
    for (int64_t j = 1; j < m.cols; ++j) maximum = std::max(maximum, row[j]);
    double sum = 0;
    for (int64_t j = 0; j < m.cols; ++j) sum += std::exp(row[j] - maximum);
    for (int64_t j = 0; j < m.cols; ++j)
      y[r * m.cols + j] = logarithm ? row[j] - maximum - std::log(sum) : std::exp(row[j] - maximum) / sum;
  }
  return y;
}

// Gradient of Σ w·y through (log-)softmax, from the Jacobian written out explicitly.
std::vector<double> reference_backward(const Matrix& m, const std::vector<double>& x, const std::vector<double>& w,
                                       bool logarithm) {
  const std::vector<double> p = reference_softmax(m, x, false);
  std::vector<double> grad(x.size(), 0.0);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t i = 0; i < m.cols; ++i)
      for (int64_t j = 0; j < m.cols; ++j) {
        const int64_t row = r * m.cols;
        const double kronecker = i == j ? 1.0 : 0.0;
        // d y_i / d x_j: softmax p_i(δ_ij − p_j); log-softmax δ_ij − p_j.
        const double jacobian = logarithm ? kronecker - p[row + j] : p[row + i] * (kronecker - p[row + j]);
        grad[row + j] += w[row + i] * jacobian;
      }
  return grad;
}

template <class T>
void expect_all_close(const std::vector<T>& got, const std::vector<double>& want, double tolerance,
                      const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_TRUE(std::isfinite(static_cast<double>(got[i])) &&
                std::abs(static_cast<double>(got[i]) - want[i]) <= tolerance * (1.0 + std::abs(want[i])))
        << what << " element " << i << ": got " << got[i] << ", want " << want[i];
}

template <class T>
std::vector<double> to_double(const std::vector<T>& values) {
  return std::vector<double>(values.begin(), values.end());
}

template <class T>
class SoftmaxKernels : public ::testing::Test {};
using FloatingTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SoftmaxKernels, FloatingTypes);

TYPED_TEST(SoftmaxKernels, ForwardAndBackwardMatchReference) {
  using T = TypeParam;
  const double tolerance = std::is_same_v<T, float> ? 2e-6 : 1e-13;
  uint32_t seed = 100;
  for (const Matrix& m : kShapes) {
    const size_t count = static_cast<size_t>(m.rows * m.cols);
    // Large offsets check the max subtraction; exp(±1000) overflows without it.
    const double offset = (seed % 2) ? 1000.0 : -1000.0;
    const std::vector<T> input = random_values<T>(count, ++seed, offset - 6.0, offset + 6.0);
    const std::vector<T> grad_output = random_values<T>(count, ++seed, -1.0, 1.0);
    const bool small = m.cols <= 17;  // the explicit-Jacobian reference is O(cols²) per row
    for (bool logarithm : {false, true}) {
      const std::string name = std::string(logarithm ? "log_softmax" : "softmax") + " " + std::to_string(m.rows) + "x" +
                               std::to_string(m.cols);
      std::vector<T> output = nan_filled<T>(count), grad_input = nan_filled<T>(count);
      if (logarithm) {
        cpu::log_softmax_forward(m.rows, m.cols, input.data(), output.data());
        cpu::log_softmax_backward(m.rows, m.cols, output.data(), grad_output.data(), grad_input.data());
      } else {
        cpu::softmax_forward(m.rows, m.cols, input.data(), output.data());
        cpu::softmax_backward(m.rows, m.cols, output.data(), grad_output.data(), grad_input.data());
      }
      expect_all_close(output, reference_softmax(m, to_double(input), logarithm), tolerance, name + " forward");
      if (small)
        expect_all_close(grad_input, reference_backward(m, to_double(input), to_double(grad_output), logarithm),
                         4 * tolerance, name + " backward");
      else
        for (T g : grad_input) ASSERT_TRUE(std::isfinite(static_cast<double>(g))) << name << " backward";
    }
  }
}

TEST(SoftmaxKernels, RowsSumToOne) {
  const Matrix m{5, 1000};
  const std::vector<float> input = random_values<float>(5000, 7, -20.0, 20.0);
  std::vector<float> output = nan_filled<float>(5000);
  cpu::softmax_forward(m.rows, m.cols, input.data(), output.data());
  for (int64_t r = 0; r < m.rows; ++r) {
    double sum = 0;
    for (int64_t j = 0; j < m.cols; ++j) sum += output[r * m.cols + j];
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
}

// Central differences of Σ w·y on the double kernels.
TEST(SoftmaxKernels, BackwardMatchesFiniteDifferences) {
  const Matrix m{3, 7};
  const size_t count = 21;
  const std::vector<double> input = random_values<double>(count, 41, -3.0, 3.0);
  const std::vector<double> weights = random_values<double>(count, 43, -1.0, 1.0);
  const double eps = 1e-6;
  for (bool logarithm : {false, true}) {
    auto forward = [&](const std::vector<double>& x, std::vector<double>& y) {
      if (logarithm)
        cpu::log_softmax_forward(m.rows, m.cols, x.data(), y.data());
      else
        cpu::softmax_forward(m.rows, m.cols, x.data(), y.data());
    };
    auto loss = [&](const std::vector<double>& x) {
      std::vector<double> y(count);
      forward(x, y);
      double sum = 0;
      for (size_t i = 0; i < count; ++i) sum += weights[i] * y[i];
      return sum;
    };
    std::vector<double> output(count), grad_input = nan_filled<double>(count);
    forward(input, output);
    if (logarithm)
      cpu::log_softmax_backward(m.rows, m.cols, output.data(), weights.data(), grad_input.data());
    else
      cpu::softmax_backward(m.rows, m.cols, output.data(), weights.data(), grad_input.data());
    for (size_t i = 0; i < count; ++i) {
      std::vector<double> plus = input, minus = input;
      plus[i] += eps;
      minus[i] -= eps;
      const double numeric = (loss(plus) - loss(minus)) / (2 * eps);
      EXPECT_NEAR(grad_input[i], numeric, 1e-8 + 1e-6 * std::abs(numeric))
          << (logarithm ? "log_softmax" : "softmax") << " element " << i;
    }
  }
}

}  // namespace
