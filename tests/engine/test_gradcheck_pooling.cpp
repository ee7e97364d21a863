// Gradient checks for max and average pooling with explicit, asymmetric and SAME padding, and count_include_pad
// both ways.
#include <gtest/gtest.h>

#include <string>

#include "engine/ops.h"
#include "tests/support/gradcheck.h"

namespace pneuma {
namespace {

using testing::gradcheck;
using testing::random_leaf;

Pool2dOptions pool_options(int64_t kernel, int64_t stride, Padding2d padding, bool count_include_pad = true) {
  Pool2dOptions o;
  o.kernel_height = o.kernel_width = kernel;
  o.stride_height = o.stride_width = stride;
  o.padding = padding;
  o.count_include_pad = count_include_pad;
  return o;
}

struct PoolCase {
  const char* name;
  Shape input;
  Pool2dOptions options;
  Shape expected_output;
};

class GradcheckPool2d : public ::testing::TestWithParam<PoolCase> {};

TEST_P(GradcheckPool2d, MaxAndAverage) {
  const PoolCase& c = GetParam();
  Generator generator(81);
  const Tensor input = random_leaf(c.input, generator);
  const Pool2dOptions options = c.options;
  EXPECT_EQ(max_pool2d(input, options).shape(), c.expected_output);
  EXPECT_EQ(avg_pool2d(input, options).shape(), c.expected_output);
  EXPECT_TRUE(gradcheck([options](const std::vector<Tensor>& x) { return max_pool2d(x[0], options); }, {input}))
      << "max_pool2d";
  EXPECT_TRUE(gradcheck([options](const std::vector<Tensor>& x) { return avg_pool2d(x[0], options); }, {input}))
      << "avg_pool2d";
}

INSTANTIATE_TEST_SUITE_P(
    GradcheckShapes, GradcheckPool2d,
    ::testing::Values(
        PoolCase{"k2_s2_nopad_odd_input", {3, 5, 7, 3}, pool_options(2, 2, Padding2d()), {3, 2, 3, 3}},
        PoolCase{"k3_s2_p1_include_pad", {1, 5, 7, 5}, pool_options(3, 2, Padding2d::symmetric(1), true),
                 {1, 3, 4, 5}},
        PoolCase{"k3_s2_p1_exclude_pad", {1, 5, 7, 5}, pool_options(3, 2, Padding2d::symmetric(1), false),
                 {1, 3, 4, 5}},
        PoolCase{"k3_s1_p1_overlapping", {3, 5, 7, 3}, pool_options(3, 1, Padding2d::symmetric(1), true),
                 {3, 5, 7, 3}},
        PoolCase{"asymmetric_padding_exclude", {1, 5, 7, 3}, pool_options(3, 2, Padding2d::sides(0, 2, 2, 1), false),
                 {1, 3, 4, 3}},
        PoolCase{"asymmetric_padding_include", {1, 5, 7, 3}, pool_options(3, 2, Padding2d::sides(2, 0, 1, 2), true),
                 {1, 3, 4, 3}},
        PoolCase{"same_even_input_exclude", {1, 6, 8, 3}, pool_options(3, 2, Padding2d::same(), false),
                 {1, 3, 4, 3}},
        PoolCase{"same_odd_input_exclude", {3, 5, 7, 3}, pool_options(3, 2, Padding2d::same(), false),
                 {3, 3, 4, 3}},
        PoolCase{"same_odd_input_include", {1, 5, 7, 3}, pool_options(2, 2, Padding2d::same(), true),
                 {1, 3, 4, 3}}),
    [](const ::testing::TestParamInfo<PoolCase>& info) { return std::string(info.param.name); });

TEST(GradcheckPooling, MaxPoolPaddingNeverWins) {
  // All-negative input: a padded zero must never be the maximum.
  const Tensor input = Tensor::from_vector<double>({-1, -2, -3, -4}, {1, 2, 2, 1});
  const Tensor output = max_pool2d(input, pool_options(2, 1, Padding2d::symmetric(1)));
  EXPECT_EQ(output.to_vector<double>(), (std::vector<double>{-1, -1, -2, -1, -1, -2, -3, -3, -4}));
}

TEST(GradcheckPooling, AveragePoolCountIncludePadBothWays) {
  const Tensor input = Tensor::from_vector<double>({1, 2, 3, 4}, {1, 2, 2, 1});
  // Corner window at (-1, -1) with a 2x2 kernel covers only the element 1.
  const Pool2dOptions include = pool_options(2, 2, Padding2d::symmetric(1), true);
  const Pool2dOptions exclude = pool_options(2, 2, Padding2d::symmetric(1), false);
  EXPECT_EQ(avg_pool2d(input, include).to_vector<double>(), (std::vector<double>{0.25, 0.5, 0.75, 1.0}));
  EXPECT_EQ(avg_pool2d(input, exclude).to_vector<double>(), (std::vector<double>{1, 2, 3, 4}));
}

TEST(GradcheckPooling, MaxPoolUnderNoGradRecordsNothing) {
  Generator generator(82);
  const Tensor input = random_leaf({1, 5, 7, 3}, generator);
  NoGradGuard no_grad;
  EXPECT_EQ(max_pool2d(input, pool_options(2, 2, Padding2d())).grad_fn(), nullptr);
}

TEST(GradcheckPooling, RejectsPaddingAsLargeAsTheKernel) {
  Generator generator(83);
  const Tensor input = testing::random_constant({1, 5, 5, 2}, generator);
  EXPECT_THROW(max_pool2d(input, pool_options(2, 2, Padding2d::symmetric(2))), Error);
  EXPECT_THROW(avg_pool2d(input, pool_options(2, 2, Padding2d::sides(0, 0, 0, 2))), Error);
  EXPECT_THROW(max_pool2d(input, pool_options(7, 1, Padding2d())), Error);
  EXPECT_THROW(max_pool2d(testing::random_constant({5, 5, 2}, generator), pool_options(2, 2, Padding2d())), Error);
}

}  // namespace
}  // namespace pneuma
