// Gradient checks for every activation (inputs kept away from the kinks, where finite differences are meaningless)
// and for the squeeze-excitation pieces global_avg_pool and channel_scale.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "engine/ops.h"
#include "tests/support/gradcheck.h"

namespace pneuma {
namespace {

using kernels::Activation;
using testing::gradcheck;
using testing::random_leaf;

// Moves every element at least `margin` away from each kink (relu at 0, relu6 at 0 and 6, hard_* at ±3).
Tensor away_from_kinks(Tensor t, double margin = 0.05) {
  const double kinks[] = {-3.0, 0.0, 3.0, 6.0};
  double* values = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i)
    for (double kink : kinks)
      if (std::abs(values[i] - kink) < margin) values[i] = kink + (values[i] < kink ? -margin : margin);
  return t;
}

class GradcheckActivation : public ::testing::TestWithParam<Activation> {};

TEST_P(GradcheckActivation, MatchesFiniteDifferences) {
  const Activation kind = GetParam();
  Generator generator(41 + static_cast<int>(kind));
  // [-8, 8] covers both saturated sides of relu6 and the hard_* functions.
  const Tensor input = away_from_kinks(random_leaf({3, 5, 7}, generator, -8, 8));
  EXPECT_TRUE(gradcheck([kind](const std::vector<Tensor>& x) { return activation(x[0], kind); }, {input}))
      << kernels::activation_name(kind);
}

INSTANTIATE_TEST_SUITE_P(GradcheckAllKinds, GradcheckActivation,
                         ::testing::Values(Activation::identity, Activation::relu, Activation::relu6,
                                           Activation::sigmoid, Activation::silu, Activation::hard_sigmoid,
                                           Activation::hard_swish, Activation::gelu, Activation::gelu_tanh,
                                           Activation::tanh),
                         [](const ::testing::TestParamInfo<Activation>& info) {
                           return std::string(kernels::activation_name(info.param));
                         });

TEST(GradcheckActivationHelpers, NamedWrappersApplyTheirActivation) {
  const Tensor x = Tensor::from_vector<double>({-4, -1, 0.5, 7}, {4});
  EXPECT_EQ(relu(x).to_vector<double>(), (std::vector<double>{0, 0, 0.5, 7}));
  EXPECT_EQ(relu6(x).to_vector<double>(), (std::vector<double>{0, 0, 0.5, 6}));
  EXPECT_NEAR(sigmoid(x).to_vector<double>()[2], 1 / (1 + std::exp(-0.5)), 1e-15);
  EXPECT_NEAR(silu(x).to_vector<double>()[1], -1 / (1 + std::exp(1.0)), 1e-15);
  const std::vector<double> hard = hard_sigmoid(x).to_vector<double>(), expected_hard = {0, 2.0 / 6, 3.5 / 6, 1};
  for (size_t i = 0; i < hard.size(); ++i) EXPECT_NEAR(hard[i], expected_hard[i], 1e-15) << i;
  EXPECT_NEAR(hard_swish(x).to_vector<double>()[2], 0.5 * 3.5 / 6, 1e-15);
  EXPECT_NEAR(gelu(x).to_vector<double>()[2], 0.5 * 0.5 * (1 + std::erf(0.5 / std::sqrt(2.0))), 1e-15);
  EXPECT_NEAR(gelu_tanh(x).to_vector<double>()[3], 7.0, 1e-9);
  EXPECT_NEAR(tanh(x).to_vector<double>()[1], std::tanh(-1.0), 1e-15);
}

TEST(GradcheckActivationHelpers, NonContiguousInput) {
  Generator generator(49);
  const Tensor base = testing::random_constant({5, 7}, generator);
  const Tensor transposed = base.permute({1, 0});
  EXPECT_EQ(silu(transposed).to_vector<double>(), silu(transposed.contiguous()).to_vector<double>());
}

// ---- squeeze-excitation ------------------------------------------------------------------------------

TEST(GradcheckSqueezeExcitation, GlobalAvgPool) {
  Generator generator(51);
  for (const Shape& shape : {Shape{3, 5, 7, 3}, Shape{1, 1, 1, 5}, Shape{1, 5, 7, 7}}) {
    const Tensor input = random_leaf(shape, generator);
    EXPECT_EQ(global_avg_pool(input).shape(), (Shape{shape[0], shape[3]}));
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return global_avg_pool(x[0]); }, {input}))
        << shape_string(shape);
  }
}

TEST(GradcheckSqueezeExcitation, GlobalAvgPoolValues) {
  const Tensor input = Tensor::from_vector<double>({1, 10, 2, 20, 3, 30, 4, 40}, {1, 2, 2, 2});
  EXPECT_EQ(global_avg_pool(input).to_vector<double>(), (std::vector<double>{2.5, 25}));
}

TEST(GradcheckSqueezeExcitation, ChannelScale) {
  Generator generator(52);
  for (const Shape& shape : {Shape{3, 5, 7, 3}, Shape{1, 5, 7, 5}}) {
    const Tensor input = random_leaf(shape, generator);
    const Tensor scale = random_leaf({shape[0], shape[3]}, generator);
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return channel_scale(x[0], x[1]); }, {input, scale}))
        << shape_string(shape);
  }
}

TEST(GradcheckSqueezeExcitation, FullSqueezeExcitationBlock) {
  // x · sigmoid(W2 · silu(W1 · mean(x))): the composition a MobileNet / EfficientNet block runs.
  Generator generator(53);
  const Tensor input = random_leaf({3, 5, 7, 5}, generator);
  const Tensor reduce_weight = random_leaf({3, 5}, generator);
  const Tensor expand_weight = random_leaf({5, 3}, generator);
  EXPECT_TRUE(gradcheck(
      [](const std::vector<Tensor>& x) {
        const Tensor squeezed = global_avg_pool(x[0]);
        const Tensor excitation = sigmoid(linear(silu(linear(squeezed, x[1], Tensor())), x[2], Tensor()));
        return channel_scale(x[0], excitation);
      },
      {input, reduce_weight, expand_weight}));
}

TEST(GradcheckSqueezeExcitation, ChannelScaleRejectsWrongScaleShape) {
  Generator generator(54);
  EXPECT_THROW(channel_scale(testing::random_constant({2, 3, 3, 4}, generator),
                             testing::random_constant({2, 3}, generator)),
               Error);
}

}  // namespace
}  // namespace pneuma
