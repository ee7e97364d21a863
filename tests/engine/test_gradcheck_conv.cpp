// Gradient checks (double precision, finite differences) for conv2d and linear, plus the shape rules the ops own:
// SAME padding resolution, output sizes, argument validation.
#include <gtest/gtest.h>

#include "engine/ops.h"
#include "tests/support/gradcheck.h"

namespace pneuma {
namespace {

using testing::gradcheck;
using testing::random_constant;
using testing::random_leaf;

struct ConvCase {
  const char* name;
  Shape input;   // [N, H, W, Cin]
  Shape weight;  // [Cout, KH, KW, Cin/groups]
  bool bias;
  Conv2dOptions options;
  Shape expected_output;
};

Conv2dOptions conv_options(int64_t stride, Padding2d padding, int64_t dilation = 1, int64_t groups = 1) {
  Conv2dOptions o;
  o.stride_height = o.stride_width = stride;
  o.padding = padding;
  o.dilation_height = o.dilation_width = dilation;
  o.groups = groups;
  return o;
}

class GradcheckConv2d : public ::testing::TestWithParam<ConvCase> {};

TEST_P(GradcheckConv2d, MatchesFiniteDifferences) {
  const ConvCase& c = GetParam();
  Generator generator(11);
  Tensor input = random_leaf(c.input, generator);
  Tensor weight = random_leaf(c.weight, generator);
  Tensor bias = c.bias ? random_leaf({c.weight[0]}, generator) : Tensor();
  const Conv2dOptions options = c.options;
  const Tensor output = conv2d(input, weight, bias, options);
  EXPECT_EQ(output.shape(), c.expected_output) << c.name;
  std::vector<Tensor> inputs = {input, weight};
  if (c.bias) inputs.push_back(bias);
  EXPECT_TRUE(gradcheck(
      [options](const std::vector<Tensor>& x) {
        return conv2d(x[0], x[1], x.size() > 2 ? x[2] : Tensor(), options);
      },
      inputs))
      << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    GradcheckShapes, GradcheckConv2d,
    ::testing::Values(
        ConvCase{"k3_s1_p1_bias", {3, 5, 7, 3}, {5, 3, 3, 3}, true, conv_options(1, Padding2d::symmetric(1)),
                 {3, 5, 7, 5}},
        ConvCase{"k3_s2_p1_batch1", {1, 7, 5, 3}, {5, 3, 3, 3}, true, conv_options(2, Padding2d::symmetric(1)),
                 {1, 4, 3, 5}},
        ConvCase{"k3_dilation2_p2", {1, 7, 7, 3}, {3, 3, 3, 3}, false, conv_options(1, Padding2d::symmetric(2), 2),
                 {1, 7, 7, 3}},
        ConvCase{"k3_dilation2_s2_nopad", {2, 7, 6, 3}, {5, 3, 3, 3}, true, conv_options(2, Padding2d(), 2),
                 {2, 2, 1, 5}},
        ConvCase{"grouped_3_groups", {1, 5, 7, 6}, {9, 3, 3, 2}, true, conv_options(1, Padding2d::symmetric(1), 1, 3),
                 {1, 5, 7, 9}},
        ConvCase{"depthwise", {3, 5, 7, 5}, {5, 3, 3, 1}, true, conv_options(1, Padding2d::symmetric(1), 1, 5),
                 {3, 5, 7, 5}},
        ConvCase{"depthwise_multiplier2_s2", {1, 5, 7, 3}, {6, 3, 3, 1}, false,
                 conv_options(2, Padding2d::symmetric(1), 1, 3), {1, 3, 4, 6}},
        ConvCase{"same_odd_input_s1_k3", {1, 5, 7, 3}, {5, 3, 3, 3}, true, conv_options(1, Padding2d::same()),
                 {1, 5, 7, 5}},
        ConvCase{"same_odd_input_s2_k3", {3, 5, 7, 3}, {3, 3, 3, 3}, false, conv_options(2, Padding2d::same()),
                 {3, 3, 4, 3}},
        ConvCase{"same_even_input_s2_k3", {1, 6, 8, 3}, {5, 3, 3, 3}, true, conv_options(2, Padding2d::same()),
                 {1, 3, 4, 5}},
        ConvCase{"same_even_input_s2_k5_depthwise", {1, 6, 8, 3}, {3, 5, 5, 1}, true,
                 conv_options(2, Padding2d::same(), 1, 3), {1, 3, 4, 3}},
        ConvCase{"same_odd_input_s1_k5_dilation2", {1, 7, 5, 3}, {3, 5, 5, 3}, false,
                 conv_options(1, Padding2d::same(), 2), {1, 7, 5, 3}},
        ConvCase{"asymmetric_explicit_padding", {1, 5, 7, 3}, {5, 3, 3, 3}, true,
                 conv_options(1, Padding2d::sides(0, 1, 2, 0)), {1, 5, 6, 5}},
        ConvCase{"k1_pointwise_no_bias", {3, 5, 7, 7}, {5, 1, 1, 7}, false, conv_options(1, Padding2d()),
                 {3, 5, 7, 5}},
        ConvCase{"k5_s2_p2", {1, 7, 7, 3}, {5, 5, 5, 3}, true, conv_options(2, Padding2d::symmetric(2)),
                 {1, 4, 4, 5}}),
    [](const ::testing::TestParamInfo<ConvCase>& info) { return std::string(info.param.name); });

TEST(GradcheckConv, FrozenWeightStillGivesInputAndBiasGradients) {
  Generator generator(12);
  const Tensor input = random_leaf({1, 5, 7, 3}, generator);
  const Tensor weight = random_constant({5, 3, 3, 3}, generator);
  const Tensor bias = random_leaf({5}, generator);
  const Conv2dOptions options = conv_options(1, Padding2d::symmetric(1));
  EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& x) { return conv2d(x[0], x[1], x[2], options); },
                        {input, weight, bias}));
}

TEST(GradcheckConv, SamePaddingEqualsTheExplicitTensorFlowSplit) {
  // TF SAME on 6x8 with a 3x3 kernel at stride 2: output 3x4, total padding 1 per axis, all of it bottom/right.
  Generator generator(13);
  const Tensor input = random_constant({2, 6, 8, 3}, generator);
  const Tensor weight = random_constant({4, 3, 3, 3}, generator);
  const Tensor same = conv2d(input, weight, Tensor(), conv_options(2, Padding2d::same()));
  const Tensor explicit_sides = conv2d(input, weight, Tensor(), conv_options(2, Padding2d::sides(0, 0, 1, 1)));
  ASSERT_EQ(same.shape(), (Shape{2, 3, 4, 4}));
  EXPECT_EQ(same.to_vector<double>(), explicit_sides.to_vector<double>());
  // On 5x7 with a 5x5 kernel at stride 1: total padding 4 per axis, split 2 / 2.
  const Tensor input_odd = random_constant({1, 5, 7, 3}, generator);
  const Tensor weight5 = random_constant({2, 5, 5, 3}, generator);
  EXPECT_EQ(conv2d(input_odd, weight5, Tensor(), conv_options(1, Padding2d::same())).to_vector<double>(),
            conv2d(input_odd, weight5, Tensor(), conv_options(1, Padding2d::symmetric(2))).to_vector<double>());
}

TEST(GradcheckConv, OneByOneConvolutionIsAMatrixProduct) {
  // A 1x1 convolution is linear() over the pixels: a check of the forward values independent of the conv kernel.
  Generator generator(14);
  const Tensor input = random_constant({3, 5, 7, 4}, generator);
  const Tensor weight = random_constant({6, 1, 1, 4}, generator);
  const Tensor bias = random_constant({6}, generator);
  const Tensor by_conv = conv2d(input, weight, bias, Conv2dOptions{});
  const Tensor by_linear = linear(input, weight.view({6, 4}), bias);
  ASSERT_EQ(by_conv.shape(), by_linear.shape());
  const std::vector<double> a = by_conv.to_vector<double>(), b = by_linear.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-12) << i;
}

TEST(GradcheckConv, NonContiguousInputGivesTheSameResult) {
  Generator generator(15);
  const Tensor nchw = random_constant({2, 3, 5, 7}, generator);
  const Tensor nhwc_view = nchw.permute({0, 2, 3, 1});  // strided
  ASSERT_FALSE(nhwc_view.is_contiguous());
  const Tensor weight = random_constant({4, 3, 3, 3}, generator);
  const Conv2dOptions options = conv_options(1, Padding2d::symmetric(1));
  EXPECT_EQ(conv2d(nhwc_view, weight, Tensor(), options).to_vector<double>(),
            conv2d(nhwc_view.contiguous(), weight, Tensor(), options).to_vector<double>());
}

TEST(GradcheckConv, RejectsBadArgumentsNamingTheOp) {
  Generator generator(16);
  const Tensor input = random_constant({1, 5, 5, 4}, generator);
  auto message_of = [](auto&& call) -> std::string {
    try {
      call();
    } catch (const Error& error) {
      return error.what();
    }
    return "";
  };
  // Channels per group do not match the weight.
  EXPECT_NE(message_of([&] { conv2d(input, random_constant({4, 3, 3, 3}, generator), Tensor(), {}); })
                .find("conv2d"),
            std::string::npos);
  // groups must divide the channels.
  EXPECT_NE(message_of([&] {
              conv2d(input, random_constant({3, 3, 3, 4}, generator), Tensor(), conv_options(1, Padding2d(), 1, 3));
            }).find("groups"),
            std::string::npos);
  // dtype mismatch.
  EXPECT_NE(message_of([&] { conv2d(input, Tensor::ones({2, 3, 3, 4}), Tensor(), {}); }).find("dtypes must match"),
            std::string::npos);
  // Bias of the wrong length.
  EXPECT_NE(message_of([&] {
              conv2d(input, random_constant({2, 3, 3, 4}, generator), random_constant({3}, generator), {});
            }).find("bias"),
            std::string::npos);
  // Kernel larger than the input.
  EXPECT_NE(message_of([&] { conv2d(input, random_constant({2, 7, 7, 4}, generator), Tensor(), {}); })
                .find("does not fit"),
            std::string::npos);
}

// ---- linear -------------------------------------------------------------------------------------

TEST(GradcheckLinear, MatrixInputWithBias) {
  Generator generator(21);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); },
                        {random_leaf({3, 5}, generator), random_leaf({7, 5}, generator), random_leaf({7}, generator)}));
}

TEST(GradcheckLinear, BatchedInputWithoutBias) {
  Generator generator(22);
  const Tensor input = random_leaf({2, 3, 5}, generator);
  const Tensor weight = random_leaf({3, 5}, generator);
  EXPECT_EQ(linear(input, weight, Tensor()).shape(), (Shape{2, 3, 3}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return linear(x[0], x[1], Tensor()); }, {input, weight}));
}

TEST(GradcheckLinear, SingleRowAndFrozenWeight) {
  Generator generator(23);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); },
                        {random_leaf({1, 7}, generator), random_constant({3, 7}, generator),
                         random_leaf({3}, generator)}));
}

TEST(GradcheckLinear, ForwardMatchesHandComputation) {
  const Tensor input = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor weight = Tensor::from_vector<double>({1, 0, -1, 0.5, 0.5, 0.5}, {2, 3});
  const Tensor bias = Tensor::from_vector<double>({10, 20}, {2});
  EXPECT_EQ(linear(input, weight, bias).to_vector<double>(), (std::vector<double>{8, 23, 8, 27.5}));
}

}  // namespace
}  // namespace pneuma
