// The GEMM core of the regular (non-depthwise) convolutions and of linear layers: a tiled implicit GEMM whose
// operand tiles are gathered straight from the NHWC tensors (no im2col buffer), staged in shared memory by
// cp.async in a 2- or 3-stage pipeline, and multiplied on tensor cores in TF32 (WMMA m16n16k8, fp32 accumulate) or, on
// request, with exact fp32 FFMA from the same tiles.
//
// Three passes, per group g (grid z):
//   forward          C[m, n] = Σ_k A[m, k] · B[k, n]: m = output pixel (image, oh, ow), n = output channel,
//                    k = (kh, kw, input channel); A = input gathered at (oh·S - pad + kh·d, ...), B = weight rows.
//                    A and B are both contiguous along k.
//   backward_input   one launch per stride phase (ih mod S, iw mod S): m = input pixel of that phase, n = input
//                    channel, k = (kh, kw, output channel) over the taps that reach the phase (an arithmetic
//                    progression, see ImplicitGemmParams); A = grad_output gathered at (ih + pad - kh·d) / S, ...
//                    (contiguous along k), B = weight (contiguous along n). Stride-1 convolutions have one phase.
//   backward_weight  C[co, kk] = Σ_pixels grad_output[pixel, co] · A_forward[pixel, kk]: the reduction runs over
//                    pixels, split into fixed chunks (grid z also indexes the chunk); A = grad_output (contiguous
//                    along m = co), B = gathered input (contiguous along n = kk). Chunk partials are summed in
//                    chunk order by a second kernel: deterministic, no atomics.
// Gathers run over a per-block row table in shared memory (image base offset and the first input row/column of
// each of the block's BM rows), built once per block, so the k loop costs two FastDivmods per thread per tile.
// Out-of-range elements (padding, ragged tiles, k tails) are zero-filled by cp.async itself.
//
// `width` = 4 moves 16-byte chunks (channel counts multiples of 4); width = 1 is the scalar fallback (e.g. the
// stem's 3 input channels).
#pragma once
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "kernels/conv2d.h"
#include "kernels/cuda/conv2d_common.cuh"
#include "kernels/cuda/conv2d_fast_divmod.h"
#include "kernels/cuda/launch.h"

namespace pneuma::kernels::cuda::implicit_gemm {

enum class Pass { forward, backward_input, backward_weight };

template <int block_m, int block_n, int warp_m, int warp_n, int pipeline_stages>
struct TileConfig {
  static constexpr int bm = block_m, bn = block_n, bk = 32, wm = warp_m, wn = warp_n;
  static constexpr int warps = (bm / wm) * (bn / wn);
  static constexpr int threads = warps * 32;
  static constexpr int stages = pipeline_stages;
  static_assert(stages >= 2, "the pipeline needs at least double buffering");
  static_assert(threads == 256, "the FFMA path maps 256 threads onto a 16×16 grid");
  static_assert(wm % 16 == 0 && wn % 16 == 0 && bm % wm == 0 && bn % wn == 0, "warp tiles are 16×16 fragments");
};
// Shared memory per block (tiles + row table, by pass): 128x128 104-110 KiB, 128x64 80-83 KiB, 256x32 80-86 KiB
// (two stages, so two blocks fit an SM), 64x64 55 KiB.
using Tile128x128 = TileConfig<128, 128, 64, 32, 3>;
using Tile128x64 = TileConfig<128, 64, 32, 32, 3>;
using Tile256x32 = TileConfig<256, 32, 32, 32, 2>;
using Tile64x64 = TileConfig<64, 64, 32, 16, 3>;

struct ImplicitGemmParams {
  // Convolution geometry (the forward convolution's; linear layers are 1×1 convolutions over 1×1 images).
  int batch = 1, in_height = 1, in_width = 1, in_channels = 1, out_height = 1, out_width = 1, out_channels = 1;
  int kernel_height = 1, kernel_width = 1, stride_height = 1, stride_width = 1, pad_top = 0, pad_left = 0;
  int dilation_height = 1, dilation_width = 1;
  int in_group_channels = 1, out_group_channels = 1;  // per group
  int filter_size = 1;                                // kernel_height · kernel_width · in_group_channels
  // GEMM extents of this launch (per group; per phase for backward_input; per chunk-independent).
  int gemm_m = 0, gemm_n = 0, gemm_k = 0;
  // forward / backward_weight: m or pixel → (image, oh, ow); k or kk → (kh, kw, ci).
  FastDivmod out_width_divmod, out_height_divmod, in_group_channels_divmod, kernel_width_divmod;
  // backward_input phase: input pixels ih = phase_row + S·i (i < phase_height), taps kh = tap_row_first +
  // tap_row_step·a (a < tap_rows); the same for columns.
  int phase_row = 0, phase_column = 0, phase_height = 0, phase_width = 0;
  int tap_row_first = 0, tap_row_step = 1, tap_column_first = 0, tap_column_step = 1;
  FastDivmod phase_width_divmod, phase_height_divmod, out_group_channels_divmod, tap_columns_divmod;
  FastDivmod stride_height_divmod, stride_width_divmod;
  // backward_weight: pixels per chunk (a multiple of bk), chunks, and the destination stride between chunks
  // (0 when there is one chunk and the result goes straight to grad_weight).
  int chunk_pixels = 0, chunks = 1;
  int64_t chunk_stride = 0;
};

// Per-row gather information, 16 bytes so a thread reads it with one LDS.128.
struct alignas(16) RowInfo {
  long long base;   // element offset of the row's image in the gathered tensor
  int row, column;  // forward / backward_weight: first input row/column (oh·S - pad); backward_input: ih + pad
};
constexpr int kInvalidRow = -(1 << 29);  // any row/column test fails for it

template <Pass pass>
struct Layout {
  // forward: A [m][k] and B [n][k] tiles (k contiguous). backward_input: A [m][k], B [k][n]. backward_weight:
  // A [k][m] (k = pixel, m = output channel), B [k][n].
  static constexpr bool a_k_contiguous = pass != Pass::backward_weight;
  static constexpr bool b_k_contiguous = pass == Pass::forward;
};

// Leading dimensions (floats) of the staged tiles. k-contiguous tiles [rows][bk + 4]: a TF32 fragment load reads
// (row = lane / 4, k = lane % 4), banks 4·row + k, all distinct. m/n-contiguous tiles [bk][cols + 8]: it reads
// (k = lane % 4, col = lane / 4), banks 8·k + col, all distinct (a pad of 4 would give 2-way conflicts). Every
// leading dimension is a multiple of 4 floats, so 16-byte chunks and 32-byte WMMA fragment pointers stay aligned.
template <class C, Pass pass>
struct SharedLayout {
  static constexpr int a_ld = Layout<pass>::a_k_contiguous ? C::bk + 4 : C::bm + 8;
  static constexpr int b_ld = Layout<pass>::b_k_contiguous ? C::bk + 4 : C::bn + 8;
  static constexpr int c_ld = C::bn + 4;  // the epilogue's output tile [bm][bn + 4], over the dead stages
  static constexpr int a_floats = Layout<pass>::a_k_contiguous ? C::bm * a_ld : C::bk * a_ld;
  static constexpr int b_floats = Layout<pass>::b_k_contiguous ? C::bn * b_ld : C::bk * b_ld;
  static constexpr int stage_floats = a_floats + b_floats;
  static constexpr int c_floats = C::bm * c_ld;
  static constexpr int tile_floats = C::stages * stage_floats > c_floats ? C::stages* stage_floats : c_floats;
  static constexpr size_t row_table_bytes = sizeof(RowInfo) * C::bm;
  static constexpr size_t bytes = row_table_bytes + sizeof(float) * tile_floats;
};

namespace detail {

// ---- row tables --------------------------------------------------------------------------------------------
// forward: row m = output pixel; backward_input: row m = input pixel of the phase (gathers grad_output).
template <Pass pass, class C>
__device__ __forceinline__ void build_row_table(const ImplicitGemmParams& p, int m0, RowInfo* table) {
  for (int r = threadIdx.x; r < C::bm; r += C::threads) {
    const int m = m0 + r;
    RowInfo info{0, kInvalidRow, kInvalidRow};
    if (m < p.gemm_m) {
      if constexpr (pass == Pass::forward) {
        int rest, ow, image, oh;
        p.out_width_divmod.divmod(m, rest, ow);
        p.out_height_divmod.divmod(rest, image, oh);
        info.base = static_cast<long long>(image) * p.in_height * p.in_width * p.in_channels;
        info.row = oh * p.stride_height - p.pad_top;
        info.column = ow * p.stride_width - p.pad_left;
      } else if constexpr (pass == Pass::backward_input) {
        int rest, j, image, i;
        p.phase_width_divmod.divmod(m, rest, j);
        p.phase_height_divmod.divmod(rest, image, i);
        info.base = static_cast<long long>(image) * p.out_height * p.out_width * p.out_channels;
        info.row = p.phase_row + i * p.stride_height + p.pad_top;
        info.column = p.phase_column + j * p.stride_width + p.pad_left;
      }
    }
    table[r] = info;
  }
}

// ---- operand tile loads (one pipeline stage) ---------------------------------------------------------------
// A tile, k contiguous: rows m0.., columns k0..k0+bk. forward gathers the input, backward_input grad_output.
template <Pass pass, class C, int width>
__device__ __forceinline__ void load_a_k_contiguous(const ImplicitGemmParams& p, const float* source, int group, int k0,
                                                    const RowInfo* table, float* tile) {
  constexpr int chunks_per_row = C::bk / width;
  constexpr int rows_per_pass = C::threads / chunks_per_row;
  constexpr int ld = SharedLayout<C, pass>::a_ld;
  const int chunk = threadIdx.x % chunks_per_row, row_first = threadIdx.x / chunks_per_row;
  const int k = k0 + chunk * width;
  const bool k_valid = k < p.gemm_k;
  // Split k into (kernel row, kernel column, channel) once; all of this thread's rows share it.
  int kh = 0, kw = 0, channel = 0, channel_offset = 0, tap;
  if constexpr (pass == Pass::forward) {
    if (k_valid) {
      p.in_group_channels_divmod.divmod(k, tap, channel);
      p.kernel_width_divmod.divmod(tap, kh, kw);
    }
    channel_offset = group * p.in_group_channels + channel;
  } else {
    if (k_valid) {
      int a, b;
      p.out_group_channels_divmod.divmod(k, tap, channel);
      p.tap_columns_divmod.divmod(tap, a, b);
      kh = p.tap_row_first + a * p.tap_row_step;
      kw = p.tap_column_first + b * p.tap_column_step;
    }
    channel_offset = group * p.out_group_channels + channel;
  }
#pragma unroll
  for (int pass_index = 0; pass_index < C::bm / rows_per_pass; ++pass_index) {
    const int r = row_first + pass_index * rows_per_pass;
    const RowInfo info = table[r];
    bool valid = k_valid;
    long long offset = 0;
    if constexpr (pass == Pass::forward) {
      const int ih = info.row + kh * p.dilation_height, iw = info.column + kw * p.dilation_width;
      valid = valid && ih >= 0 && ih < p.in_height && iw >= 0 && iw < p.in_width;
      offset = info.base + (static_cast<long long>(ih) * p.in_width + iw) * p.in_channels + channel_offset;
    } else {
      // (ih + pad - kh·d) is a multiple of the stride for every tap of the phase.
      const int oh_numerator = info.row - kh * p.dilation_height, ow_numerator = info.column - kw * p.dilation_width;
      valid = valid && oh_numerator >= 0 && ow_numerator >= 0;
      const int oh = valid ? p.stride_height_divmod.divide(oh_numerator) : 0;
      const int ow = valid ? p.stride_width_divmod.divide(ow_numerator) : 0;
      valid = valid && oh < p.out_height && ow < p.out_width;
      offset = info.base + (static_cast<long long>(oh) * p.out_width + ow) * p.out_channels + channel_offset;
    }
    copy_async<width * 4>(tile + r * ld + chunk * width, valid ? source + offset : source, valid);
  }
}

// B tile, k contiguous ([bn][bk]): forward weight rows [out channel][kh·kw·ci].
template <class C, int width>
__device__ __forceinline__ void load_b_forward(const ImplicitGemmParams& p, const float* weight, int group, int n0,
                                               int k0, float* tile) {
  constexpr int chunks_per_row = C::bk / width;
  constexpr int rows_per_pass = C::threads / chunks_per_row;
  constexpr int ld = SharedLayout<C, Pass::forward>::b_ld;
  const int chunk = threadIdx.x % chunks_per_row, row_first = threadIdx.x / chunks_per_row;
  const int k = k0 + chunk * width;
#pragma unroll
  for (int pass_index = 0; pass_index < C::bn / rows_per_pass; ++pass_index) {
    const int r = row_first + pass_index * rows_per_pass;
    const int n = n0 + r;
    const bool valid = k < p.gemm_k && n < p.gemm_n;
    const float* address = weight + static_cast<long long>(group * p.out_group_channels + n) * p.filter_size + k;
    copy_async<width * 4>(tile + r * ld + chunk * width, valid ? address : weight, valid);
  }
}

// B tile, n contiguous ([bk][bn]): backward_input's weight, read as [(kh, kw, co)][ci].
template <class C, int width>
__device__ __forceinline__ void load_b_backward_input(const ImplicitGemmParams& p, const float* weight, int group,
                                                      int n0, int k0, float* tile) {
  constexpr int chunks_per_row = C::bn / width;
  constexpr int rows_per_pass = C::threads / chunks_per_row;
  constexpr int ld = SharedLayout<C, Pass::backward_input>::b_ld;
  const int chunk = threadIdx.x % chunks_per_row, row_first = threadIdx.x / chunks_per_row;
  const int n = n0 + chunk * width;
#pragma unroll
  for (int pass_index = 0; pass_index < C::bk / rows_per_pass; ++pass_index) {
    const int r = row_first + pass_index * rows_per_pass;
    const int k = k0 + r;
    bool valid = k < p.gemm_k && n < p.gemm_n;
    long long offset = 0;
    if (valid) {
      int tap, co, a, b;
      p.out_group_channels_divmod.divmod(k, tap, co);
      p.tap_columns_divmod.divmod(tap, a, b);
      const int kh = p.tap_row_first + a * p.tap_row_step, kw = p.tap_column_first + b * p.tap_column_step;
      offset =
          ((static_cast<long long>(group * p.out_group_channels + co) * p.kernel_height + kh) * p.kernel_width + kw) *
              p.in_group_channels +
          n;
    }
    copy_async<width * 4>(tile + r * ld + chunk * width, valid ? weight + offset : weight, valid);
  }
}

// backward_weight A tile, m contiguous ([bk pixels][bm output channels]) from grad_output.
template <class C, int width>
__device__ __forceinline__ void load_a_backward_weight(const ImplicitGemmParams& p, const float* grad_output, int group,
                                                       int m0, int pixel0, int pixel_end, float* tile) {
  constexpr int chunks_per_row = C::bm / width;
  constexpr int rows_per_pass = C::threads / chunks_per_row;
  constexpr int ld = SharedLayout<C, Pass::backward_weight>::a_ld;
  const int chunk = threadIdx.x % chunks_per_row, row_first = threadIdx.x / chunks_per_row;
  const int m = m0 + chunk * width;
#pragma unroll
  for (int pass_index = 0; pass_index < C::bk / rows_per_pass; ++pass_index) {
    const int r = row_first + pass_index * rows_per_pass;
    const int pixel = pixel0 + r;
    const bool valid = pixel < pixel_end && m < p.gemm_m;
    const float* address =
        grad_output + static_cast<long long>(pixel) * p.out_channels + group * p.out_group_channels + m;
    copy_async<width * 4>(tile + r * ld + chunk * width, valid ? address : grad_output, valid);
  }
}

// backward_weight B tile, n contiguous ([bk pixels][bn filter positions]) gathered from the input.
template <class C, int width>
__device__ __forceinline__ void load_b_backward_weight(const ImplicitGemmParams& p, const float* input, int group,
                                                       int n0, int pixel0, int pixel_end, float* tile) {
  constexpr int chunks_per_row = C::bn / width;
  constexpr int rows_per_pass = C::threads / chunks_per_row;
  constexpr int ld = SharedLayout<C, Pass::backward_weight>::b_ld;
  const int chunk = threadIdx.x % chunks_per_row, row_first = threadIdx.x / chunks_per_row;
  const int n = n0 + chunk * width;
  const bool n_valid = n < p.gemm_n;
  int tap = 0, channel = 0, kh = 0, kw = 0;
  if (n_valid) {
    p.in_group_channels_divmod.divmod(n, tap, channel);
    p.kernel_width_divmod.divmod(tap, kh, kw);
  }
  const int channel_offset = group * p.in_group_channels + channel;
#pragma unroll
  for (int pass_index = 0; pass_index < C::bk / rows_per_pass; ++pass_index) {
    const int r = row_first + pass_index * rows_per_pass;
    const int pixel = pixel0 + r;
    bool valid = n_valid && pixel < pixel_end;
    long long offset = 0;
    if (valid) {
      int rest, ow, image, oh;
      p.out_width_divmod.divmod(pixel, rest, ow);
      p.out_height_divmod.divmod(rest, image, oh);
      const int ih = oh * p.stride_height - p.pad_top + kh * p.dilation_height;
      const int iw = ow * p.stride_width - p.pad_left + kw * p.dilation_width;
      valid = ih >= 0 && ih < p.in_height && iw >= 0 && iw < p.in_width;
      offset = ((static_cast<long long>(image) * p.in_height + ih) * p.in_width + iw) * p.in_channels + channel_offset;
    }
    copy_async<width * 4>(tile + r * ld + chunk * width, valid ? input + offset : input, valid);
  }
}

// ---- math on one staged tile pair ------------------------------------------------------------------------------
// Tensor cores: each warp owns a wm × wn block of 16×16 accumulator fragments.
template <Pass pass, class C>
struct TensorCoreMath {
  static constexpr int fm = C::wm / 16, fn = C::wn / 16;
  using ALayout = std::conditional_t<Layout<pass>::a_k_contiguous, nvcuda::wmma::row_major, nvcuda::wmma::col_major>;
  using BLayout = std::conditional_t<Layout<pass>::b_k_contiguous, nvcuda::wmma::col_major, nvcuda::wmma::row_major>;
  nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 8, float> accumulator[fm][fn];

  __device__ __forceinline__ void zero() {
#pragma unroll
    for (int i = 0; i < fm; ++i)
#pragma unroll
      for (int j = 0; j < fn; ++j) nvcuda::wmma::fill_fragment(accumulator[i][j], 0.0f);
  }

  __device__ __forceinline__ void multiply(const float* a_tile, const float* b_tile) {
    using namespace nvcuda;
    constexpr int a_ld = SharedLayout<C, pass>::a_ld, b_ld = SharedLayout<C, pass>::b_ld;
    const int warp = threadIdx.x / 32;
    const int warp_row = (warp / (C::bn / C::wn)) * C::wm, warp_column = (warp % (C::bn / C::wn)) * C::wn;
#pragma unroll
    for (int kk = 0; kk < C::bk; kk += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, ALayout> a[fm];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, BLayout> b[fn];
#pragma unroll
      for (int i = 0; i < fm; ++i) {
        const int m = warp_row + i * 16;
        if constexpr (Layout<pass>::a_k_contiguous)
          wmma::load_matrix_sync(a[i], a_tile + m * a_ld + kk, a_ld);
        else
          wmma::load_matrix_sync(a[i], a_tile + kk * a_ld + m, a_ld);
#pragma unroll
        for (int e = 0; e < a[i].num_elements; ++e) a[i].x[e] = wmma::__float_to_tf32(a[i].x[e]);
      }
#pragma unroll
      for (int j = 0; j < fn; ++j) {
        const int n = warp_column + j * 16;
        if constexpr (Layout<pass>::b_k_contiguous)
          wmma::load_matrix_sync(b[j], b_tile + n * b_ld + kk, b_ld);
        else
          wmma::load_matrix_sync(b[j], b_tile + kk * b_ld + n, b_ld);
#pragma unroll
        for (int e = 0; e < b[j].num_elements; ++e) b[j].x[e] = wmma::__float_to_tf32(b[j].x[e]);
      }
#pragma unroll
      for (int i = 0; i < fm; ++i)
#pragma unroll
        for (int j = 0; j < fn; ++j) wmma::mma_sync(accumulator[i][j], a[i], b[j], accumulator[i][j]);
    }
  }

  // Writes the block's accumulators to the shared output tile [bm][c_ld].
  __device__ __forceinline__ void store(float* c_tile) {
    constexpr int ld = SharedLayout<C, pass>::c_ld;
    const int warp = threadIdx.x / 32;
    const int warp_row = (warp / (C::bn / C::wn)) * C::wm, warp_column = (warp % (C::bn / C::wn)) * C::wn;
#pragma unroll
    for (int i = 0; i < fm; ++i)
#pragma unroll
      for (int j = 0; j < fn; ++j)
        nvcuda::wmma::store_matrix_sync(c_tile + (warp_row + i * 16) * ld + warp_column + j * 16, accumulator[i][j], ld,
                                        nvcuda::wmma::mem_row_major);
  }
};

// Exact fp32: thread (ty, tx) of a 16×16 grid owns rows ty + 16·i and columns tx + 16·j (interleaved, so a warp's
// shared-memory reads of A are broadcasts and those of B are consecutive).
template <Pass pass, class C>
struct FmaMath {
  static constexpr int tm = C::bm / 16, tn = C::bn / 16;
  float accumulator[tm][tn];

  __device__ __forceinline__ void zero() {
#pragma unroll
    for (int i = 0; i < tm; ++i)
#pragma unroll
      for (int j = 0; j < tn; ++j) accumulator[i][j] = 0.0f;
  }

  __device__ __forceinline__ void multiply(const float* a_tile, const float* b_tile) {
    constexpr int a_ld = SharedLayout<C, pass>::a_ld, b_ld = SharedLayout<C, pass>::b_ld;
    const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
#pragma unroll 4
    for (int k = 0; k < C::bk; ++k) {
      float a[tm], b[tn];
#pragma unroll
      for (int i = 0; i < tm; ++i) {
        const int m = ty + 16 * i;
        a[i] = Layout<pass>::a_k_contiguous ? a_tile[m * a_ld + k] : a_tile[k * a_ld + m];
      }
#pragma unroll
      for (int j = 0; j < tn; ++j) {
        const int n = tx + 16 * j;
        b[j] = Layout<pass>::b_k_contiguous ? b_tile[n * b_ld + k] : b_tile[k * b_ld + n];
      }
#pragma unroll
      for (int i = 0; i < tm; ++i)
#pragma unroll
        for (int j = 0; j < tn; ++j) accumulator[i][j] = fmaf(a[i], b[j], accumulator[i][j]);
    }
  }

  __device__ __forceinline__ void store(float* c_tile) {
    constexpr int ld = SharedLayout<C, pass>::c_ld;
    const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
#pragma unroll
    for (int i = 0; i < tm; ++i)
#pragma unroll
      for (int j = 0; j < tn; ++j) c_tile[(ty + 16 * i) * ld + tx + 16 * j] = accumulator[i][j];
  }
};

// Element offset of output row m of this launch in the destination, or -1 when the row does not exist.
template <Pass pass>
__device__ __forceinline__ long long destination_row_offset(const ImplicitGemmParams& p, int group, int chunk, int m) {
  if (m >= p.gemm_m) return -1;
  if constexpr (pass == Pass::forward) {
    return static_cast<long long>(m) * p.out_channels + group * p.out_group_channels;
  } else if constexpr (pass == Pass::backward_input) {
    int rest, j, image, i;
    p.phase_width_divmod.divmod(m, rest, j);
    p.phase_height_divmod.divmod(rest, image, i);
    const int ih = p.phase_row + i * p.stride_height, iw = p.phase_column + j * p.stride_width;
    return ((static_cast<long long>(image) * p.in_height + ih) * p.in_width + iw) * p.in_channels +
           group * p.in_group_channels;
  } else {
    return chunk * p.chunk_stride + static_cast<long long>(group * p.out_group_channels + m) * p.filter_size;
  }
}

}  // namespace detail

// One block computes a bm × bn tile of C for group blockIdx.z (backward_weight: blockIdx.z = group · chunks +
// chunk). a_source / b_source: forward input / weight; backward_input grad_output / weight; backward_weight
// grad_output / input. bias: forward only, may be null.
template <Pass pass, class C, int width, bool tensor_cores>
__global__ void __launch_bounds__(C::threads, 2)
    implicit_gemm_kernel(const ImplicitGemmParams p, const float* __restrict__ a_source,
                         const float* __restrict__ b_source, const float* __restrict__ bias,
                         float* __restrict__ destination) {
  using Shared = SharedLayout<C, pass>;
  extern __shared__ __align__(128) unsigned char shared_bytes[];
  RowInfo* row_table = reinterpret_cast<RowInfo*>(shared_bytes);
  float* tiles = reinterpret_cast<float*>(shared_bytes + Shared::row_table_bytes);

  const int m0 = blockIdx.x * C::bm, n0 = blockIdx.y * C::bn;
  int group = blockIdx.z, chunk = 0;
  if constexpr (pass == Pass::backward_weight) {
    group = blockIdx.z / p.chunks;
    chunk = blockIdx.z - group * p.chunks;
  }
  // The k range: the filter positions (forward, backward_input) or this chunk's pixels (backward_weight).
  int k_begin = 0, k_end = p.gemm_k;
  if constexpr (pass == Pass::backward_weight) {
    k_begin = chunk * p.chunk_pixels;
    k_end = min(p.gemm_k, k_begin + p.chunk_pixels);
  } else {
    detail::build_row_table<pass, C>(p, m0, row_table);
    __syncthreads();
  }
  const int k_tiles = (k_end - k_begin + C::bk - 1) / C::bk;

  auto load_stage = [&](int stage, int k0) {
    float* a_tile = tiles + stage * Shared::stage_floats;
    float* b_tile = a_tile + Shared::a_floats;
    if constexpr (pass == Pass::forward) {
      detail::load_a_k_contiguous<pass, C, width>(p, a_source, group, k0, row_table, a_tile);
      detail::load_b_forward<C, width>(p, b_source, group, n0, k0, b_tile);
    } else if constexpr (pass == Pass::backward_input) {
      detail::load_a_k_contiguous<pass, C, width>(p, a_source, group, k0, row_table, a_tile);
      detail::load_b_backward_input<C, width>(p, b_source, group, n0, k0, b_tile);
    } else {
      detail::load_a_backward_weight<C, width>(p, a_source, group, m0, k0, k_end, a_tile);
      detail::load_b_backward_weight<C, width>(p, b_source, group, n0, k0, k_end, b_tile);
    }
  };

  std::conditional_t<tensor_cores, detail::TensorCoreMath<pass, C>, detail::FmaMath<pass, C>> math;
  math.zero();

  // Pipeline: stages - 1 tiles in flight ahead of the one being multiplied. Every iteration commits one group
  // (possibly empty) so wait_group<stages - 2> always means "tile t has landed".
#pragma unroll
  for (int s = 0; s < C::stages - 1; ++s) {
    if (s < k_tiles) load_stage(s, k_begin + s * C::bk);
    copy_async_commit();
  }
  for (int t = 0; t < k_tiles; ++t) {
    copy_async_wait<C::stages - 2>();
    __syncthreads();  // tile t is visible to all; everyone is done with tile t - 1, whose stage is refilled next
    const int next = t + C::stages - 1;
    if (next < k_tiles) load_stage(next % C::stages, k_begin + next * C::bk);
    copy_async_commit();
    const float* a_tile = tiles + (t % C::stages) * Shared::stage_floats;
    math.multiply(a_tile, a_tile + Shared::a_floats);
  }
  copy_async_wait<0>();
  __syncthreads();

  // Epilogue: accumulators → shared tile → 16-byte (or scalar) coalesced stores, with the bias.
  float* c_tile = tiles;
  math.store(c_tile);
  __syncthreads();
  constexpr int ld = Shared::c_ld;
  constexpr int chunks_per_row = C::bn / width;
  for (int index = threadIdx.x; index < C::bm * chunks_per_row; index += C::threads) {
    const int r = index / chunks_per_row, c = (index % chunks_per_row) * width;
    const int n = n0 + c;
    if (n >= p.gemm_n) continue;
    const long long offset = detail::destination_row_offset<pass>(p, group, chunk, m0 + r);
    if (offset < 0) continue;
    Pack<width> value = pack_load<width>(c_tile + r * ld + c);
    if constexpr (pass == Pass::forward)
      if (bias != nullptr) pack_add(value, pack_load_global<width>(bias + group * p.out_group_channels + n));
    pack_store<width>(destination + offset + n, value);
  }
}

// Launches one instantiation, raising the block's shared-memory limit the first time (tiles exceed 48 KB).
template <Pass pass, class C, int width, bool tensor_cores>
void launch(const ImplicitGemmParams& p, dim3 grid, const float* a_source, const float* b_source, const float* bias,
            float* destination) {
  constexpr size_t bytes = SharedLayout<C, pass>::bytes;
  static const bool configured = [] {
    CUDA_CHECK(cudaFuncSetAttribute(implicit_gemm_kernel<pass, C, width, tensor_cores>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
    return true;
  }();
  (void)configured;
  PNEUMA_LAUNCH((implicit_gemm_kernel<pass, C, width, tensor_cores>), grid, C::threads, bytes, p, a_source, b_source,
                bias, destination);
}

// ---- host helpers shared by the three passes ----------------------------------------------------------------
// The geometry fields of the parameters (the GEMM extents are the pass's own).
inline ImplicitGemmParams geometry_params(const Conv2dShape& s) {
  PNEUMA_CHECK(s.batch * s.in_height * s.in_width < INT32_MAX && s.batch * s.out_height * s.out_width < INT32_MAX &&
                   s.in_channels < INT32_MAX && s.out_channels < INT32_MAX,
               "conv2d (CUDA): %lld input or %lld output pixels exceed the 2^31 the kernels index with",
               (long long)(s.batch * s.in_height * s.in_width), (long long)(s.batch * s.out_height * s.out_width));
  ImplicitGemmParams p;
  p.batch = static_cast<int>(s.batch);
  p.in_height = static_cast<int>(s.in_height), p.in_width = static_cast<int>(s.in_width);
  p.in_channels = static_cast<int>(s.in_channels);
  p.out_height = static_cast<int>(s.out_height), p.out_width = static_cast<int>(s.out_width);
  p.out_channels = static_cast<int>(s.out_channels);
  p.kernel_height = static_cast<int>(s.kernel_height), p.kernel_width = static_cast<int>(s.kernel_width);
  p.stride_height = static_cast<int>(s.stride_height), p.stride_width = static_cast<int>(s.stride_width);
  p.pad_top = static_cast<int>(s.pad_top), p.pad_left = static_cast<int>(s.pad_left);
  p.dilation_height = static_cast<int>(s.dilation_height), p.dilation_width = static_cast<int>(s.dilation_width);
  p.in_group_channels = static_cast<int>(s.in_channels / s.groups);
  p.out_group_channels = static_cast<int>(s.out_channels / s.groups);
  p.filter_size = p.kernel_height * p.kernel_width * p.in_group_channels;
  p.out_width_divmod = FastDivmod(p.out_width);
  p.out_height_divmod = FastDivmod(p.out_height);
  p.in_group_channels_divmod = FastDivmod(p.in_group_channels);
  p.kernel_width_divmod = FastDivmod(p.kernel_width);
  p.out_group_channels_divmod = FastDivmod(p.out_group_channels);
  p.stride_height_divmod = FastDivmod(p.stride_height);
  p.stride_width_divmod = FastDivmod(p.stride_width);
  return p;
}

// 16-byte chunks need every channel run the kernels copy to be a multiple of 4 floats and 16-byte aligned.
inline bool packed_channels(const Conv2dShape& s, std::initializer_list<const float*> pointers) {
  if ((s.in_channels / s.groups) % 4 != 0 || (s.out_channels / s.groups) % 4 != 0) return false;
  for (const float* pointer : pointers)
    if (pointer != nullptr && reinterpret_cast<uintptr_t>(pointer) % 16 != 0) return false;
  return true;
}

inline unsigned tile_count(int64_t extent, int tile) { return static_cast<unsigned>((extent + tile - 1) / tile); }

}  // namespace pneuma::kernels::cuda::implicit_gemm
