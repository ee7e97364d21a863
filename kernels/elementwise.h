// Elementwise arithmetic with NumPy broadcasting, reductions, fills, copies and dtype conversion.
#pragma once
#include <cstdint>

namespace pneuma::kernels {

constexpr int kMaxRank = 8;

// Output shape plus each operand's element strides into its own contiguous buffer; stride 0 on a broadcast axis.
struct BroadcastShape {
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t a_stride[kMaxRank] = {};
  int64_t b_stride[kMaxRank] = {};
  int64_t count() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= shape[i];
    return n;
  }
};

enum class Binary : int { add, subtract, multiply, divide };

namespace cpu {
template <class T>
void binary_forward(Binary op, const BroadcastShape& s, const T* a, const T* b, T* output);
// Gradient for operand `which` (0 = a, 1 = b), summed over its broadcast axes into a contiguous buffer of the
// operand's own size. Overwrites. Deterministic for any thread count.
template <class T>
void binary_backward(Binary op, const BroadcastShape& s, int which, const T* a, const T* b, const T* grad_output,
                     T* grad_operand);

template <class T>
void fill(int64_t count, T value, T* output);
template <class T>
void scale(int64_t count, T alpha, const T* input, T* output);  // output = alpha · input (may alias)
template <class T>
void axpy(int64_t count, T alpha, const T* x, T* y);  // y += alpha · x
// Sum of all elements, accumulated in double in fixed chunks: deterministic for any thread count.
template <class T>
double sum(int64_t count, const T* input);
// Sum of squares (for gradient-norm clipping), same determinism.
template <class T>
double sum_of_squares(int64_t count, const T* input);
// Gathers a strided view into a contiguous buffer.
template <class T>
void copy_strided(int rank, const int64_t* shape, const int64_t* source_strides, const T* source, T* destination);
// Row block copy: destination[r, 0:width] = source[r, 0:width] for r < rows, each with its own row stride
// (used by concat forward and backward).
template <class T>
void copy_rows(int64_t rows, int64_t width, const T* source, int64_t source_stride, T* destination,
               int64_t destination_stride);
bool all_finite(int64_t count, const float* input);
bool all_finite(int64_t count, const double* input);
}  // namespace cpu

// Conversions between storage types (fp32 ⇄ fp64, fp32 ⇄ bf16/fp16 as raw uint16 bits, round-to-nearest-even).
namespace cpu {
void convert_f32_to_f64(int64_t count, const float* input, double* output);
void convert_f64_to_f32(int64_t count, const double* input, float* output);
void convert_f32_to_bf16(int64_t count, const float* input, uint16_t* output);
void convert_bf16_to_f32(int64_t count, const uint16_t* input, float* output);
void convert_f32_to_f16(int64_t count, const float* input, uint16_t* output);
void convert_f16_to_f32(int64_t count, const uint16_t* input, float* output);
}  // namespace cpu

// CUDA (kernels/cuda/elementwise.cu, reduction.cu, copy.cu): every pointer is device memory, work runs on the
// compute stream. Templates are instantiated for float unless noted. Reductions are deterministic (reduce.cuh).
namespace cuda {
template <class T>
void binary_forward(Binary op, const BroadcastShape& s, const T* a, const T* b, T* output);
template <class T>
void binary_backward(Binary op, const BroadcastShape& s, int which, const T* a, const T* b, const T* grad_output,
                     T* grad_operand);
template <class T>
void fill(int64_t count, T value, T* output);
// output[i] = multiplier · scalar[0] for i < count, reading the scalar on the device (no host round trip):
// the backward of sum and mean.
template <class T>
void fill_from_scalar(int64_t count, const T* scalar, double multiplier, T* output);
template <class T>
void scale(int64_t count, T alpha, const T* input, T* output);  // may alias
template <class T>
void axpy(int64_t count, T alpha, const T* x, T* y);
// output[0] = multiplier · Σ input, accumulated in double, written on the device (sum: 1, mean: 1/count).
template <class T>
void sum(int64_t count, const T* input, double multiplier, T* output);
// Σ x² in double, returned to the host (waits for the device).
template <class T>
double sum_of_squares(int64_t count, const T* input);
bool all_finite(int64_t count, const float* input);  // waits for the device
// Strided gather of any element size (1, 2, 4 or 8 bytes) into a contiguous buffer.
void copy_strided(int rank, const int64_t* shape, const int64_t* source_strides, size_t element_size,
                  const void* source, void* destination);
// Row block copy (concat forward/backward); strides and width in elements of element_size bytes.
void copy_rows(int64_t rows, int64_t width, size_t element_size, const void* source, int64_t source_stride,
               void* destination, int64_t destination_stride);
void convert_f32_to_f64(int64_t count, const float* input, double* output);
void convert_f64_to_f32(int64_t count, const double* input, float* output);
void convert_f32_to_bf16(int64_t count, const float* input, uint16_t* output);
void convert_bf16_to_f32(int64_t count, const uint16_t* input, float* output);
void convert_f32_to_f16(int64_t count, const float* input, uint16_t* output);
void convert_f16_to_f32(int64_t count, const uint16_t* input, float* output);
}  // namespace cuda
}  // namespace pneuma::kernels
