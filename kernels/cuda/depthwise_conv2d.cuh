// Depthwise convolution kernels (NHWC, weight [C, KH, KW, 1]): forward, input gradient, weight gradient.
//
// Shape of the work. A block owns one image, a block of channels (`vectors` packs of `width` channels; a pack is
// 16 bytes when width == 4) and a tile of output pixels. It first copies the input ("source") halo tile it needs
// into shared memory with cp.async — every thread has several 16-byte copies in flight, and padding / ragged edges
// are zero-filled by the copy itself — then each thread computes `run` horizontally adjacent outputs for one pack of
// channels. With the kernel size and stride known at compile time (K, S > 0, dilation 1), a thread keeps the
// (run-1)·S+K source columns of one kernel row in registers and reuses them across the K taps of that row ("sliding
// window"), so shared-memory traffic per output is about (run-1)·S+K+K loads per kernel row instead of K·run.
// K == 0 / S == 0 select the general path (any kernel size, stride and dilation, read straight from the tile).
//
// Thread layout inside a block: thread = pixel_thread · vectors + vector, pixel_thread = row · column_groups + group.
// Consecutive threads take consecutive channel packs of one pixel, so a quarter-warp's 16-byte accesses cover 128
// contiguous bytes of global or shared memory (coalesced, bank-conflict free).
//
// The input gradient with stride 1 is the forward kernel run over grad_output with the taps flipped (see
// depthwise_conv2d.cu). With stride > 1 it runs depthwise_backward_input_kernel, which gathers: input pixel i gets
// the taps k with (i + pad - k·dilation) divisible by the stride. A thread takes `run` input pixels of the same
// phase (i mod stride), so its valid taps are the same for all of them.
//
// The weight gradient accumulates, per thread, all K·K taps of its outputs over a fixed range of images
// (registers; the next image's input tile is copied into a second buffer while the current one is used), then
// reduces inside the block in a fixed order (warp shuffles, then warps in index order) and writes one partial per
// block; reduce_partials (depthwise_conv2d.cu) sums the partials in block order. No atomics: results are
// bit-identical run to run.
#pragma once
#include <cstdint>

#include "kernels/cuda/conv2d_common.cuh"
#include "kernels/cuda/conv2d_fast_divmod.h"

namespace pneuma::kernels::cuda {

// Largest number of taps the weight-gradient kernel accumulates per launch on its general path (larger kernels
// run in several tap chunks).
constexpr int kDepthwiseMaxTapsPerLaunch = 25;

struct DepthwiseParams {
  int channels = 0;
  int source_height = 0, source_width = 0;            // the tensor read through the shared-memory tile
  int destination_height = 0, destination_width = 0;  // the tensor each thread computes elements of
  int kernel_height = 1, kernel_width = 1, stride_height = 1, stride_width = 1, dilation_height = 1, dilation_width = 1;
  // Forward: destination (r, c) reads source (r·stride - offset_top + kh·dilation, c·stride - offset_left + ...).
  // Gathering input gradient: the forward padding (input i reads output (i + offset - k·dilation) / stride).
  int offset_top = 0, offset_left = 0;
  bool flip_taps = false;  // read weight tap (taps - 1 - t) for tap t: the stride-1 input gradient
  // Launch arrangement.
  int vectors = 1;        // channel packs per block
  int tile_rows = 1;      // destination rows per tile (one per pixel thread row)
  int column_groups = 1;  // pixel threads per tile row (times the stride for the gathering kernel)
  int tile_width = 1;     // destination columns per tile
  int source_tile_height = 1, source_tile_width = 1;
  FastDivmod vectors_divmod, source_tile_width_divmod, column_groups_divmod, tiles_width_divmod;
  // Weight gradient: images per block, and the chunk of taps this launch accumulates (general path).
  int images = 1, images_per_block = 1;
  int tap_begin = 0, tap_count = 0;
};

namespace depthwise_detail {

// Copies the source halo tile [source_tile_height][source_tile_width][vectors·width] whose top-left source pixel is
// (row0, column0) into shared memory, zero-filling everything outside the image or past the last channel.
template <int width>
__device__ __forceinline__ void load_source_tile(const DepthwiseParams& p, const float* source_image, int row0,
                                                 int column0, int channel0, float* tile) {
  const int count = p.source_tile_height * p.source_tile_width * p.vectors;
  for (int i = threadIdx.x; i < count; i += blockDim.x) {
    int pixel, vector, r, c;
    p.vectors_divmod.divmod(i, pixel, vector);
    p.source_tile_width_divmod.divmod(pixel, r, c);
    const int row = row0 + r, column = column0 + c, channel = channel0 + vector * width;
    const bool valid =
        row >= 0 && row < p.source_height && column >= 0 && column < p.source_width && channel < p.channels;
    const float* address = valid ? source_image + (row * p.source_width + column) * p.channels + channel : source_image;
    copy_async<width * 4>(tile + i * width, address, valid);
  }
  copy_async_commit();
}

// Weights of the block's channels, tap-major [taps][vectors·width] (zero past the last channel).
__device__ __forceinline__ void load_weight_tile(const DepthwiseParams& p, const float* weight, int channel0,
                                                 int block_channels, float* tile) {
  const int taps = p.kernel_height * p.kernel_width;
  for (int i = threadIdx.x; i < taps * block_channels; i += blockDim.x) {
    const int tap = i / block_channels, c = i - tap * block_channels, channel = channel0 + c;
    const int source_tap = p.flip_taps ? taps - 1 - tap : tap;
    tile[i] = channel < p.channels ? weight[static_cast<int64_t>(channel) * taps + source_tap] : 0.0f;
  }
}

__host__ __device__ constexpr int floor_divide(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

}  // namespace depthwise_detail

// destination[n, r, c, ch] = bias[ch] + Σ_{kh,kw} w[ch, kh, kw] · source[n, r·S - offset_top + kh·d, ...].
// Grid: (tiles, channel blocks, images). Shared memory: source tile, then the weight tile.
template <int K, int S, int run, int width>
__global__ void __launch_bounds__(256, 3)
    depthwise_forward_kernel(const DepthwiseParams p, const float* __restrict__ source,
                             const float* __restrict__ weight, const float* __restrict__ bias,
                             float* __restrict__ destination) {
  extern __shared__ __align__(16) float shared[];
  constexpr bool sliding = K > 0 && S > 0;
  const int kernel_height = sliding ? K : p.kernel_height, kernel_width = sliding ? K : p.kernel_width;
  const int stride_height = sliding ? S : p.stride_height, stride_width = sliding ? S : p.stride_width;
  const int dilation_height = sliding ? 1 : p.dilation_height, dilation_width = sliding ? 1 : p.dilation_width;
  const int block_channels = p.vectors * width;
  float* source_tile = shared;
  float* weight_tile = shared + p.source_tile_height * p.source_tile_width * block_channels;

  int tile_y, tile_x;
  p.tiles_width_divmod.divmod(blockIdx.x, tile_y, tile_x);
  const int row0 = tile_y * p.tile_rows, column0 = tile_x * p.tile_width;
  const int channel0 = blockIdx.y * block_channels;
  const int64_t image = blockIdx.z;
  depthwise_detail::load_source_tile<width>(p, source + image * p.source_height * p.source_width * p.channels,
                                            row0 * stride_height - p.offset_top, column0 * stride_width - p.offset_left,
                                            channel0, source_tile);
  depthwise_detail::load_weight_tile(p, weight, channel0, block_channels, weight_tile);
  copy_async_wait<0>();
  __syncthreads();

  int pixel_thread, vector, tile_row, group;
  p.vectors_divmod.divmod(threadIdx.x, pixel_thread, vector);
  p.column_groups_divmod.divmod(pixel_thread, tile_row, group);
  const int row = row0 + tile_row, column = column0 + group * run, channel = channel0 + vector * width;
  if (tile_row >= p.tile_rows || row >= p.destination_height || column >= p.destination_width || channel >= p.channels)
    return;

  Pack<width> accumulator[run];
  const Pack<width> initial = bias != nullptr ? pack_load_global<width>(bias + channel) : pack_zero<width>();
#pragma unroll
  for (int j = 0; j < run; ++j) accumulator[j] = initial;

  const float* weights = weight_tile + vector * width;
#pragma unroll 1
  for (int kh = 0; kh < kernel_height; ++kh) {
    const float* tile_line =
        source_tile +
        ((tile_row * stride_height + kh * dilation_height) * p.source_tile_width + group * run * stride_width) *
            block_channels +
        vector * width;
    if constexpr (sliding) {
      // Each source column of the row is loaded once and feeds every (output j, tap kw) with j·S + kw == x.
      Pack<width> w[K];
#pragma unroll
      for (int kw = 0; kw < K; ++kw) w[kw] = pack_load<width>(weights + (kh * K + kw) * block_channels);
#pragma unroll
      for (int x = 0; x < (run - 1) * S + K; ++x) {
        const Pack<width> v = pack_load<width>(tile_line + x * block_channels);
#pragma unroll
        for (int kw = 0; kw < K; ++kw)
          if ((x - kw) % S == 0 && x - kw >= 0 && (x - kw) / S < run) pack_fma(accumulator[(x - kw) / S], w[kw], v);
      }
    } else {
      for (int kw = 0; kw < kernel_width; ++kw) {
        const Pack<width> w = pack_load<width>(weights + (kh * kernel_width + kw) * block_channels);
#pragma unroll
        for (int j = 0; j < run; ++j)
          pack_fma(accumulator[j], w,
                   pack_load<width>(tile_line + (j * stride_width + kw * dilation_width) * block_channels));
      }
    }
  }

  float* out = destination + image * p.destination_height * p.destination_width * p.channels +
               (row * p.destination_width + column) * p.channels + channel;
#pragma unroll
  for (int j = 0; j < run; ++j)
    if (column + j < p.destination_width) pack_store<width>(out + j * p.channels, accumulator[j]);
}

// Input gradient for stride > 1 (gathering form). source = grad_output [N, OH, OW, C], destination = grad_input
// [N, H, W, C]; offset_* = the forward padding. A tile is tile_rows × tile_width input pixels; pixel thread
// (tile_row, column_thread) with column_thread = group · S + phase computes the input pixels at columns
// column0 + group·run·S + phase + S·j, j < run.
template <int K, int S, int run, int width>
__global__ void __launch_bounds__(256)
    depthwise_backward_input_kernel(const DepthwiseParams p, const float* __restrict__ grad_output,
                                    const float* __restrict__ weight, float* __restrict__ grad_input) {
  extern __shared__ __align__(16) float shared[];
  constexpr bool fixed = K > 0 && S > 0;
  const int kernel_height = fixed ? K : p.kernel_height, kernel_width = fixed ? K : p.kernel_width;
  const int stride_height = fixed ? S : p.stride_height, stride_width = fixed ? S : p.stride_width;
  const int dilation_height = fixed ? 1 : p.dilation_height, dilation_width = fixed ? 1 : p.dilation_width;
  const int block_channels = p.vectors * width;
  float* source_tile = shared;
  float* weight_tile = shared + p.source_tile_height * p.source_tile_width * block_channels;

  int tile_y, tile_x;
  p.tiles_width_divmod.divmod(blockIdx.x, tile_y, tile_x);
  const int row0 = tile_y * p.tile_rows, column0 = tile_x * p.tile_width;
  const int channel0 = blockIdx.y * block_channels;
  const int64_t image = blockIdx.z;
  // First grad_output row / column any input pixel of the tile reads (floor division: it may be negative).
  const int source_row0 =
      depthwise_detail::floor_divide(row0 + p.offset_top - (kernel_height - 1) * dilation_height, stride_height);
  const int source_column0 =
      depthwise_detail::floor_divide(column0 + p.offset_left - (kernel_width - 1) * dilation_width, stride_width);
  depthwise_detail::load_source_tile<width>(p, grad_output + image * p.source_height * p.source_width * p.channels,
                                            source_row0, source_column0, channel0, source_tile);
  depthwise_detail::load_weight_tile(p, weight, channel0, block_channels, weight_tile);
  copy_async_wait<0>();
  __syncthreads();

  int pixel_thread, vector, tile_row, column_thread;
  p.vectors_divmod.divmod(threadIdx.x, pixel_thread, vector);
  p.column_groups_divmod.divmod(pixel_thread, tile_row, column_thread);
  const int group = column_thread / stride_width, phase = column_thread - group * stride_width;
  const int row = row0 + tile_row, column = column0 + group * run * stride_width + phase;
  const int channel = channel0 + vector * width;
  if (tile_row >= p.tile_rows || row >= p.destination_height || column >= p.destination_width || channel >= p.channels)
    return;

  Pack<width> accumulator[run];
#pragma unroll
  for (int j = 0; j < run; ++j) accumulator[j] = pack_zero<width>();
  const float* weights = weight_tile + vector * width;
  // Tile-relative positions are non-negative by construction of source_row0 / source_column0.
  const int relative_row = row + p.offset_top - stride_height * source_row0;
  const int relative_column = column + p.offset_left - stride_width * source_column0;
#pragma unroll(fixed ? 8 : 1)
  for (int kh = 0; kh < kernel_height; ++kh) {
    const int t = relative_row - kh * dilation_height;
    if (t % stride_height != 0) continue;
    const float* tile_line = source_tile + (t / stride_height) * p.source_tile_width * block_channels + vector * width;
#pragma unroll(fixed ? 8 : 1)
    for (int kw = 0; kw < kernel_width; ++kw) {
      const int u = relative_column - kw * dilation_width;
      if (u % stride_width != 0) continue;
      const Pack<width> w = pack_load<width>(weights + (kh * kernel_width + kw) * block_channels);
      const float* tile_pixel = tile_line + (u / stride_width) * block_channels;
#pragma unroll
      for (int j = 0; j < run; ++j) pack_fma(accumulator[j], w, pack_load<width>(tile_pixel + j * block_channels));
    }
  }

  float* out = grad_input + image * p.destination_height * p.destination_width * p.channels +
               (row * p.destination_width + column) * p.channels + channel;
#pragma unroll
  for (int j = 0; j < run; ++j)
    if (column + j * stride_width < p.destination_width)
      pack_store<width>(out + j * stride_width * p.channels, accumulator[j]);
}

// Weight gradient, first level. source = input [N, H, W, C], destination-shaped grad_output [N, OH, OW, C].
// Grid: (tiles, channel blocks, image groups); block z covers images [z·images_per_block, ...). Requires
// `vectors` to be a power of two <= 32 and blockDim.x a multiple of 32 (warp-shuffle reduction). Writes
// partials[(z · tiles + x) · C · taps + channel · taps + tap] for its channels and taps.
template <int K, int S, int run, int width>
__global__ void __launch_bounds__(256)
    depthwise_backward_weight_kernel(const DepthwiseParams p, const float* __restrict__ input,
                                     const float* __restrict__ grad_output, float* __restrict__ partials) {
  extern __shared__ __align__(16) float shared[];
  constexpr bool sliding = K > 0 && S > 0;
  constexpr int max_taps = sliding ? K * K : kDepthwiseMaxTapsPerLaunch;
  const int kernel_width = sliding ? K : p.kernel_width;
  const int stride_height = sliding ? S : p.stride_height, stride_width = sliding ? S : p.stride_width;
  const int dilation_height = sliding ? 1 : p.dilation_height, dilation_width = sliding ? 1 : p.dilation_width;
  const int taps = sliding ? K * K : p.tap_count;
  const int total_taps = p.kernel_height * p.kernel_width;
  const int block_channels = p.vectors * width;

  int tile_y, tile_x;
  p.tiles_width_divmod.divmod(blockIdx.x, tile_y, tile_x);
  const int row0 = tile_y * p.tile_rows, column0 = tile_x * p.tile_width;
  const int channel0 = blockIdx.y * block_channels;

  int pixel_thread, vector, tile_row, group;
  p.vectors_divmod.divmod(threadIdx.x, pixel_thread, vector);
  p.column_groups_divmod.divmod(pixel_thread, tile_row, group);
  const int row = row0 + tile_row, column = column0 + group * run, channel = channel0 + vector * width;
  const bool active =
      tile_row < p.tile_rows && row < p.destination_height && column < p.destination_width && channel < p.channels;

  Pack<width> accumulator[max_taps];
#pragma unroll
  for (int t = 0; t < max_taps; ++t) accumulator[t] = pack_zero<width>();

  // Accumulates this thread's taps over one image's tile.
  const auto multiply_tile = [&](const float* tile, const Pack<width>* gradient) {
    const float* tile_column = tile + group * run * stride_width * block_channels + vector * width;
    if constexpr (sliding) {
#pragma unroll
      for (int kh = 0; kh < K; ++kh) {
        const float* tile_line = tile_column + (tile_row * S + kh) * p.source_tile_width * block_channels;
        // Each source column is loaded once and meets every (output j, tap kw) with j·S + kw == x.
#pragma unroll
        for (int x = 0; x < (run - 1) * S + K; ++x) {
          const Pack<width> v = pack_load<width>(tile_line + x * block_channels);
#pragma unroll
          for (int kw = 0; kw < K; ++kw)
            if ((x - kw) % S == 0 && x - kw >= 0 && (x - kw) / S < run)
              pack_fma(accumulator[kh * K + kw], gradient[(x - kw) / S], v);
        }
      }
    } else {
#pragma unroll
      for (int t = 0; t < max_taps; ++t) {
        if (t >= taps) break;
        const int tap = p.tap_begin + t, kh = tap / kernel_width, kw = tap - kh * kernel_width;
        const float* tile_pixel =
            tile_column +
            ((tile_row * stride_height + kh * dilation_height) * p.source_tile_width + kw * dilation_width) *
                block_channels;
#pragma unroll
        for (int j = 0; j < run; ++j)
          pack_fma(accumulator[t], gradient[j], pack_load<width>(tile_pixel + j * stride_width * block_channels));
      }
    }
  };

  const int image_begin = blockIdx.z * p.images_per_block;
  const int image_end = min(p.images, image_begin + p.images_per_block);
  const int input_image_size = p.source_height * p.source_width * p.channels;
  const int output_image_size = p.destination_height * p.destination_width * p.channels;
  // Two tile buffers: the next image's tile is in flight while this one is multiplied.
  const int tile_floats = p.source_tile_height * p.source_tile_width * block_channels;
  const auto load_tile = [&](int image, int buffer) {
    depthwise_detail::load_source_tile<width>(
        p, input + static_cast<int64_t>(image) * input_image_size, row0 * stride_height - p.offset_top,
        column0 * stride_width - p.offset_left, channel0, shared + buffer * tile_floats);
  };
  load_tile(image_begin, 0);
  for (int image = image_begin, buffer = 0; image < image_end; ++image, buffer ^= 1) {
    const bool prefetch = image + 1 < image_end;
    if (prefetch) load_tile(image + 1, buffer ^ 1);  // that buffer's last readers passed the barrier below
    // The grad_output values this thread multiplies, loaded while the tile copies are in flight.
    Pack<width> gradient[run];
    const float* gradient_pixel = grad_output + static_cast<int64_t>(image) * output_image_size +
                                  (row * p.destination_width + column) * p.channels + channel;
#pragma unroll
    for (int j = 0; j < run; ++j)
      gradient[j] = active && column + j < p.destination_width
                        ? pack_load_global<width>(gradient_pixel + j * p.channels)
                        : pack_zero<width>();
    if (prefetch)
      copy_async_wait<1>();  // this image's group has landed; the prefetch may still fly
    else
      copy_async_wait<0>();
    __syncthreads();
    if (active) multiply_tile(shared + buffer * tile_floats, gradient);
    __syncthreads();  // everyone is done with this buffer before it is refilled
  }

  // Block reduction in a fixed order. 1) Inside a warp, lanes holding the same channel pack differ in the bits
  // above log2(vectors): butterfly over those. 2) Lane `vector` of each warp stores the warp's sums; after a
  // barrier, threads add the warps' sums in warp order and write the block's partial.
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
#pragma unroll
  for (int t = 0; t < max_taps; ++t) {
    if (t >= taps) break;
    for (int mask = p.vectors; mask < 32; mask <<= 1)
#pragma unroll
      for (int e = 0; e < width; ++e)
        accumulator[t].value[e] += __shfl_xor_sync(0xffffffffu, accumulator[t].value[e], mask);
  }
  __syncthreads();  // the tile is dead; reuse shared memory for the warp sums [warps][taps][block_channels]
  if (lane < p.vectors) {
#pragma unroll
    for (int t = 0; t < max_taps; ++t) {
      if (t >= taps) break;
      pack_store<width>(shared + (warp * taps + t) * block_channels + lane * width, accumulator[t]);
    }
  }
  __syncthreads();
  float* block_partial = partials + static_cast<int64_t>(blockIdx.z * gridDim.x + blockIdx.x) * p.channels * total_taps;
  for (int i = threadIdx.x; i < taps * block_channels; i += blockDim.x) {
    const int t = i / block_channels, c = i - t * block_channels;
    if (channel0 + c >= p.channels) continue;
    float sum = 0.0f;
    for (int w = 0; w < warps; ++w) sum += shared[(w * taps + t) * block_channels + c];
    block_partial[static_cast<int64_t>(channel0 + c) * total_taps + p.tap_begin + t] = sum;
  }
}

}  // namespace pneuma::kernels::cuda
