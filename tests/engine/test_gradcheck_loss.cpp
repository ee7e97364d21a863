// Gradient checks for every loss with each of its options (class weights, label smoothing, pos_weight, alpha and
// gamma). Targets, weights and alpha are constants: only the logits are differentiated.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/ops.h"
#include "tests/support/gradcheck.h"

namespace pneuma {
namespace {

using testing::gradcheck;
using testing::random_constant;
using testing::random_leaf;

Tensor random_targets(int64_t rows, int64_t classes, Generator& generator) {
  std::vector<int32_t> targets(rows);
  for (auto& t : targets) t = static_cast<int32_t>(generator.integer(0, classes));
  return Tensor::from_vector<int32_t>(targets, {rows});
}

struct CrossEntropyCase {
  const char* name;
  bool weighted;
  double label_smoothing;
};

class GradcheckCrossEntropy : public ::testing::TestWithParam<CrossEntropyCase> {};

TEST_P(GradcheckCrossEntropy, MatchesFiniteDifferences) {
  const CrossEntropyCase& c = GetParam();
  Generator generator(111);
  for (int64_t rows : {1, 5}) {
    const Tensor logits = random_leaf({rows, 7}, generator, -3, 3);
    const Tensor targets = random_targets(rows, 7, generator);
    CrossEntropyOptions options;
    if (c.weighted) options.class_weights = random_constant({7}, generator, 0.2, 2);
    options.label_smoothing = c.label_smoothing;
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& x) { return cross_entropy(x[0], targets, options); },
                          {logits}))
        << c.name << " rows " << rows;
  }
}

INSTANTIATE_TEST_SUITE_P(GradcheckLossOptions, GradcheckCrossEntropy,
                         ::testing::Values(CrossEntropyCase{"plain", false, 0.0},
                                           CrossEntropyCase{"class_weights", true, 0.0},
                                           CrossEntropyCase{"label_smoothing", false, 0.1},
                                           CrossEntropyCase{"weights_and_smoothing", true, 0.25}),
                         [](const ::testing::TestParamInfo<CrossEntropyCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(GradcheckLoss, CrossEntropyOfUniformLogitsIsLogOfClassCount) {
  const Tensor logits = Tensor::zeros({4, 5}, DType::f64);
  const Tensor targets = Tensor::from_vector<int32_t>({0, 1, 2, 4}, {4});
  EXPECT_NEAR(cross_entropy(logits, targets).item(), std::log(5.0), 1e-12);
  EXPECT_EQ(cross_entropy(logits, targets).shape(), Shape{});
}

TEST(GradcheckLoss, CrossEntropyRejectsBadTargets) {
  Generator generator(112);
  const Tensor logits = random_constant({3, 4}, generator);
  EXPECT_THROW(cross_entropy(logits, Tensor::from_vector<int32_t>({0, 1}, {2})), Error);       // wrong length
  EXPECT_THROW(cross_entropy(logits, Tensor::from_vector<int32_t>({0, 1, 4}, {3})), Error);    // out of range
  EXPECT_THROW(cross_entropy(logits, Tensor::from_vector<int64_t>({0, 1, 2}, {3})), Error);    // not i32
  CrossEntropyOptions weights;
  weights.class_weights = random_constant({3}, generator);
  EXPECT_THROW(cross_entropy(logits, Tensor::from_vector<int32_t>({0, 1, 2}, {3}), weights), Error);
}

TEST(GradcheckLoss, BceWithLogits) {
  Generator generator(113);
  const Tensor logits = random_leaf({5, 7}, generator, -4, 4);
  const Tensor soft_targets = random_constant({5, 7}, generator, 0, 1);
  const Tensor pos_weight = random_constant({7}, generator, 0.5, 3);
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& x) { return bce_with_logits(x[0], soft_targets); }, {logits}))
      << "plain";
  EXPECT_TRUE(gradcheck(
      [&](const std::vector<Tensor>& x) { return bce_with_logits(x[0], soft_targets, pos_weight); }, {logits}))
      << "pos_weight";
  const Tensor logits_4d = random_leaf({1, 5, 7, 3}, generator, -4, 4);
  const Tensor hard_targets = Tensor::from_vector<double>(
      [&] {
        std::vector<double> t(105);
        for (auto& v : t) v = static_cast<double>(generator.integer(0, 2));
        return t;
      }(),
      {1, 5, 7, 3});
  const Tensor pos_weight_3 = random_constant({3}, generator, 0.5, 3);
  EXPECT_TRUE(gradcheck(
      [&](const std::vector<Tensor>& x) { return bce_with_logits(x[0], hard_targets, pos_weight_3); }, {logits_4d}))
      << "rank 4, hard targets";
}

TEST(GradcheckLoss, BceWithLogitsValue) {
  const Tensor logits = Tensor::from_vector<double>({0.0, 2.0}, {1, 2});
  const Tensor targets = Tensor::from_vector<double>({1.0, 0.0}, {1, 2});
  // mean(log 2, log(1 + e²))
  EXPECT_NEAR(bce_with_logits(logits, targets).item(), (std::log(2.0) + std::log1p(std::exp(2.0))) / 2, 1e-12);
  // pos_weight scales the positive term only: mean(3·log 2, log(1 + e²)).
  const Tensor pos_weight = Tensor::from_vector<double>({3.0, 3.0}, {2});
  EXPECT_NEAR(bce_with_logits(logits, targets, pos_weight).item(),
              (3 * std::log(2.0) + std::log1p(std::exp(2.0))) / 2, 1e-12);
  EXPECT_THROW(bce_with_logits(logits, Tensor::zeros({2, 1}, DType::f64)), Error);
}

TEST(GradcheckLoss, BinaryFocalLoss) {
  Generator generator(114);
  const Tensor logits = random_leaf({5, 7}, generator, -3, 3);
  const Tensor targets = random_constant({5, 7}, generator, 0, 1);
  struct Setting {
    double alpha, gamma;
  };
  for (const Setting s : {Setting{0.25, 2.0}, Setting{-1.0, 2.0}, Setting{0.5, 0.0}, Setting{0.75, 1.5}}) {
    EXPECT_TRUE(gradcheck(
        [&](const std::vector<Tensor>& x) { return binary_focal_loss(x[0], targets, s.alpha, s.gamma); }, {logits}))
        << "alpha " << s.alpha << " gamma " << s.gamma;
  }
}

TEST(GradcheckLoss, BinaryFocalLossWithGammaZeroAndNoAlphaIsBce) {
  Generator generator(115);
  const Tensor logits = random_constant({3, 5}, generator, -3, 3);
  const Tensor targets = random_constant({3, 5}, generator, 0, 1);
  EXPECT_NEAR(binary_focal_loss(logits, targets, -1.0, 0.0).item(), bce_with_logits(logits, targets).item(), 1e-12);
}

TEST(GradcheckLoss, FocalLoss) {
  Generator generator(116);
  for (int64_t rows : {1, 5}) {
    const Tensor logits = random_leaf({rows, 7}, generator, -3, 3);
    const Tensor targets = random_targets(rows, 7, generator);
    const Tensor alpha = random_constant({7}, generator, 0.1, 1);
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& x) { return focal_loss(x[0], targets); }, {logits}))
        << "default gamma, rows " << rows;
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& x) { return focal_loss(x[0], targets, alpha, 2.0); },
                          {logits}))
        << "alpha, rows " << rows;
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& x) { return focal_loss(x[0], targets, alpha, 0.5); },
                          {logits}))
        << "gamma 0.5, rows " << rows;
  }
}

TEST(GradcheckLoss, FocalLossWithGammaZeroIsCrossEntropy) {
  Generator generator(117);
  const Tensor logits = random_constant({5, 7}, generator, -3, 3);
  const Tensor targets = random_targets(5, 7, generator);
  EXPECT_NEAR(focal_loss(logits, targets, Tensor(), 0.0).item(), cross_entropy(logits, targets).item(), 1e-12);
}

TEST(GradcheckLoss, LossesComposeWithTheNetwork) {
  // linear -> cross_entropy with weights and smoothing: gradients reach the layer's weight and bias.
  Generator generator(118);
  const Tensor input = random_constant({5, 3}, generator);
  const Tensor targets = random_targets(5, 4, generator);
  CrossEntropyOptions options;
  options.class_weights = random_constant({4}, generator, 0.5, 1.5);
  options.label_smoothing = 0.1;
  EXPECT_TRUE(gradcheck(
      [&](const std::vector<Tensor>& x) { return cross_entropy(linear(input, x[0], x[1]), targets, options); },
      {random_leaf({4, 3}, generator), random_leaf({4}, generator)}));
}

}  // namespace
}  // namespace pneuma
