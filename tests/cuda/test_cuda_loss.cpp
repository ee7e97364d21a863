// CUDA losses against the CPU reference: cross-entropy (class weights, label smoothing), BCE with logits
// (pos_weight), binary focal (α on/off, γ 0, 1, 2) and multi-class focal loss, forward (device scalar) and backward
// (scaled by a device scalar), plus the target range check. Outputs are NaN-poisoned first.
#include <gtest/gtest.h>

#include <string>

#include "kernels/loss.h"
#include "tests/cuda/cuda_test_support.h"

namespace pneuma {
namespace {

#if PNEUMA_WITH_CUDA
constexpr testing::Tolerance kLoss{.atol = 1e-6, .rtol = 1e-5};
constexpr testing::Tolerance kGrad{.atol = 1e-7, .rtol = 1e-5};

#endif

TEST(CudaLoss, CrossEntropyAndFocalMatchCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  struct Case {
    int64_t rows, classes;
  };
  uint64_t seed = 11;
  const float grad_loss = 0.75f;
  const Tensor grad_loss_gpu = testing::on_gpu(Tensor::full({}, grad_loss));
  for (const Case& c : {Case{3, 1}, Case{37, 3}, Case{129, 1000}, Case{1, 4099}}) {
    const Shape shape = {c.rows, c.classes};
    const Tensor logits = testing::random_normal(shape, 0, 3, seed += 5);
    const Tensor targets = testing::random_labels(c.rows, c.classes, seed + 1);
    const Tensor weights = testing::random_uniform({c.classes}, 0.2, 2, seed + 2);
    const Tensor logits_gpu = testing::on_gpu(logits), targets_gpu = testing::on_gpu(targets),
                 weights_gpu = testing::on_gpu(weights);
    EXPECT_EQ(kernels::cuda::count_invalid_targets(c.rows, c.classes, targets_gpu.data<int32_t>()), 0);
    for (bool weighted : {false, true}) {
      for (float smoothing : {0.0f, 0.1f}) {
        const std::string label = "cross_entropy." + std::to_string(c.rows) + "x" + std::to_string(c.classes) +
                                  (weighted ? ".weighted" : "") + (smoothing > 0 ? ".smoothed" : "");
        SCOPED_TRACE(label);
        const float* w = weighted ? weights.data<float>() : nullptr;
        const float* w_gpu = weighted ? weights_gpu.data<float>() : nullptr;
        const float loss_ref = kernels::cpu::cross_entropy_forward<float>(c.rows, c.classes, logits.data<float>(),
                                                                          targets.data<int32_t>(), w, smoothing);
        Tensor grad_ref = Tensor::empty(shape);
        kernels::cpu::cross_entropy_backward<float>(c.rows, c.classes, logits.data<float>(), targets.data<int32_t>(),
                                                    w, smoothing, grad_loss, grad_ref.data<float>());
        Tensor loss = testing::poisoned({}), grad = testing::poisoned(shape);
        kernels::cuda::cross_entropy_forward<float>(c.rows, c.classes, logits_gpu.data<float>(),
                                                    targets_gpu.data<int32_t>(), w_gpu, smoothing, loss.data<float>());
        kernels::cuda::cross_entropy_backward<float>(c.rows, c.classes, logits_gpu.data<float>(),
                                                     targets_gpu.data<int32_t>(), w_gpu, smoothing,
                                                     grad_loss_gpu.data<float>(), grad.data<float>());
        EXPECT_TRUE(testing::expect_close(label + ".forward", loss, Tensor::scalar(loss_ref), kLoss));
        EXPECT_TRUE(testing::expect_close(label + ".backward", grad, grad_ref, kGrad));
      }
      for (float gamma : {0.0f, 1.0f, 2.0f}) {
        const std::string label = "focal." + std::to_string(c.rows) + "x" + std::to_string(c.classes) +
                                  (weighted ? ".alpha" : "") + ".gamma" + std::to_string(static_cast<int>(gamma));
        SCOPED_TRACE(label);
        const float* alpha = weighted ? weights.data<float>() : nullptr;
        const float* alpha_gpu = weighted ? weights_gpu.data<float>() : nullptr;
        const float loss_ref = kernels::cpu::focal_loss_forward<float>(c.rows, c.classes, logits.data<float>(),
                                                                       targets.data<int32_t>(), alpha, gamma);
        Tensor grad_ref = Tensor::empty(shape);
        kernels::cpu::focal_loss_backward<float>(c.rows, c.classes, logits.data<float>(), targets.data<int32_t>(),
                                                 alpha, gamma, grad_loss, grad_ref.data<float>());
        Tensor loss = testing::poisoned({}), grad = testing::poisoned(shape);
        kernels::cuda::focal_loss_forward<float>(c.rows, c.classes, logits_gpu.data<float>(),
                                                 targets_gpu.data<int32_t>(), alpha_gpu, gamma, loss.data<float>());
        kernels::cuda::focal_loss_backward<float>(c.rows, c.classes, logits_gpu.data<float>(),
                                                  targets_gpu.data<int32_t>(), alpha_gpu, gamma,
                                                  grad_loss_gpu.data<float>(), grad.data<float>());
        EXPECT_TRUE(testing::expect_close(label + ".forward", loss, Tensor::scalar(loss_ref), kLoss));
        EXPECT_TRUE(testing::expect_close(label + ".backward", grad, grad_ref, kGrad));
      }
    }
  }
#endif
}

TEST(CudaLoss, BinaryLossesMatchCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  uint64_t seed = 70;
  const float grad_loss = -1.25f;
  const Tensor grad_loss_gpu = testing::on_gpu(Tensor::full({}, grad_loss));
  for (const Shape& shape : {Shape{3, 1}, Shape{37, 5}, Shape{100003}, Shape{1}}) {
    const int64_t count = shape_numel(shape), classes = shape.back();
    const Tensor logits = testing::random_normal(shape, 0, 4, seed += 5);
    // Hard 0/1 targets and soft ones.
    const Tensor soft = testing::random_uniform(shape, 0, 1, seed + 1);
    std::vector<float> hard_values = soft.to_vector<float>();
    for (float& v : hard_values) v = v < 0.5f ? 0.0f : 1.0f;
    const Tensor hard = Tensor::from_vector(hard_values, shape);
    const Tensor pos_weight = testing::random_uniform({classes}, 0.5, 3, seed + 2);
    const Tensor logits_gpu = testing::on_gpu(logits), pos_weight_gpu = testing::on_gpu(pos_weight);
    for (bool soft_targets : {false, true}) {
      const Tensor& targets = soft_targets ? soft : hard;
      const Tensor targets_gpu = testing::on_gpu(targets);
      for (bool weighted : {false, true}) {
        const std::string label = "bce." + shape_string(shape) + (soft_targets ? ".soft" : ".hard") +
                                  (weighted ? ".pos_weight" : "");
        SCOPED_TRACE(label);
        const float* pw = weighted ? pos_weight.data<float>() : nullptr;
        const float* pw_gpu = weighted ? pos_weight_gpu.data<float>() : nullptr;
        const float loss_ref = kernels::cpu::bce_with_logits_forward<float>(count, classes, logits.data<float>(),
                                                                            targets.data<float>(), pw);
        Tensor grad_ref = Tensor::empty(shape);
        kernels::cpu::bce_with_logits_backward<float>(count, classes, logits.data<float>(), targets.data<float>(), pw,
                                                      grad_loss, grad_ref.data<float>());
        Tensor loss = testing::poisoned({}), grad = testing::poisoned(shape);
        kernels::cuda::bce_with_logits_forward<float>(count, classes, logits_gpu.data<float>(),
                                                      targets_gpu.data<float>(), pw_gpu, loss.data<float>());
        kernels::cuda::bce_with_logits_backward<float>(count, classes, logits_gpu.data<float>(),
                                                       targets_gpu.data<float>(), pw_gpu, grad_loss_gpu.data<float>(),
                                                       grad.data<float>());
        EXPECT_TRUE(testing::expect_close(label + ".forward", loss, Tensor::scalar(loss_ref), kLoss));
        EXPECT_TRUE(testing::expect_close(label + ".backward", grad, grad_ref, kGrad));
      }
      for (float alpha : {-1.0f, 0.25f}) {
        for (float gamma : {0.0f, 1.0f, 2.0f}) {
          const std::string label = "binary_focal." + shape_string(shape) + (soft_targets ? ".soft" : ".hard") +
                                    ".alpha" + std::to_string(alpha) + ".gamma" + std::to_string(gamma);
          SCOPED_TRACE(label);
          const float loss_ref = kernels::cpu::binary_focal_loss_forward<float>(count, logits.data<float>(),
                                                                                targets.data<float>(), alpha, gamma);
          Tensor grad_ref = Tensor::empty(shape);
          kernels::cpu::binary_focal_loss_backward<float>(count, logits.data<float>(), targets.data<float>(), alpha,
                                                          gamma, grad_loss, grad_ref.data<float>());
          Tensor loss = testing::poisoned({}), grad = testing::poisoned(shape);
          kernels::cuda::binary_focal_loss_forward<float>(count, logits_gpu.data<float>(), targets_gpu.data<float>(),
                                                          alpha, gamma, loss.data<float>());
          kernels::cuda::binary_focal_loss_backward<float>(count, logits_gpu.data<float>(), targets_gpu.data<float>(),
                                                           alpha, gamma, grad_loss_gpu.data<float>(),
                                                           grad.data<float>());
          EXPECT_TRUE(testing::expect_close(label + ".forward", loss, Tensor::scalar(loss_ref), kLoss));
          EXPECT_TRUE(testing::expect_close(label + ".backward", grad, grad_ref, kGrad));
        }
      }
    }
  }
#endif
}

TEST(CudaLoss, InvalidTargetsAreCounted) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  const Tensor targets = testing::on_gpu(Tensor::from_vector<int32_t>({0, 2, 3, -1, 1, 7}, {6}));
  EXPECT_EQ(kernels::cuda::count_invalid_targets(6, 3, targets.data<int32_t>()), 3);
  EXPECT_EQ(kernels::cuda::count_invalid_targets(6, 8, targets.data<int32_t>()), 1);
#endif
}

}  // namespace
}  // namespace pneuma
