// Gradient checks for softmax and log_softmax over the last axis.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/ops.h"
#include "tests/support/gradcheck.h"

namespace pneuma {
namespace {

using testing::gradcheck;
using testing::random_leaf;

TEST(GradcheckSoftmax, SoftmaxAndLogSoftmax) {
  Generator generator(101);
  for (const Shape& shape : {Shape{3, 7}, Shape{1, 5}, Shape{3, 5, 7}, Shape{5}}) {
    const Tensor input = random_leaf(shape, generator, -3, 3);
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return softmax(x[0]); }, {input})) << shape_string(shape);
    EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return log_softmax(x[0]); }, {input}))
        << shape_string(shape);
  }
}

TEST(GradcheckSoftmax, LogSoftmaxIsLogOfSoftmaxAndRowsSumToOne) {
  Generator generator(102);
  const Tensor input = random_leaf({3, 7}, generator, -20, 20);
  const std::vector<double> p = softmax(input).to_vector<double>(), log_p = log_softmax(input).to_vector<double>();
  for (int row = 0; row < 3; ++row) {
    double total = 0;
    for (int col = 0; col < 7; ++col) {
      total += p[row * 7 + col];
      EXPECT_NEAR(std::log(p[row * 7 + col]), log_p[row * 7 + col], 1e-9);
    }
    EXPECT_NEAR(total, 1.0, 1e-12);
  }
}

TEST(GradcheckSoftmax, NllFromLogSoftmaxMatchesCrossEntropyGradient) {
  // −mean(log_softmax(z)[t]) built from ops equals cross_entropy(z, t): compare their gradients.
  Generator generator(103);
  Tensor logits = random_leaf({3, 5}, generator, -2, 2);
  const Tensor targets = Tensor::from_vector<int32_t>({4, 0, 2}, {3});
  std::vector<double> one_hot(15, 0.0);
  one_hot[0 * 5 + 4] = one_hot[1 * 5 + 0] = one_hot[2 * 5 + 2] = -1.0 / 3;
  const Tensor selector = Tensor::from_vector<double>(one_hot, {3, 5});
  const Tensor by_ops = sum(log_softmax(logits) * selector);
  by_ops.backward();
  const std::vector<double> grad_by_ops = logits.grad().to_vector<double>();
  logits.zero_grad();
  const Tensor by_loss = cross_entropy(logits, targets);
  EXPECT_NEAR(by_ops.item(), by_loss.item(), 1e-12);
  by_loss.backward();
  const std::vector<double> grad_by_loss = logits.grad().to_vector<double>();
  for (size_t i = 0; i < grad_by_ops.size(); ++i) EXPECT_NEAR(grad_by_ops[i], grad_by_loss[i], 1e-12) << i;
}

}  // namespace
}  // namespace pneuma
