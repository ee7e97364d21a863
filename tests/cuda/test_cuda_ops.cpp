// Every engine op (other than convolution and linear, tested with their kernels) run on CUDA tensors gives the
// CPU's output and, through autograd, the CPU's gradients for every input: the wiring of engine/ops to the CUDA
// kernels, the devices of the gradients, and the in-place helpers.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "tests/cuda/cuda_test_support.h"

namespace pneuma {
namespace {

using OpFunction = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs `f` on `inputs` (CPU; those marked requires_grad are differentiated) and on GPU copies, and compares the
// outputs and every input gradient.
void check_op(const std::string& name, const OpFunction& f, const std::vector<Tensor>& inputs,
              testing::Tolerance tolerance = {.atol = 1e-5, .rtol = 1e-4}) {
  SCOPED_TRACE(name);
  std::vector<Tensor> gpu_inputs;
  for (const Tensor& input : inputs) {
    Tensor copy = testing::on_gpu(input.detach());
    if (input.requires_grad()) copy.set_requires_grad(true);
    gpu_inputs.push_back(copy);
  }
  const Tensor cpu_output = f(inputs), gpu_output = f(gpu_inputs);
  ASSERT_TRUE(gpu_output.device().is_cuda()) << name << " left the GPU";
  EXPECT_TRUE(testing::expect_close(name + ".forward", gpu_output, cpu_output, tolerance));
  if (!cpu_output.requires_grad()) return;
  const Tensor grad_output = testing::random_normal(cpu_output.shape(), 0, 1, 999);
  cpu_output.backward(grad_output);
  gpu_output.backward(testing::on_gpu(grad_output));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    const Tensor& grad = gpu_inputs[i].grad();
    ASSERT_TRUE(grad.defined()) << name << " input " << i << " got no gradient";
    EXPECT_TRUE(grad.device().is_cuda()) << name << " input " << i << " gradient on " << grad.device().name();
    EXPECT_TRUE(testing::expect_close(name + ".grad" + std::to_string(i), grad, inputs[i].grad(), tolerance));
  }
}

Tensor leaf(const Shape& shape, uint64_t seed, double low = -2, double high = 2) {
  return testing::random_uniform(shape, low, high, seed).set_requires_grad(true);
}

TEST(CudaOps, ActivationsMatchCpu) {
  PNEUMA_REQUIRE_GPU();
  using kernels::Activation;
  for (Activation a : {Activation::identity, Activation::relu, Activation::relu6, Activation::sigmoid,
                       Activation::silu, Activation::hard_sigmoid, Activation::hard_swish, Activation::gelu,
                       Activation::gelu_tanh, Activation::tanh})
    check_op(kernels::activation_name(a), [a](const auto& x) { return activation(x[0], a); },
             {leaf({3, 17, 17, 37}, 1, -8, 8)});
}

TEST(CudaOps, BatchNormTrainingInferenceAndFrozenMatchCpu) {
  PNEUMA_REQUIRE_GPU();
  const Shape shape = {3, 17, 17, 37};
  for (bool training : {true, false}) {
    // Running statistics are buffers updated in place: each device gets its own copy, compared afterwards.
    Tensor running_mean_cpu = testing::random_normal({37}, 0, 1, 2), running_variance_cpu = testing::random_uniform({37}, 0.5, 2, 3);
    Tensor running_mean_gpu = testing::on_gpu(running_mean_cpu), running_variance_gpu = testing::on_gpu(running_variance_cpu);
    check_op(std::string("batch_norm.") + (training ? "training" : "inference"),
             [&](const auto& x) {
               const bool gpu = x[0].device().is_cuda();
               return batch_norm(x[0], x[1], x[2], gpu ? running_mean_gpu : running_mean_cpu,
                                 gpu ? running_variance_gpu : running_variance_cpu, training, 0.1, 1e-5);
             },
             {leaf(shape, 4, -1, 3), leaf({37}, 5, 0.5, 1.5), leaf({37}, 6)});
    EXPECT_TRUE(testing::expect_close("batch_norm.running_mean", running_mean_gpu, running_mean_cpu, {.atol = 1e-6, .rtol = 1e-5}));
    EXPECT_TRUE(testing::expect_close("batch_norm.running_variance", running_variance_gpu, running_variance_cpu,
                                      {.atol = 1e-6, .rtol = 1e-5}));
  }
  // No affine parameters, no running statistics.
  check_op("batch_norm.plain", [](const auto& x) { return batch_norm(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-3); },
           {leaf({70001, 3}, 7)});
}

TEST(CudaOps, SqueezeExcitationPiecesMatchCpu) {
  PNEUMA_REQUIRE_GPU();
  check_op("global_avg_pool", [](const auto& x) { return global_avg_pool(x[0]); }, {leaf({3, 17, 17, 37}, 8)});
  check_op("channel_scale", [](const auto& x) { return channel_scale(x[0], x[1]); },
           {leaf({3, 17, 17, 37}, 9), leaf({3, 37}, 10, 0, 1)});
}

TEST(CudaOps, ElementwiseWithBroadcastingMatchCpu) {
  PNEUMA_REQUIRE_GPU();
  check_op("add", [](const auto& x) { return x[0] + x[1]; }, {leaf({3, 17, 17, 37}, 11), leaf({37}, 12)});
  check_op("subtract", [](const auto& x) { return x[0] - x[1]; }, {leaf({3, 1, 17, 1}, 13), leaf({1, 17, 1, 37}, 14)});
  check_op("multiply", [](const auto& x) { return x[0] * x[1]; }, {leaf({3, 17, 17, 37}, 15), leaf({3, 1, 1, 37}, 16)});
  check_op("divide", [](const auto& x) { return x[0] / x[1]; }, {leaf({5, 4099}, 17), leaf({}, 18, 0.5, 2)});
  check_op("scale", [](const auto& x) { return x[0] * -0.3; }, {leaf({3, 17, 17, 37}, 19)});
  // One operand without a gradient.
  check_op("multiply.constant", [](const auto& x) { return x[0] * x[1]; },
           {leaf({4, 9}, 20), testing::random_uniform({9}, -1, 1, 21)});
}

TEST(CudaOps, ReductionsAndShapesMatchCpu) {
  PNEUMA_REQUIRE_GPU();
  check_op("sum", [](const auto& x) { return sum(x[0]); }, {leaf({3, 17, 17, 37}, 22)}, {.atol = 1e-3, .rtol = 1e-5});
  check_op("mean", [](const auto& x) { return mean(x[0]); }, {leaf({3, 17, 17, 37}, 23)});
  check_op("reshape.view", [](const auto& x) { return reshape(x[0], {17, -1}) * 2.0; }, {leaf({3, 17, 17, 37}, 24)});
  check_op("reshape.strided", [](const auto& x) { return reshape(x[0].permute({2, 0, 1}), {-1}) * 2.0; },
           {leaf({3, 5, 7}, 25)});
  check_op("flatten", [](const auto& x) { return flatten(x[0]) * 2.0; }, {leaf({3, 4, 5, 6}, 26)});
  check_op("concat.channels", [](const auto& x) { return concat({x[0], x[1], x[2]}, 3); },
           {leaf({3, 5, 5, 1}, 27), leaf({3, 5, 5, 37}, 28), leaf({3, 5, 5, 4}, 29)});
  check_op("concat.batch", [](const auto& x) { return concat({x[0], x[1]}, 0); }, {leaf({1, 7}, 30), leaf({4, 7}, 31)});
}

TEST(CudaOps, PoolingMatchesCpu) {
  PNEUMA_REQUIRE_GPU();
  Pool2dOptions options;
  options.kernel_height = options.kernel_width = 3;
  options.stride_height = options.stride_width = 2;
  options.padding = Padding2d::same();
  check_op("max_pool2d", [&](const auto& x) { return max_pool2d(x[0], options); }, {leaf({3, 17, 17, 37}, 32)});
  for (bool include : {true, false}) {
    options.count_include_pad = include;
    check_op(std::string("avg_pool2d") + (include ? ".include_pad" : ""), [&](const auto& x) { return avg_pool2d(x[0], options); },
             {leaf({3, 17, 17, 37}, 33)});
  }
}

TEST(CudaOps, SoftmaxAndLossesMatchCpu) {
  PNEUMA_REQUIRE_GPU();
  check_op("softmax", [](const auto& x) { return softmax(x[0]); }, {leaf({37, 11}, 34, -5, 5)});
  check_op("log_softmax", [](const auto& x) { return log_softmax(x[0]); }, {leaf({37, 11}, 35, -5, 5)});
  const Tensor targets = testing::random_labels(37, 11, 36);
  const Tensor weights = testing::random_uniform({11}, 0.2, 2, 37);
  check_op("cross_entropy", [](const auto& x) { return cross_entropy(x[0], x[1]); }, {leaf({37, 11}, 38, -5, 5), targets});
  check_op("cross_entropy.weighted_smoothed",
           [](const auto& x) { return cross_entropy(x[0], x[1], {.class_weights = x[2], .label_smoothing = 0.1}); },
           {leaf({37, 11}, 39, -5, 5), targets, weights});
  check_op("focal_loss", [](const auto& x) { return focal_loss(x[0], x[1], x[2], 2.0); },
           {leaf({37, 11}, 40, -5, 5), targets, weights});
  const Tensor binary_targets = testing::random_uniform({37, 3}, 0, 1, 41);
  check_op("bce_with_logits", [](const auto& x) { return bce_with_logits(x[0], x[1], x[2]); },
           {leaf({37, 3}, 42, -5, 5), binary_targets, testing::random_uniform({3}, 0.5, 3, 43)});
  check_op("binary_focal_loss", [](const auto& x) { return binary_focal_loss(x[0], x[1], 0.25, 2.0); },
           {leaf({37, 3}, 44, -5, 5), binary_targets});
}

TEST(CudaOps, LossRejectsOutOfRangeTargetsOnTheDevice) {
  PNEUMA_REQUIRE_GPU();
  const Tensor logits = testing::on_gpu(testing::random_normal({4, 3}, 0, 1, 45));
  const Tensor targets = testing::on_gpu(Tensor::from_vector<int32_t>({0, 1, 3, 2}, {4}));
  try {
    cross_entropy(logits, targets);
    ADD_FAILURE() << "an out-of-range target was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("1 of 4 targets are outside [0, 3)"), std::string::npos) << error.what();
  }
  try {
    cross_entropy(logits, Tensor::from_vector<int32_t>({0, 1, 2, 2}, {4}));
    ADD_FAILURE() << "CPU targets for CUDA logits were accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("must be on the device of logits"), std::string::npos) << error.what();
  }
}

TEST(CudaOps, InPlaceHelpersMatchCpu) {
  PNEUMA_REQUIRE_GPU();
  const Tensor a = testing::random_normal({3, 17, 17, 37}, 0, 1, 46), b = testing::random_normal({3, 17, 17, 37}, 0, 1, 47);
  Tensor cpu = a.clone(), gpu = testing::on_gpu(a);
  add_in_place(cpu, b);
  add_in_place(gpu, testing::on_gpu(b));
  EXPECT_TRUE(testing::expect_identical("add_in_place", gpu, cpu));
  scale_in_place(cpu, 0.7);
  scale_in_place(gpu, 0.7);
  EXPECT_TRUE(testing::expect_identical("scale_in_place", gpu, cpu));
  EXPECT_NEAR(sum_of_squares(gpu), sum_of_squares(cpu), 1e-10 * sum_of_squares(cpu));
  EXPECT_TRUE(all_finite(gpu));
  EXPECT_TRUE(all_finite(gpu.to(DType::bf16)));
  std::vector<float> values = a.to_vector<float>();
  values[12345] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(all_finite(testing::on_gpu(Tensor::from_vector(values, a.shape()))));
}

TEST(CudaOps, F64OnTheGpuFailsWithOneClearLine) {
  PNEUMA_REQUIRE_GPU();
  const Tensor x = testing::on_gpu(testing::random_normal({2, 3}, 0, 1, 48)).to(DType::f64);
  try {
    relu(x);
    ADD_FAILURE() << "an f64 CUDA tensor was accepted";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("relu: no CUDA kernel in this build yet for f64 tensors"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace pneuma
