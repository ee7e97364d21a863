// Batch normalisation over the channel axis of a [rows, channels] view. Every per-channel reduction runs on fixed
// row chunks whose double-precision partials are summed in chunk order, so results do not depend on thread count.
#include "kernels/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/error.h"
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu {
namespace {

constexpr int64_t kChunkElements = 32768;  // elements per reduction chunk / per thread for elementwise passes
constexpr int64_t kMinimumChunkRows = 16;  // keeps the per-chunk partials well below the input size for wide rows

int64_t rows_per_chunk(int64_t channels) { return std::max(kMinimumChunkRows, kChunkElements / channels); }

void check_shape(const BatchNormShape& s, const char* who) {
  PNEUMA_CHECK(s.rows > 0 && s.channels > 0, "%s: rows and channels must be positive, got %lld x %lld", who,
               static_cast<long long>(s.rows), static_cast<long long>(s.channels));
}

// Calls body(begin_row, end_row, partial) on fixed chunks of rows, each chunk with its own zeroed partial of
// `width` doubles, and returns the partials added up in chunk order.
template <class Body>
std::vector<double> sum_over_row_chunks(int64_t rows, int64_t channels, int64_t width, Body&& body) {
  const int64_t chunk_rows = rows_per_chunk(channels);
  const int64_t chunks = chunk_count(rows, chunk_rows);
  std::vector<double> partials(static_cast<size_t>(chunks * width), 0.0);
  parallel_for_chunks(rows, chunk_rows, [&](int64_t chunk, int64_t begin, int64_t end) {
    body(begin, end, partials.data() + chunk * width);
  });
  std::vector<double> total(static_cast<size_t>(width), 0.0);
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    const double* partial = partials.data() + chunk * width;
    for (int64_t i = 0; i < width; ++i) total[i] += partial[i];
  }
  return total;
}

template <class T>
double inverse_std(T variance, T eps) {
  return 1.0 / std::sqrt(static_cast<double>(variance) + static_cast<double>(eps));
}

// Per-row inner loops over the channels. __restrict__ parameters (which GCC reliably honours after inlining) let
// them vectorise without runtime overlap checks.
template <class T>
void add_row(int64_t channels, const T* __restrict__ x, double* __restrict__ sum) {
  for (int64_t c = 0; c < channels; ++c) sum[c] += static_cast<double>(x[c]);
}

template <class T>
void add_centred_row(int64_t channels, const T* __restrict__ x, const double* __restrict__ mean,
                     double* __restrict__ deviation_sum, double* __restrict__ square_sum) {
  for (int64_t c = 0; c < channels; ++c) {
    const double deviation = static_cast<double>(x[c]) - mean[c];
    deviation_sum[c] += deviation;
    square_sum[c] += deviation * deviation;
  }
}

template <class T>
void add_gradient_row(int64_t channels, const T* __restrict__ dy, const T* __restrict__ x, const T* __restrict__ mean,
                      double* __restrict__ grad_sum, double* __restrict__ grad_dot_centred) {
  for (int64_t c = 0; c < channels; ++c) {
    const double g = static_cast<double>(dy[c]);
    grad_sum[c] += g;
    grad_dot_centred[c] += g * (static_cast<double>(x[c]) - static_cast<double>(mean[c]));
  }
}

// y = (x − mean)·scale + shift. x and y may be the same buffer (no __restrict__ on them).
template <class T>
void normalise_row(int64_t channels, const T* x, const T* __restrict__ mean, const T* __restrict__ scale,
                   const T* __restrict__ shift, T* y) {
  for (int64_t c = 0; c < channels; ++c) y[c] = (x[c] - mean[c]) * scale[c] + shift[c];
}

// dx = (dy − grad_mean − (x − mean)·centred_scale)·input_scale. dx may overwrite dy.
template <class T>
void input_gradient_row(int64_t channels, const T* dy, const T* __restrict__ x, const T* __restrict__ mean,
                        const T* __restrict__ grad_mean, const T* __restrict__ centred_scale,
                        const T* __restrict__ input_scale, T* dx) {
  for (int64_t c = 0; c < channels; ++c)
    dx[c] = (dy[c] - grad_mean[c] - (x[c] - mean[c]) * centred_scale[c]) * input_scale[c];
}

}  // namespace

template <class T>
void batch_norm_statistics(const BatchNormShape& s, const T* input, T* mean, T* variance) {
  check_shape(s, "batch_norm_statistics");
  const int64_t channels = s.channels;
  // Pass 1: the mean.
  const std::vector<double> sums =
      sum_over_row_chunks(s.rows, channels, channels, [&](int64_t begin, int64_t end, double* partial) {
        for (int64_t row = begin; row < end; ++row) add_row(channels, input + row * channels, partial);
      });
  std::vector<double> batch_mean(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) batch_mean[c] = sums[c] / static_cast<double>(s.rows);

  // Pass 2: centred squares, plus the centred sum that corrects for the rounding of the mean
  // (the "corrected two-pass" algorithm of Chan, Golub and LeVeque).
  const std::vector<double> centred =
      sum_over_row_chunks(s.rows, channels, 2 * channels, [&](int64_t begin, int64_t end, double* partial) {
        for (int64_t row = begin; row < end; ++row)
          add_centred_row(channels, input + row * channels, batch_mean.data(), partial, partial + channels);
      });
  const double rows = static_cast<double>(s.rows);
  for (int64_t c = 0; c < channels; ++c) {
    const double correction = centred[c] * centred[c] / rows;
    mean[c] = static_cast<T>(batch_mean[c]);
    variance[c] = static_cast<T>(std::max(0.0, (centred[channels + c] - correction) / rows));
  }
}

template <class T>
void batch_norm_apply(const BatchNormShape& s, const T* input, const T* mean, const T* variance, T eps, const T* gamma,
                      const T* beta, T* output) {
  check_shape(s, "batch_norm_apply");
  PNEUMA_CHECK(eps >= T(0), "batch_norm_apply: eps must be non-negative");
  const int64_t channels = s.channels;
  std::vector<T> scale(static_cast<size_t>(channels)), shift(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const double gamma_c = gamma ? static_cast<double>(gamma[c]) : 1.0;
    scale[c] = static_cast<T>(gamma_c * inverse_std(variance[c], eps));
    shift[c] = beta ? beta[c] : T(0);
  }
  parallel_for(s.rows, rows_per_chunk(channels), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row)
      normalise_row(channels, input + row * channels, mean, scale.data(), shift.data(), output + row * channels);
  });
}

template <class T>
void batch_norm_update_running(const BatchNormShape& s, const T* batch_mean, const T* batch_variance, T momentum,
                               T* running_mean, T* running_variance) {
  check_shape(s, "batch_norm_update_running");
  PNEUMA_CHECK(s.rows > 1, "batch_norm_update_running: the unbiased variance needs more than one value per channel");
  const double unbiased_factor = static_cast<double>(s.rows) / static_cast<double>(s.rows - 1);
  const double m = static_cast<double>(momentum);
  for (int64_t c = 0; c < s.channels; ++c) {
    running_mean[c] = static_cast<T>((1.0 - m) * running_mean[c] + m * batch_mean[c]);
    running_variance[c] = static_cast<T>((1.0 - m) * running_variance[c] + m * unbiased_factor * batch_variance[c]);
  }
}

template <class T>
void batch_norm_backward(const BatchNormShape& s, const T* grad_output, const T* input, const T* mean,
                         const T* variance, T eps, const T* gamma, bool batch_statistics, T* grad_input, T* grad_gamma,
                         T* grad_beta) {
  check_shape(s, "batch_norm_backward");
  const int64_t channels = s.channels;
  const double rows = static_cast<double>(s.rows);
  std::vector<double> inv_std(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) inv_std[c] = inverse_std(variance[c], eps);

  // Per channel: Σ dy and Σ dy·(x − mean).
  const bool need_sums = grad_gamma || grad_beta || (grad_input && batch_statistics);
  std::vector<double> sums;
  if (need_sums) {
    sums = sum_over_row_chunks(s.rows, channels, 2 * channels, [&](int64_t begin, int64_t end, double* partial) {
      for (int64_t row = begin; row < end; ++row)
        add_gradient_row(channels, grad_output + row * channels, input + row * channels, mean, partial,
                         partial + channels);
    });
  }
  for (int64_t c = 0; c < channels; ++c) {
    if (grad_beta) grad_beta[c] = static_cast<T>(sums[c]);
    if (grad_gamma) grad_gamma[c] = static_cast<T>(sums[channels + c] * inv_std[c]);
  }
  if (!grad_input) return;

  // grad_input = (dy − mean_dy − (x − mean)·k) · gamma·inv_std, where mean_dy = Σdy/rows and
  // k = Σ dy·(x − mean) · inv_std² / rows; both are zero when mean and variance are constants.
  std::vector<T> input_scale(static_cast<size_t>(channels)), grad_mean(static_cast<size_t>(channels)),
      centred_scale(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const double gamma_c = gamma ? static_cast<double>(gamma[c]) : 1.0;
    input_scale[c] = static_cast<T>(gamma_c * inv_std[c]);
    grad_mean[c] = batch_statistics ? static_cast<T>(sums[c] / rows) : T(0);
    centred_scale[c] = batch_statistics ? static_cast<T>(sums[channels + c] * inv_std[c] * inv_std[c] / rows) : T(0);
  }
  parallel_for(s.rows, rows_per_chunk(channels), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row)
      input_gradient_row(channels, grad_output + row * channels, input + row * channels, mean, grad_mean.data(),
                         centred_scale.data(), input_scale.data(), grad_input + row * channels);
  });
}

#define PNEUMA_INSTANTIATE_BATCH_NORM(T)                                                                             \
  template void batch_norm_statistics<T>(const BatchNormShape&, const T*, T*, T*);                                   \
  template void batch_norm_apply<T>(const BatchNormShape&, const T*, const T*, const T*, T, const T*, const T*, T*); \
  template void batch_norm_update_running<T>(const BatchNormShape&, const T*, const T*, T, T*, T*);                  \
  template void batch_norm_backward<T>(const BatchNormShape&, const T*, const T*, const T*, const T*, T, const T*,   \
                                       bool, T*, T*, T*);
PNEUMA_INSTANTIATE_BATCH_NORM(float)
PNEUMA_INSTANTIATE_BATCH_NORM(double)
#undef PNEUMA_INSTANTIATE_BATCH_NORM

}  // namespace pneuma::kernels::cpu
