// Depthwise convolution weight gradient:
//   grad_weight[c, kh, kw] = Σ over n, oh, ow of grad_output[n, oh, ow, c] · input[n, ih, iw, c].
// A reduction over every output pixel, made deterministic with parallel_for_chunks: the output rows
// (batch × out_height) are cut into chunks that depend only on the shape, each chunk sums into its own partial
// [KH·KW, C] buffer in a fixed order, and the partials are added in chunk order. The result is bit-identical for
// any thread count.
#include <algorithm>
#include <vector>

#include "kernels/cpu/conv2d_internal.h"
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu::conv2d_detail {
namespace {

constexpr int64_t max_chunks = 64;

// partial[tap][c] += Σ_ow grad_output_row[ow][c] · input[ih(kh)][iw(ow, kw)][c] for one output row.
template <class T>
void accumulate_row(const Conv2dShape& s, const T* input, const T* grad_output, int64_t row, T* partial) {
  const int64_t channels = s.in_channels;
  const int64_t n = row / s.out_height, oh = row % s.out_height;
  const int64_t ih0 = oh * s.stride_height - s.pad_top;
  int64_t kh_begin, kh_end;
  valid_taps(ih0, s.dilation_height, s.kernel_height, s.in_height, &kh_begin, &kh_end);
  const T* gradient_row = grad_output + row * s.out_width * channels;
  for (int64_t kh = kh_begin; kh < kh_end; ++kh) {
    const T* input_row = input + ((n * s.in_height + ih0 + kh * s.dilation_height) * s.in_width) * channels;
    for (int64_t kw = 0; kw < s.kernel_width; ++kw) {
      // output columns whose tap kw lands inside the image: 0 <= ow·stride - pad_left + kw·dilation < in_width
      const int64_t offset = kw * s.dilation_width - s.pad_left;
      const int64_t ow_begin = offset >= 0 ? 0 : (-offset + s.stride_width - 1) / s.stride_width;
      const int64_t ow_end = offset >= s.in_width
                                 ? 0
                                 : std::min(s.out_width, (s.in_width - offset + s.stride_width - 1) / s.stride_width);
      if (ow_begin >= ow_end) continue;
      T* tap_partial = partial + (kh * s.kernel_width + kw) * channels;
      for_channel_blocks<T, 8>(channels, [&]<int bytes, int count>(int64_t c0) {
        using V = Vector<T, bytes>;
        constexpr int lanes = lanes_of<T, bytes>;
        // two interleaved accumulator sets (even / odd ow) so narrow blocks are not bound by FMA latency
        V even[count], odd[count];
        for (int v = 0; v < count; ++v) even[v] = odd[v] = V{};
        const T* g = gradient_row + c0;
        const T* x = input_row + (ow_begin * s.stride_width + offset) * channels + c0;
        const int64_t x_step = s.stride_width * channels;
        int64_t ow = ow_begin;
        for (; ow + 1 < ow_end; ow += 2) {
          for (int v = 0; v < count; ++v) {
            even[v] += load<V>(g + ow * channels + v * lanes) * load<V>(x + v * lanes);
            odd[v] += load<V>(g + (ow + 1) * channels + v * lanes) * load<V>(x + x_step + v * lanes);
          }
          x += 2 * x_step;
        }
        if (ow < ow_end)
          for (int v = 0; v < count; ++v) even[v] += load<V>(g + ow * channels + v * lanes) * load<V>(x + v * lanes);
        for (int v = 0; v < count; ++v) {
          T* target = tap_partial + c0 + v * lanes;
          store(target, load<V>(target) + (even[v] + odd[v]));
        }
      });
    }
  }
}

}  // namespace

template <class T>
void depthwise_backward_weight(const Conv2dShape& s, const T* input, const T* grad_output, T* grad_weight) {
  const int64_t channels = s.in_channels;
  const int64_t taps = s.kernel_height * s.kernel_width;
  const int64_t rows = s.batch * s.out_height;
  const int64_t chunk = (rows + max_chunks - 1) / max_chunks;
  const int64_t chunks = chunk_count(rows, chunk);
  std::vector<T> partials(chunks * taps * channels);
  parallel_for_chunks(rows, chunk, [&](int64_t index, int64_t begin, int64_t end) {
    T* partial = partials.data() + index * taps * channels;
    std::fill(partial, partial + taps * channels, T(0));
    for (int64_t row = begin; row < end; ++row) accumulate_row(s, input, grad_output, row, partial);
  });
  // grad_weight[c][tap] = Σ_chunks partial[chunk][tap][c], chunks in order.
  parallel_for(channels, std::max<int64_t>(1, 4096 / (taps * chunks)), [&](int64_t c_begin, int64_t c_end) {
    for (int64_t c = c_begin; c < c_end; ++c)
      for (int64_t tap = 0; tap < taps; ++tap) {
        T sum = partials[tap * channels + c];
        for (int64_t index = 1; index < chunks; ++index) sum += partials[(index * taps + tap) * channels + c];
        grad_weight[c * taps + tap] = sum;
      }
  });
}

template void depthwise_backward_weight<float>(const Conv2dShape&, const float*, const float*, float*);
template void depthwise_backward_weight<double>(const Conv2dShape&, const double*, const double*, double*);

}  // namespace pneuma::kernels::cpu::conv2d_detail
