// Softmax and log-softmax over the last axis. Each row is independent: rows are split over threads, and every
// row is reduced serially in double, so results do not depend on the thread count.
#include "kernels/softmax.h"

#include <algorithm>
#include <cmath>

#include "kernels/error.h"
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu {
namespace {

constexpr int64_t kGrainElements = 8192;

void check_shape(int64_t rows, int64_t cols, const char* who) {
  PNEUMA_CHECK(rows >= 0 && cols > 0, "%s: need rows >= 0 and cols > 0, got %lld x %lld", who,
               static_cast<long long>(rows), static_cast<long long>(cols));
}

template <class Body>
void for_each_row(int64_t rows, int64_t cols, Body&& body) {
  parallel_for(rows, std::max<int64_t>(1, kGrainElements / cols), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) body(row * cols);
  });
}

template <class T>
T row_maximum(int64_t cols, const T* x) {
  T maximum = x[0];
  for (int64_t j = 1; j < cols; ++j) maximum = x[j] > maximum ? x[j] : maximum;
  return maximum;
}

}  // namespace

template <class T>
void softmax_forward(int64_t rows, int64_t cols, const T* input, T* output) {
  check_shape(rows, cols, "softmax_forward");
  for_each_row(rows, cols, [&](int64_t offset) {
    const T* x = input + offset;
    T* y = output + offset;
    const T maximum = row_maximum(cols, x);
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) {
      const T e = std::exp(x[j] - maximum);
      y[j] = e;
      sum += static_cast<double>(e);
    }
    const T inverse_sum = static_cast<T>(1.0 / sum);
    for (int64_t j = 0; j < cols; ++j) y[j] *= inverse_sum;
  });
}

template <class T>
void softmax_backward(int64_t rows, int64_t cols, const T* output, const T* grad_output, T* grad_input) {
  check_shape(rows, cols, "softmax_backward");
  for_each_row(rows, cols, [&](int64_t offset) {
    const T* y = output + offset;
    const T* dy = grad_output + offset;
    T* dx = grad_input + offset;
    double dot = 0.0;
    for (int64_t j = 0; j < cols; ++j) dot += static_cast<double>(dy[j]) * static_cast<double>(y[j]);
    const T weighted_mean = static_cast<T>(dot);
    for (int64_t j = 0; j < cols; ++j) dx[j] = y[j] * (dy[j] - weighted_mean);
  });
}

template <class T>
void log_softmax_forward(int64_t rows, int64_t cols, const T* input, T* output) {
  check_shape(rows, cols, "log_softmax_forward");
  for_each_row(rows, cols, [&](int64_t offset) {
    const T* x = input + offset;
    T* y = output + offset;
    const T maximum = row_maximum(cols, x);
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) sum += static_cast<double>(std::exp(x[j] - maximum));
    const T log_sum = static_cast<T>(std::log(sum));
    for (int64_t j = 0; j < cols; ++j) y[j] = (x[j] - maximum) - log_sum;
  });
}

template <class T>
void log_softmax_backward(int64_t rows, int64_t cols, const T* output, const T* grad_output, T* grad_input) {
  check_shape(rows, cols, "log_softmax_backward");
  for_each_row(rows, cols, [&](int64_t offset) {
    const T* y = output + offset;
    const T* dy = grad_output + offset;
    T* dx = grad_input + offset;
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) sum += static_cast<double>(dy[j]);
    const T grad_sum = static_cast<T>(sum);
    for (int64_t j = 0; j < cols; ++j) dx[j] = dy[j] - std::exp(y[j]) * grad_sum;
  });
}

#define PNEUMA_INSTANTIATE_SOFTMAX(T)                                          \
  template void softmax_forward<T>(int64_t, int64_t, const T*, T*);            \
  template void softmax_backward<T>(int64_t, int64_t, const T*, const T*, T*); \
  template void log_softmax_forward<T>(int64_t, int64_t, const T*, T*);        \
  template void log_softmax_backward<T>(int64_t, int64_t, const T*, const T*, T*);
PNEUMA_INSTANTIATE_SOFTMAX(float)
PNEUMA_INSTANTIATE_SOFTMAX(double)
#undef PNEUMA_INSTANTIATE_SOFTMAX

}  // namespace pneuma::kernels::cpu
