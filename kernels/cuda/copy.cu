// Data movement on CUDA: strided gathers (Tensor::contiguous of a view), row-block copies (concat forward and
// backward) and dtype conversions. Conversions use the CUDA round-to-nearest-even intrinsics, which give the same
// bits as the CPU's conversions for every non-NaN value (NaN stays NaN; its payload may differ).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "kernels/cuda/launch.h"
#include "kernels/elementwise.h"

namespace pneuma::kernels::cuda {
namespace {

struct StridedShape {
  int rank = 0;
  int64_t shape[kMaxRank] = {};
  int64_t stride[kMaxRank] = {};
};

// W: an unsigned word of the element size; copies never look at the value.
template <class W>
__global__ void copy_strided_kernel(StridedShape s, int64_t count, const W* source, W* destination) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) {
    int64_t linear = i, offset = 0;
    for (int d = s.rank - 1; d >= 0; --d) {
      offset += (linear % s.shape[d]) * s.stride[d];
      linear /= s.shape[d];
    }
    destination[i] = source[offset];
  }
}

template <class From, class To, class Convert>
__global__ void convert_kernel(int64_t count, const From* input, To* output, Convert convert) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) output[i] = convert(input[i]);
}

template <class From, class To, class Convert>
void convert_all(int64_t count, const From* input, To* output, Convert convert) {
  PNEUMA_CHECK(count >= 0, "convert (CUDA): negative count %lld", static_cast<long long>(count));
  if (count == 0) return;
  PNEUMA_LAUNCH((convert_kernel<From, To, Convert>), grid_for(count), kThreads, 0, count, input, output, convert);
}

}  // namespace

void copy_strided(int rank, const int64_t* shape, const int64_t* source_strides, size_t element_size,
                  const void* source, void* destination) {
  PNEUMA_CHECK(rank >= 0 && rank <= kMaxRank, "copy_strided (CUDA): rank %d outside [0, %d]", rank, kMaxRank);
  StridedShape s;
  int64_t count = 1;
  // Drop size-1 axes and merge an axis into its inner neighbour when the source is contiguous across them.
  for (int d = 0; d < rank; ++d) {
    PNEUMA_CHECK(shape[d] >= 0, "copy_strided (CUDA): axis %d has negative size", d);
    count *= shape[d];
    if (shape[d] == 1) continue;
    if (s.rank > 0 && s.stride[s.rank - 1] == source_strides[d] * shape[d]) {
      s.shape[s.rank - 1] *= shape[d];
      s.stride[s.rank - 1] = source_strides[d];
      continue;
    }
    s.shape[s.rank] = shape[d];
    s.stride[s.rank] = source_strides[d];
    ++s.rank;
  }
  if (count == 0) return;
  switch (element_size) {
    case 1: PNEUMA_LAUNCH(copy_strided_kernel<uint8_t>, grid_for(count), kThreads, 0, s, count,
                          static_cast<const uint8_t*>(source), static_cast<uint8_t*>(destination)); return;
    case 2: PNEUMA_LAUNCH(copy_strided_kernel<uint16_t>, grid_for(count), kThreads, 0, s, count,
                          static_cast<const uint16_t*>(source), static_cast<uint16_t*>(destination)); return;
    case 4: PNEUMA_LAUNCH(copy_strided_kernel<uint32_t>, grid_for(count), kThreads, 0, s, count,
                          static_cast<const uint32_t*>(source), static_cast<uint32_t*>(destination)); return;
    case 8: PNEUMA_LAUNCH(copy_strided_kernel<uint64_t>, grid_for(count), kThreads, 0, s, count,
                          static_cast<const uint64_t*>(source), static_cast<uint64_t*>(destination)); return;
  }
  PNEUMA_FAIL("copy_strided (CUDA): unsupported element size %zu", element_size);
}

void copy_rows(int64_t rows, int64_t width, size_t element_size, const void* source, int64_t source_stride,
               void* destination, int64_t destination_stride) {
  PNEUMA_CHECK(rows >= 0 && width >= 0, "copy_rows (CUDA): negative size (rows %lld, width %lld)",
               static_cast<long long>(rows), static_cast<long long>(width));
  if (rows == 0 || width == 0) return;
  CUDA_CHECK(cudaMemcpy2DAsync(destination, destination_stride * element_size, source, source_stride * element_size,
                               width * element_size, rows, cudaMemcpyDeviceToDevice, compute_stream()));
}

void convert_f32_to_f64(int64_t count, const float* input, double* output) {
  convert_all(count, input, output, [] __device__(float x) { return static_cast<double>(x); });
}
void convert_f64_to_f32(int64_t count, const double* input, float* output) {
  convert_all(count, input, output, [] __device__(double x) { return static_cast<float>(x); });
}
void convert_f32_to_bf16(int64_t count, const float* input, uint16_t* output) {
  convert_all(count, input, output,
              [] __device__(float x) { return __bfloat16_as_ushort(__float2bfloat16_rn(x)); });
}
void convert_bf16_to_f32(int64_t count, const uint16_t* input, float* output) {
  convert_all(count, input, output, [] __device__(uint16_t x) { return __bfloat162float(__ushort_as_bfloat16(x)); });
}
void convert_f32_to_f16(int64_t count, const float* input, uint16_t* output) {
  convert_all(count, input, output, [] __device__(float x) { return __half_as_ushort(__float2half_rn(x)); });
}
void convert_f16_to_f32(int64_t count, const uint16_t* input, float* output) {
  convert_all(count, input, output, [] __device__(uint16_t x) { return __half2float(__ushort_as_half(x)); });
}

}  // namespace pneuma::kernels::cuda
