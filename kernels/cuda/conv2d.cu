// Public CUDA conv2d entry points (kernels/conv2d.h): validate the shape, then dispatch to the depthwise kernels
// or the implicit GEMM. The bias gradient is a deterministic column sum (reduce.cuh).
#include "kernels/conv2d.h"
#include "kernels/cuda/conv2d_internal.h"
#include "kernels/cuda/reduce.cuh"

namespace pneuma::kernels::cuda {
namespace {

void check_shape(const char* what, const Conv2dShape& s) {
  PNEUMA_CHECK(s.batch >= 1 && s.in_height >= 1 && s.in_width >= 1 && s.in_channels >= 1 && s.out_channels >= 1,
               "%s (CUDA): sizes must be positive (batch %lld, input %lldx%lldx%lld, out_channels %lld)", what,
               (long long)s.batch, (long long)s.in_height, (long long)s.in_width, (long long)s.in_channels,
               (long long)s.out_channels);
  PNEUMA_CHECK(s.kernel_height >= 1 && s.kernel_width >= 1 && s.stride_height >= 1 && s.stride_width >= 1 &&
                   s.dilation_height >= 1 && s.dilation_width >= 1,
               "%s (CUDA): kernel %lldx%lld, stride %lldx%lld and dilation %lldx%lld must be positive", what,
               (long long)s.kernel_height, (long long)s.kernel_width, (long long)s.stride_height,
               (long long)s.stride_width, (long long)s.dilation_height, (long long)s.dilation_width);
  PNEUMA_CHECK(s.pad_top >= 0 && s.pad_left >= 0 && s.pad_bottom >= 0 && s.pad_right >= 0,
               "%s (CUDA): negative padding (%lld, %lld, %lld, %lld)", what, (long long)s.pad_top,
               (long long)s.pad_left, (long long)s.pad_bottom, (long long)s.pad_right);
  PNEUMA_CHECK(s.groups >= 1 && s.in_channels % s.groups == 0 && s.out_channels % s.groups == 0,
               "%s (CUDA): channels (in %lld, out %lld) must be divisible by groups %lld", what,
               (long long)s.in_channels, (long long)s.out_channels, (long long)s.groups);
  const int64_t height =
      conv_output_size(s.in_height, s.kernel_height, s.stride_height, s.pad_top, s.pad_bottom, s.dilation_height);
  const int64_t width =
      conv_output_size(s.in_width, s.kernel_width, s.stride_width, s.pad_left, s.pad_right, s.dilation_width);
  PNEUMA_CHECK(height >= 1 && width >= 1 && s.out_height == height && s.out_width == width,
               "%s (CUDA): output %lldx%lld does not match the input, kernel, stride, padding and dilation "
               "(expected %lldx%lld)",
               what, (long long)s.out_height, (long long)s.out_width, (long long)height, (long long)width);
}

bool is_depthwise(const Conv2dShape& s) { return s.groups == s.in_channels && s.groups == s.out_channels; }

// Functors for reduce_columns (plain structs: no extended-lambda flag needed).
struct BiasTerm {
  const float* grad_output;
  int64_t channels;
  __device__ void operator()(int64_t, int64_t row, int64_t column, double (&local)[1]) const {
    local[0] += static_cast<double>(grad_output[row * channels + column]);
  }
};
struct BiasFinish {
  float* grad_bias;
  __device__ void operator()(int64_t, int64_t column, const Totals<double, 1>& totals) const {
    grad_bias[column] = static_cast<float>(totals.value[0]);
  }
};

}  // namespace

void conv2d_forward(const Conv2dShape& s, const float* input, const float* weight, const float* bias, float* output) {
  check_shape("conv2d", s);
  if (is_depthwise(s))
    conv2d_detail::depthwise_forward(s, input, weight, bias, output);
  else
    conv2d_detail::implicit_gemm_forward(s, input, weight, bias, output);
}

void conv2d_backward_input(const Conv2dShape& s, const float* grad_output, const float* weight, float* grad_input) {
  check_shape("conv2d backward input", s);
  if (is_depthwise(s))
    conv2d_detail::depthwise_backward_input(s, grad_output, weight, grad_input);
  else
    conv2d_detail::implicit_gemm_backward_input(s, grad_output, weight, grad_input);
}

void conv2d_backward_weight(const Conv2dShape& s, const float* input, const float* grad_output, float* grad_weight) {
  check_shape("conv2d backward weight", s);
  if (is_depthwise(s))
    conv2d_detail::depthwise_backward_weight(s, input, grad_output, grad_weight);
  else
    conv2d_detail::implicit_gemm_backward_weight(s, input, grad_output, grad_weight);
}

void conv2d_backward_bias(const Conv2dShape& s, const float* grad_output, float* grad_bias) {
  check_shape("conv2d backward bias", s);
  if (grad_bias == nullptr) return;
  reduce_columns<double, 1>(1, s.batch * s.out_height * s.out_width, s.out_channels,
                            BiasTerm{grad_output, s.out_channels}, BiasFinish{grad_bias});
}

}  // namespace pneuma::kernels::cuda
