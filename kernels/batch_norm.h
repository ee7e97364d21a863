// Batch normalisation over the channel (last) axis of an NHWC tensor viewed as [rows = N·H·W, channels].
#pragma once
#include <cstdint>

namespace pneuma::kernels {
struct BatchNormShape {
  int64_t rows = 1, channels = 1;
};
namespace cpu {
// Per-channel batch mean and biased variance (divide by rows). Deterministic for any thread count.
template <class T>
void batch_norm_statistics(const BatchNormShape& s, const T* input, T* mean, T* variance);
// output = (input - mean) · inv_std · gamma + beta, inv_std = 1/sqrt(variance + eps). gamma/beta may be null (1/0).
template <class T>
void batch_norm_apply(const BatchNormShape& s, const T* input, const T* mean, const T* variance, T eps,
                      const T* gamma, const T* beta, T* output);
// running = (1 - momentum)·running + momentum·batch, with the unbiased batch variance (PyTorch convention).
template <class T>
void batch_norm_update_running(const BatchNormShape& s, const T* batch_mean, const T* batch_variance, T momentum,
                               T* running_mean, T* running_variance);
// Backward. `batch_statistics` = true when mean/variance were computed from this batch (training mode): the
// gradient flows through them. false for inference / frozen mode (mean/variance are constants).
// grad_input, grad_gamma, grad_beta may each be null (not needed); all overwrite.
template <class T>
void batch_norm_backward(const BatchNormShape& s, const T* grad_output, const T* input, const T* mean,
                         const T* variance, T eps, const T* gamma, bool batch_statistics, T* grad_input,
                         T* grad_gamma, T* grad_beta);
}  // namespace cpu
// CUDA (kernels/cuda/batch_norm.cu): same contracts; every pointer is device memory. Per-channel sums use the
// deterministic two-level reductions of kernels/cuda/reduce.cuh (double accumulation). Instantiated for float.
namespace cuda {
template <class T>
void batch_norm_statistics(const BatchNormShape& s, const T* input, T* mean, T* variance);
template <class T>
void batch_norm_apply(const BatchNormShape& s, const T* input, const T* mean, const T* variance, T eps,
                      const T* gamma, const T* beta, T* output);
template <class T>
void batch_norm_update_running(const BatchNormShape& s, const T* batch_mean, const T* batch_variance, T momentum,
                               T* running_mean, T* running_variance);
template <class T>
void batch_norm_backward(const BatchNormShape& s, const T* grad_output, const T* input, const T* mean,
                         const T* variance, T eps, const T* gamma, bool batch_statistics, T* grad_input,
                         T* grad_gamma, T* grad_beta);
}  // namespace cuda
}  // namespace pneuma::kernels
