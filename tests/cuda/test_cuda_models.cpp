// Whole models on the GPU against the same models on the CPU, at reduced resolution, with the GPU's matrix products
// in exact fp32 (not TF32) so that only summation order differs:
//  - MobileNetV2 and EfficientNetV2-S in training mode (batch norm on batch statistics, dropout and stochastic
//    depth with the same Philox masks): logits, loss, every parameter's gradient, the parameters after one SGD step
//    and the batch-norm running statistics;
//  - a 50-step MobileNetV2 training run whose GPU loss curve must stay inside the CPU's own rounding envelope.
// Gradients are compared by NMSE: an activation that sits on a ReLU kink may take the other branch on the other
// device and move a few gradient elements, which an element-wise bound would call a failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/sgd.h"
#include "kernels/gemm.h"
#include "models/registry.h"
#include "tests/cuda/cuda_test_support.h"

namespace pneuma {
namespace {

// Exact fp32 GPU matrix products for the lifetime of the guard.
class ExactMatmulGuard {
 public:
#if PNEUMA_WITH_CUDA
  ExactMatmulGuard() : previous_(kernels::cuda::matmul_precision()) {
    kernels::cuda::set_matmul_precision(kernels::cuda::MatmulPrecision::fp32);
  }
  ~ExactMatmulGuard() { kernels::cuda::set_matmul_precision(previous_); }

 private:
  kernels::cuda::MatmulPrecision previous_;
#endif
};

// Element-wise tolerance relative to the tensor's own scale.
testing::Tolerance scaled_tolerance(const Tensor& reference, double fraction) {
  double largest = 0;
  for (double v : reference.to_vector<double>()) largest = std::max(largest, std::fabs(v));
  return {.atol = fraction * largest + 1e-7, .rtol = 10 * fraction};
}

models::ModelConfig model_config(const std::string& architecture, double width_multiplier = 1.0) {
  models::ModelConfig config;
  config.architecture = architecture;
  config.classes = 3;
  config.width_multiplier = width_multiplier;
  return config;
}

// A freshly initialised model (the same weights for the same config), in training mode, on `device`; its weights
// multiplied by (1 + u), u uniform in ±perturbation, when perturbation > 0.
std::shared_ptr<models::ImageClassifier> make_model(const models::ModelConfig& config, Device device,
                                                    double perturbation = 0) {
  Generator generator(2024);
  std::shared_ptr<models::ImageClassifier> model = models::create_model(config, generator);
  if (perturbation > 0) {
    NoGradGuard no_grad;
    Generator noise(7);
    for (Tensor parameter : model->parameters()) {
      const Tensor factor = Tensor::uniform(parameter.shape(), 1 - perturbation, 1 + perturbation, noise);
      parameter.copy_from(parameter.detach() * factor);
    }
  }
  model->to(device);
  model->train();
  return model;
}

// Forward with the same dropout / drop-path masks on both devices.
Tensor forward_seeded(models::ImageClassifier& model, const Tensor& images, uint64_t seed) {
  manual_seed(seed);
  return model(images);
}

void check_one_training_step(const models::ModelConfig& config, int64_t batch, int64_t resolution) {
  SCOPED_TRACE(config.architecture);
  ExactMatmulGuard exact;
  const std::string name = config.architecture;
  auto cpu = make_model(config, Device::cpu()), gpu = make_model(config, Device::cuda());
  const Tensor images = testing::random_normal({batch, resolution, resolution, 3}, 0, 1, 5);
  const Tensor targets = testing::random_labels(batch, config.classes, 6);
  const Tensor logits_cpu = forward_seeded(*cpu, images, 77);
  const Tensor logits_gpu = forward_seeded(*gpu, testing::on_gpu(images), 77);
  ASSERT_TRUE(logits_gpu.device().is_cuda());
  EXPECT_TRUE(testing::expect_close(name + ".logits", logits_gpu, logits_cpu, scaled_tolerance(logits_cpu, 1e-4)));
  const Tensor loss_cpu = cross_entropy(logits_cpu, targets);
  const Tensor loss_gpu = cross_entropy(logits_gpu, testing::on_gpu(targets));
  EXPECT_TRUE(testing::expect_close(name + ".loss", loss_gpu, loss_cpu, {.atol = 1e-5, .rtol = 1e-4}));
  loss_cpu.backward();
  loss_gpu.backward();

  const auto cpu_parameters = cpu->named_parameters(), gpu_parameters = gpu->named_parameters();
  ASSERT_EQ(cpu_parameters.size(), gpu_parameters.size());
  int failures = 0;
  for (size_t i = 0; i < cpu_parameters.size() && failures < 5; ++i) {
    const Tensor& grad_cpu = cpu_parameters[i].second.grad();
    const Tensor& grad_gpu = gpu_parameters[i].second.grad();
    ASSERT_EQ(grad_cpu.defined(), grad_gpu.defined()) << cpu_parameters[i].first;
    if (!grad_cpu.defined()) continue;
    ASSERT_TRUE(grad_gpu.device().is_cuda()) << cpu_parameters[i].first;
    const auto result = testing::expect_nmse(name + ".grad." + cpu_parameters[i].first, grad_gpu, grad_cpu, 1e-4);
    EXPECT_TRUE(result);
    failures += !result;
  }

  const optim::SgdOptions options{.learning_rate = 0.1, .momentum = 0.9, .weight_decay = 1e-4};
  optim::Sgd cpu_sgd(cpu->parameters(), options), gpu_sgd(gpu->parameters(), options);
  cpu_sgd.step();
  gpu_sgd.step();
  failures = 0;
  for (size_t i = 0; i < cpu_parameters.size() && failures < 5; ++i) {
    const auto result = testing::expect_nmse(name + ".updated." + cpu_parameters[i].first,
                                             gpu_parameters[i].second, cpu_parameters[i].second, 1e-8);
    EXPECT_TRUE(result);
    failures += !result;
  }
  // The forward pass updated the batch-norm running statistics on both devices.
  const auto cpu_buffers = cpu->named_buffers(), gpu_buffers = gpu->named_buffers();
  ASSERT_EQ(cpu_buffers.size(), gpu_buffers.size());
  for (size_t i = 0; i < cpu_buffers.size(); ++i) {
    if (!is_floating(cpu_buffers[i].second.dtype())) continue;
    EXPECT_TRUE(testing::expect_close(name + ".buffer." + cpu_buffers[i].first, gpu_buffers[i].second,
                                      cpu_buffers[i].second, scaled_tolerance(cpu_buffers[i].second, 1e-4)));
  }
}

TEST(CudaModels, MobileNetV2TrainingStepMatchesCpu) {
  PNEUMA_REQUIRE_GPU();
  check_one_training_step(model_config("mobilenet_v2"), 4, 64);
}

TEST(CudaModels, EfficientNetV2STrainingStepMatchesCpu) {
  PNEUMA_REQUIRE_GPU();
  check_one_training_step(model_config("efficientnet_v2_s"), 2, 64);
}

// 50 Adam steps of MobileNetV2 (width 0.5, 64×64, batch 8, dropout on) on four batches whose class is written into
// the images (so the loss falls), returning the loss of each step.
std::vector<double> loss_curve(models::ImageClassifier& model, Device device) {
  optim::Adam adam(model.parameters(), optim::AdamOptions{.learning_rate = 3e-4});
  std::vector<Tensor> images, targets;
  for (int b = 0; b < 4; ++b) {
    const Tensor labels = testing::random_labels(8, 3, 400 + b);
    std::vector<float> pixels = testing::random_normal({8, 64, 64, 3}, 0, 1, 300 + b).to_vector<float>();
    const std::vector<int32_t> classes = labels.to_vector<int32_t>();
    for (int i = 0; i < 8; ++i)
      for (int p = 0; p < 64 * 64; ++p) pixels[(i * 64 * 64 + p) * 3 + classes[i]] += 1.0f;
    images.push_back(Tensor::from_vector(pixels, {8, 64, 64, 3}).to(device));
    targets.push_back(labels.to(device));
  }
  std::vector<double> losses;
  for (int step = 0; step < 50; ++step) {
    const Tensor loss = cross_entropy(forward_seeded(model, images[step % 4], 1000 + step), targets[step % 4]);
    adam.zero_grad();
    loss.backward();
    adam.step();
    losses.push_back(loss.item());
  }
  return losses;
}

// Training is chaotic: two CPU runs whose initial weights differ by one part in 10⁷ (rounding level) drift apart by
// about 1e-3 after four steps and by tens of percent later (measured on this configuration). So the GPU curve is
// held to the CPU's own envelope: a second CPU run starts from weights perturbed by one part in 10⁶, and at each
// step the GPU curve's distance from the CPU curve may be at most 4× the largest distance the perturbed run has
// reached so far (plus 1e-5 relative); all three runs must learn.
TEST(CudaModels, MobileNetV2FiftyStepLossCurveStaysInTheCpuEnvelope) {
  PNEUMA_REQUIRE_GPU();
  ExactMatmulGuard exact;
  const models::ModelConfig config = model_config("mobilenet_v2", 0.5);
  const std::vector<double> cpu = loss_curve(*make_model(config, Device::cpu()), Device::cpu());
  const std::vector<double> perturbed = loss_curve(*make_model(config, Device::cpu(), 1e-6), Device::cpu());
  const std::vector<double> gpu = loss_curve(*make_model(config, Device::cuda()), Device::cuda());
  double envelope = 0, worst_gpu = 0, worst_ratio = 0;
  for (size_t step = 0; step < cpu.size(); ++step) {
    envelope = std::max(envelope, std::fabs(perturbed[step] - cpu[step]));
    const double bound = 4 * envelope + 1e-5 * std::fabs(cpu[step]);
    const double distance = std::fabs(gpu[step] - cpu[step]);
    worst_gpu = std::max(worst_gpu, distance);
    worst_ratio = std::max(worst_ratio, distance / bound);
    EXPECT_LE(distance, bound) << "step " << step << ": GPU " << gpu[step] << ", CPU " << cpu[step]
                               << ", perturbed CPU " << perturbed[step];
  }
  ::testing::Test::RecordProperty("max_abs_error.loss_curve", std::to_string(worst_gpu));
  ::testing::Test::RecordProperty("cpu_envelope.loss_curve", std::to_string(envelope));
  ::testing::Test::RecordProperty("worst_distance_over_bound", std::to_string(worst_ratio));
  for (const auto* curve : {&cpu, &perturbed, &gpu})
    EXPECT_LT(curve->back(), 0.3 * curve->front()) << "a run did not learn: the comparison would say little";
}

}  // namespace
}  // namespace pneuma
