// Gradient checks for reshape, flatten and concat, and their layout rules: reshape is a view of contiguous input,
// concat works along any axis.
#include <gtest/gtest.h>

#include "engine/ops.h"
#include "tests/support/gradcheck.h"

namespace pneuma {
namespace {

using testing::gradcheck;
using testing::random_constant;
using testing::random_leaf;

TEST(GradcheckShape, Reshape) {
  Generator generator(71);
  const Tensor input = random_leaf({3, 5, 7}, generator);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return reshape(x[0], {7, -1}); }, {input}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return reshape(x[0], {105}); }, {input}));
  // Through a later op, so the reshaped gradient is used by something that cares about the layout.
  const Tensor row = random_leaf({15}, generator);
  EXPECT_TRUE(
      gradcheck([](const std::vector<Tensor>& x) { return reshape(x[0], {-1, 15}) * x[1]; }, {input, row}));
}

TEST(GradcheckShape, ReshapeOfContiguousInputIsAView) {
  Generator generator(72);
  const Tensor input = random_constant({3, 5, 7}, generator);
  const Tensor reshaped = reshape(input, {5, 21});
  EXPECT_TRUE(reshaped.same_storage(input));
  EXPECT_EQ(reshaped.shape(), (Shape{5, 21}));
  EXPECT_EQ(reshaped.to_vector<double>(), input.to_vector<double>());
}

TEST(GradcheckShape, ReshapeOfNonContiguousLeafCopiesAndRoutesTheGradient) {
  const Tensor base = Tensor::from_vector<double>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor transposed = base.permute({1, 0});  // [[0, 3], [1, 4], [2, 5]]
  transposed.set_requires_grad(true);
  const Tensor flat = reshape(transposed, {-1});
  EXPECT_FALSE(flat.same_storage(base));
  EXPECT_EQ(flat.to_vector<double>(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  flat.backward(Tensor::from_vector<double>({10, 11, 12, 13, 14, 15}, {6}));
  ASSERT_TRUE(transposed.grad().defined());
  EXPECT_EQ(transposed.grad().shape(), (Shape{3, 2}));
  EXPECT_EQ(transposed.grad().to_vector<double>(), (std::vector<double>{10, 11, 12, 13, 14, 15}));
}

TEST(GradcheckShape, ReshapeRejectsWrongSizes) {
  Generator generator(73);
  const Tensor input = random_constant({3, 5}, generator);
  EXPECT_THROW(reshape(input, {4, 4}), Error);
  EXPECT_THROW(reshape(input, {-1, -1}), Error);
  EXPECT_THROW(reshape(input, {4, -1}), Error);
}

TEST(GradcheckShape, Flatten) {
  Generator generator(74);
  const Tensor input = random_leaf({3, 5, 7, 3}, generator);
  EXPECT_EQ(flatten(input).shape(), (Shape{3, 105}));
  EXPECT_EQ(flatten(input, 0).shape(), (Shape{315}));
  EXPECT_EQ(flatten(input, 2).shape(), (Shape{3, 5, 21}));
  EXPECT_EQ(flatten(input, -1).shape(), (Shape{3, 5, 7, 3}));
  EXPECT_THROW(flatten(input, 4), Error);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return flatten(x[0]); }, {input}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return flatten(x[0], 2); }, {input}));
}

TEST(GradcheckShape, ConcatAlongEveryAxis) {
  Generator generator(75);
  const Tensor a = random_leaf({3, 5, 7}, generator);
  const Tensor b0 = random_leaf({1, 5, 7}, generator), c0 = random_leaf({2, 5, 7}, generator);
  const Tensor b1 = random_leaf({3, 2, 7}, generator), c1 = random_leaf({3, 1, 7}, generator);
  const Tensor b2 = random_leaf({3, 5, 1}, generator), c2 = random_leaf({3, 5, 3}, generator);
  EXPECT_EQ(concat({a, b0, c0}, 0).shape(), (Shape{6, 5, 7}));
  EXPECT_EQ(concat({a, b1, c1}, 1).shape(), (Shape{3, 8, 7}));
  EXPECT_EQ(concat({a, b2, c2}, -1).shape(), (Shape{3, 5, 11}));
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return concat(x, 0); }, {a, b0, c0})) << "axis 0";
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return concat(x, 1); }, {a, b1, c1})) << "axis 1";
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return concat(x, -1); }, {a, b2, c2})) << "last axis";
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return concat(x, 2); }, {a, b2, c2})) << "axis 2";
}

TEST(GradcheckShape, ConcatWithConstantInputsAndRepeatedTensor) {
  Generator generator(76);
  const Tensor a = random_leaf({3, 5}, generator);
  const Tensor constant = random_constant({3, 2}, generator);
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return concat({x[0], x[1], x[0]}, 1); }, {a, constant}));
}

TEST(GradcheckShape, ConcatValues) {
  const Tensor a = Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2});
  const Tensor b = Tensor::from_vector<double>({5, 6}, {2, 1});
  EXPECT_EQ(concat({a, b}, 1).to_vector<double>(), (std::vector<double>{1, 2, 5, 3, 4, 6}));
  EXPECT_EQ(concat({a, a}, 0).to_vector<double>(), (std::vector<double>{1, 2, 3, 4, 1, 2, 3, 4}));
  // Non-contiguous inputs are packed first.
  EXPECT_EQ(concat({a.permute({1, 0}), b}, 1).to_vector<double>(), (std::vector<double>{1, 3, 5, 2, 4, 6}));
}

TEST(GradcheckShape, ConcatRejectsMismatches) {
  Generator generator(77);
  const Tensor a = random_constant({3, 5}, generator);
  EXPECT_THROW(concat({}, 0), Error);
  EXPECT_THROW(concat({a, random_constant({2, 4}, generator)}, 0), Error);
  EXPECT_THROW(concat({a, random_constant({3, 5, 1}, generator)}, 0), Error);
  EXPECT_THROW(concat({a, Tensor::zeros({3, 5})}, 0), Error);  // f64 with f32
  EXPECT_THROW(concat({a, a}, 2), Error);
}

}  // namespace
}  // namespace pneuma
