// Fully connected layer: output[rows, out] = input[rows, in] · weight[out, in]ᵀ + bias[out].
#pragma once
#include <cstdint>

namespace pneuma::kernels {
struct LinearShape {
  int64_t rows = 1, in_features = 1, out_features = 1;
};
namespace cpu {
// All overwrite their output; bias / grad_bias may be null.
template <class T>
void linear_forward(const LinearShape& s, const T* input, const T* weight, const T* bias, T* output);
template <class T>
void linear_backward_input(const LinearShape& s, const T* grad_output, const T* weight, T* grad_input);
template <class T>
void linear_backward_weight(const LinearShape& s, const T* input, const T* grad_output, T* grad_weight);
template <class T>
void linear_backward_bias(const LinearShape& s, const T* grad_output, T* grad_bias);
}  // namespace cpu
namespace cuda {
// CUDA builds only (kernels/cuda/linear.cu): fp32 device pointers, the cpu:: contracts (rows may be 0). Runs on the
// convolution's implicit-GEMM core as a 1×1 convolution over `rows` 1×1 images, so it shares its tensor-core
// (TF32) / exact-fp32 switch (kernels/gemm.h) and its deterministic split reductions.
void linear_forward(const LinearShape& s, const float* input, const float* weight, const float* bias, float* output);
void linear_backward_input(const LinearShape& s, const float* grad_output, const float* weight, float* grad_input);
void linear_backward_weight(const LinearShape& s, const float* input, const float* grad_output, float* grad_weight);
void linear_backward_bias(const LinearShape& s, const float* grad_output, float* grad_bias);
}  // namespace cuda
}  // namespace pneuma::kernels
