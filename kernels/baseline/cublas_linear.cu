// cuBLAS baseline for linear layers (cublas_linear.h). Row-major products are computed as their column-major
// transposes: output[rows, out]ᵀ = W · inputᵀ and so on, so no data is transposed.
#include <cublas_v2.h>

#include <algorithm>

#include "kernels/baseline/cublas_linear.h"
#include "kernels/cuda/launch.h"
#include "kernels/gemm.h"

#define CUBLAS_CHECK(call)                                                                       \
  do {                                                                                           \
    const cublasStatus_t pneuma_cublas_status = (call);                                          \
    if (pneuma_cublas_status != CUBLAS_STATUS_SUCCESS) [[unlikely]]                              \
      PNEUMA_FAIL("cuBLAS error in %s: %s", #call, cublasGetStatusString(pneuma_cublas_status)); \
  } while (0)

namespace pneuma::kernels::cublas {
namespace {

// The process's cuBLAS handle on the compute stream, with the math mode of the current matmul precision.
cublasHandle_t handle() {
  static const cublasHandle_t created = [] {
    cublasHandle_t h = nullptr;
    CUBLAS_CHECK(cublasCreate(&h));
    return h;
  }();
  CUBLAS_CHECK(cublasSetStream(created, cuda::compute_stream()));
  CUBLAS_CHECK(cublasSetMathMode(created, cuda::matmul_precision() == cuda::MatmulPrecision::tf32
                                              ? CUBLAS_TF32_TENSOR_OP_MATH
                                              : CUBLAS_DEFAULT_MATH));
  return created;
}

__global__ void fill_ones_kernel(float* values, int64_t count) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) values[i] = 1.0f;
}

// A device vector of `count` ones (grown on demand, kept for the process).
const float* ones(int64_t count) {
  static float* buffer = nullptr;
  static int64_t capacity = 0;
  if (count > capacity) {
    if (buffer != nullptr) CUDA_CHECK(cudaFree(buffer));
    capacity = std::max<int64_t>(count, 1024);
    CUDA_CHECK(cudaMalloc(&buffer, sizeof(float) * capacity));
    PNEUMA_LAUNCH(fill_ones_kernel, static_cast<unsigned>((capacity + 255) / 256), 256, 0, buffer, capacity);
  }
  return buffer;
}

void check(const LinearShape& s) {
  PNEUMA_CHECK(s.rows >= 0 && s.rows <= INT32_MAX && s.in_features >= 1 && s.in_features <= INT32_MAX &&
                   s.out_features >= 1 && s.out_features <= INT32_MAX,
               "linear (cuBLAS): invalid shape rows=%lld in_features=%lld out_features=%lld", (long long)s.rows,
               (long long)s.in_features, (long long)s.out_features);
}

void zero(float* destination, int64_t count) {
  CUDA_CHECK(cudaMemsetAsync(destination, 0, sizeof(float) * count, cuda::compute_stream()));
}

constexpr float kOne = 1.0f, kZero = 0.0f;

}  // namespace

void linear_forward(const LinearShape& s, const float* input, const float* weight, const float* bias, float* output) {
  check(s);
  if (s.rows == 0) return;
  const int rows = static_cast<int>(s.rows), in = static_cast<int>(s.in_features),
            out = static_cast<int>(s.out_features);
  CUBLAS_CHECK(cublasSgemm(handle(), CUBLAS_OP_T, CUBLAS_OP_N, out, rows, in, &kOne, weight, in, input, in, &kZero,
                           output, out));
  if (bias != nullptr) CUBLAS_CHECK(cublasSger(handle(), out, rows, &kOne, bias, 1, ones(rows), 1, output, out));
}

void linear_backward_input(const LinearShape& s, const float* grad_output, const float* weight, float* grad_input) {
  check(s);
  if (s.rows == 0) return;
  const int rows = static_cast<int>(s.rows), in = static_cast<int>(s.in_features),
            out = static_cast<int>(s.out_features);
  CUBLAS_CHECK(cublasSgemm(handle(), CUBLAS_OP_N, CUBLAS_OP_N, in, rows, out, &kOne, weight, in, grad_output, out,
                           &kZero, grad_input, in));
}

void linear_backward_weight(const LinearShape& s, const float* input, const float* grad_output, float* grad_weight) {
  check(s);
  if (s.rows == 0) return zero(grad_weight, s.out_features * s.in_features);
  const int rows = static_cast<int>(s.rows), in = static_cast<int>(s.in_features),
            out = static_cast<int>(s.out_features);
  CUBLAS_CHECK(cublasSgemm(handle(), CUBLAS_OP_N, CUBLAS_OP_T, in, out, rows, &kOne, input, in, grad_output, out,
                           &kZero, grad_weight, in));
}

void linear_backward_bias(const LinearShape& s, const float* grad_output, float* grad_bias) {
  check(s);
  if (grad_bias == nullptr) return;
  if (s.rows == 0) return zero(grad_bias, s.out_features);
  const int rows = static_cast<int>(s.rows), out = static_cast<int>(s.out_features);
  CUBLAS_CHECK(
      cublasSgemv(handle(), CUBLAS_OP_N, out, rows, &kOne, grad_output, out, ones(rows), 1, &kZero, grad_bias, 1));
}

}  // namespace pneuma::kernels::cublas
