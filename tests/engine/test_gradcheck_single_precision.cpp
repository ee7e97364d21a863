// The f32 paths: every op run in single precision must agree with the same op in double precision (forward values
// and input gradients), so the dispatch to the float kernels and their backward passes are covered too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "engine/ops.h"
#include "tests/support/gradcheck.h"

namespace pneuma {
namespace {

using OpOnInputs = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs `op` on f64 inputs and on their f32 copies, backpropagates the same random gradient, and compares.
void expect_single_matches_double(const char* name, const OpOnInputs& op, const std::vector<Shape>& shapes,
                                  double low = -1, double high = 1) {
  Generator generator(301);
  std::vector<Tensor> doubles, singles;
  for (const Shape& shape : shapes) {
    Tensor d = Tensor::uniform(shape, low, high, generator, DType::f64);
    Tensor s = d.to(DType::f32);
    d.set_requires_grad(true);
    s.set_requires_grad(true);
    doubles.push_back(d);
    singles.push_back(s);
  }
  const Tensor out_double = op(doubles), out_single = op(singles);
  ASSERT_EQ(out_single.dtype(), DType::f32) << name;
  ASSERT_EQ(out_single.shape(), out_double.shape()) << name;
  const Tensor gradient = Tensor::normal(out_double.shape(), 0, 1, generator, DType::f64);
  out_double.backward(gradient);
  out_single.backward(gradient.to(DType::f32));

  auto expect_close = [name](const std::vector<double>& reference, const std::vector<double>& got, const char* what) {
    ASSERT_EQ(reference.size(), got.size());
    double scale = 0;
    for (double r : reference) scale = std::max(scale, std::abs(r));
    for (size_t i = 0; i < reference.size(); ++i)
      ASSERT_NEAR(got[i], reference[i], 1e-5 * (1 + scale)) << name << " " << what << " element " << i;
  };
  expect_close(out_double.to_vector<double>(), out_single.to_vector<double>(), "output");
  for (size_t i = 0; i < doubles.size(); ++i) {
    ASSERT_TRUE(singles[i].grad().defined()) << name << " input " << i;
    EXPECT_EQ(singles[i].grad().dtype(), DType::f32) << name;
    expect_close(doubles[i].grad().to_vector<double>(), singles[i].grad().to_vector<double>(),
                 ("gradient of input " + std::to_string(i)).c_str());
  }
}

Tensor targets_like(const Tensor& logits) {
  std::vector<int32_t> targets(logits.dim(0));
  for (size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<int32_t>((3 * i + 1) % logits.dim(1));
  return Tensor::from_vector<int32_t>(targets, {logits.dim(0)});
}

TEST(GradcheckSinglePrecision, EveryDifferentiableOpAgreesWithDouble) {
  Conv2dOptions conv;
  conv.padding = Padding2d::same();
  conv.stride_height = conv.stride_width = 2;
  Pool2dOptions pool;
  pool.kernel_height = pool.kernel_width = 3;
  pool.padding = Padding2d::symmetric(1);
  expect_single_matches_double("conv2d", [&](auto& x) { return conv2d(x[0], x[1], x[2], conv); },
                               {{2, 5, 7, 3}, {4, 3, 3, 3}, {4}});
  expect_single_matches_double("linear", [](auto& x) { return linear(x[0], x[1], x[2]); }, {{3, 5}, {4, 5}, {4}});
  expect_single_matches_double(
      "batch_norm", [](auto& x) { return batch_norm(x[0], x[1], x[2], Tensor(), Tensor(), true, 0.1, 1e-5); },
      {{2, 3, 3, 5}, {5}, {5}});
  expect_single_matches_double("silu", [](auto& x) { return silu(x[0]); }, {{3, 5}});
  expect_single_matches_double("global_avg_pool", [](auto& x) { return global_avg_pool(x[0]); }, {{2, 3, 3, 5}});
  expect_single_matches_double("channel_scale", [](auto& x) { return channel_scale(x[0], x[1]); },
                               {{2, 3, 3, 5}, {2, 5}});
  expect_single_matches_double("add", [](auto& x) { return x[0] + x[1]; }, {{3, 5}, {5}});
  expect_single_matches_double("subtract", [](auto& x) { return x[0] - x[1]; }, {{3, 1}, {1, 5}});
  expect_single_matches_double("multiply", [](auto& x) { return x[0] * x[1]; }, {{3, 5}, {3, 5}});
  expect_single_matches_double("divide", [](auto& x) { return x[0] / x[1]; }, {{3, 5}, {5}}, 0.5, 2);
  expect_single_matches_double("scale", [](auto& x) { return scale(x[0], 1.5); }, {{3, 5}});
  expect_single_matches_double("sum", [](auto& x) { return sum(x[0]); }, {{3, 5}});
  expect_single_matches_double("mean", [](auto& x) { return mean(x[0]); }, {{3, 5}});
  expect_single_matches_double("reshape", [](auto& x) { return reshape(x[0], {5, 3}); }, {{3, 5}});
  expect_single_matches_double("flatten", [](auto& x) { return flatten(x[0]); }, {{2, 3, 5}});
  expect_single_matches_double("concat", [](auto& x) { return concat(x, 1); }, {{3, 5}, {3, 2}});
  expect_single_matches_double("max_pool2d", [&](auto& x) { return max_pool2d(x[0], pool); }, {{1, 5, 7, 3}});
  expect_single_matches_double("avg_pool2d", [&](auto& x) { return avg_pool2d(x[0], pool); }, {{1, 5, 7, 3}});
  expect_single_matches_double(
      "dropout",
      [](auto& x) {
        Generator generator(9);
        return dropout(x[0], 0.3, true, generator);
      },
      {{3, 5}});
  expect_single_matches_double(
      "drop_path",
      [](auto& x) {
        Generator generator(9);
        return drop_path(x[0], 0.3, true, generator);
      },
      {{8, 5}});
  expect_single_matches_double("softmax", [](auto& x) { return softmax(x[0]); }, {{3, 5}});
  expect_single_matches_double("log_softmax", [](auto& x) { return log_softmax(x[0]); }, {{3, 5}});
  expect_single_matches_double(
      "cross_entropy",
      [](auto& x) {
        CrossEntropyOptions options;
        options.label_smoothing = 0.1;
        return cross_entropy(x[0], targets_like(x[0]), options);
      },
      {{4, 5}});
  expect_single_matches_double(
      "bce_with_logits",
      [](auto& x) { return bce_with_logits(x[0], Tensor::full(x[0].shape(), 0.25, x[0].dtype())); }, {{4, 5}});
  expect_single_matches_double(
      "binary_focal_loss",
      [](auto& x) { return binary_focal_loss(x[0], Tensor::full(x[0].shape(), 1.0, x[0].dtype())); }, {{4, 5}});
  expect_single_matches_double("focal_loss", [](auto& x) { return focal_loss(x[0], targets_like(x[0])); }, {{4, 5}});
}

TEST(GradcheckSinglePrecision, OtherDtypesAreRejectedNamingTheOp) {
  const Tensor x = Tensor::ones({2, 2}, DType::bf16);
  try {
    relu(x);
    FAIL() << "bf16 accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("relu"), std::string::npos) << error.what();
  }
  EXPECT_THROW(sum(Tensor::zeros({2}, DType::i32)), Error);
}

}  // namespace
}  // namespace pneuma
