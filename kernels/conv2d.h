// 2-D convolution, NHWC activations, weights [out_channels, kernel_h, kernel_w, in_channels / groups].
// Covers regular, grouped and depthwise (groups == in_channels) convolution with stride, dilation and
// explicit per-side padding (PyTorch symmetric and TensorFlow "SAME" are both just four numbers).
#pragma once
#include <cstdint>

namespace pneuma::kernels {

struct Conv2dShape {
  int64_t batch = 1, in_height = 1, in_width = 1, in_channels = 1;
  int64_t out_height = 1, out_width = 1, out_channels = 1;
  int64_t kernel_height = 1, kernel_width = 1;
  int64_t stride_height = 1, stride_width = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_height = 1, dilation_width = 1;
  int64_t groups = 1;
};

// floor((in + pad_before + pad_after - dilation·(kernel-1) - 1) / stride) + 1
inline int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad_before, int64_t pad_after,
                                int64_t dilation) {
  return (in + pad_before + pad_after - dilation * (kernel - 1) - 1) / stride + 1;
}

// TensorFlow "SAME": output = ceil(in / stride); total padding split with the extra pixel at the bottom/right.
inline void same_padding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t* pad_before,
                         int64_t* pad_after) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t effective_kernel = dilation * (kernel - 1) + 1;
  int64_t total = (out - 1) * stride + effective_kernel - in;
  if (total < 0) total = 0;
  *pad_before = total / 2;
  *pad_after = total - total / 2;
}

namespace cpu {
// All functions overwrite their output. bias / grad_bias may be null.
template <class T>
void conv2d_forward(const Conv2dShape& s, const T* input, const T* weight, const T* bias, T* output);
template <class T>
void conv2d_backward_input(const Conv2dShape& s, const T* grad_output, const T* weight, T* grad_input);
template <class T>
void conv2d_backward_weight(const Conv2dShape& s, const T* input, const T* grad_output, T* grad_weight);
template <class T>
void conv2d_backward_bias(const Conv2dShape& s, const T* grad_output, T* grad_bias);
}  // namespace cpu

namespace cuda {
// CUDA builds only (kernels/cuda/conv2d.cu). fp32, device pointers, the same contracts as cpu:: (outputs are
// overwritten; bias / grad_bias may be null); asynchronous on the compute stream (kernels/cuda/launch.h).
// Depthwise shapes (groups == in_channels == out_channels) run the tiled depthwise kernels in exact fp32; all
// others run the implicit GEMM on tensor cores in TF32 or in exact fp32, as kernels/gemm.h matmul_precision() says.
// Weight and bias gradients are deterministic (fixed-order split reductions, no atomics).
void conv2d_forward(const Conv2dShape& s, const float* input, const float* weight, const float* bias, float* output);
void conv2d_backward_input(const Conv2dShape& s, const float* grad_output, const float* weight, float* grad_input);
void conv2d_backward_weight(const Conv2dShape& s, const float* input, const float* grad_output, float* grad_weight);
void conv2d_backward_bias(const Conv2dShape& s, const float* grad_output, float* grad_bias);
}  // namespace cuda
}  // namespace pneuma::kernels
