// Pooling on CUDA over NHWC tensors, forward and backward side by side: max and average pooling with per-side
// padding, global average pooling and the squeeze-excitation channel scale. One thread per output element, the
// channel index fastest so a warp reads consecutive channels. The windowed backward passes gather over the
// outputs covering each input pixel in the same order as the CPU reference (kernels/cpu/pool.cpp).
#include <cstdint>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/reduce.cuh"
#include "kernels/pool.h"

namespace pneuma::kernels::cuda {
namespace {

void check_pool_shape(const Pool2dShape& s, const char* who) {
  PNEUMA_CHECK(
      s.batch > 0 && s.in_height > 0 && s.in_width > 0 && s.channels > 0 && s.out_height > 0 && s.out_width > 0,
      "%s (CUDA): sizes must be positive", who);
  PNEUMA_CHECK(s.kernel_height > 0 && s.kernel_width > 0 && s.stride_height > 0 && s.stride_width > 0,
               "%s (CUDA): kernel and stride must be positive", who);
  PNEUMA_CHECK(s.pad_top >= 0 && s.pad_left >= 0 && s.pad_top < s.kernel_height && s.pad_left < s.kernel_width,
               "%s (CUDA): padding before the image must be in [0, kernel)", who);
  PNEUMA_CHECK((s.out_height - 1) * s.stride_height - s.pad_top < s.in_height &&
                   (s.out_width - 1) * s.stride_width - s.pad_left < s.in_width,
               "%s (CUDA): the last output window starts past the image", who);
  PNEUMA_CHECK(s.in_height * s.in_width <= INT32_MAX, "%s (CUDA): image too large for int32 argmax", who);
}

struct Span {
  int64_t begin, end;
};

// Part of one window axis inside the image.
__device__ __forceinline__ Span window_span(int64_t out_index, int64_t stride, int64_t pad_before, int64_t kernel,
                                            int64_t size) {
  const int64_t start = out_index * stride - pad_before;
  return {start > 0 ? start : 0, start + kernel < size ? start + kernel : size};
}

// Output indices whose windows cover input index `in_index`.
__device__ __forceinline__ Span covering_outputs(int64_t in_index, int64_t stride, int64_t pad_before, int64_t kernel,
                                                 int64_t out_size) {
  const int64_t padded = in_index + pad_before;
  const int64_t first = padded - kernel + 1 <= 0 ? 0 : (padded - kernel + 1 + stride - 1) / stride;
  int64_t last = padded / stride;
  if (last > out_size - 1) last = out_size - 1;
  return {first, last + 1 > first ? last + 1 : first};
}

// The average's divisor along one axis (PyTorch's rule with count_include_pad, else the valid positions).
__device__ __forceinline__ int64_t divisor_count(int64_t out_index, int64_t stride, int64_t pad_before,
                                                 int64_t pad_after, int64_t kernel, int64_t size,
                                                 bool count_include_pad) {
  const int64_t start = out_index * stride - pad_before;
  const int64_t end = start + kernel;
  if (count_include_pad) return (end < size + pad_after ? end : size + pad_after) - start;
  return (end < size ? end : size) - (start > 0 ? start : 0);
}

// Window maxima; `output` may be null (winners only). First occurrence wins ties; NaN wins, as in PyTorch.
template <class T>
__global__ void max_pool_forward_kernel(Pool2dShape s, const T* input, T* output, int32_t* argmax) {
  const int64_t count = s.batch * s.out_height * s.out_width * s.channels;
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) {
    const int64_t c = i % s.channels;
    int64_t rest = i / s.channels;
    const int64_t ow = rest % s.out_width;
    rest /= s.out_width;
    const int64_t oh = rest % s.out_height, b = rest / s.out_height;
    const Span hs = window_span(oh, s.stride_height, s.pad_top, s.kernel_height, s.in_height);
    const Span ws = window_span(ow, s.stride_width, s.pad_left, s.kernel_width, s.in_width);
    const T* image = input + b * s.in_height * s.in_width * s.channels + c;
    T best = -INFINITY;
    int32_t index = static_cast<int32_t>(hs.begin * s.in_width + ws.begin);
    for (int64_t h = hs.begin; h < hs.end; ++h)
      for (int64_t w = ws.begin; w < ws.end; ++w) {
        const int32_t position = static_cast<int32_t>(h * s.in_width + w);
        const T v = image[static_cast<int64_t>(position) * s.channels];
        if (v > best || v != v) {
          best = v;
          index = position;
        }
      }
    if (output) output[i] = best;
    argmax[i] = index;
  }
}

template <class T>
__global__ void max_pool_backward_kernel(Pool2dShape s, const int32_t* argmax, const T* grad_output, T* grad_input) {
  const int64_t count = s.batch * s.in_height * s.in_width * s.channels;
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) {
    const int64_t c = i % s.channels;
    int64_t rest = i / s.channels;
    const int64_t w = rest % s.in_width;
    rest /= s.in_width;
    const int64_t h = rest % s.in_height, b = rest / s.in_height;
    const Span ohs = covering_outputs(h, s.stride_height, s.pad_top, s.kernel_height, s.out_height);
    const Span ows = covering_outputs(w, s.stride_width, s.pad_left, s.kernel_width, s.out_width);
    const int32_t position = static_cast<int32_t>(h * s.in_width + w);
    T total = T(0);
    for (int64_t oh = ohs.begin; oh < ohs.end; ++oh)
      for (int64_t ow = ows.begin; ow < ows.end; ++ow) {
        const int64_t out = ((b * s.out_height + oh) * s.out_width + ow) * s.channels + c;
        total += argmax[out] == position ? grad_output[out] : T(0);
      }
    grad_input[i] = total;
  }
}

template <class T>
__global__ void avg_pool_forward_kernel(Pool2dShape s, const T* input, T* output) {
  const int64_t count = s.batch * s.out_height * s.out_width * s.channels;
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) {
    const int64_t c = i % s.channels;
    int64_t rest = i / s.channels;
    const int64_t ow = rest % s.out_width;
    rest /= s.out_width;
    const int64_t oh = rest % s.out_height, b = rest / s.out_height;
    const Span hs = window_span(oh, s.stride_height, s.pad_top, s.kernel_height, s.in_height);
    const Span ws = window_span(ow, s.stride_width, s.pad_left, s.kernel_width, s.in_width);
    const T* image = input + b * s.in_height * s.in_width * s.channels + c;
    T total = T(0);
    for (int64_t h = hs.begin; h < hs.end; ++h)
      for (int64_t w = ws.begin; w < ws.end; ++w) total += image[(h * s.in_width + w) * s.channels];
    const int64_t divisor =
        divisor_count(oh, s.stride_height, s.pad_top, s.pad_bottom, s.kernel_height, s.in_height, s.count_include_pad) *
        divisor_count(ow, s.stride_width, s.pad_left, s.pad_right, s.kernel_width, s.in_width, s.count_include_pad);
    output[i] = total / static_cast<T>(divisor);
  }
}

template <class T>
__global__ void avg_pool_backward_kernel(Pool2dShape s, const T* grad_output, T* grad_input) {
  const int64_t count = s.batch * s.in_height * s.in_width * s.channels;
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) {
    const int64_t c = i % s.channels;
    int64_t rest = i / s.channels;
    const int64_t w = rest % s.in_width;
    rest /= s.in_width;
    const int64_t h = rest % s.in_height, b = rest / s.in_height;
    const Span ohs = covering_outputs(h, s.stride_height, s.pad_top, s.kernel_height, s.out_height);
    const Span ows = covering_outputs(w, s.stride_width, s.pad_left, s.kernel_width, s.out_width);
    T total = T(0);
    for (int64_t oh = ohs.begin; oh < ohs.end; ++oh) {
      const int64_t height_divisor = divisor_count(oh, s.stride_height, s.pad_top, s.pad_bottom, s.kernel_height,
                                                   s.in_height, s.count_include_pad);
      for (int64_t ow = ows.begin; ow < ows.end; ++ow) {
        const int64_t divisor = height_divisor * divisor_count(ow, s.stride_width, s.pad_left, s.pad_right,
                                                               s.kernel_width, s.in_width, s.count_include_pad);
        total += grad_output[((b * s.out_height + oh) * s.out_width + ow) * s.channels + c] / static_cast<T>(divisor);
      }
    }
    grad_input[i] = total;
  }
}

}  // namespace

template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* input, T* output, int32_t* argmax) {
  check_pool_shape(s, "max_pool2d_forward");
  const int64_t count = s.batch * s.out_height * s.out_width * s.channels;
  if (!argmax) argmax = static_cast<int32_t*>(workspace(sizeof(int32_t) * count, kTemporarySlot));
  PNEUMA_LAUNCH(max_pool_forward_kernel<T>, grid_for(count), kThreads, 0, s, input, output, argmax);
}

template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* input, const int32_t* argmax, const T* grad_output,
                         T* grad_input) {
  check_pool_shape(s, "max_pool2d_backward");
  if (!argmax) {
    PNEUMA_CHECK(input != nullptr, "max_pool2d_backward (CUDA): needs the input when no argmax is given");
    const int64_t outputs = s.batch * s.out_height * s.out_width * s.channels;
    int32_t* winners = static_cast<int32_t*>(workspace(sizeof(int32_t) * outputs, kTemporarySlot));
    PNEUMA_LAUNCH(max_pool_forward_kernel<T>, grid_for(outputs), kThreads, 0, s, input, static_cast<T*>(nullptr),
                  winners);
    argmax = winners;
  }
  const int64_t count = s.batch * s.in_height * s.in_width * s.channels;
  PNEUMA_LAUNCH(max_pool_backward_kernel<T>, grid_for(count), kThreads, 0, s, argmax, grad_output, grad_input);
}

template <class T>
void avg_pool2d_forward(const Pool2dShape& s, const T* input, T* output) {
  check_pool_shape(s, "avg_pool2d_forward");
  const int64_t count = s.batch * s.out_height * s.out_width * s.channels;
  PNEUMA_LAUNCH(avg_pool_forward_kernel<T>, grid_for(count), kThreads, 0, s, input, output);
}

template <class T>
void avg_pool2d_backward(const Pool2dShape& s, const T* grad_output, T* grad_input) {
  check_pool_shape(s, "avg_pool2d_backward");
  const int64_t count = s.batch * s.in_height * s.in_width * s.channels;
  PNEUMA_LAUNCH(avg_pool_backward_kernel<T>, grid_for(count), kThreads, 0, s, grad_output, grad_input);
}

// ---- global average pool and channel scale (squeeze-excitation) ----------------------------------------------
namespace {
void check_global_shape(int64_t batch, int64_t pixels, int64_t channels, const char* who) {
  PNEUMA_CHECK(batch > 0 && pixels > 0 && channels > 0, "%s (CUDA): batch, pixels and channels must be positive",
               who);
}

template <class T>
__global__ void spread_kernel(int64_t count, int64_t pixels, int64_t channels, const T* grad_output, T divisor,
                              T* grad_input) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) {
    const int64_t c = i % channels, b = i / (pixels * channels);
    grad_input[i] = grad_output[b * channels + c] / divisor;
  }
}

template <class T>
__global__ void channel_scale_kernel(int64_t count, int64_t pixels, int64_t channels, const T* input, const T* scale,
                                     T* output) {
  for (int64_t i = global_thread_index(); i < count; i += global_thread_count()) {
    const int64_t c = i % channels, b = i / (pixels * channels);
    output[i] = input[i] * scale[b * channels + c];
  }
}
}  // namespace

template <class T>
void global_avg_pool_forward(int64_t batch, int64_t pixels, int64_t channels, const T* input, T* output) {
  check_global_shape(batch, pixels, channels, "global_avg_pool_forward");
  const double divisor = static_cast<double>(pixels);
  reduce_columns<double, 1>(
      batch, pixels, channels,
      [=] __device__(int64_t b, int64_t p, int64_t c, double(&local)[1]) {
        local[0] += static_cast<double>(input[(b * pixels + p) * channels + c]);
      },
      [=] __device__(int64_t b, int64_t c, const Totals<double, 1>& totals) {
        output[b * channels + c] = static_cast<T>(totals.value[0] / divisor);
      });
}

template <class T>
void global_avg_pool_backward(int64_t batch, int64_t pixels, int64_t channels, const T* grad_output, T* grad_input) {
  check_global_shape(batch, pixels, channels, "global_avg_pool_backward");
  const int64_t count = batch * pixels * channels;
  PNEUMA_LAUNCH(spread_kernel<T>, grid_for(count), kThreads, 0, count, pixels, channels, grad_output,
                static_cast<T>(pixels), grad_input);
}

template <class T>
void channel_scale_forward(int64_t batch, int64_t pixels, int64_t channels, const T* input, const T* scale, T* output) {
  check_global_shape(batch, pixels, channels, "channel_scale_forward");
  const int64_t count = batch * pixels * channels;
  PNEUMA_LAUNCH(channel_scale_kernel<T>, grid_for(count), kThreads, 0, count, pixels, channels, input, scale, output);
}

template <class T>
void channel_scale_backward(int64_t batch, int64_t pixels, int64_t channels, const T* input, const T* scale,
                            const T* grad_output, T* grad_input, T* grad_scale) {
  check_global_shape(batch, pixels, channels, "channel_scale_backward");
  if (grad_scale) {
    reduce_columns<double, 1>(
        batch, pixels, channels,
        [=] __device__(int64_t b, int64_t p, int64_t c, double(&local)[1]) {
          const int64_t offset = (b * pixels + p) * channels + c;
          local[0] += static_cast<double>(grad_output[offset]) * static_cast<double>(input[offset]);
        },
        [=] __device__(int64_t b, int64_t c, const Totals<double, 1>& totals) {
          grad_scale[b * channels + c] = static_cast<T>(totals.value[0]);
        });
  }
  if (grad_input) channel_scale_forward(batch, pixels, channels, grad_output, scale, grad_input);
}

#define PNEUMA_INSTANTIATE_POOL(T)                                                                  \
  template void max_pool2d_forward<T>(const Pool2dShape&, const T*, T*, int32_t*);                  \
  template void max_pool2d_backward<T>(const Pool2dShape&, const T*, const int32_t*, const T*, T*); \
  template void avg_pool2d_forward<T>(const Pool2dShape&, const T*, T*);                            \
  template void avg_pool2d_backward<T>(const Pool2dShape&, const T*, T*);                           \
  template void global_avg_pool_forward<T>(int64_t, int64_t, int64_t, const T*, T*);                \
  template void global_avg_pool_backward<T>(int64_t, int64_t, int64_t, const T*, T*);               \
  template void channel_scale_forward<T>(int64_t, int64_t, int64_t, const T*, const T*, T*);        \
  template void channel_scale_backward<T>(int64_t, int64_t, int64_t, const T*, const T*, const T*, T*, T*);
PNEUMA_INSTANTIATE_POOL(float)
#undef PNEUMA_INSTANTIATE_POOL

}  // namespace pneuma::kernels::cuda
