// Max / average pooling on NHWC tensors with per-side padding, global average pooling and channel scaling.
// Backward passes of the windowed pools gather (each input pixel sums the outputs whose windows cover it), so every
// gradient element is written by one thread in a fixed order: no races, no zero fill, thread-count independent.
#include "kernels/pool.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/error.h"
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu {
namespace {

constexpr int64_t kGrainElements = 16384;  // rough work per thread below which threading does not pay

// Rows-of-work grain for parallel_for given the work per row.
int64_t grain_for(int64_t work_per_row) {
  return std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, work_per_row));
}

void check_pool_shape(const Pool2dShape& s, const char* who) {
  PNEUMA_CHECK(
      s.batch > 0 && s.in_height > 0 && s.in_width > 0 && s.channels > 0 && s.out_height > 0 && s.out_width > 0,
      "%s: sizes must be positive", who);
  PNEUMA_CHECK(s.kernel_height > 0 && s.kernel_width > 0 && s.stride_height > 0 && s.stride_width > 0,
               "%s: kernel and stride must be positive", who);
  PNEUMA_CHECK(s.pad_top >= 0 && s.pad_left >= 0 && s.pad_bottom >= 0 && s.pad_right >= 0,
               "%s: padding must be non-negative", who);
  // Every window must overlap the image: otherwise max pooling has no winner and valid-only averaging divides by 0.
  PNEUMA_CHECK(s.pad_top < s.kernel_height && s.pad_left < s.kernel_width,
               "%s: padding before the image (%lld, %lld) must be smaller than the kernel (%lld, %lld)", who,
               static_cast<long long>(s.pad_top), static_cast<long long>(s.pad_left),
               static_cast<long long>(s.kernel_height), static_cast<long long>(s.kernel_width));
  PNEUMA_CHECK((s.out_height - 1) * s.stride_height - s.pad_top < s.in_height &&
                   (s.out_width - 1) * s.stride_width - s.pad_left < s.in_width,
               "%s: the last output window starts past the image (output %lld x %lld too large)", who,
               static_cast<long long>(s.out_height), static_cast<long long>(s.out_width));
  PNEUMA_CHECK(s.in_height * s.in_width <= std::numeric_limits<int32_t>::max(), "%s: image too large for int32 argmax",
               who);
}

// Part of one window axis that lies inside the image: [begin, end).
struct Span {
  int64_t begin, end;
};

Span window_span(int64_t out_index, int64_t stride, int64_t pad_before, int64_t kernel, int64_t size) {
  const int64_t start = out_index * stride - pad_before;
  return {std::max<int64_t>(start, 0), std::min(start + kernel, size)};
}

// Output indices whose windows cover input index `in_index`: [begin, end).
Span covering_outputs(int64_t in_index, int64_t stride, int64_t pad_before, int64_t kernel, int64_t out_size) {
  const int64_t padded = in_index + pad_before;  // window o covers it iff o·stride <= padded < o·stride + kernel
  const int64_t first = padded - kernel + 1 <= 0 ? 0 : (padded - kernel + 1 + stride - 1) / stride;
  const int64_t last = std::min(out_size - 1, padded / stride);
  return {first, std::max(first, last + 1)};
}

// Per output index along one axis, how many window positions the average divides by: the valid ones, or with
// count_include_pad every position inside the padded extent [-pad_before, size + pad_after) (PyTorch's rule, which
// also covers windows that hang past the padding, as with ceil_mode).
std::vector<int64_t> divisor_counts(int64_t out_size, int64_t stride, int64_t pad_before, int64_t pad_after,
                                    int64_t kernel, int64_t size, bool count_include_pad) {
  std::vector<int64_t> counts(static_cast<size_t>(out_size));
  for (int64_t o = 0; o < out_size; ++o) {
    const int64_t start = o * stride - pad_before;
    counts[o] = count_include_pad ? std::min(start + kernel, size + pad_after) - start
                                  : std::min(start + kernel, size) - std::max<int64_t>(start, 0);
  }
  return counts;
}

// Inner loops over the channels, one job each. __restrict__ parameters (which GCC reliably honours after inlining)
// let them vectorise without runtime overlap checks; the max-pool loop ran scalar without them.
template <class T>
void set_to_zero(int64_t channels, T* __restrict__ destination) {
  for (int64_t c = 0; c < channels; ++c) destination[c] = T(0);
}

template <class T>
void add_to(int64_t channels, const T* __restrict__ source, T* __restrict__ destination) {
  for (int64_t c = 0; c < channels; ++c) destination[c] += source[c];
}

// Replaces best[c] by x[c] (and index[c] by position) when x[c] is larger or NaN, as PyTorch's max pool does.
template <class T>
void keep_larger(int64_t channels, const T* __restrict__ x, int32_t position, T* __restrict__ best,
                 int32_t* __restrict__ index) {
  for (int64_t c = 0; c < channels; ++c) {
    const T v = x[c];
    const bool take = v > best[c] || v != v;
    best[c] = take ? v : best[c];
    index[c] = take ? position : index[c];
  }
}

// dx[c] += dy[c] where this pixel won the window.
template <class T>
void add_where_winner(int64_t channels, const int32_t* __restrict__ winner, int32_t position, const T* __restrict__ dy,
                      T* __restrict__ dx) {
  for (int64_t c = 0; c < channels; ++c) dx[c] += winner[c] == position ? dy[c] : T(0);
}

template <class T>
void add_divided(int64_t channels, const T* __restrict__ dy, T divisor, T* __restrict__ dx) {
  for (int64_t c = 0; c < channels; ++c) dx[c] += dy[c] / divisor;
}

template <class T>
void divide_row(int64_t channels, const T* __restrict__ x, T divisor, T* __restrict__ y) {
  for (int64_t c = 0; c < channels; ++c) y[c] = x[c] / divisor;
}

template <class T>
void add_to_double(int64_t channels, const T* __restrict__ x, double* __restrict__ sum) {
  for (int64_t c = 0; c < channels; ++c) sum[c] += static_cast<double>(x[c]);
}

template <class T>
void add_product_to_double(int64_t channels, const T* __restrict__ a, const T* __restrict__ b,
                           double* __restrict__ sum) {
  for (int64_t c = 0; c < channels; ++c) sum[c] += static_cast<double>(a[c]) * static_cast<double>(b[c]);
}

// y = x · factor; x and y may be the same buffer.
template <class T>
void multiply_row(int64_t channels, const T* x, const T* __restrict__ factor, T* y) {
  for (int64_t c = 0; c < channels; ++c) y[c] = x[c] * factor[c];
}

// Maximum of each window (first occurrence wins ties; NaN wins, as in PyTorch) with its flat in-image index.
// `output` may be null (backward recomputing the winners only).
template <class T>
void find_window_maxima(const Pool2dShape& s, const T* input, T* output, int32_t* argmax) {
  const int64_t channels = s.channels;
  const int64_t rows = s.batch * s.out_height;
  const int64_t work_per_row = s.out_width * s.kernel_height * s.kernel_width * channels;
  parallel_for(rows, grain_for(work_per_row), [&](int64_t begin, int64_t end) {
    std::vector<T> value_scratch(output ? 0 : static_cast<size_t>(channels));
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / s.out_height, oh = row % s.out_height;
      const Span hs = window_span(oh, s.stride_height, s.pad_top, s.kernel_height, s.in_height);
      const T* image = input + b * s.in_height * s.in_width * channels;
      for (int64_t ow = 0; ow < s.out_width; ++ow) {
        const Span ws = window_span(ow, s.stride_width, s.pad_left, s.kernel_width, s.in_width);
        const int64_t out_offset = (row * s.out_width + ow) * channels;
        T* best = output ? output + out_offset : value_scratch.data();
        int32_t* index = argmax + out_offset;
        const int32_t first = static_cast<int32_t>(hs.begin * s.in_width + ws.begin);
        for (int64_t c = 0; c < channels; ++c) {
          best[c] = -std::numeric_limits<T>::infinity();
          index[c] = first;
        }
        for (int64_t h = hs.begin; h < hs.end; ++h) {
          for (int64_t w = ws.begin; w < ws.end; ++w) {
            const int32_t position = static_cast<int32_t>(h * s.in_width + w);
            keep_larger(channels, image + position * channels, position, best, index);
          }
        }
      }
    }
  });
}

// Per-(image, channel) sums over pixels, in double, on fixed pixel chunks whose partials are added in chunk order.
// body(b, first_pixel, end_pixel, partial) adds its terms to the `channels` doubles of `partial`.
template <class Body>
std::vector<double> sum_over_pixels(int64_t batch, int64_t pixels, int64_t channels, Body&& body) {
  const int64_t chunk_pixels = std::max<int64_t>(16, 2 * kGrainElements / channels);  // 16+: partials stay small
  const int64_t chunks_per_image = chunk_count(pixels, chunk_pixels);
  std::vector<double> partials(static_cast<size_t>(batch * chunks_per_image * channels), 0.0);
  parallel_for_chunks(batch * chunks_per_image, 1, [&](int64_t chunk, int64_t, int64_t) {
    const int64_t b = chunk / chunks_per_image;
    const int64_t first = (chunk % chunks_per_image) * chunk_pixels;
    body(b, first, std::min(pixels, first + chunk_pixels), partials.data() + chunk * channels);
  });
  std::vector<double> totals(static_cast<size_t>(batch * channels), 0.0);
  for (int64_t b = 0; b < batch; ++b) {
    double* total = totals.data() + b * channels;
    for (int64_t k = 0; k < chunks_per_image; ++k) {
      const double* partial = partials.data() + (b * chunks_per_image + k) * channels;
      for (int64_t c = 0; c < channels; ++c) total[c] += partial[c];
    }
  }
  return totals;
}

void check_global_shape(int64_t batch, int64_t pixels, int64_t channels, const char* who) {
  PNEUMA_CHECK(batch > 0 && pixels > 0 && channels > 0, "%s: batch, pixels and channels must be positive", who);
}

}  // namespace

template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* input, T* output, int32_t* argmax) {
  check_pool_shape(s, "max_pool2d_forward");
  if (argmax) return find_window_maxima(s, input, output, argmax);
  std::vector<int32_t> winners(static_cast<size_t>(s.batch * s.out_height * s.out_width * s.channels));
  find_window_maxima(s, input, output, winners.data());
}

template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* input, const int32_t* argmax, const T* grad_output,
                         T* grad_input) {
  check_pool_shape(s, "max_pool2d_backward");
  std::vector<int32_t> recomputed;
  if (!argmax) {
    PNEUMA_CHECK(input != nullptr, "max_pool2d_backward: needs the input when no argmax is given");
    recomputed.resize(static_cast<size_t>(s.batch * s.out_height * s.out_width * s.channels));
    find_window_maxima<T>(s, input, nullptr, recomputed.data());
    argmax = recomputed.data();
  }
  const int64_t channels = s.channels;
  const int64_t rows = s.batch * s.in_height;
  const int64_t windows_per_pixel = ((s.kernel_height + s.stride_height - 1) / s.stride_height) *
                                    ((s.kernel_width + s.stride_width - 1) / s.stride_width);
  parallel_for(rows, grain_for(s.in_width * windows_per_pixel * channels), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / s.in_height, h = row % s.in_height;
      const Span ohs = covering_outputs(h, s.stride_height, s.pad_top, s.kernel_height, s.out_height);
      for (int64_t w = 0; w < s.in_width; ++w) {
        const Span ows = covering_outputs(w, s.stride_width, s.pad_left, s.kernel_width, s.out_width);
        const int32_t position = static_cast<int32_t>(h * s.in_width + w);
        T* dx = grad_input + (row * s.in_width + w) * channels;
        set_to_zero(channels, dx);
        for (int64_t oh = ohs.begin; oh < ohs.end; ++oh) {
          for (int64_t ow = ows.begin; ow < ows.end; ++ow) {
            const int64_t out_offset = ((b * s.out_height + oh) * s.out_width + ow) * channels;
            add_where_winner(channels, argmax + out_offset, position, grad_output + out_offset, dx);
          }
        }
      }
    }
  });
}

template <class T>
void avg_pool2d_forward(const Pool2dShape& s, const T* input, T* output) {
  check_pool_shape(s, "avg_pool2d_forward");
  const std::vector<int64_t> height_counts = divisor_counts(s.out_height, s.stride_height, s.pad_top, s.pad_bottom,
                                                            s.kernel_height, s.in_height, s.count_include_pad);
  const std::vector<int64_t> width_counts = divisor_counts(s.out_width, s.stride_width, s.pad_left, s.pad_right,
                                                           s.kernel_width, s.in_width, s.count_include_pad);
  const int64_t channels = s.channels;
  const int64_t work_per_row = s.out_width * s.kernel_height * s.kernel_width * channels;
  parallel_for(s.batch * s.out_height, grain_for(work_per_row), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / s.out_height, oh = row % s.out_height;
      const Span hs = window_span(oh, s.stride_height, s.pad_top, s.kernel_height, s.in_height);
      const T* image = input + b * s.in_height * s.in_width * channels;
      for (int64_t ow = 0; ow < s.out_width; ++ow) {
        const Span ws = window_span(ow, s.stride_width, s.pad_left, s.kernel_width, s.in_width);
        T* y = output + (row * s.out_width + ow) * channels;
        set_to_zero(channels, y);
        for (int64_t h = hs.begin; h < hs.end; ++h)
          for (int64_t w = ws.begin; w < ws.end; ++w) add_to(channels, image + (h * s.in_width + w) * channels, y);
        const T divisor = static_cast<T>(height_counts[oh] * width_counts[ow]);
        for (int64_t c = 0; c < channels; ++c) y[c] /= divisor;
      }
    }
  });
}

template <class T>
void avg_pool2d_backward(const Pool2dShape& s, const T* grad_output, T* grad_input) {
  check_pool_shape(s, "avg_pool2d_backward");
  const std::vector<int64_t> height_counts = divisor_counts(s.out_height, s.stride_height, s.pad_top, s.pad_bottom,
                                                            s.kernel_height, s.in_height, s.count_include_pad);
  const std::vector<int64_t> width_counts = divisor_counts(s.out_width, s.stride_width, s.pad_left, s.pad_right,
                                                           s.kernel_width, s.in_width, s.count_include_pad);
  const int64_t channels = s.channels;
  const int64_t windows_per_pixel = ((s.kernel_height + s.stride_height - 1) / s.stride_height) *
                                    ((s.kernel_width + s.stride_width - 1) / s.stride_width);
  parallel_for(s.batch * s.in_height, grain_for(s.in_width * windows_per_pixel * channels),
               [&](int64_t begin, int64_t end) {
                 for (int64_t row = begin; row < end; ++row) {
                   const int64_t b = row / s.in_height, h = row % s.in_height;
                   const Span ohs = covering_outputs(h, s.stride_height, s.pad_top, s.kernel_height, s.out_height);
                   for (int64_t w = 0; w < s.in_width; ++w) {
                     const Span ows = covering_outputs(w, s.stride_width, s.pad_left, s.kernel_width, s.out_width);
                     T* dx = grad_input + (row * s.in_width + w) * channels;
                     set_to_zero(channels, dx);
                     for (int64_t oh = ohs.begin; oh < ohs.end; ++oh) {
                       for (int64_t ow = ows.begin; ow < ows.end; ++ow) {
                         const T divisor = static_cast<T>(height_counts[oh] * width_counts[ow]);
                         add_divided(channels, grad_output + ((b * s.out_height + oh) * s.out_width + ow) * channels,
                                     divisor, dx);
                       }
                     }
                   }
                 }
               });
}

template <class T>
void global_avg_pool_forward(int64_t batch, int64_t pixels, int64_t channels, const T* input, T* output) {
  check_global_shape(batch, pixels, channels, "global_avg_pool_forward");
  const std::vector<double> sums =
      sum_over_pixels(batch, pixels, channels, [&](int64_t b, int64_t first, int64_t end, double* partial) {
        for (int64_t p = first; p < end; ++p) add_to_double(channels, input + (b * pixels + p) * channels, partial);
      });
  for (int64_t i = 0; i < batch * channels; ++i) output[i] = static_cast<T>(sums[i] / static_cast<double>(pixels));
}

template <class T>
void global_avg_pool_backward(int64_t batch, int64_t pixels, int64_t channels, const T* grad_output, T* grad_input) {
  check_global_shape(batch, pixels, channels, "global_avg_pool_backward");
  const T count = static_cast<T>(pixels);
  parallel_for(batch * pixels, grain_for(channels), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      divide_row(channels, grad_output + (row / pixels) * channels, count, grad_input + row * channels);
    }
  });
}

template <class T>
void channel_scale_forward(int64_t batch, int64_t pixels, int64_t channels, const T* input, const T* scale, T* output) {
  check_global_shape(batch, pixels, channels, "channel_scale_forward");
  parallel_for(batch * pixels, grain_for(channels), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row)
      multiply_row(channels, input + row * channels, scale + (row / pixels) * channels, output + row * channels);
  });
}

template <class T>
void channel_scale_backward(int64_t batch, int64_t pixels, int64_t channels, const T* input, const T* scale,
                            const T* grad_output, T* grad_input, T* grad_scale) {
  check_global_shape(batch, pixels, channels, "channel_scale_backward");
  if (grad_scale) {
    const std::vector<double> sums =
        sum_over_pixels(batch, pixels, channels, [&](int64_t b, int64_t first, int64_t end, double* partial) {
          for (int64_t p = first; p < end; ++p) {
            const int64_t offset = (b * pixels + p) * channels;
            add_product_to_double(channels, grad_output + offset, input + offset, partial);
          }
        });
    for (int64_t i = 0; i < batch * channels; ++i) grad_scale[i] = static_cast<T>(sums[i]);
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
PNEUMA_INSTANTIATE_POOL(double)
#undef PNEUMA_INSTANTIATE_POOL

}  // namespace pneuma::kernels::cpu
