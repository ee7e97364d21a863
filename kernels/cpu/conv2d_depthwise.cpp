// Depthwise convolution (groups == in_channels == out_channels) forward and input gradient, as direct NHWC loops:
// channels are contiguous, so every tap is a vector multiply-add over a block of channels. Threads split the
// rows (batch × height) of the tensor being written, so each element is written by exactly one thread.
// The weight gradient lives in conv2d_depthwise_weight.cpp.
#include <algorithm>
#include <vector>

#include "kernels/cpu/conv2d_internal.h"
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu::conv2d_detail {

template <class T>
void depthwise_forward(const Conv2dShape& s, const T* input, const T* weight, const T* bias, T* output) {
  const int64_t channels = s.in_channels;
  const std::vector<T> tap_weights = weights_by_tap(weight, channels, s.kernel_height * s.kernel_width);
  const int64_t row_work = s.out_width * channels * s.kernel_height * s.kernel_width;
  parallel_for(s.batch * s.out_height, std::max<int64_t>(1, 32768 / row_work), [&](int64_t row_begin, int64_t row_end) {
    for (int64_t row = row_begin; row < row_end; ++row) {
      const int64_t n = row / s.out_height, oh = row % s.out_height;
      const int64_t ih0 = oh * s.stride_height - s.pad_top;
      int64_t kh_begin, kh_end;
      valid_taps(ih0, s.dilation_height, s.kernel_height, s.in_height, &kh_begin, &kh_end);
      const T* image = input + n * s.in_height * s.in_width * channels;
      T* out_row = output + row * s.out_width * channels;
      for_channel_blocks<T, 8>(channels, [&]<int bytes, int count>(int64_t c0) {
        using V = Vector<T, bytes>;
        constexpr int lanes = lanes_of<T, bytes>;
        for (int64_t ow = 0; ow < s.out_width; ++ow) {
          const int64_t iw0 = ow * s.stride_width - s.pad_left;
          int64_t kw_begin, kw_end;
          valid_taps(iw0, s.dilation_width, s.kernel_width, s.in_width, &kw_begin, &kw_end);
          V sum[count];
          for (int v = 0; v < count; ++v) sum[v] = bias != nullptr ? load<V>(bias + c0 + v * lanes) : V{};
          for (int64_t kh = kh_begin; kh < kh_end; ++kh) {
            const T* input_row = image + (ih0 + kh * s.dilation_height) * s.in_width * channels + c0;
            const T* w = tap_weights.data() + kh * s.kernel_width * channels + c0;
            for (int64_t kw = kw_begin; kw < kw_end; ++kw) {
              const T* x = input_row + (iw0 + kw * s.dilation_width) * channels;
              for (int v = 0; v < count; ++v)
                sum[v] += load<V>(x + v * lanes) * load<V>(w + kw * channels + v * lanes);
            }
          }
          for (int v = 0; v < count; ++v) store(out_row + ow * channels + c0 + v * lanes, sum[v]);
        }
      });
    }
  });
}

// grad_input[n, ih, iw, c] = Σ over the taps that read it of grad_output[n, oh, ow, c] · weight[c, kh, kw],
// gathered per input pixel in a fixed tap order.
template <class T>
void depthwise_backward_input(const Conv2dShape& s, const T* grad_output, const T* weight, T* grad_input) {
  const int64_t channels = s.in_channels;
  const std::vector<T> tap_weights = weights_by_tap(weight, channels, s.kernel_height * s.kernel_width);
  const TapTable rows =
      tap_table(s.in_height, s.out_height, s.kernel_height, s.stride_height, s.pad_top, s.dilation_height);
  const TapTable columns =
      tap_table(s.in_width, s.out_width, s.kernel_width, s.stride_width, s.pad_left, s.dilation_width);
  const int64_t row_work = s.in_width * channels * s.kernel_height * s.kernel_width;
  parallel_for(s.batch * s.in_height, std::max<int64_t>(1, 32768 / row_work), [&](int64_t row_begin, int64_t row_end) {
    for (int64_t row = row_begin; row < row_end; ++row) {
      const int64_t n = row / s.in_height, ih = row % s.in_height;
      const auto* row_taps = rows.entries.data() + ih * rows.max_taps;
      const int64_t row_tap_count = rows.count[ih];
      const T* gradient_image = grad_output + n * s.out_height * s.out_width * channels;
      T* in_row = grad_input + row * s.in_width * channels;
      for_channel_blocks<T, 8>(channels, [&]<int bytes, int count>(int64_t c0) {
        using V = Vector<T, bytes>;
        constexpr int lanes = lanes_of<T, bytes>;
        for (int64_t iw = 0; iw < s.in_width; ++iw) {
          const auto* column_taps = columns.entries.data() + iw * columns.max_taps;
          const int64_t column_tap_count = columns.count[iw];
          V sum[count];
          for (int v = 0; v < count; ++v) sum[v] = V{};
          for (int64_t r = 0; r < row_tap_count; ++r) {
            const auto [kh, oh] = row_taps[r];
            const T* gradient_row = gradient_image + oh * s.out_width * channels + c0;
            const T* w = tap_weights.data() + kh * s.kernel_width * channels + c0;
            for (int64_t t = 0; t < column_tap_count; ++t) {
              const auto [kw, ow] = column_taps[t];
              for (int v = 0; v < count; ++v)
                sum[v] += load<V>(gradient_row + ow * channels + v * lanes) * load<V>(w + kw * channels + v * lanes);
            }
          }
          for (int v = 0; v < count; ++v) store(in_row + iw * channels + c0 + v * lanes, sum[v]);
        }
      });
    }
  });
}

template void depthwise_forward<float>(const Conv2dShape&, const float*, const float*, const float*, float*);
template void depthwise_forward<double>(const Conv2dShape&, const double*, const double*, const double*, double*);
template void depthwise_backward_input<float>(const Conv2dShape&, const float*, const float*, float*);
template void depthwise_backward_input<double>(const Conv2dShape&, const double*, const double*, double*);

}  // namespace pneuma::kernels::cpu::conv2d_detail
