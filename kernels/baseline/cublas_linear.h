// cuBLAS baseline for linear layers (row-major [rows, in] · [out, in]ᵀ as column-major SGEMMs), with the same
// contracts as kernels::cuda::linear_* (kernels/linear.h). TF32 tensor-core math is allowed or not as
// kernels::cuda::matmul_precision() says. The bias gradient is a GEMV with a ones vector. CUDA builds only.
#pragma once
#include "kernels/linear.h"

namespace pneuma::kernels::cublas {
void linear_forward(const LinearShape& s, const float* input, const float* weight, const float* bias, float* output);
void linear_backward_input(const LinearShape& s, const float* grad_output, const float* weight, float* grad_input);
void linear_backward_weight(const LinearShape& s, const float* input, const float* grad_output, float* grad_weight);
void linear_backward_bias(const LinearShape& s, const float* grad_output, float* grad_bias);
}  // namespace pneuma::kernels::cublas
