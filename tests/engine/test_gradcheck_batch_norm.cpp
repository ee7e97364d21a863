// Gradient checks for batch_norm in training mode (batch statistics, gradient through them) and inference mode
// (running statistics as constants), and the in-place running-statistics update against a hand computation.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/ops.h"
#include "tests/support/gradcheck.h"

namespace pneuma {
namespace {

using testing::gradcheck;
using testing::random_constant;
using testing::random_leaf;

constexpr double kEps = 1e-5;

TEST(GradcheckBatchNorm, TrainingModeImage) {
  Generator generator(31);
  const Tensor input = random_leaf({3, 5, 7, 3}, generator, -2, 3);
  const Tensor gamma = random_leaf({3}, generator, 0.5, 1.5);
  const Tensor beta = random_leaf({3}, generator);
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& x) { return batch_norm(x[0], x[1], x[2], Tensor(), Tensor(), true, 0.1, kEps); },
      {input, gamma, beta}));
}

TEST(GradcheckBatchNorm, TrainingModeBatchOneRankThreeWithoutAffine) {
  Generator generator(32);
  const Tensor input = random_leaf({1, 5, 7}, generator);
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& x) {
        return batch_norm(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, kEps);
      },
      {input}));
}

TEST(GradcheckBatchNorm, TrainingModeWithRunningStatisticsPresent) {
  // The running buffers are updated on every call; the gradient must not depend on them. Fresh copies per call keep
  // the function deterministic.
  Generator generator(33);
  const Tensor input = random_leaf({3, 2, 3, 5}, generator);
  const Tensor gamma = random_leaf({5}, generator, 0.5, 1.5);
  const Tensor running_mean = random_constant({5}, generator);
  const Tensor running_variance = random_constant({5}, generator, 0.5, 2);
  EXPECT_TRUE(gradcheck(
      [&](const std::vector<Tensor>& x) {
        return batch_norm(x[0], x[1], Tensor(), running_mean.clone(), running_variance.clone(), true, 0.1, kEps);
      },
      {input, gamma}));
}

TEST(GradcheckBatchNorm, InferenceModeUsesRunningStatisticsAsConstants) {
  Generator generator(34);
  const Tensor input = random_leaf({3, 5, 7, 3}, generator);
  const Tensor gamma = random_leaf({3}, generator, 0.5, 1.5);
  const Tensor beta = random_leaf({3}, generator);
  const Tensor running_mean = random_constant({3}, generator);
  const Tensor running_variance = random_constant({3}, generator, 0.5, 2);
  EXPECT_TRUE(gradcheck(
      [&](const std::vector<Tensor>& x) {
        return batch_norm(x[0], x[1], x[2], running_mean, running_variance, false, 0.1, kEps);
      },
      {input, gamma, beta}));
}

TEST(GradcheckBatchNorm, InferenceModeBatchOneFrozenAffine) {
  Generator generator(35);
  const Tensor input = random_leaf({1, 5, 7, 5}, generator);
  const Tensor gamma = random_constant({5}, generator, 0.5, 1.5);
  const Tensor beta = random_constant({5}, generator);
  const Tensor running_mean = random_constant({5}, generator);
  const Tensor running_variance = random_constant({5}, generator, 0.5, 2);
  EXPECT_TRUE(gradcheck(
      [&](const std::vector<Tensor>& x) {
        return batch_norm(x[0], gamma, beta, running_mean, running_variance, false, 0.1, kEps);
      },
      {input}));
}

TEST(GradcheckBatchNorm, RunningStatisticsUpdateMatchesHandComputation) {
  Generator generator(36);
  const int64_t rows = 3 * 2 * 5, channels = 3;
  const Tensor input = random_constant({3, 2, 5, channels}, generator, -1, 4);
  Tensor running_mean = random_constant({channels}, generator);
  Tensor running_variance = random_constant({channels}, generator, 0.5, 2);
  const std::vector<double> old_mean = running_mean.to_vector<double>();
  const std::vector<double> old_variance = running_variance.to_vector<double>();
  const double momentum = 0.3;
  const Tensor output = batch_norm(input, Tensor(), Tensor(), running_mean, running_variance, true, momentum, kEps);

  const std::vector<double> x = input.to_vector<double>(), y = output.to_vector<double>();
  const std::vector<double> new_mean = running_mean.to_vector<double>();
  const std::vector<double> new_variance = running_variance.to_vector<double>();
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0;
    for (int64_t r = 0; r < rows; ++r) sum += x[r * channels + c];
    const double mean = sum / rows;
    double squares = 0;
    for (int64_t r = 0; r < rows; ++r) squares += (x[r * channels + c] - mean) * (x[r * channels + c] - mean);
    const double biased = squares / rows, unbiased = squares / (rows - 1);
    // PyTorch convention: running = (1 − momentum)·running + momentum·batch, with the unbiased variance.
    EXPECT_NEAR(new_mean[c], (1 - momentum) * old_mean[c] + momentum * mean, 1e-12) << c;
    EXPECT_NEAR(new_variance[c], (1 - momentum) * old_variance[c] + momentum * unbiased, 1e-12) << c;
    // The output is normalised with the biased batch variance.
    for (int64_t r = 0; r < rows; ++r)
      ASSERT_NEAR(y[r * channels + c], (x[r * channels + c] - mean) / std::sqrt(biased + kEps), 1e-10) << r << "," << c;
  }
}

TEST(GradcheckBatchNorm, InferenceModeLeavesRunningStatisticsAndRecordsNoStatistics) {
  Generator generator(37);
  const Tensor input = random_constant({2, 3, 3, 2}, generator);
  Tensor running_mean = Tensor::from_vector<double>({0.5, -1.0}, {2});
  Tensor running_variance = Tensor::from_vector<double>({4.0, 0.25}, {2});
  const Tensor gamma = Tensor::from_vector<double>({2.0, 3.0}, {2});
  const Tensor beta = Tensor::from_vector<double>({0.1, 0.2}, {2});
  const Tensor output = batch_norm(input, gamma, beta, running_mean, running_variance, false, 0.1, kEps);
  EXPECT_EQ(running_mean.to_vector<double>(), (std::vector<double>{0.5, -1.0}));
  EXPECT_EQ(running_variance.to_vector<double>(), (std::vector<double>{4.0, 0.25}));
  const std::vector<double> x = input.to_vector<double>(), y = output.to_vector<double>();
  const double mean[2] = {0.5, -1.0}, variance[2] = {4.0, 0.25}, g[2] = {2, 3}, b[2] = {0.1, 0.2};
  for (size_t i = 0; i < x.size(); ++i) {
    const int c = static_cast<int>(i % 2);
    EXPECT_NEAR(y[i], (x[i] - mean[c]) / std::sqrt(variance[c] + kEps) * g[c] + b[c], 1e-12) << i;
  }
}

TEST(GradcheckBatchNorm, RejectsMismatchedShapesAndMissingStatistics) {
  Generator generator(38);
  const Tensor input = random_constant({2, 3, 3, 4}, generator);
  EXPECT_THROW(batch_norm(input, random_constant({3}, generator), Tensor(), Tensor(), Tensor(), true, 0.1, kEps),
               Error);
  EXPECT_THROW(batch_norm(input, Tensor(), Tensor(), Tensor(), Tensor(), false, 0.1, kEps), Error);
  EXPECT_THROW(batch_norm(random_constant({1, 4}, generator), Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, kEps),
               Error);
}

}  // namespace
}  // namespace pneuma
