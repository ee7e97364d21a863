// The engine end to end on the CPU: a small MobileNetV2-shaped network (MBConv blocks with squeeze-excitation,
// SiLU, stochastic depth, dropout, batch norm in training mode) learns a fixed random dataset, and the same run
// with the same seed is bit-identical.
#include <gtest/gtest.h>

#include "engine/ops.h"
#include "engine/optim/optim.h"
#include "kernels/parallel.h"
#include "models/tiny_mbconv_net.h"

namespace pneuma {
namespace {

std::vector<float> train_losses(uint64_t seed, int steps) {
  manual_seed(seed);
  Generator init(seed);
  models::TinyMbconvNetOptions options;
  options.classes = 3;
  models::TinyMbconvNet net(options, init);
  net.train();
  Generator data(seed + 1);
  const int64_t batch = 12;
  Tensor images = Tensor::normal({batch, 24, 24, 3}, 0, 1, data);
  std::vector<int32_t> labels(batch);
  for (int64_t i = 0; i < batch; ++i) labels[i] = static_cast<int32_t>(data.integer(0, options.classes));
  Tensor targets = Tensor::from_vector(labels, {batch});
  optim::AdamOptions adam;
  adam.learning_rate = 3e-3;
  optim::Adam optimizer(net.parameters(), adam);
  std::vector<float> losses;
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    Tensor loss = cross_entropy(net(images), targets);
    loss.backward();
    optimizer.step();
    losses.push_back(static_cast<float>(loss.item()));
  }
  return losses;
}

TEST(TinyMbconvTraining, LossFallsOnRandomData) {
  const std::vector<float> losses = train_losses(11, 40);
  const float first = losses.front();
  float last_average = 0;
  for (int i = 35; i < 40; ++i) last_average += losses[i] / 5;
  EXPECT_GT(first, 0.8f);  // ~ln(3) at initialisation
  EXPECT_LT(last_average, 0.5f * first) << "first " << first << " last " << last_average;
}

TEST(TinyMbconvTraining, SameSeedGivesBitIdenticalLosses) {
  const std::vector<float> a = train_losses(5, 6);
  const std::vector<float> b = train_losses(5, 6);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, train_losses(6, 6));
}

TEST(TinyMbconvTraining, ThreadCountDoesNotChangeTheResult) {
  const int threads = kernels::max_threads();
  kernels::set_max_threads(1);
  const std::vector<float> one = train_losses(5, 4);
  kernels::set_max_threads(2);
  const std::vector<float> two = train_losses(5, 4);
  kernels::set_max_threads(threads);
  EXPECT_EQ(one, two);
}

}  // namespace
}  // namespace pneuma
