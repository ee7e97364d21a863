// Private to kernels/cuda/conv2d*.cu, depthwise*.cu and linear*.cu: the paths the public conv2d / linear entry
// points dispatch to. Every pointer is device memory; every function overwrites its output and runs on
// compute_stream() (kernels/cuda/launch.h). Shapes were validated by the caller (conv2d.cu).
#pragma once
#include <cstdint>

#include "kernels/conv2d.h"

namespace pneuma::kernels::cuda::conv2d_detail {

// groups == in_channels == out_channels (depthwise_conv2d.cu).
void depthwise_forward(const Conv2dShape& s, const float* input, const float* weight, const float* bias, float* output);
void depthwise_backward_input(const Conv2dShape& s, const float* grad_output, const float* weight, float* grad_input);
void depthwise_backward_weight(const Conv2dShape& s, const float* input, const float* grad_output, float* grad_weight);

// Everything else, as implicit GEMM on tensor cores (TF32) or FFMA (conv2d_implicit_gemm.cu).
void implicit_gemm_forward(const Conv2dShape& s, const float* input, const float* weight, const float* bias,
                           float* output);
void implicit_gemm_backward_input(const Conv2dShape& s, const float* grad_output, const float* weight,
                                  float* grad_input);
void implicit_gemm_backward_weight(const Conv2dShape& s, const float* input, const float* grad_output,
                                   float* grad_weight);

// result[i] = Σ_b partials[b · count + i] for b = 0, 1, ... in order (the second level of the deterministic
// split reductions).
void reduce_partials(const float* partials, int64_t blocks, int64_t count, float* result);

}  // namespace pneuma::kernels::cuda::conv2d_detail
