// Gradient checks for add / subtract / multiply / divide under NumPy broadcasting (the gradient of a broadcast
// operand is summed back to its own shape), scale, and the full reductions sum and mean.
#include <gtest/gtest.h>

#include <string>

#include "engine/ops.h"
#include "tests/support/gradcheck.h"

namespace pneuma {
namespace {

using testing::gradcheck;
using testing::random_leaf;

struct BroadcastCase {
  const char* name;
  Shape a, b, expected;
};

class GradcheckBroadcast : public ::testing::TestWithParam<BroadcastCase> {};

// Divisors are drawn from [0.5, 2] so 1/b stays well conditioned.
TEST_P(GradcheckBroadcast, AllFourOperations) {
  const BroadcastCase& c = GetParam();
  Generator generator(61);
  const Tensor a = random_leaf(c.a, generator);
  const Tensor b = random_leaf(c.b, generator, 0.5, 2.0);
  EXPECT_EQ(add(a, b).shape(), c.expected);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return x[0] + x[1]; }, {a, b})) << "add";
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return x[0] - x[1]; }, {a, b})) << "subtract";
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return x[0] * x[1]; }, {a, b})) << "multiply";
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return x[0] / x[1]; }, {a, b})) << "divide";
  // Operands swapped: the broadcast one is now first.
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return x[1] - x[0]; }, {a, b})) << "swapped subtract";
}

INSTANTIATE_TEST_SUITE_P(
    GradcheckPatterns, GradcheckBroadcast,
    ::testing::Values(BroadcastCase{"same_shape", {3, 5}, {3, 5}, {3, 5}},
                      BroadcastCase{"row_vector", {3, 5, 7}, {7}, {3, 5, 7}},
                      BroadcastCase{"column_against_row", {3, 1}, {1, 5}, {3, 5}},
                      BroadcastCase{"per_channel_nhwc", {3, 5, 7, 3}, {3}, {3, 5, 7, 3}},
                      BroadcastCase{"middle_axis", {3, 5, 7}, {5, 1}, {3, 5, 7}},
                      BroadcastCase{"interleaved_ones", {5, 1, 7}, {1, 3, 1}, {5, 3, 7}},
                      BroadcastCase{"scalar_tensor", {3, 5}, {}, {3, 5}},
                      BroadcastCase{"leading_axes", {1, 3, 1, 5}, {7, 1, 2, 1}, {7, 3, 2, 5}},
                      BroadcastCase{"batch_one", {1, 5, 7, 3}, {1, 1, 1, 3}, {1, 5, 7, 3}}),
    [](const ::testing::TestParamInfo<BroadcastCase>& info) { return std::string(info.param.name); });

TEST(GradcheckElementwise, SameTensorOnBothSides) {
  Generator generator(62);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return x[0] * x[0]; }, {random_leaf({3, 5}, generator)}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return x[0] / x[0] + x[0]; },
                        {random_leaf({5}, generator, 0.5, 2)}));
}

TEST(GradcheckElementwise, ConstantOperandGetsNoGradient) {
  Generator generator(63);
  const Tensor constant = testing::random_constant({5}, generator, 0.5, 2);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return x[0] / x[1]; },
                        {random_leaf({3, 5}, generator), constant}));
}

TEST(GradcheckElementwise, BroadcastValues) {
  const Tensor a = Tensor::from_vector<double>({1, 2, 3}, {3, 1});
  const Tensor b = Tensor::from_vector<double>({10, 20}, {1, 2});
  EXPECT_EQ(add(a, b).to_vector<double>(), (std::vector<double>{11, 21, 12, 22, 13, 23}));
  EXPECT_EQ(subtract(a, b).to_vector<double>(), (std::vector<double>{-9, -19, -8, -18, -7, -17}));
  EXPECT_EQ(multiply(a, b).to_vector<double>(), (std::vector<double>{10, 20, 20, 40, 30, 60}));
  EXPECT_EQ(divide(b, a).shape(), (Shape{3, 2}));
  EXPECT_EQ(divide(b, a).to_vector<double>(), (std::vector<double>{10, 20, 5, 10, 10.0 / 3, 20.0 / 3}));
}

TEST(GradcheckElementwise, RejectsIncompatibleShapesAndDtypes) {
  Generator generator(64);
  const Tensor a = testing::random_constant({3, 5}, generator);
  try {
    add(a, testing::random_constant({4}, generator));
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("add: shapes [3, 5] and [4] do not broadcast"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW(multiply(a, Tensor::ones({3, 5})), Error);  // f64 · f32
  EXPECT_THROW(add(a, Tensor::zeros({5}, DType::i32)), Error);
}

TEST(GradcheckElementwise, Scale) {
  Generator generator(65);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return scale(x[0], -2.5); },
                        {random_leaf({3, 5, 7}, generator)}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return 0.5 * x[0] * 3.0; }, {random_leaf({5}, generator)}));
}

// ---- reductions --------------------------------------------------------------------------------------------------

TEST(GradcheckReduction, SumAndMean) {
  Generator generator(66);
  for (const Shape& shape : {Shape{3, 5, 7}, Shape{1}, Shape{}, Shape{1, 5, 7, 3}}) {
    const Tensor input = random_leaf(shape, generator);
    EXPECT_EQ(sum(input).shape(), Shape{});
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return sum(x[0]); }, {input})) << shape_string(shape);
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return mean(x[0]); }, {input})) << shape_string(shape);
  }
}

TEST(GradcheckReduction, Values) {
  const Tensor x = Tensor::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(sum(x).item(), 21);
  EXPECT_EQ(mean(x).item(), 3.5);
  const Tensor f = Tensor::from_vector<float>({1, 2, 3, 4}, {4});
  EXPECT_EQ(mean(f).dtype(), DType::f32);
  EXPECT_EQ(mean(f).item(), 2.5);
}

TEST(GradcheckReduction, MeanOfProductChain) {
  // A small composite graph: mean((a·b + a) / b), a used three times.
  Generator generator(67);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return mean((x[0] * x[1] + x[0]) / x[1]); },
                        {random_leaf({3, 5}, generator), random_leaf({5}, generator, 0.5, 2)}));
}

}  // namespace
}  // namespace pneuma
