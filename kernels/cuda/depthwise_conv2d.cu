// Host side of the depthwise convolution kernels (depthwise_conv2d.cuh): choose the tile arrangement for a shape,
// pick the compile-time specialisation (3×3 / 5×5, stride 1 / 2, dilation 1, channels a multiple of 4) or the
// general path, and launch. Also the second level of the deterministic split reductions (reduce_partials).
#include <algorithm>

#include "kernels/cuda/conv2d_internal.h"
#include "kernels/cuda/depthwise_conv2d.cuh"
#include "kernels/cuda/launch.h"

namespace pneuma::kernels::cuda {
namespace conv2d_detail {
namespace {

constexpr int kMaxBlockThreads = 256;
constexpr size_t kSharedBudget = 48 * 1024;  // no opt-in needed, and room for 4 blocks per SM
constexpr int64_t kTargetWeightGradientBlocks = 2048;

int64_t ceil_divide(int64_t a, int64_t b) { return (a + b - 1) / b; }
int round_up(int value, int multiple) { return (value + multiple - 1) / multiple * multiple; }
bool aligned_16(const void* pointer) { return reinterpret_cast<uintptr_t>(pointer) % 16 == 0; }

struct Launch {
  dim3 grid;
  int threads = 0;
  size_t shared_bytes = 0;
};

DepthwiseParams base_params(const Conv2dShape& s, int64_t source_height, int64_t source_width,
                            int64_t destination_height, int64_t destination_width, int64_t offset_top,
                            int64_t offset_left) {
  PNEUMA_CHECK(
      s.in_height * s.in_width * s.in_channels < INT32_MAX && s.out_height * s.out_width * s.out_channels < INT32_MAX,
      "depthwise conv2d (CUDA): one image of %lldx%lldx%lld or %lldx%lldx%lld elements exceeds 2^31",
      (long long)s.in_height, (long long)s.in_width, (long long)s.in_channels, (long long)s.out_height,
      (long long)s.out_width, (long long)s.out_channels);
  PNEUMA_CHECK(s.batch <= 65535, "depthwise conv2d (CUDA): batch %lld exceeds the grid limit 65535",
               (long long)s.batch);
  DepthwiseParams p;
  p.channels = static_cast<int>(s.in_channels);
  p.source_height = static_cast<int>(source_height), p.source_width = static_cast<int>(source_width);
  p.destination_height = static_cast<int>(destination_height);
  p.destination_width = static_cast<int>(destination_width);
  p.kernel_height = static_cast<int>(s.kernel_height), p.kernel_width = static_cast<int>(s.kernel_width);
  p.stride_height = static_cast<int>(s.stride_height), p.stride_width = static_cast<int>(s.stride_width);
  p.dilation_height = static_cast<int>(s.dilation_height), p.dilation_width = static_cast<int>(s.dilation_width);
  p.offset_top = static_cast<int>(offset_top), p.offset_left = static_cast<int>(offset_left);
  p.images = static_cast<int>(s.batch);
  return p;
}

// Source tile extents for the "direct" kernels (forward, weight gradient): destination tile rows/columns times the
// stride plus the dilated kernel reach.
void set_direct_source_tile(DepthwiseParams& p) {
  p.source_tile_height = (p.tile_rows - 1) * p.stride_height + (p.kernel_height - 1) * p.dilation_height + 1;
  p.source_tile_width = (p.tile_width - 1) * p.stride_width + (p.kernel_width - 1) * p.dilation_width + 1;
}

// Source tile extents for the gathering input-gradient kernel: the grad_output rows/columns any input pixel of
// the tile reads (see depthwise_backward_input_kernel), with one spare for the floor divisions.
void set_gather_source_tile(DepthwiseParams& p) {
  p.source_tile_height = (p.tile_rows - 1 + (p.kernel_height - 1) * p.dilation_height) / p.stride_height + 2;
  p.source_tile_width = (p.tile_width - 1 + (p.kernel_width - 1) * p.dilation_width) / p.stride_width + 2;
}

// Fills the arrangement fields of `p` and returns the launch. `run`: destination pixels per thread;
// `stride_columns`: pixel threads per group of `run` columns (the stride for the gathering kernel, else 1);
// `weight_gradient`: vectors must be a power of two <= 8 and shared memory holds two source tiles (double
// buffering over images), later reused for the warp sums.
Launch arrange(DepthwiseParams& p, int run, int width, int stride_columns, bool weight_gradient, int taps_in_launch) {
  const int packs = static_cast<int>(ceil_divide(p.channels, width));
  const int taps = p.kernel_height * p.kernel_width;
  const int max_groups = stride_columns <= 2 ? 2 : 1;
  const int groups =
      std::clamp(static_cast<int>(ceil_divide(p.destination_width, run * stride_columns)), 1, max_groups);
  p.column_groups = groups * stride_columns;
  p.tile_width = groups * run * stride_columns;
  p.tile_rows = std::max(1, std::min(p.destination_height, 32 / p.column_groups));
  if (weight_gradient) {
    p.vectors = 1;
    while (p.vectors < 8 && p.vectors < packs) p.vectors *= 2;
  } else {
    p.vectors = std::min(packs, std::max(1, kMaxBlockThreads / (p.tile_rows * p.column_groups)));
    p.vectors = std::max(p.vectors, std::min(packs, 8));
  }
  for (;;) {
    if (stride_columns > 1)
      set_gather_source_tile(p);
    else
      set_direct_source_tile(p);
    const int block_channels = p.vectors * width;
    const int threads = round_up(p.vectors * p.tile_rows * p.column_groups, 32);
    size_t floats = static_cast<size_t>(p.source_tile_height) * p.source_tile_width * block_channels;
    if (weight_gradient)  // two tile buffers; the warp sums of the reduction reuse them
      floats = std::max(2 * floats, static_cast<size_t>(threads / 32) * taps_in_launch * block_channels);
    else
      floats += static_cast<size_t>(taps) * block_channels;
    if (threads <= kMaxBlockThreads && floats * sizeof(float) <= kSharedBudget) {
      Launch launch;
      launch.threads = threads;
      launch.shared_bytes = floats * sizeof(float);
      const int64_t tiles_height = ceil_divide(p.destination_height, p.tile_rows);
      const int64_t tiles_width = ceil_divide(p.destination_width, p.tile_width);
      p.vectors_divmod = FastDivmod(p.vectors);
      p.source_tile_width_divmod = FastDivmod(p.source_tile_width);
      p.column_groups_divmod = FastDivmod(p.column_groups);
      p.tiles_width_divmod = FastDivmod(tiles_width);
      launch.grid = dim3(static_cast<unsigned>(tiles_height * tiles_width),
                         static_cast<unsigned>(ceil_divide(packs, p.vectors)), static_cast<unsigned>(p.images));
      return launch;
    }
    // Too big: fewer rows, then fewer channels per block.
    if (p.tile_rows > 1)
      p.tile_rows = (p.tile_rows + 1) / 2;
    else if (p.vectors > 1)
      p.vectors /= 2;
    else
      PNEUMA_FAIL(
          "depthwise conv2d (CUDA): kernel %dx%d with dilation %dx%d and stride %dx%d needs more shared "
          "memory than a block has",
          p.kernel_height, p.kernel_width, p.dilation_height, p.dilation_width, p.stride_height, p.stride_width);
  }
}

// The compile-time specialisation a shape can use: 3 or 5 for square kernels with square stride 1 or 2 and no
// dilation on 16-byte aligned channel packs, else 0 (general path).
int specialised_kernel(const DepthwiseParams& p) {
  const bool square = p.kernel_height == p.kernel_width && p.stride_height == p.stride_width;
  const bool plain = p.dilation_height == 1 && p.dilation_width == 1 && (p.stride_height == 1 || p.stride_height == 2);
  return square && plain && (p.kernel_height == 3 || p.kernel_height == 5) ? p.kernel_height : 0;
}

template <int K, int S, int run, int width>
void launch_forward(DepthwiseParams p, const float* source, const float* weight, const float* bias,
                    float* destination) {
  const Launch launch = arrange(p, run, width, 1, false, 0);
  PNEUMA_LAUNCH((depthwise_forward_kernel<K, S, run, width>), launch.grid, launch.threads, launch.shared_bytes, p,
                source, weight, bias, destination);
}

// Forward-shaped launch (also the stride-1 input gradient): specialised when possible.
void run_forward(const DepthwiseParams& p, bool packed, const float* source, const float* weight, const float* bias,
                 float* destination) {
  const int k = packed ? specialised_kernel(p) : 0;
  if (k == 3 && p.stride_height == 1) return launch_forward<3, 1, 8, 4>(p, source, weight, bias, destination);
  if (k == 3 && p.stride_height == 2) return launch_forward<3, 2, 4, 4>(p, source, weight, bias, destination);
  if (k == 5 && p.stride_height == 1) return launch_forward<5, 1, 8, 4>(p, source, weight, bias, destination);
  if (k == 5 && p.stride_height == 2) return launch_forward<5, 2, 4, 4>(p, source, weight, bias, destination);
  if (packed) return launch_forward<0, 0, 4, 4>(p, source, weight, bias, destination);
  launch_forward<0, 0, 4, 1>(p, source, weight, bias, destination);
}

template <int K, int S, int run, int width>
void launch_backward_input(DepthwiseParams p, const float* grad_output, const float* weight, float* grad_input) {
  const Launch launch = arrange(p, run, width, p.stride_width, false, 0);
  PNEUMA_LAUNCH((depthwise_backward_input_kernel<K, S, run, width>), launch.grid, launch.threads, launch.shared_bytes,
                p, grad_output, weight, grad_input);
}

template <int K, int S, int run, int width>
void launch_backward_weight(DepthwiseParams p, const float* input, const float* grad_output, float* grad_weight) {
  const int taps = p.kernel_height * p.kernel_width;
  const int taps_per_launch = K > 0 ? taps : std::min(taps, kDepthwiseMaxTapsPerLaunch);
  Launch launch = arrange(p, run, width, 1, true, taps_per_launch);
  // Images per block: enough blocks to fill the GPU twice over, the rest accumulated in registers. Depends only
  // on the shape, so the summation order (and the result) is the same on every run and device.
  const int64_t spatial_blocks = static_cast<int64_t>(launch.grid.x) * launch.grid.y;
  const int64_t groups = std::clamp<int64_t>(ceil_divide(kTargetWeightGradientBlocks, spatial_blocks), 1, p.images);
  p.images_per_block = static_cast<int>(ceil_divide(p.images, groups));
  launch.grid.z = static_cast<unsigned>(ceil_divide(p.images, p.images_per_block));
  const int64_t partial_rows = static_cast<int64_t>(launch.grid.z) * launch.grid.x;
  const int64_t count = static_cast<int64_t>(p.channels) * taps;
  float* partials = static_cast<float*>(workspace(sizeof(float) * partial_rows * count, kPartialsSlot));
  for (int tap_begin = 0; tap_begin < taps; tap_begin += taps_per_launch) {
    p.tap_begin = tap_begin;
    p.tap_count = std::min(taps_per_launch, taps - tap_begin);
    PNEUMA_LAUNCH((depthwise_backward_weight_kernel<K, S, run, width>), launch.grid, launch.threads,
                  launch.shared_bytes, p, input, grad_output, partials);
  }
  reduce_partials(partials, partial_rows, count, grad_weight);
}

__global__ void reduce_partials_kernel(const float* __restrict__ partials, int64_t blocks, int64_t count,
                                       float* __restrict__ result) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  float sum = 0.0f;
  for (int64_t b = 0; b < blocks; ++b) sum += partials[b * count + i];
  result[i] = sum;
}

}  // namespace

void reduce_partials(const float* partials, int64_t blocks, int64_t count, float* result) {
  PNEUMA_LAUNCH(reduce_partials_kernel, static_cast<unsigned>(ceil_divide(count, 256)), 256, 0, partials, blocks, count,
                result);
}

void depthwise_forward(const Conv2dShape& s, const float* input, const float* weight, const float* bias,
                       float* output) {
  const DepthwiseParams p = base_params(s, s.in_height, s.in_width, s.out_height, s.out_width, s.pad_top, s.pad_left);
  const bool packed =
      s.in_channels % 4 == 0 && aligned_16(input) && aligned_16(output) && (bias == nullptr || aligned_16(bias));
  run_forward(p, packed, input, weight, bias, output);
}

void depthwise_backward_input(const Conv2dShape& s, const float* grad_output, const float* weight, float* grad_input) {
  const bool packed = s.in_channels % 4 == 0 && aligned_16(grad_output) && aligned_16(grad_input);
  if (s.stride_height == 1 && s.stride_width == 1) {
    // Stride 1: grad_input[i] = Σ_k grad_output[i + pad - k·d] · w[k] — a forward pass over grad_output with the
    // taps flipped and the padding mirrored (offset = reach - 1 - pad; negative offsets are fine).
    DepthwiseParams p = base_params(s, s.out_height, s.out_width, s.in_height, s.in_width,
                                    (s.kernel_height - 1) * s.dilation_height - s.pad_top,
                                    (s.kernel_width - 1) * s.dilation_width - s.pad_left);
    p.flip_taps = true;
    return run_forward(p, packed, grad_output, weight, nullptr, grad_input);
  }
  const DepthwiseParams p = base_params(s, s.out_height, s.out_width, s.in_height, s.in_width, s.pad_top, s.pad_left);
  const int k = packed ? specialised_kernel(p) : 0;
  if (k == 3 && p.stride_height == 2) return launch_backward_input<3, 2, 4, 4>(p, grad_output, weight, grad_input);
  if (k == 5 && p.stride_height == 2) return launch_backward_input<5, 2, 4, 4>(p, grad_output, weight, grad_input);
  if (packed) return launch_backward_input<0, 0, 4, 4>(p, grad_output, weight, grad_input);
  launch_backward_input<0, 0, 4, 1>(p, grad_output, weight, grad_input);
}

void depthwise_backward_weight(const Conv2dShape& s, const float* input, const float* grad_output, float* grad_weight) {
  const DepthwiseParams p = base_params(s, s.in_height, s.in_width, s.out_height, s.out_width, s.pad_top, s.pad_left);
  const bool packed = s.in_channels % 4 == 0 && aligned_16(input) && aligned_16(grad_output);
  const int k = packed ? specialised_kernel(p) : 0;
  if (k == 3 && p.stride_height == 1) return launch_backward_weight<3, 1, 8, 4>(p, input, grad_output, grad_weight);
  if (k == 3 && p.stride_height == 2) return launch_backward_weight<3, 2, 4, 4>(p, input, grad_output, grad_weight);
  if (k == 5 && p.stride_height == 1) return launch_backward_weight<5, 1, 8, 4>(p, input, grad_output, grad_weight);
  if (k == 5 && p.stride_height == 2) return launch_backward_weight<5, 2, 4, 4>(p, input, grad_output, grad_weight);
  if (packed) return launch_backward_weight<0, 0, 4, 4>(p, input, grad_output, grad_weight);
  launch_backward_weight<0, 0, 4, 1>(p, input, grad_output, grad_weight);
}

}  // namespace conv2d_detail
}  // namespace pneuma::kernels::cuda
