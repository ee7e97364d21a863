// Pooling on NHWC tensors, plus the squeeze-excitation pieces (global average pool and channel scale).
#pragma once
#include <cstdint>

namespace pneuma::kernels {
struct Pool2dShape {
  int64_t batch = 1, in_height = 1, in_width = 1, channels = 1;
  int64_t out_height = 1, out_width = 1;
  int64_t kernel_height = 1, kernel_width = 1;
  int64_t stride_height = 1, stride_width = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool count_include_pad = false;  // average pooling only: divide by the full window (PyTorch default true;
                                   // Keras/TF divide by the valid elements only)
};
namespace cpu {
// Max pooling: padded positions never win. argmax (optional, may be null) receives the flat input index
// (h·W + w) inside the image of each output element's maximum, for the backward pass.
template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* input, T* output, int32_t* argmax);
// Uses argmax when given, else recomputes the winner from input. Overwrites grad_input.
template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* input, const int32_t* argmax, const T* grad_output,
                         T* grad_input);
template <class T>
void avg_pool2d_forward(const Pool2dShape& s, const T* input, T* output);
template <class T>
void avg_pool2d_backward(const Pool2dShape& s, const T* grad_output, T* grad_input);

// Global average pool: input [batch, pixels, channels] -> output [batch, channels].
template <class T>
void global_avg_pool_forward(int64_t batch, int64_t pixels, int64_t channels, const T* input, T* output);
template <class T>
void global_avg_pool_backward(int64_t batch, int64_t pixels, int64_t channels, const T* grad_output, T* grad_input);

// Channel scale (the "excitation" multiply): output[b,p,c] = input[b,p,c] · scale[b,c].
template <class T>
void channel_scale_forward(int64_t batch, int64_t pixels, int64_t channels, const T* input, const T* scale,
                           T* output);
// grad_input and grad_scale may each be null; both overwrite.
template <class T>
void channel_scale_backward(int64_t batch, int64_t pixels, int64_t channels, const T* input, const T* scale,
                            const T* grad_output, T* grad_input, T* grad_scale);
}  // namespace cpu
// CUDA (kernels/cuda/pool.cu): same contracts, device pointers. Backward passes gather (each input element sums
// the outputs that cover it, in the CPU's order), so they need no atomics and are deterministic. Instantiated for
// float.
namespace cuda {
template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* input, T* output, int32_t* argmax);
template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* input, const int32_t* argmax, const T* grad_output,
                         T* grad_input);
template <class T>
void avg_pool2d_forward(const Pool2dShape& s, const T* input, T* output);
template <class T>
void avg_pool2d_backward(const Pool2dShape& s, const T* grad_output, T* grad_input);
template <class T>
void global_avg_pool_forward(int64_t batch, int64_t pixels, int64_t channels, const T* input, T* output);
template <class T>
void global_avg_pool_backward(int64_t batch, int64_t pixels, int64_t channels, const T* grad_output, T* grad_input);
template <class T>
void channel_scale_forward(int64_t batch, int64_t pixels, int64_t channels, const T* input, const T* scale,
                           T* output);
template <class T>
void channel_scale_backward(int64_t batch, int64_t pixels, int64_t channels, const T* input, const T* scale,
                            const T* grad_output, T* grad_input, T* grad_scale);
}  // namespace cuda
}  // namespace pneuma::kernels
