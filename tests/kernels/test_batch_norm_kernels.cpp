// CPU batch-norm kernels against naive double-precision loops, PyTorch 1.13 values, finite differences and
// thread-count determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/batch_norm.h"
#include "kernels/error.h"
#include "kernels/parallel.h"

namespace {

using pneuma::kernels::BatchNormShape;
namespace kernels = pneuma::kernels;
namespace cpu = pneuma::kernels::cpu;

// rows = N·H·W: batch 1 and 3 with odd spatial sizes, a single row, and one large enough for several chunks.
const BatchNormShape kShapes[] = {{1 * 5 * 7, 3}, {3 * 9 * 11, 17}, {1, 5}, {3 * 3 * 3, 1}, {20001, 5}};

template <class T>
std::vector<T> random_values(size_t count, uint32_t seed, double low = -1.0, double high = 1.0) {
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

template <class To, class From>
std::vector<To> converted(const std::vector<From>& values) {
  return std::vector<To>(values.begin(), values.end());
}

template <class T>
void expect_all_close(const std::vector<T>& got, const std::vector<double>& want, double tolerance,
                      const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_TRUE(std::isfinite(static_cast<double>(got[i])) &&
                std::abs(static_cast<double>(got[i]) - want[i]) <= tolerance * (1.0 + std::abs(want[i])))
        << what << " element " << i << ": got " << got[i] << ", want " << want[i];
}

std::string describe(const BatchNormShape& s) { return std::to_string(s.rows) + "x" + std::to_string(s.channels); }

size_t element_count(const BatchNormShape& s) { return static_cast<size_t>(s.rows * s.channels); }

struct Statistics {
  std::vector<double> mean, variance;  // biased variance
};

Statistics reference_statistics(const BatchNormShape& s, const std::vector<double>& x) {
  Statistics r{std::vector<double>(s.channels, 0.0), std::vector<double>(s.channels, 0.0)};
  for (int64_t c = 0; c < s.channels; ++c) {
    for (int64_t row = 0; row < s.rows; ++row) r.mean[c] += x[row * s.channels + c];
    r.mean[c] /= static_cast<double>(s.rows);
    for (int64_t row = 0; row < s.rows; ++row) {
      const double d = x[row * s.channels + c] - r.mean[c];
      r.variance[c] += d * d;
    }
    r.variance[c] /= static_cast<double>(s.rows);
  }
  return r;
}

std::vector<double> reference_apply(const BatchNormShape& s, const std::vector<double>& x,
                                    const std::vector<double>& mean, const std::vector<double>& variance, double eps,
                                    const std::vector<double>* gamma, const std::vector<double>* beta) {
  std::vector<double> y(x.size());
  for (int64_t row = 0; row < s.rows; ++row)
    for (int64_t c = 0; c < s.channels; ++c) {
      const double normalised = (x[row * s.channels + c] - mean[c]) / std::sqrt(variance[c] + eps);
      y[row * s.channels + c] = normalised * (gamma ? (*gamma)[c] : 1.0) + (beta ? (*beta)[c] : 0.0);
    }
  return y;
}

struct Gradients {
  std::vector<double> input, gamma, beta;
};

// Training mode: dx = γ/σ · (dy − mean(dy) − x̂ · mean(dy·x̂)); frozen statistics: dx = γ/σ · dy.
Gradients reference_backward(const BatchNormShape& s, const std::vector<double>& dy, const std::vector<double>& x,
                             const std::vector<double>& mean, const std::vector<double>& variance, double eps,
                             const std::vector<double>& gamma, bool batch_statistics) {
  Gradients g{std::vector<double>(x.size()), std::vector<double>(s.channels, 0.0),
              std::vector<double>(s.channels, 0.0)};
  const double rows = static_cast<double>(s.rows);
  for (int64_t c = 0; c < s.channels; ++c) {
    const double sigma = std::sqrt(variance[c] + eps);
    for (int64_t row = 0; row < s.rows; ++row) {
      const int64_t i = row * s.channels + c;
      g.beta[c] += dy[i];
      g.gamma[c] += dy[i] * (x[i] - mean[c]) / sigma;
    }
    for (int64_t row = 0; row < s.rows; ++row) {
      const int64_t i = row * s.channels + c;
      const double normalised = (x[i] - mean[c]) / sigma;
      g.input[i] = batch_statistics ? gamma[c] / sigma * (dy[i] - g.beta[c] / rows - normalised * g.gamma[c] / rows)
                                    : gamma[c] / sigma * dy[i];
    }
  }
  return g;
}

template <class Loss>
std::vector<double> numeric_gradient(const std::vector<double>& x, Loss&& loss, double eps = 1e-6) {
  std::vector<double> gradient(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    std::vector<double> plus = x, minus = x;
    plus[i] += eps;
    minus[i] -= eps;
    gradient[i] = (loss(plus) - loss(minus)) / (2 * eps);
  }
  return gradient;
}

template <class T>
constexpr double kTolerance = std::is_same_v<T, float> ? 4e-6 : 1e-12;

template <class T>
class BatchNormKernels : public ::testing::Test {};
using FloatingTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(BatchNormKernels, FloatingTypes);

TYPED_TEST(BatchNormKernels, StatisticsMatchReference) {
  using T = TypeParam;
  uint32_t seed = 10;
  for (const BatchNormShape& s : kShapes) {
    const std::vector<T> input = random_values<T>(element_count(s), ++seed, -2.0, 3.0);
    std::vector<T> mean = nan_filled<T>(s.channels), variance = nan_filled<T>(s.channels);
    cpu::batch_norm_statistics(s, input.data(), mean.data(), variance.data());
    const Statistics want = reference_statistics(s, converted<double>(input));
    expect_all_close(mean, want.mean, kTolerance<T>, describe(s) + " mean");
    expect_all_close(variance, want.variance, kTolerance<T>, describe(s) + " variance");
  }
}

// A mean far larger than the spread: a one-pass E[x²] − E[x]² in float would lose every digit.
TEST(BatchNormKernels, StatisticsStayAccurateWithALargeMean) {
  const BatchNormShape s{100003, 3};
  std::vector<float> input = random_values<float>(element_count(s), 77, -1.0, 1.0);
  for (size_t i = 0; i < input.size(); ++i) input[i] += 1e4f * static_cast<float>(1 + i % 3);
  std::vector<float> mean = nan_filled<float>(s.channels), variance = nan_filled<float>(s.channels);
  cpu::batch_norm_statistics(s, input.data(), mean.data(), variance.data());
  const Statistics want = reference_statistics(s, converted<double>(input));
  expect_all_close(mean, want.mean, 1e-7, "mean");
  expect_all_close(variance, want.variance, 1e-6, "variance");
}

TYPED_TEST(BatchNormKernels, ApplyMatchesReference) {
  using T = TypeParam;
  uint32_t seed = 30;
  const T eps = T(1e-3);
  for (const BatchNormShape& s : kShapes) {
    const std::vector<T> input = random_values<T>(element_count(s), ++seed, -2.0, 3.0);
    const std::vector<T> mean = random_values<T>(s.channels, ++seed, -1.0, 1.0);
    const std::vector<T> variance = random_values<T>(s.channels, ++seed, 0.1, 2.0);
    const std::vector<T> gamma = random_values<T>(s.channels, ++seed, -2.0, 2.0);
    const std::vector<T> beta = random_values<T>(s.channels, ++seed, -1.0, 1.0);
    const std::vector<double> gamma_d = converted<double>(gamma), beta_d = converted<double>(beta);
    for (bool affine : {true, false}) {
      std::vector<T> output = nan_filled<T>(element_count(s));
      cpu::batch_norm_apply(s, input.data(), mean.data(), variance.data(), eps, affine ? gamma.data() : nullptr,
                            affine ? beta.data() : nullptr, output.data());
      const std::vector<double> want =
          reference_apply(s, converted<double>(input), converted<double>(mean), converted<double>(variance), eps,
                          affine ? &gamma_d : nullptr, affine ? &beta_d : nullptr);
      expect_all_close(output, want, kTolerance<T>, describe(s) + (affine ? " affine" : " plain"));
    }
  }
}

TYPED_TEST(BatchNormKernels, UpdateRunningUsesUnbiasedVariance) {
  using T = TypeParam;
  const BatchNormShape s{3 * 5 * 7, 17};
  const std::vector<T> batch_mean = random_values<T>(s.channels, 51),
                       batch_variance = random_values<T>(s.channels, 52, 0.1, 2.0);
  std::vector<T> running_mean = random_values<T>(s.channels, 53),
                 running_variance = random_values<T>(s.channels, 54, 0.5, 1.5);
  const std::vector<T> old_mean = running_mean, old_variance = running_variance;
  const T momentum = T(0.1);
  cpu::batch_norm_update_running(s, batch_mean.data(), batch_variance.data(), momentum, running_mean.data(),
                                 running_variance.data());
  std::vector<double> want_mean(s.channels), want_variance(s.channels);
  for (int64_t c = 0; c < s.channels; ++c) {
    want_mean[c] = 0.9 * old_mean[c] + 0.1 * batch_mean[c];
    want_variance[c] = 0.9 * old_variance[c] + 0.1 * batch_variance[c] * 105.0 / 104.0;
  }
  expect_all_close(running_mean, want_mean, kTolerance<T>, "running mean");
  expect_all_close(running_variance, want_variance, kTolerance<T>, "running variance");
}

TYPED_TEST(BatchNormKernels, BackwardMatchesReference) {
  using T = TypeParam;
  uint32_t seed = 60;
  const T eps = T(1e-5);
  for (const BatchNormShape& s : kShapes) {
    const std::vector<T> input = random_values<T>(element_count(s), ++seed, -2.0, 3.0);
    const std::vector<T> grad_output = random_values<T>(element_count(s), ++seed);
    const std::vector<T> gamma = random_values<T>(s.channels, ++seed, -2.0, 2.0);
    std::vector<T> mean(s.channels), variance(s.channels);
    cpu::batch_norm_statistics(s, input.data(), mean.data(), variance.data());
    for (bool batch_statistics : {true, false}) {
      const std::string name = describe(s) + (batch_statistics ? " training" : " frozen");
      const Gradients want =
          reference_backward(s, converted<double>(grad_output), converted<double>(input), converted<double>(mean),
                             converted<double>(variance), eps, converted<double>(gamma), batch_statistics);
      std::vector<T> grad_input = nan_filled<T>(element_count(s)), grad_gamma = nan_filled<T>(s.channels),
                     grad_beta = nan_filled<T>(s.channels);
      cpu::batch_norm_backward<T>(s, grad_output.data(), input.data(), mean.data(), variance.data(), eps, gamma.data(),
                                  batch_statistics, grad_input.data(), grad_gamma.data(), grad_beta.data());
      // With a single row the centred input is 0 and 1/sqrt(eps) amplifies rounding: compare absolutely.
      const double scale = s.rows == 1 ? 1.0 / std::sqrt(static_cast<double>(eps)) : 1.0;
      // Sums over up to 20001 rows: the tolerance grows with the number of terms.
      const double sum_tolerance = kTolerance<T> * std::sqrt(static_cast<double>(s.rows));
      expect_all_close(grad_input, want.input, 4 * kTolerance<T> * scale, name + " grad_input");
      expect_all_close(grad_gamma, want.gamma, sum_tolerance * scale, name + " grad_gamma");
      expect_all_close(grad_beta, want.beta, sum_tolerance, name + " grad_beta");

      // Each output on its own gives the same values; gamma may be null (treated as 1).
      std::vector<T> grad_input_only = nan_filled<T>(element_count(s)), grad_gamma_only = nan_filled<T>(s.channels);
      cpu::batch_norm_backward<T>(s, grad_output.data(), input.data(), mean.data(), variance.data(), eps, gamma.data(),
                                  batch_statistics, grad_input_only.data(), nullptr, nullptr);
      cpu::batch_norm_backward<T>(s, grad_output.data(), input.data(), mean.data(), variance.data(), eps, gamma.data(),
                                  batch_statistics, nullptr, grad_gamma_only.data(), nullptr);
      EXPECT_EQ(converted<double>(grad_input_only), converted<double>(grad_input)) << name;
      EXPECT_EQ(converted<double>(grad_gamma_only), converted<double>(grad_gamma)) << name;
      std::vector<T> grad_input_unit_gamma = nan_filled<T>(element_count(s));
      cpu::batch_norm_backward<T>(s, grad_output.data(), input.data(), mean.data(), variance.data(), eps,
                                  static_cast<const T*>(nullptr), batch_statistics, grad_input_unit_gamma.data(),
                                  nullptr, nullptr);
      const Gradients want_unit =
          reference_backward(s, converted<double>(grad_output), converted<double>(input), converted<double>(mean),
                             converted<double>(variance), eps, std::vector<double>(s.channels, 1.0), batch_statistics);
      expect_all_close(grad_input_unit_gamma, want_unit.input, 4 * kTolerance<T> * scale, name + " unit gamma");
    }
  }
}

// F.batch_norm(training=True, momentum=0.1, eps=1e-5) in PyTorch 1.13 on x[r,c] = 2·sin(3r + 7c) + c
// (N=2, H=2, W=1, C=3, laid out NHWC here), running stats starting at 0.5 / 1.5, upstream gradient cos(5r + c).
TEST(BatchNormKernels, TrainingStepMatchesPyTorch) {
  const BatchNormShape s{4, 3};
  std::vector<double> x(12), dy(12);
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t c = 0; c < 3; ++c) {
      x[r * 3 + c] = std::sin(static_cast<double>(r * 3 + c * 7)) * 2 + static_cast<double>(c);
      dy[r * 3 + c] = std::cos(static_cast<double>(r * 5 + c));
    }
  const std::vector<double> gamma = {0.5, -1.25, 2.0}, beta = {0.1, 0.2, -0.3};
  std::vector<double> mean(3), variance(3), running_mean(3, 0.5), running_variance(3, 1.5), output(12), grad_input(12),
      grad_gamma(3), grad_beta(3);
  cpu::batch_norm_statistics(s, x.data(), mean.data(), variance.data());
  cpu::batch_norm_apply(s, x.data(), mean.data(), variance.data(), 1e-5, gamma.data(), beta.data(), output.data());
  cpu::batch_norm_update_running(s, mean.data(), variance.data(), 0.1, running_mean.data(), running_variance.data());
  cpu::batch_norm_backward(s, dy.data(), x.data(), mean.data(), variance.data(), 1e-5, gamma.data(), true,
                           grad_input.data(), grad_gamma.data(), grad_beta.data());
  const double tolerance = 1e-13;
  expect_all_close(output,
                   {-0.03716004689425421, -1.3104994497854134, 1.7807899287900557, 0.2455923481841708,
                    1.7349672879997102, -2.4211679994014546, -0.5970055459411452, -0.7099819902974223,
                    1.613611605389553, 0.7885732446512287, 1.085514152083125, -2.1732335347781535},
                   tolerance, "output");
  expect_all_close(running_mean, {0.4636911497551349, 0.5622614603995497, 0.6547967355183886}, tolerance,
                   "running mean");
  expect_all_close(running_variance, {1.3832113020033039, 1.479597956994512, 1.8103793608872358}, tolerance,
                   "running variance");
  expect_all_close(grad_input,
                   {1.076043739902931, -0.45202880026729475, -0.644947334153379, 0.3680717185799787, -1.104438169218971,
                    0.5197579861962455, -0.7855054406775068, 0.20372295866628903, 0.7074495172663275,
                    -0.658610017805403, 1.3527440108199764, -0.5822601693091942},
                   tolerance, "grad_input");
  expect_all_close(grad_gamma, {-0.06824853018704712, 0.15547574638443887, -0.1674067809553033}, tolerance,
                   "grad_gamma");
  expect_all_close(grad_beta, {-0.31509725647204756, 0.5472388101831718, 0.9064460384770574}, tolerance, "grad_beta");
}

// Central differences of L = Σ w·y through statistics + apply (training) or apply alone (frozen), on the double
// kernels, with respect to the input, gamma and beta.
TEST(BatchNormKernels, BackwardMatchesFiniteDifferences) {
  const BatchNormShape shapes[] = {{3 * 3 * 2, 5}, {1 * 7 * 1, 3}};
  const double eps = 1e-3;
  uint32_t seed = 80;
  for (const BatchNormShape& s : shapes) {
    const std::vector<double> input = random_values<double>(element_count(s), ++seed, -2.0, 3.0);
    const std::vector<double> weights = random_values<double>(element_count(s), ++seed);
    const std::vector<double> gamma = random_values<double>(s.channels, ++seed, 0.5, 2.0);
    const std::vector<double> beta = random_values<double>(s.channels, ++seed);
    const std::vector<double> frozen_mean = random_values<double>(s.channels, ++seed);
    const std::vector<double> frozen_variance = random_values<double>(s.channels, ++seed, 0.5, 2.0);
    for (bool batch_statistics : {true, false}) {
      const std::string name = describe(s) + (batch_statistics ? " training" : " frozen");
      auto loss = [&](const std::vector<double>& x, const std::vector<double>& g, const std::vector<double>& b) {
        std::vector<double> mean = frozen_mean, variance = frozen_variance, y(element_count(s));
        if (batch_statistics) cpu::batch_norm_statistics(s, x.data(), mean.data(), variance.data());
        cpu::batch_norm_apply(s, x.data(), mean.data(), variance.data(), eps, g.data(), b.data(), y.data());
        return std::inner_product(weights.begin(), weights.end(), y.begin(), 0.0);
      };
      std::vector<double> mean = frozen_mean, variance = frozen_variance;
      if (batch_statistics) cpu::batch_norm_statistics(s, input.data(), mean.data(), variance.data());
      std::vector<double> grad_input = nan_filled<double>(element_count(s)),
                          grad_gamma = nan_filled<double>(s.channels), grad_beta = nan_filled<double>(s.channels);
      cpu::batch_norm_backward(s, weights.data(), input.data(), mean.data(), variance.data(), eps, gamma.data(),
                               batch_statistics, grad_input.data(), grad_gamma.data(), grad_beta.data());
      expect_all_close(grad_input, numeric_gradient(input, [&](const auto& x) { return loss(x, gamma, beta); }), 1e-7,
                       name + " grad_input");
      expect_all_close(grad_gamma, numeric_gradient(gamma, [&](const auto& g) { return loss(input, g, beta); }), 1e-7,
                       name + " grad_gamma");
      expect_all_close(grad_beta, numeric_gradient(beta, [&](const auto& b) { return loss(input, gamma, b); }), 1e-7,
                       name + " grad_beta");
    }
  }
}

// Statistics and backward reductions run on fixed chunks combined in order: same bits for 1 and 2 threads.
// (In double the last bits show any change of summation order; float results usually round it away.)
TYPED_TEST(BatchNormKernels, ReductionsAreBitIdenticalAcrossThreadCounts) {
  using T = TypeParam;
  const BatchNormShape s{40001, 5};
  const std::vector<T> input = random_values<T>(element_count(s), 91, -2.0, 3.0);
  const std::vector<T> grad_output = random_values<T>(element_count(s), 92);
  const std::vector<T> gamma = random_values<T>(s.channels, 93);
  const int saved_threads = kernels::max_threads();
  std::vector<T> mean[2], variance[2], grad_input[2], grad_gamma[2], grad_beta[2];
  for (int run = 0; run < 2; ++run) {
    kernels::set_max_threads(run + 1);
    mean[run] = nan_filled<T>(s.channels), variance[run] = nan_filled<T>(s.channels);
    grad_input[run] = nan_filled<T>(element_count(s));
    grad_gamma[run] = nan_filled<T>(s.channels), grad_beta[run] = nan_filled<T>(s.channels);
    cpu::batch_norm_statistics(s, input.data(), mean[run].data(), variance[run].data());
    cpu::batch_norm_backward(s, grad_output.data(), input.data(), mean[run].data(), variance[run].data(), T(1e-5),
                             gamma.data(), true, grad_input[run].data(), grad_gamma[run].data(), grad_beta[run].data());
  }
  kernels::set_max_threads(saved_threads);
  auto same_bits = [](const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
  };
  EXPECT_TRUE(same_bits(mean[0], mean[1]));
  EXPECT_TRUE(same_bits(variance[0], variance[1]));
  EXPECT_TRUE(same_bits(grad_input[0], grad_input[1]));
  EXPECT_TRUE(same_bits(grad_gamma[0], grad_gamma[1]));
  EXPECT_TRUE(same_bits(grad_beta[0], grad_beta[1]));
}

TEST(BatchNormKernels, RejectsInvalidArguments) {
  float value = 1.0f, mean = 0.0f, variance = 1.0f;
  EXPECT_THROW(cpu::batch_norm_statistics(BatchNormShape{0, 3}, &value, &mean, &variance), pneuma::Error);
  // The unbiased variance of a single value is undefined.
  EXPECT_THROW(cpu::batch_norm_update_running(BatchNormShape{1, 1}, &mean, &variance, 0.1f, &mean, &variance),
               pneuma::Error);
}

}  // namespace
