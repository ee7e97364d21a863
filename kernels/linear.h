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
}  // namespace pneuma::kernels
