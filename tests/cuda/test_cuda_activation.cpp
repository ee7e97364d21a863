// CUDA activation kernels against the CPU reference: every activation, forward and backward, on fresh random
// inputs (plus the kink points, where the derivative conventions must agree exactly), with NaN-poisoned outputs.
#include <gtest/gtest.h>

#include "kernels/activation.h"
#include "tests/cuda/cuda_test_support.h"

namespace pneuma {
namespace {

#if PNEUMA_WITH_CUDA
using kernels::Activation;

const Activation kAllActivations[] = {
    Activation::identity,     Activation::relu,       Activation::relu6, Activation::sigmoid,   Activation::silu,
    Activation::hard_sigmoid, Activation::hard_swish, Activation::gelu,  Activation::gelu_tanh, Activation::tanh};

// Random values in [-8, 8] with the kinks (0, 6, ±3) planted at the start.
Tensor activation_input(const Shape& shape, uint64_t seed) {
  std::vector<float> values = testing::random_uniform(shape, -8, 8, seed).to_vector<float>();
  const float kinks[] = {0.0f, 6.0f, -3.0f, 3.0f, -0.0f, 1e-8f, -1e-8f, 20.0f, -20.0f};
  for (size_t i = 0; i < std::size(kinks) && i < values.size(); ++i) values[i] = kinks[i];
  return Tensor::from_vector(values, shape);
}

void check_activation(Activation a, const Shape& shape, uint64_t seed) {
  SCOPED_TRACE(std::string(kernels::activation_name(a)) + " " + shape_string(shape));
  const Tensor x = activation_input(shape, seed);
  const Tensor dy = testing::random_normal(shape, 0, 1, seed + 1);
  const int64_t n = x.numel();

  Tensor y_ref = Tensor::empty(shape), dx_ref = Tensor::empty(shape);
  kernels::cpu::activation_forward<float>(a, n, x.data<float>(), y_ref.data<float>());
  kernels::cpu::activation_backward<float>(a, n, x.data<float>(), dy.data<float>(), dx_ref.data<float>());

  const Tensor x_gpu = testing::on_gpu(x), dy_gpu = testing::on_gpu(dy);
  Tensor y = testing::poisoned(shape), dx = testing::poisoned(shape);
  kernels::cuda::activation_forward<float>(a, n, x_gpu.data<float>(), y.data<float>());
  kernels::cuda::activation_backward<float>(a, n, x_gpu.data<float>(), dy_gpu.data<float>(), dx.data<float>());
  const std::string name = kernels::activation_name(a);
  EXPECT_TRUE(testing::expect_close(name + ".forward", y, y_ref, {.atol = 1e-6, .rtol = 2e-6}));
  EXPECT_TRUE(testing::expect_close(name + ".backward", dx, dx_ref, {.atol = 1e-6, .rtol = 2e-6}));
}

#endif

TEST(CudaActivation, EveryActivationForwardAndBackwardMatchCpu) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  uint64_t seed = 100;
  for (Activation a : kAllActivations) {
    check_activation(a, {3, 17, 17, 37}, seed++);
    check_activation(a, {1}, seed++);
    check_activation(a, {2, 4099}, seed++);
  }
#endif
}

TEST(CudaActivation, InPlaceForwardIsAllowed) {
  PNEUMA_REQUIRE_GPU();
#if PNEUMA_WITH_CUDA
  const Tensor x = activation_input({5, 33}, 7);
  Tensor reference = Tensor::empty(x.shape());
  kernels::cpu::activation_forward<float>(Activation::silu, x.numel(), x.data<float>(), reference.data<float>());
  Tensor buffer = testing::on_gpu(x);
  kernels::cuda::activation_forward<float>(Activation::silu, x.numel(), buffer.data<float>(), buffer.data<float>());
  EXPECT_TRUE(testing::expect_close("silu.in_place", buffer, reference, {.atol = 1e-6, .rtol = 2e-6}));
#endif
}

}  // namespace
}  // namespace pneuma
