// Deterministic reductions shared by the .cu files. Every reduction is two-level: fixed blocks write partials, a
// second pass combines them in a fixed order, and inside a block the combine is a fixed tree (warp shuffles, then
// shared memory). The partition depends only on the problem size, never on the device or a timing, so the same
// input gives bit-identical results on every run. Sums are accumulated in double, as on the CPU.
//
//  - reduce_all(count, term, finish): Σ_i term(i) over [0, count), K values at once; finish(totals) runs on one
//    device thread (write a scalar, e.g. a loss).
//  - reduce_columns(groups, rows, cols, term, finish): for every (group, column) of a [groups, rows, cols] index
//    space, Σ_row term(group, row, col); finish(group, col, totals). Batch-norm statistics, bias-style broadcast
//    gradients, global average pooling and the SE scale gradient are all this shape.
//  - warp_sum: for row-per-warp kernels (softmax, cross-entropy).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/launch.h"

namespace pneuma::kernels::cuda {

template <class A>
__device__ __forceinline__ A warp_sum(A value) {
  for (int offset = 16; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

template <class A>
__device__ __forceinline__ A warp_max(A value) {
  for (int offset = 16; offset > 0; offset /= 2) value = fmax(value, __shfl_xor_sync(0xffffffffu, value, offset));
  return value;
}

// Sum of `value` over the block (blockDim.x a multiple of 32, at most 1024), returned to thread 0 only.
template <class A>
__device__ A block_sum(A value, A* shared /* >= 32 elements */) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  value = warp_sum(value);
  if (lane == 0) shared[warp] = value;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  A total = A(0);
  if (warp == 0) {
    total = lane < warps ? shared[lane] : A(0);
    total = warp_sum(total);
  }
  __syncthreads();  // shared may be reused by the caller
  return total;
}

// ---- full reductions ----------------------------------------------------------------------------
template <class A, int K>
struct Totals {
  A value[K];
};

constexpr int kReduceThreads = 256;
constexpr int64_t kReduceItemsPerThread = 16;
constexpr int64_t kReduceMaxBlocks = 1024;

inline int64_t reduce_all_blocks(int64_t count) {
  const int64_t blocks = (count + kReduceThreads * kReduceItemsPerThread - 1) / (kReduceThreads * kReduceItemsPerThread);
  return blocks < 1 ? 1 : (blocks > kReduceMaxBlocks ? kReduceMaxBlocks : blocks);
}

template <class A, int K, class Term>
__global__ void reduce_all_partials(int64_t count, Term term, A* partials) {
  __shared__ A shared[32];
  A local[K];
  for (int k = 0; k < K; ++k) local[k] = A(0);
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) term(i, local);
  for (int k = 0; k < K; ++k) {
    const A total = block_sum(local[k], shared);
    if (threadIdx.x == 0) partials[k * gridDim.x + blockIdx.x] = total;
  }
}

template <class A, int K, class Finish>
__global__ void reduce_all_finish(int blocks, const A* partials, Finish finish) {
  __shared__ A shared[32];
  Totals<A, K> totals;
  for (int k = 0; k < K; ++k) {
    A local = A(0);
    // Each thread sums a fixed strided subset in order; then the fixed block tree.
    for (int b = threadIdx.x; b < blocks; b += blockDim.x) local += partials[k * blocks + b];
    totals.value[k] = block_sum(local, shared);
  }
  if (threadIdx.x == 0) finish(totals);
}

// term(i, A (&local)[K]) adds element i's K terms; finish(const Totals<A, K>&) consumes the sums on one thread.
template <class A, int K, class Term, class Finish>
void reduce_all(int64_t count, Term term, Finish finish) {
  const int64_t blocks = reduce_all_blocks(count);
  A* partials = static_cast<A*>(workspace(sizeof(A) * K * blocks, kPartialsSlot));
  PNEUMA_LAUNCH((reduce_all_partials<A, K, Term>), blocks, kReduceThreads, 0, count, term, partials);
  PNEUMA_LAUNCH((reduce_all_finish<A, K, Finish>), 1, kReduceThreads, 0, static_cast<int>(blocks), partials, finish);
}

// ---- column reductions --------------------------------------------------------------------------
constexpr int64_t kColumnMaxChunks = 1024;
constexpr int64_t kColumnRowsPerChunk = 64;

inline int64_t column_chunks(int64_t rows) {
  const int64_t chunks = (rows + kColumnRowsPerChunk - 1) / kColumnRowsPerChunk;
  return chunks < 1 ? 1 : (chunks > kColumnMaxChunks ? kColumnMaxChunks : chunks);
}

// Block (bx, by): bx consecutive columns (a power of two up to 32) × by rows, 256 threads.
inline int column_block_width(int64_t cols) {
  int width = 1;
  while (width < 32 && width < cols) width *= 2;
  return width;
}

template <class A, int K, class Term>
__global__ void reduce_columns_partials(int64_t rows, int64_t cols, int64_t rows_per_chunk, Term term, A* partials) {
  extern __shared__ unsigned char shared_bytes[];
  A* shared = reinterpret_cast<A*>(shared_bytes);  // [K][by][bx]
  const int64_t col = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t chunk = blockIdx.y, group = blockIdx.z;
  const int64_t row_begin = chunk * rows_per_chunk;
  const int64_t row_end = row_begin + rows_per_chunk < rows ? row_begin + rows_per_chunk : rows;
  A local[K];
  for (int k = 0; k < K; ++k) local[k] = A(0);
  if (col < cols)
    for (int64_t row = row_begin + threadIdx.y; row < row_end; row += blockDim.y) term(group, row, col, local);
  const int bx = blockDim.x, by = blockDim.y;
  for (int k = 0; k < K; ++k) shared[(k * by + threadIdx.y) * bx + threadIdx.x] = local[k];
  __syncthreads();
  for (int half = by / 2; half > 0; half /= 2) {  // fixed tree over the rows of the block
    if (threadIdx.y < half)
      for (int k = 0; k < K; ++k)
        shared[(k * by + threadIdx.y) * bx + threadIdx.x] += shared[(k * by + threadIdx.y + half) * bx + threadIdx.x];
    __syncthreads();
  }
  if (threadIdx.y == 0 && col < cols) {
    const int64_t chunks = gridDim.y;
    for (int k = 0; k < K; ++k) partials[((group * chunks + chunk) * K + k) * cols + col] = shared[k * by * bx + threadIdx.x];
  }
}

template <class A, int K, class Finish>
__global__ void reduce_columns_finish(int64_t groups, int64_t cols, int64_t chunks, const A* partials, Finish finish) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t index = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; index < groups * cols;
       index += stride) {
    const int64_t group = index / cols, col = index % cols;
    Totals<A, K> totals;
    for (int k = 0; k < K; ++k) totals.value[k] = A(0);
    for (int64_t chunk = 0; chunk < chunks; ++chunk)
      for (int k = 0; k < K; ++k) totals.value[k] += partials[((group * chunks + chunk) * K + k) * cols + col];
    finish(group, col, totals);
  }
}

// term(group, row, col, A (&local)[K]) adds the terms of one element; finish(group, col, const Totals<A, K>&).
template <class A, int K, class Term, class Finish>
void reduce_columns(int64_t groups, int64_t rows, int64_t cols, Term term, Finish finish) {
  if (groups <= 0 || cols <= 0) return;
  const int64_t chunks = column_chunks(rows);
  const int64_t rows_per_chunk = (rows + chunks - 1) / chunks;
  const int bx = column_block_width(cols), by = kThreads / bx;
  A* partials = static_cast<A*>(workspace(sizeof(A) * K * groups * chunks * cols, kPartialsSlot));
  const dim3 grid(static_cast<unsigned>((cols + bx - 1) / bx), static_cast<unsigned>(chunks),
                  static_cast<unsigned>(groups));
  PNEUMA_CHECK(groups <= 65535, "reduce_columns: %lld groups exceed the grid limit", static_cast<long long>(groups));
  PNEUMA_LAUNCH((reduce_columns_partials<A, K, Term>), grid, dim3(bx, by), sizeof(A) * K * kThreads, rows, cols,
                rows_per_chunk, term, partials);
  PNEUMA_LAUNCH((reduce_columns_finish<A, K, Finish>), grid_for(groups * cols), kThreads, 0, groups, cols, chunks,
                partials, finish);
}

}  // namespace pneuma::kernels::cuda
