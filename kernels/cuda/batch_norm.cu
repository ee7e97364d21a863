// Batch normalisation on CUDA over a [rows, channels] view, forward and backward side by side. Mirrors
// kernels/cpu/batch_norm.cpp: statistics by the corrected two-pass algorithm (a mean pass, then centred sums),
// per-channel coefficients computed once in double, then one elementwise pass. All per-channel sums are
// deterministic column reductions (reduce.cuh).
#include <cmath>

#include "kernels/batch_norm.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/reduce.cuh"

namespace pneuma::kernels::cuda {
namespace {

void check_shape(const BatchNormShape& s, const char* who) {
  PNEUMA_CHECK(s.rows > 0 && s.channels > 0, "%s (CUDA): rows and channels must be positive, got %lld x %lld", who,
               static_cast<long long>(s.rows), static_cast<long long>(s.channels));
}

// y = (x − mean)·scale + shift over [rows, channels].
template <class T>
__global__ void normalise_kernel(int64_t count, int64_t channels, const T* input, const T* mean, const float* scale,
                                 const float* shift, T* output) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) {
    const int64_t c = i % channels;
    output[i] = static_cast<T>((static_cast<float>(input[i]) - static_cast<float>(mean[c])) * scale[c] + shift[c]);
  }
}

// dx = (dy − grad_mean − (x − mean)·centred_scale)·input_scale.
template <class T>
__global__ void input_gradient_kernel(int64_t count, int64_t channels, const T* grad_output, const T* input,
                                      const T* mean, const float* coefficients /* [3][channels] */, T* grad_input) {
  const float* input_scale = coefficients;
  const float* grad_mean = coefficients + channels;
  const float* centred_scale = coefficients + 2 * channels;
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) {
    const int64_t c = i % channels;
    const float centred = static_cast<float>(input[i]) - static_cast<float>(mean[c]);
    grad_input[i] = static_cast<T>(
        (static_cast<float>(grad_output[i]) - grad_mean[c] - centred * centred_scale[c]) * input_scale[c]);
  }
}

__device__ __forceinline__ double inverse_std(double variance, double eps) { return 1.0 / sqrt(variance + eps); }

}  // namespace

template <class T>
void batch_norm_statistics(const BatchNormShape& s, const T* input, T* mean, T* variance) {
  check_shape(s, "batch_norm_statistics");
  const int64_t channels = s.channels;
  const double rows = static_cast<double>(s.rows);
  double* mean_double = static_cast<double*>(workspace(sizeof(double) * channels, kTemporarySlot));
  // Pass 1: the mean, kept in double for pass 2 as the CPU does.
  reduce_columns<double, 1>(
      1, s.rows, channels,
      [=] __device__(int64_t, int64_t row, int64_t c, double(&local)[1]) {
        local[0] += static_cast<double>(input[row * channels + c]);
      },
      [=] __device__(int64_t, int64_t c, const Totals<double, 1>& totals) { mean_double[c] = totals.value[0] / rows; });
  // Pass 2: centred sum and centred squares (the sum corrects for the rounding of the mean).
  reduce_columns<double, 2>(
      1, s.rows, channels,
      [=] __device__(int64_t, int64_t row, int64_t c, double(&local)[2]) {
        const double deviation = static_cast<double>(input[row * channels + c]) - mean_double[c];
        local[0] += deviation;
        local[1] += deviation * deviation;
      },
      [=] __device__(int64_t, int64_t c, const Totals<double, 2>& totals) {
        const double correction = totals.value[0] * totals.value[0] / rows;
        mean[c] = static_cast<T>(mean_double[c]);
        variance[c] = static_cast<T>(fmax(0.0, (totals.value[1] - correction) / rows));
      });
}

namespace {
template <class T>
__global__ void apply_coefficients_kernel(int64_t channels, const T* variance, double eps, const T* gamma,
                                          const T* beta, float* scale, float* shift) {
  for (int64_t c = global_thread_index(); c < channels; c += global_thread_count()) {
    const double gamma_c = gamma ? static_cast<double>(gamma[c]) : 1.0;
    scale[c] = static_cast<float>(gamma_c * inverse_std(static_cast<double>(variance[c]), eps));
    shift[c] = beta ? static_cast<float>(beta[c]) : 0.0f;
  }
}
}  // namespace

template <class T>
void batch_norm_apply(const BatchNormShape& s, const T* input, const T* mean, const T* variance, T eps, const T* gamma,
                      const T* beta, T* output) {
  check_shape(s, "batch_norm_apply");
  PNEUMA_CHECK(eps >= T(0), "batch_norm_apply (CUDA): eps must be non-negative");
  const int64_t channels = s.channels;
  float* scale = static_cast<float*>(workspace(sizeof(float) * 2 * channels, kTemporarySlot));
  float* shift = scale + channels;
  PNEUMA_LAUNCH(apply_coefficients_kernel<T>, grid_for(channels), kThreads, 0, channels, variance,
                static_cast<double>(eps), gamma, beta, scale, shift);
  const int64_t count = s.rows * channels;
  PNEUMA_LAUNCH(normalise_kernel<T>, grid_for(count), kThreads, 0, count, channels, input, mean, scale, shift, output);
}

namespace {
template <class T>
__global__ void update_running_kernel(int64_t channels, double unbiased_factor, double momentum, const T* batch_mean,
                                      const T* batch_variance, T* running_mean, T* running_variance) {
  for (int64_t c = global_thread_index(); c < channels; c += global_thread_count()) {
    running_mean[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_mean[c]) +
                                     momentum * static_cast<double>(batch_mean[c]));
    running_variance[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_variance[c]) +
                                         momentum * unbiased_factor * static_cast<double>(batch_variance[c]));
  }
}
}  // namespace

template <class T>
void batch_norm_update_running(const BatchNormShape& s, const T* batch_mean, const T* batch_variance, T momentum,
                               T* running_mean, T* running_variance) {
  check_shape(s, "batch_norm_update_running");
  PNEUMA_CHECK(s.rows > 1,
               "batch_norm_update_running (CUDA): the unbiased variance needs more than one value per channel");
  const double unbiased_factor = static_cast<double>(s.rows) / static_cast<double>(s.rows - 1);
  PNEUMA_LAUNCH(update_running_kernel<T>, grid_for(s.channels), kThreads, 0, s.channels, unbiased_factor,
                static_cast<double>(momentum), batch_mean, batch_variance, running_mean, running_variance);
}

namespace {
// Per-channel coefficients of the input gradient when mean/variance are constants (no sums needed).
template <class T>
__global__ void frozen_coefficients_kernel(int64_t channels, const T* variance, double eps, const T* gamma,
                                           float* coefficients) {
  for (int64_t c = global_thread_index(); c < channels; c += global_thread_count()) {
    const double gamma_c = gamma ? static_cast<double>(gamma[c]) : 1.0;
    coefficients[c] = static_cast<float>(gamma_c * inverse_std(static_cast<double>(variance[c]), eps));
    coefficients[channels + c] = 0.0f;
    coefficients[2 * channels + c] = 0.0f;
  }
}
}  // namespace

template <class T>
void batch_norm_backward(const BatchNormShape& s, const T* grad_output, const T* input, const T* mean,
                         const T* variance, T eps, const T* gamma, bool batch_statistics, T* grad_input, T* grad_gamma,
                         T* grad_beta) {
  check_shape(s, "batch_norm_backward");
  const int64_t channels = s.channels;
  const double rows = static_cast<double>(s.rows);
  const double eps_double = static_cast<double>(eps);
  float* coefficients = static_cast<float*>(workspace(sizeof(float) * 3 * channels, kTemporarySlot));
  const bool need_sums = grad_gamma || grad_beta || (grad_input && batch_statistics);
  if (need_sums) {
    // Per channel: Σ dy and Σ dy·(x − mean); the finish writes the parameter gradients and the input-gradient
    // coefficients in one go.
    reduce_columns<double, 2>(
        1, s.rows, channels,
        [=] __device__(int64_t, int64_t row, int64_t c, double(&local)[2]) {
          const double g = static_cast<double>(grad_output[row * channels + c]);
          local[0] += g;
          local[1] += g * (static_cast<double>(input[row * channels + c]) - static_cast<double>(mean[c]));
        },
        [=] __device__(int64_t, int64_t c, const Totals<double, 2>& totals) {
          const double inv_std = inverse_std(static_cast<double>(variance[c]), eps_double);
          if (grad_beta) grad_beta[c] = static_cast<T>(totals.value[0]);
          if (grad_gamma) grad_gamma[c] = static_cast<T>(totals.value[1] * inv_std);
          const double gamma_c = gamma ? static_cast<double>(gamma[c]) : 1.0;
          coefficients[c] = static_cast<float>(gamma_c * inv_std);
          coefficients[channels + c] = batch_statistics ? static_cast<float>(totals.value[0] / rows) : 0.0f;
          coefficients[2 * channels + c] =
              batch_statistics ? static_cast<float>(totals.value[1] * inv_std * inv_std / rows) : 0.0f;
        });
  } else if (grad_input) {
    PNEUMA_LAUNCH(frozen_coefficients_kernel<T>, grid_for(channels), kThreads, 0, channels, variance, eps_double,
                  gamma, coefficients);
  }
  if (!grad_input) return;
  const int64_t count = s.rows * channels;
  PNEUMA_LAUNCH(input_gradient_kernel<T>, grid_for(count), kThreads, 0, count, channels, grad_output, input, mean,
                coefficients, grad_input);
}

#define PNEUMA_INSTANTIATE_BATCH_NORM(T)                                                                             \
  template void batch_norm_statistics<T>(const BatchNormShape&, const T*, T*, T*);                                   \
  template void batch_norm_apply<T>(const BatchNormShape&, const T*, const T*, const T*, T, const T*, const T*, T*); \
  template void batch_norm_update_running<T>(const BatchNormShape&, const T*, const T*, T, T*, T*);                  \
  template void batch_norm_backward<T>(const BatchNormShape&, const T*, const T*, const T*, const T*, T, const T*,   \
                                       bool, T*, T*, T*);
PNEUMA_INSTANTIATE_BATCH_NORM(float)
#undef PNEUMA_INSTANTIATE_BATCH_NORM

}  // namespace pneuma::kernels::cuda
