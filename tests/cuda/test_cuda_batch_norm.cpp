// CUDA batch-norm kernels against the CPU reference: statistics, apply, running-statistics update and backward
// (training and frozen, with and without gamma/beta, each gradient alone), on odd shapes — one channel with more
// rows than the column reduction has chunks, many channels, two rows — with NaN-poisoned outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/batch_norm.h"
#include "tests/cuda/cuda_test_support.h"

namespace pneuma {
namespace {

#if PNEUMA_WITH_CUDA
struct BatchNormCase {
  int64_t rows, channels;
};
const BatchNormCase kCases[] = {{3 * 17 * 17, 37}, {70001, 1}, {4, 4099}, {2, 3}, {3 * 9 * 9, 1280}};

constexpr testing::Tolerance kStatistics{.atol = 1e-6, .rtol = 1e-5};
constexpr testing::Tolerance kValues{.atol = 2e-5, .rtol = 1e-4};

void check_forward(const BatchNormCase& c, bool with_affine, uint64_t seed) {
  SCOPED_TRACE(std::to_string(c.rows) + "x" + std::to_string(c.channels) + (with_affine ? " affine" : ""));
  const kernels::BatchNormShape s{c.rows, c.channels};
  // An offset mean makes the corrected two-pass variance matter.
  const Tensor x = testing::random_normal({c.rows, c.channels}, 3.0, 2.0, seed);
  const Tensor gamma = testing::random_uniform({c.channels}, 0.5, 1.5, seed + 1);
  const Tensor beta = testing::random_normal({c.channels}, 0, 1, seed + 2);
  const float eps = 1e-5f;

  Tensor mean_ref = Tensor::empty({c.channels}), variance_ref = Tensor::empty({c.channels});
  Tensor y_ref = Tensor::empty(x.shape());
  kernels::cpu::batch_norm_statistics<float>(s, x.data<float>(), mean_ref.data<float>(), variance_ref.data<float>());
  kernels::cpu::batch_norm_apply<float>(s, x.data<float>(), mean_ref.data<float>(), variance_ref.data<float>(), eps,
                                        with_affine ? gamma.data<float>() : nullptr,
                                        with_affine ? beta.data<float>() : nullptr, y_ref.data<float>());

  const Tensor x_gpu = testing::on_gpu(x), gamma_gpu = testing::on_gpu(gamma), beta_gpu = testing::on_gpu(beta);
  Tensor mean = testing::poisoned({c.channels}), variance = testing::poisoned({c.channels});
  Tensor y = testing::poisoned(x.shape());
  kernels::cuda::batch_norm_statistics<float>(s, x_gpu.data<float>(), mean.data<float>(), variance.data<float>());
  kernels::cuda::batch_norm_apply<float>(s, x_gpu.data<float>(), mean.data<float>(), variance.data<float>(), eps,
                                         with_affine ? gamma_gpu.data<float>() : nullptr,
                                         with_affine ? beta_gpu.data<float>() : nullptr, y.data<float>());
  EXPECT_TRUE(testing::expect_close("mean", mean, mean_ref, kStatistics));
  EXPECT_TRUE(testing::expect_close("variance", variance, variance_ref, kStatistics));
  EXPECT_TRUE(testing::expect_close("apply", y, y_ref, kValues));

  if (c.rows > 1) {
    Tensor running_mean_ref = testing::random_normal({c.channels}, 0, 1, seed + 3);
    Tensor running_variance_ref = testing::random_uniform({c.channels}, 0.5, 2, seed + 4);
    Tensor running_mean = testing::on_gpu(running_mean_ref), running_variance = testing::on_gpu(running_variance_ref);
    kernels::cpu::batch_norm_update_running<float>(s, mean_ref.data<float>(), variance_ref.data<float>(), 0.1f,
                                                   running_mean_ref.data<float>(), running_variance_ref.data<float>());
    kernels::cuda::batch_norm_update_running<float>(s, mean.data<float>(), variance.data<float>(), 0.1f,
                                                    running_mean.data<float>(), running_variance.data<float>());
    EXPECT_TRUE(testing::expect_close("running_mean", running_mean, running_mean_ref, kStatistics));
    EXPECT_TRUE(testing::expect_close("running_variance", running_variance, running_variance_ref, kStatistics));
  }
}

// needs: which of grad_input / grad_gamma / grad_beta to ask for.
void check_backward(const BatchNormCase& c, bool batch_statistics, bool with_gamma, const bool (&needs)[3],
                    uint64_t seed) {
  SCOPED_TRACE(std::to_string(c.rows) + "x" + std::to_string(c.channels) + (batch_statistics ? " train" : " frozen") +
               (with_gamma ? " gamma" : "") + " needs " + std::to_string(needs[0]) + std::to_string(needs[1]) +
               std::to_string(needs[2]));
  const kernels::BatchNormShape s{c.rows, c.channels};
  const Tensor x = testing::random_normal({c.rows, c.channels}, 1.0, 2.0, seed);
  const Tensor dy = testing::random_normal({c.rows, c.channels}, 0, 1, seed + 1);
  const Tensor gamma = testing::random_uniform({c.channels}, 0.5, 1.5, seed + 2);
  Tensor mean = Tensor::empty({c.channels}), variance = Tensor::empty({c.channels});
  if (batch_statistics) {
    kernels::cpu::batch_norm_statistics<float>(s, x.data<float>(), mean.data<float>(), variance.data<float>());
  } else {
    mean = testing::random_normal({c.channels}, 1, 0.5, seed + 3);
    variance = testing::random_uniform({c.channels}, 0.5, 3, seed + 4);
  }
  const float eps = 1e-3f;
  Tensor dx_ref = Tensor::empty(x.shape()), dgamma_ref = Tensor::empty({c.channels}),
         dbeta_ref = Tensor::empty({c.channels});
  kernels::cpu::batch_norm_backward<float>(s, dy.data<float>(), x.data<float>(), mean.data<float>(),
                                           variance.data<float>(), eps, with_gamma ? gamma.data<float>() : nullptr,
                                           batch_statistics, needs[0] ? dx_ref.data<float>() : nullptr,
                                           needs[1] ? dgamma_ref.data<float>() : nullptr,
                                           needs[2] ? dbeta_ref.data<float>() : nullptr);

  const Tensor x_gpu = testing::on_gpu(x), dy_gpu = testing::on_gpu(dy), gamma_gpu = testing::on_gpu(gamma);
  const Tensor mean_gpu = testing::on_gpu(mean), variance_gpu = testing::on_gpu(variance);
  Tensor dx = testing::poisoned(x.shape()), dgamma = testing::poisoned({c.channels}),
         dbeta = testing::poisoned({c.channels});
  kernels::cuda::batch_norm_backward<float>(
      s, dy_gpu.data<float>(), x_gpu.data<float>(), mean_gpu.data<float>(), variance_gpu.data<float>(), eps,
      with_gamma ? gamma_gpu.data<float>() : nullptr, batch_statistics, needs[0] ? dx.data<float>() : nullptr,
      needs[1] ? dgamma.data<float>() : nullptr, needs[2] ? dbeta.data<float>() : nullptr);
  // Gradient sums over many rows: tolerance relative to the sum's size.
  const double sum_scale = std::sqrt(static_cast<double>(c.rows));
  const testing::Tolerance sums{.atol = 1e-5 * sum_scale, .rtol = 1e-4};
  if (needs[0]) {
    EXPECT_TRUE(testing::expect_close("grad_input", dx, dx_ref, kValues));
  }
  if (needs[1]) {
    EXPECT_TRUE(testing::expect_close("grad_gamma", dgamma, dgamma_ref, sums));
  }
  if (needs[2]) {
    EXPECT_TRUE(testing::expect_close("grad_beta", dbeta, dbeta_ref, sums));
  }
}
#endif

TEST(CudaBatchNorm, StatisticsApplyAndRunningUpdateMatchCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  uint64_t seed = 1;
  for (const BatchNormCase& c : kCases) {
    check_forward(c, true, seed += 10);
    check_forward(c, false, seed += 10);
  }
#endif
}

TEST(CudaBatchNorm, BackwardMatchesCpuInTrainingAndFrozenModes) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  uint64_t seed = 500;
  const bool all[3] = {true, true, true};
  for (const BatchNormCase& c : kCases)
    for (bool batch_statistics : {true, false})
      for (bool with_gamma : {true, false}) check_backward(c, batch_statistics, with_gamma, all, seed += 10);
  // Each gradient on its own (the kernels skip the sums they do not need).
  const bool only_input[3] = {true, false, false}, only_gamma[3] = {false, true, false},
             only_beta[3] = {false, false, true};
  for (bool batch_statistics : {true, false}) {
    check_backward(kCases[0], batch_statistics, true, only_input, seed += 10);
    check_backward(kCases[0], batch_statistics, true, only_gamma, seed += 10);
    check_backward(kCases[0], batch_statistics, true, only_beta, seed += 10);
  }
#endif
}

TEST(CudaBatchNorm, StatisticsAreBitIdenticalAcrossRuns) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  const kernels::BatchNormShape s{70001, 5};
  const Tensor x = testing::on_gpu(testing::random_normal({s.rows, s.channels}, 2, 3, 77));
  std::vector<float> first;
  for (int run = 0; run < 3; ++run) {
    Tensor mean = testing::poisoned({s.channels}), variance = testing::poisoned({s.channels});
    kernels::cuda::batch_norm_statistics<float>(s, x.data<float>(), mean.data<float>(), variance.data<float>());
    std::vector<float> values = mean.to_vector<float>();
    const std::vector<float> variances = variance.to_vector<float>();
    values.insert(values.end(), variances.begin(), variances.end());
    if (run == 0) first = values;
    else EXPECT_EQ(values, first) << "run " << run;
  }
#endif
}

}  // namespace
}  // namespace pneuma
