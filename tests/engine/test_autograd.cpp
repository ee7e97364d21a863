// The autograd engine through real ops: gradient accumulation, shared weights, graph release after backward,
// scalar/non-scalar roots, no-grad scopes, frozen leaves, and that saved activations are freed.
#include <gtest/gtest.h>

#include <string>

#include "engine/allocator.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "tests/support/gradcheck.h"

namespace pneuma {
namespace {

using testing::random_constant;
using testing::random_leaf;

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

TEST(Autograd, GradientsAccumulateAcrossTwoBackwardPasses) {
  Generator generator(201);
  const Tensor x = random_leaf({3, 5}, generator);
  const Tensor w = random_leaf({5}, generator);
  sum(x * w).backward();
  const std::vector<double> first_x = values(x.grad()), first_w = values(w.grad());
  sum(x * w).backward();  // a fresh graph, same leaves: grads add up
  const std::vector<double> second_x = values(x.grad()), second_w = values(w.grad());
  for (size_t i = 0; i < first_x.size(); ++i) EXPECT_DOUBLE_EQ(second_x[i], 2 * first_x[i]);
  for (size_t i = 0; i < first_w.size(); ++i) EXPECT_DOUBLE_EQ(second_w[i], 2 * first_w[i]);
  // d/dw Σ x·w = column sums of x.
  const std::vector<double> xv = values(x);
  for (int c = 0; c < 5; ++c) EXPECT_NEAR(first_w[c], xv[c] + xv[5 + c] + xv[10 + c], 1e-14);
}

TEST(Autograd, ZeroGradDropsTheAccumulatedGradient) {
  Generator generator(202);
  Tensor x = random_leaf({4}, generator);
  sum(x).backward();
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  sum(scale(x, 3.0)).backward();
  EXPECT_EQ(values(x.grad()), std::vector<double>(4, 3.0));
}

TEST(Autograd, SharedWeightUsedTwiceGetsTheSummedGradient) {
  Generator generator(203);
  const Tensor weight = random_leaf({4, 4}, generator);
  const Tensor input = random_constant({2, 4}, generator);
  // y = W·tanh(W·x): the weight appears in two layers.
  const Tensor hidden = tanh(linear(input, weight, Tensor()));
  const Tensor loss = sum(linear(hidden, weight, Tensor()));
  loss.backward();
  const std::vector<double> shared = values(weight.grad());

  // The same computation with two separate copies of the weight: the shared gradient is their sum.
  const Tensor first = weight.detach().clone().set_requires_grad(true);
  const Tensor second = weight.detach().clone().set_requires_grad(true);
  sum(linear(tanh(linear(input, first, Tensor())), second, Tensor())).backward();
  const std::vector<double> a = values(first.grad()), b = values(second.grad());
  for (size_t i = 0; i < shared.size(); ++i) EXPECT_NEAR(shared[i], a[i] + b[i], 1e-14) << i;
  EXPECT_TRUE(testing::gradcheck(
      [&](const std::vector<Tensor>& x) {
        return linear(tanh(linear(input, x[0], Tensor())), x[0], Tensor());
      },
      {weight}));
}

TEST(Autograd, SecondBackwardWithoutRetainGraphThrows) {
  Generator generator(204);
  const Tensor x = random_leaf({3}, generator);
  const Tensor loss = sum(sigmoid(x));
  loss.backward();
  try {
    loss.backward();
    FAIL() << "a second backward through a released graph must throw";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("second time"), std::string::npos) << error.what();
  }
}

TEST(Autograd, RetainGraphAllowsASecondBackward) {
  Generator generator(205);
  const Tensor x = random_leaf({3}, generator);
  const Tensor loss = sum(sigmoid(x));
  loss.backward(Tensor(), /*retain_graph=*/true);
  const std::vector<double> once = values(x.grad());
  loss.backward();
  const std::vector<double> twice = values(x.grad());
  for (size_t i = 0; i < once.size(); ++i) EXPECT_DOUBLE_EQ(twice[i], 2 * once[i]);
}

TEST(Autograd, NonScalarRootNeedsAGradient) {
  Generator generator(206);
  const Tensor x = random_leaf({3}, generator);
  const Tensor y = relu(x);
  EXPECT_THROW(y.backward(), Error);
  EXPECT_THROW(y.backward(Tensor::ones({4}, DType::f64)), Error);
  y.backward(Tensor::ones({3}, DType::f64));
  EXPECT_TRUE(x.grad().defined());
}

TEST(Autograd, BackwardOnATensorThatRequiresNoGradThrows) {
  Generator generator(207);
  const Tensor x = random_constant({3}, generator);
  EXPECT_THROW(sum(x).backward(), Error);
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Generator generator(208);
  const Tensor x = random_leaf({1, 5, 7, 3}, generator);
  const Tensor w = random_leaf({3, 3, 3, 3}, generator);
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(grad_enabled());
    const Tensor y = relu(conv2d(x, w, Tensor(), {}));
    EXPECT_EQ(y.grad_fn(), nullptr);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(mean(y).grad_fn(), nullptr);
  }
  EXPECT_TRUE(grad_enabled());
  const Tensor y = relu(conv2d(x, w, Tensor(), {}));
  ASSERT_NE(y.grad_fn(), nullptr);
  EXPECT_EQ(y.grad_fn()->name(), "relu");
}

TEST(Autograd, ConstantInputsProduceNoGraph) {
  Generator generator(209);
  const Tensor y = relu(random_constant({3}, generator) + random_constant({3}, generator));
  EXPECT_EQ(y.grad_fn(), nullptr);
}

TEST(Autograd, FrozenLeafGetsNoGradientAndItsWeightGradientIsNotComputed) {
  // A conv whose weight is large compared with everything else: computing its gradient would allocate weight-sized
  // memory during backward. Frozen, the backward allocates far less than that.
  Generator generator(210);
  Conv2dOptions options;
  options.padding = Padding2d::symmetric(1);
  auto backward_peak_growth = [&](bool weight_trainable) {
    Tensor input = random_leaf({1, 3, 3, 64}, generator);
    Tensor weight = random_constant({64, 3, 3, 64}, generator);
    weight.set_requires_grad(weight_trainable);
    const Tensor loss = sum(conv2d(input, weight, Tensor(), options));
    Allocator& host = host_allocator();
    const size_t before = host.stats().bytes_in_use;
    host.reset_peak();
    loss.backward();
    const size_t growth = host.stats().peak_bytes_in_use - before;
    EXPECT_TRUE(input.grad().defined());
    EXPECT_EQ(weight.grad().defined(), weight_trainable);
    return std::pair<size_t, size_t>{growth, weight.nbytes()};
  };
  const auto [frozen_growth, weight_bytes] = backward_peak_growth(false);
  EXPECT_LT(frozen_growth, weight_bytes / 4) << "the frozen weight's gradient was computed";
  const auto [trainable_growth, weight_bytes_again] = backward_peak_growth(true);
  EXPECT_GE(trainable_growth, weight_bytes_again) << "the measurement cannot see a weight gradient";
}

TEST(Autograd, NeedsInputGradIsFalseForFrozenInputs) {
  Generator generator(211);
  const Tensor trainable = random_leaf({3}, generator);
  const Tensor frozen = random_constant({3}, generator);
  std::vector<bool> seen;
  Tensor output = trainable.detach().clone();
  output = record_operation("probe", output, {trainable, frozen, Tensor()},
                            [&seen](const Tensor& grad_output, const std::vector<bool>& needs) {
                              seen = needs;
                              return std::vector<Tensor>{grad_output, Tensor(), Tensor()};
                            });
  sum(output).backward();
  EXPECT_EQ(seen, (std::vector<bool>{true, false, false}));
  EXPECT_FALSE(frozen.grad().defined());
}

// A small network (conv -> batch norm -> silu -> conv -> mean) on inputs that stay alive throughout.
struct SmallNetwork {
  Tensor input, weight1, gamma, beta, weight2;
  explicit SmallNetwork(Generator& generator)
      : input(random_constant({2, 16, 16, 8}, generator)),
        weight1(random_leaf({8, 3, 3, 8}, generator)),
        gamma(random_leaf({8}, generator)),
        beta(random_leaf({8}, generator)),
        weight2(random_leaf({4, 3, 3, 8}, generator)) {}
  Tensor loss() const {
    Conv2dOptions options;
    options.padding = Padding2d::same();
    const Tensor hidden = silu(batch_norm(conv2d(input, weight1, Tensor(), options), gamma, beta, Tensor(),
                                          Tensor(), true, 0.1, 1e-5));
    return mean(conv2d(hidden, weight2, Tensor(), options));
  }
};

TEST(Autograd, DroppingTheOutputsFreesEverythingTheForwardAllocated) {
  Generator generator(212);
  const SmallNetwork network(generator);
  const size_t before = host_allocator().stats().bytes_in_use;
  {
    const Tensor loss = network.loss();
    EXPECT_GT(host_allocator().stats().bytes_in_use, before + 2 * 16 * 16 * 8 * sizeof(double));
  }
  EXPECT_EQ(host_allocator().stats().bytes_in_use, before) << "the graph leaked (a reference cycle?)";
}

TEST(Autograd, BackwardFreesSavedActivationsWhileTheLossIsAlive) {
  Generator generator(213);
  const SmallNetwork network(generator);
  // Create the gradients once so the second pass accumulates into existing buffers.
  network.loss().backward();
  const size_t before = host_allocator().stats().bytes_in_use;
  {
    const Tensor loss = network.loss();
    const size_t after_forward = host_allocator().stats().bytes_in_use;
    // Saved activations: at least the conv output, the batch-norm output and the silu output, [2,16,16,8] each.
    const size_t activation_bytes = 2 * 16 * 16 * 8 * sizeof(double);
    EXPECT_GT(after_forward, before + 2 * activation_bytes);
    loss.backward();
    const size_t after_backward = host_allocator().stats().bytes_in_use;
    // Only the scalar loss (and nothing it recorded) is left: far less than one activation, whatever block size
    // the allocator rounds the scalar up to.
    EXPECT_LT(after_backward, before + activation_bytes / 4)
        << "after forward " << after_forward << ", before " << before;
    EXPECT_TRUE(loss.grad_fn()->released());
  }
  EXPECT_EQ(host_allocator().stats().bytes_in_use, before);
}

}  // namespace
}  // namespace pneuma
