// Private to kernels/cpu/conv2d*.cpp: the paths conv2d.cpp dispatches to, shared index helpers, and the SIMD
// vocabulary the direct kernels are written in.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cpu/simd.h"

namespace pneuma::kernels::cpu::conv2d_detail {

// ---- paths (each overwrites its output) ----------------------------------------------------------------------
// groups == in_channels == out_channels: direct NHWC loops vectorised over channels (conv2d_depthwise*.cpp).
template <class T>
void depthwise_forward(const Conv2dShape& s, const T* input, const T* weight, const T* bias, T* output);
template <class T>
void depthwise_backward_input(const Conv2dShape& s, const T* grad_output, const T* weight, T* grad_input);
template <class T>
void depthwise_backward_weight(const Conv2dShape& s, const T* input, const T* grad_output, T* grad_weight);

// Everything else, as GEMM: 1×1 stride-1 unpadded convolutions directly on the NHWC tensors, the rest through a
// bounded im2col / col2im buffer (conv2d_gemm.cpp).
template <class T>
void gemm_forward(const Conv2dShape& s, const T* input, const T* weight, const T* bias, T* output);
template <class T>
void gemm_backward_input(const Conv2dShape& s, const T* grad_output, const T* weight, T* grad_input);
template <class T>
void gemm_backward_weight(const Conv2dShape& s, const T* input, const T* grad_output, T* grad_weight);

// ---- index helpers --------------------------------------------------------------------------------------------
// Kernel taps k in [*begin, *end) keep start + k·dilation inside [0, size).
inline void valid_taps(int64_t start, int64_t dilation, int64_t kernel, int64_t size, int64_t* begin,
                       int64_t* end) {
  *begin = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
  *end = start >= size ? 0 : std::min(kernel, (size - start + dilation - 1) / dilation);
  if (*end < *begin) *end = *begin;
}

// weight [C, KH, KW, 1] → [KH·KW, C], so a tap's weights for a block of channels are one vector load.
template <class T>
inline std::vector<T> weights_by_tap(const T* weight, int64_t channels, int64_t taps) {
  std::vector<T> by_tap(taps * channels);
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t tap = 0; tap < taps; ++tap) by_tap[tap * channels + c] = weight[c * taps + tap];
  return by_tap;
}

// Which output positions read input position i: the (kernel tap, output index) pairs with
// output·stride - pad + tap·dilation == i, listed for every i in [0, size).
struct TapTable {
  int64_t max_taps;
  std::vector<int64_t> count;                        // [size]
  std::vector<std::pair<int64_t, int64_t>> entries;  // [size · max_taps]: (tap, output index)
};

inline TapTable tap_table(int64_t size, int64_t out_size, int64_t kernel, int64_t stride, int64_t pad,
                          int64_t dilation) {
  TapTable table{kernel, std::vector<int64_t>(size, 0), std::vector<std::pair<int64_t, int64_t>>(size * kernel)};
  for (int64_t i = 0; i < size; ++i)
    for (int64_t k = 0; k < kernel; ++k) {
      const int64_t t = i + pad - k * dilation;
      if (t < 0 || t % stride != 0 || t / stride >= out_size) continue;
      table.entries[i * kernel + table.count[i]++] = {k, t / stride};
    }
  return table;
}

// ---- SIMD vocabulary (kernels/cpu/simd.h) ---------------------------------------------------------------------
// for_channel_blocks() walks a channel range with the widest vectors first.
namespace internal {
template <class T, int count, int max_count, class Body>
inline void call_with_count(int runtime_count, int64_t c, Body& body) {
  if constexpr (count <= max_count) {
    if (runtime_count == count) return body.template operator()<widest_simd_bytes, count>(c);
    call_with_count<T, count + 1, max_count>(runtime_count, c, body);
  }
}
}  // namespace internal

// Calls body.template operator()<bytes, count>(first_channel) for consecutive blocks covering [0, channels): the
// full-width vectors are shared out evenly over as few blocks of at most `max_count` vectors as possible (96
// float channels: one block of 6; 144: blocks of 5 and 4), then half and quarter widths, then scalars. Each block
// is one pass over the pixels with all its vectors in registers, so fewer blocks means fewer passes.
template <class T, int max_count, class Body>
inline void for_channel_blocks(int64_t channels, Body&& body) {
  constexpr int full = widest_simd_bytes;
  const int64_t vectors = channels / lanes_of<T, full>;
  const int64_t blocks = (vectors + max_count - 1) / max_count;
  int64_t c = 0;
  for (int64_t block = 0; block < blocks; ++block) {
    const int count = static_cast<int>(vectors * (block + 1) / blocks - vectors * block / blocks);
    internal::call_with_count<T, 1, max_count>(count, c, body);
    c += count * lanes_of<T, full>;
  }
  if constexpr (full > 16) {
    constexpr int half = full / 2;
    for (; c + lanes_of<T, half> <= channels; c += lanes_of<T, half>) body.template operator()<half, 1>(c);
  }
  if constexpr (full > 32) {
    constexpr int quarter = full / 4;
    for (; c + lanes_of<T, quarter> <= channels; c += lanes_of<T, quarter>) body.template operator()<quarter, 1>(c);
  }
  for (; c < channels; ++c) body.template operator()<0, 1>(c);
}

}  // namespace pneuma::kernels::cpu::conv2d_detail
