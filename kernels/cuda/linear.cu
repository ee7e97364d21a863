// CUDA linear layers on the convolution GEMM core: a [rows, in] × [out, in]ᵀ product is a 1×1 convolution over
// `rows` images of 1×1 pixels with `in` channels, which the implicit GEMM runs with no gather overhead (every
// row table entry is the row itself). An empty batch (rows == 0) gives zero weight and bias gradients.
#include "kernels/conv2d.h"
#include "kernels/cuda/launch.h"
#include "kernels/linear.h"

namespace pneuma::kernels::cuda {
namespace {

void check_shape(const LinearShape& s) {
  PNEUMA_CHECK(s.rows >= 0 && s.in_features >= 1 && s.out_features >= 1,
               "linear (CUDA): invalid shape rows=%lld in_features=%lld out_features=%lld", (long long)s.rows,
               (long long)s.in_features, (long long)s.out_features);
}

Conv2dShape as_convolution(const LinearShape& s) {
  Conv2dShape c;
  c.batch = s.rows;
  c.in_channels = s.in_features;
  c.out_channels = s.out_features;
  return c;  // 1×1 images, 1×1 kernel, stride 1, no padding, one group
}

void zero(float* destination, int64_t count) {
  CUDA_CHECK(cudaMemsetAsync(destination, 0, sizeof(float) * count, compute_stream()));
}

}  // namespace

void linear_forward(const LinearShape& s, const float* input, const float* weight, const float* bias, float* output) {
  check_shape(s);
  if (s.rows > 0) conv2d_forward(as_convolution(s), input, weight, bias, output);
}

void linear_backward_input(const LinearShape& s, const float* grad_output, const float* weight, float* grad_input) {
  check_shape(s);
  if (s.rows > 0) conv2d_backward_input(as_convolution(s), grad_output, weight, grad_input);
}

void linear_backward_weight(const LinearShape& s, const float* input, const float* grad_output, float* grad_weight) {
  check_shape(s);
  if (s.rows == 0) return zero(grad_weight, s.out_features * s.in_features);
  conv2d_backward_weight(as_convolution(s), input, grad_output, grad_weight);
}

void linear_backward_bias(const LinearShape& s, const float* grad_output, float* grad_bias) {
  check_shape(s);
  if (grad_bias == nullptr) return;
  if (s.rows == 0) return zero(grad_bias, s.out_features);
  conv2d_backward_bias(as_convolution(s), grad_output, grad_bias);
}

}  // namespace pneuma::kernels::cuda
