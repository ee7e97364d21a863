// Dropout and drop-path (stochastic depth) with masks drawn from Philox, so nothing is stored: the backward pass
// regenerates the mask from (seed, offset), and the CUDA kernels draw exactly the same mask.
#pragma once
#include <cstdint>

namespace pneuma::kernels::cpu {
// Element i is kept iff philox_uniform_at(seed, offset, i) >= p; kept elements are scaled by 1/(1−p).
template <class T>
void dropout_forward(int64_t count, T p, uint64_t seed, uint64_t offset, const T* input, T* output);
template <class T>
void dropout_backward(int64_t count, T p, uint64_t seed, uint64_t offset, const T* grad_output, T* grad_input);
// Sample b (of `batch`, each `per_sample` elements) is kept iff philox_uniform_at(seed, offset, b) >= p.
template <class T>
void drop_path_forward(int64_t batch, int64_t per_sample, T p, uint64_t seed, uint64_t offset, const T* input,
                       T* output);
template <class T>
void drop_path_backward(int64_t batch, int64_t per_sample, T p, uint64_t seed, uint64_t offset, const T* grad_output,
                        T* grad_input);
}  // namespace pneuma::kernels::cpu

// CUDA (kernels/cuda/dropout.cu): the same masks, bit for bit, from the same Philox stream (kernels/philox.h is
// shared device code). Device pointers; instantiated for float.
namespace pneuma::kernels::cuda {
template <class T>
void dropout_forward(int64_t count, T p, uint64_t seed, uint64_t offset, const T* input, T* output);
template <class T>
void dropout_backward(int64_t count, T p, uint64_t seed, uint64_t offset, const T* grad_output, T* grad_input);
template <class T>
void drop_path_forward(int64_t batch, int64_t per_sample, T p, uint64_t seed, uint64_t offset, const T* input,
                       T* output);
template <class T>
void drop_path_backward(int64_t batch, int64_t per_sample, T p, uint64_t seed, uint64_t offset, const T* grad_output,
                        T* grad_input);
}  // namespace pneuma::kernels::cuda
