// Softmax and log-softmax over the last axis on CUDA, forward and backward side by side, with the CPU reference's
// formulas (kernels/cpu/softmax.cpp): one warp per row, the row maximum in T, sums of exponentials and of
// gradients in double (a fixed lane split and shuffle tree, so deterministic).
#include "kernels/cuda/launch.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/softmax.h"

namespace pneuma::kernels::cuda {
namespace {

constexpr int kWarpsPerBlock = kThreads / 32;

void check_shape(int64_t rows, int64_t cols, const char* who) {
  PNEUMA_CHECK(rows >= 0 && cols > 0, "%s (CUDA): need rows >= 0 and cols > 0, got %lld x %lld", who,
               static_cast<long long>(rows), static_cast<long long>(cols));
}

unsigned row_blocks(int64_t rows) { return grid_for(rows, kWarpsPerBlock); }

// Calls body(row, lane) for every row this warp owns.
template <class Body>
__device__ __forceinline__ void for_each_row(int64_t rows, Body&& body) {
  const int64_t warp = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  const int64_t warps = static_cast<int64_t>(gridDim.x) * kWarpsPerBlock;
  for (int64_t row = warp; row < rows; row += warps) body(row, static_cast<int>(threadIdx.x & 31));
}

template <class T>
__device__ __forceinline__ T row_maximum(int64_t cols, const T* x, int lane) {
  T maximum = -INFINITY;
  for (int64_t j = lane; j < cols; j += 32) maximum = x[j] > maximum ? x[j] : maximum;
  return warp_max(maximum);
}

template <bool Logarithmic, class T>
__global__ void softmax_forward_kernel(int64_t rows, int64_t cols, const T* input, T* output) {
  for_each_row(rows, [&](int64_t row, int lane) {
    const T* x = input + row * cols;
    T* y = output + row * cols;
    const T maximum = row_maximum(cols, x, lane);
    double sum = 0.0;
    for (int64_t j = lane; j < cols; j += 32) sum += static_cast<double>(exp(x[j] - maximum));
    sum = warp_sum(sum);
    if constexpr (Logarithmic) {
      const T log_sum = static_cast<T>(log(sum));
      for (int64_t j = lane; j < cols; j += 32) y[j] = (x[j] - maximum) - log_sum;
    } else {
      const T inverse_sum = static_cast<T>(1.0 / sum);
      for (int64_t j = lane; j < cols; j += 32) y[j] = exp(x[j] - maximum) * inverse_sum;
    }
  });
}

template <bool Logarithmic, class T>
__global__ void softmax_backward_kernel(int64_t rows, int64_t cols, const T* output, const T* grad_output,
                                        T* grad_input) {
  for_each_row(rows, [&](int64_t row, int lane) {
    const T* y = output + row * cols;
    const T* dy = grad_output + row * cols;
    T* dx = grad_input + row * cols;
    double sum = 0.0;
    for (int64_t j = lane; j < cols; j += 32)
      sum += Logarithmic ? static_cast<double>(dy[j]) : static_cast<double>(dy[j]) * static_cast<double>(y[j]);
    const T total = static_cast<T>(warp_sum(sum));
    for (int64_t j = lane; j < cols; j += 32) {
      if constexpr (Logarithmic) dx[j] = dy[j] - exp(y[j]) * total;  // grad − softmax · Σ grad
      else dx[j] = y[j] * (dy[j] - total);                          // y ⊙ (grad − Σ grad ⊙ y)
    }
  });
}

}  // namespace

template <class T>
void softmax_forward(int64_t rows, int64_t cols, const T* input, T* output) {
  check_shape(rows, cols, "softmax_forward");
  if (rows == 0) return;
  PNEUMA_LAUNCH((softmax_forward_kernel<false, T>), row_blocks(rows), kThreads, 0, rows, cols, input, output);
}
template <class T>
void softmax_backward(int64_t rows, int64_t cols, const T* output, const T* grad_output, T* grad_input) {
  check_shape(rows, cols, "softmax_backward");
  if (rows == 0) return;
  PNEUMA_LAUNCH((softmax_backward_kernel<false, T>), row_blocks(rows), kThreads, 0, rows, cols, output, grad_output,
                grad_input);
}
template <class T>
void log_softmax_forward(int64_t rows, int64_t cols, const T* input, T* output) {
  check_shape(rows, cols, "log_softmax_forward");
  if (rows == 0) return;
  PNEUMA_LAUNCH((softmax_forward_kernel<true, T>), row_blocks(rows), kThreads, 0, rows, cols, input, output);
}
template <class T>
void log_softmax_backward(int64_t rows, int64_t cols, const T* output, const T* grad_output, T* grad_input) {
  check_shape(rows, cols, "log_softmax_backward");
  if (rows == 0) return;
  PNEUMA_LAUNCH((softmax_backward_kernel<true, T>), row_blocks(rows), kThreads, 0, rows, cols, output, grad_output,
                grad_input);
}

#define PNEUMA_INSTANTIATE_SOFTMAX(T)                                          \
  template void softmax_forward<T>(int64_t, int64_t, const T*, T*);            \
  template void softmax_backward<T>(int64_t, int64_t, const T*, const T*, T*); \
  template void log_softmax_forward<T>(int64_t, int64_t, const T*, T*);        \
  template void log_softmax_backward<T>(int64_t, int64_t, const T*, const T*, T*);
PNEUMA_INSTANTIATE_SOFTMAX(float)
#undef PNEUMA_INSTANTIATE_SOFTMAX

}  // namespace pneuma::kernels::cuda
