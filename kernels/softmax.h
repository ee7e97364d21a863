// Softmax and log-softmax over the last axis of a [rows, cols] tensor.
#pragma once
#include <cstdint>

namespace pneuma::kernels::cpu {
template <class T>
void softmax_forward(int64_t rows, int64_t cols, const T* input, T* output);
// grad_input = y ⊙ (grad_output − Σ grad_output ⊙ y), y = softmax output.
template <class T>
void softmax_backward(int64_t rows, int64_t cols, const T* output, const T* grad_output, T* grad_input);
template <class T>
void log_softmax_forward(int64_t rows, int64_t cols, const T* input, T* output);
// grad_input = grad_output − exp(y) · Σ grad_output, y = log-softmax output.
template <class T>
void log_softmax_backward(int64_t rows, int64_t cols, const T* output, const T* grad_output, T* grad_input);
}  // namespace pneuma::kernels::cpu

// CUDA (kernels/cuda/softmax.cu): same formulas, one warp per row, row sums in double. Device pointers; float.
namespace pneuma::kernels::cuda {
template <class T>
void softmax_forward(int64_t rows, int64_t cols, const T* input, T* output);
template <class T>
void softmax_backward(int64_t rows, int64_t cols, const T* output, const T* grad_output, T* grad_input);
template <class T>
void log_softmax_forward(int64_t rows, int64_t cols, const T* input, T* output);
template <class T>
void log_softmax_backward(int64_t rows, int64_t cols, const T* output, const T* grad_output, T* grad_input);
}  // namespace pneuma::kernels::cuda
