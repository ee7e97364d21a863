// Public conv2d entry points: validate the shape, then pick the path (depthwise direct loops, or GEMM).
#include <algorithm>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/cpu/conv2d_internal.h"
#include "kernels/error.h"
#include "kernels/parallel.h"

namespace pneuma::kernels::cpu {
namespace {

void check_shape(const Conv2dShape& s) {
  PNEUMA_CHECK(s.batch >= 1 && s.in_height >= 1 && s.in_width >= 1 && s.in_channels >= 1 && s.out_channels >= 1,
               "conv2d: sizes must be positive (batch %lld, input %lldx%lldx%lld, out_channels %lld)",
               (long long)s.batch, (long long)s.in_height, (long long)s.in_width, (long long)s.in_channels,
               (long long)s.out_channels);
  PNEUMA_CHECK(s.kernel_height >= 1 && s.kernel_width >= 1, "conv2d: kernel %lldx%lld must be positive",
               (long long)s.kernel_height, (long long)s.kernel_width);
  PNEUMA_CHECK(s.stride_height >= 1 && s.stride_width >= 1 && s.dilation_height >= 1 && s.dilation_width >= 1,
               "conv2d: stride %lldx%lld and dilation %lldx%lld must be positive", (long long)s.stride_height,
               (long long)s.stride_width, (long long)s.dilation_height, (long long)s.dilation_width);
  PNEUMA_CHECK(s.pad_top >= 0 && s.pad_left >= 0 && s.pad_bottom >= 0 && s.pad_right >= 0,
               "conv2d: negative padding (%lld, %lld, %lld, %lld)", (long long)s.pad_top, (long long)s.pad_left,
               (long long)s.pad_bottom, (long long)s.pad_right);
  PNEUMA_CHECK(s.groups >= 1 && s.in_channels % s.groups == 0 && s.out_channels % s.groups == 0,
               "conv2d: channels (in %lld, out %lld) must be divisible by groups %lld", (long long)s.in_channels,
               (long long)s.out_channels, (long long)s.groups);
  const int64_t height = conv_output_size(s.in_height, s.kernel_height, s.stride_height, s.pad_top, s.pad_bottom,
                                          s.dilation_height);
  const int64_t width = conv_output_size(s.in_width, s.kernel_width, s.stride_width, s.pad_left, s.pad_right,
                                         s.dilation_width);
  PNEUMA_CHECK(height >= 1 && width >= 1 && s.out_height == height && s.out_width == width,
               "conv2d: output %lldx%lld does not match the input, kernel, stride, padding and dilation (expected "
               "%lldx%lld)",
               (long long)s.out_height, (long long)s.out_width, (long long)height, (long long)width);
}

bool is_depthwise(const Conv2dShape& s) { return s.groups == s.in_channels && s.groups == s.out_channels; }

}  // namespace

template <class T>
void conv2d_forward(const Conv2dShape& s, const T* input, const T* weight, const T* bias, T* output) {
  check_shape(s);
  if (is_depthwise(s))
    conv2d_detail::depthwise_forward(s, input, weight, bias, output);
  else
    conv2d_detail::gemm_forward(s, input, weight, bias, output);
}

template <class T>
void conv2d_backward_input(const Conv2dShape& s, const T* grad_output, const T* weight, T* grad_input) {
  check_shape(s);
  if (is_depthwise(s))
    conv2d_detail::depthwise_backward_input(s, grad_output, weight, grad_input);
  else
    conv2d_detail::gemm_backward_input(s, grad_output, weight, grad_input);
}

template <class T>
void conv2d_backward_weight(const Conv2dShape& s, const T* input, const T* grad_output, T* grad_weight) {
  check_shape(s);
  if (is_depthwise(s))
    conv2d_detail::depthwise_backward_weight(s, input, grad_output, grad_weight);
  else
    conv2d_detail::gemm_backward_weight(s, input, grad_output, grad_weight);
}

// grad_bias[c] = Σ over every output pixel of grad_output[.., c]. Pixels are summed in fixed chunks (partials
// combined in chunk order), so the result does not depend on the thread count.
template <class T>
void conv2d_backward_bias(const Conv2dShape& s, const T* grad_output, T* grad_bias) {
  check_shape(s);
  if (grad_bias == nullptr) return;
  const int64_t pixels = s.batch * s.out_height * s.out_width;
  const int64_t channels = s.out_channels;
  const int64_t chunk = std::max<int64_t>(256, (pixels + 63) / 64);
  const int64_t chunks = chunk_count(pixels, chunk);
  std::vector<T> partials(chunks * channels);
  parallel_for_chunks(pixels, chunk, [&](int64_t index, int64_t begin, int64_t end) {
    T* sum = partials.data() + index * channels;
    // a block of channels is summed over the chunk's pixels in registers
    conv2d_detail::for_channel_blocks<T, 8>(channels, [&]<int bytes, int count>(int64_t c0) {
      using V = Vector<T, bytes>;
      constexpr int lanes = lanes_of<T, bytes>;
      V total[count];
      for (int v = 0; v < count; ++v) total[v] = V{};
      for (int64_t pixel = begin; pixel < end; ++pixel)
        for (int v = 0; v < count; ++v)
          total[v] += load<V>(grad_output + pixel * channels + c0 + v * lanes);
      for (int v = 0; v < count; ++v) store(sum + c0 + v * lanes, total[v]);
    });
  });
  std::copy(partials.begin(), partials.begin() + channels, grad_bias);
  for (int64_t index = 1; index < chunks; ++index)
    for (int64_t c = 0; c < channels; ++c) grad_bias[c] += partials[index * channels + c];
}

#define PNEUMA_INSTANTIATE_CONV2D(T)                                                                           \
  template void conv2d_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*);                     \
  template void conv2d_backward_input<T>(const Conv2dShape&, const T*, const T*, T*);                        \
  template void conv2d_backward_weight<T>(const Conv2dShape&, const T*, const T*, T*);                       \
  template void conv2d_backward_bias<T>(const Conv2dShape&, const T*, T*);
PNEUMA_INSTANTIATE_CONV2D(float)
PNEUMA_INSTANTIATE_CONV2D(double)
#undef PNEUMA_INSTANTIATE_CONV2D

}  // namespace pneuma::kernels::cpu
