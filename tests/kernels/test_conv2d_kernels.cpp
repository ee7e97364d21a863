// CPU conv2d kernels (forward, input / weight / bias gradients) against naive double-precision loops, in float and
// double, over awkward shapes: odd channels and spatial sizes, stride 2, dilation 2, asymmetric TF-SAME padding,
// regular / grouped / depthwise, 1×1 (the direct-GEMM path), 3×3, 5×5, batch 1 and 3, several im2col blocks.
// Outputs are poisoned with NaN first so an unwritten element fails. Also: repeatability, depthwise weight gradient
// bit-identical for 1 and 2 threads, and shape errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/error.h"
#include "kernels/parallel.h"

namespace {

using pneuma::kernels::Conv2dShape;
namespace kernels = pneuma::kernels;
namespace cpu = pneuma::kernels::cpu;

struct ConvCase {
  std::string name;
  Conv2dShape shape;
};

struct Padding {
  int64_t top, left, bottom, right;
};

Conv2dShape make_shape(int64_t batch, int64_t height, int64_t width, int64_t in_channels, int64_t out_channels,
                       int64_t kernel_height, int64_t kernel_width, int64_t stride_height, int64_t stride_width,
                       Padding pad, int64_t dilation, int64_t groups) {
  Conv2dShape s;
  s.batch = batch, s.in_height = height, s.in_width = width, s.in_channels = in_channels;
  s.out_channels = out_channels, s.kernel_height = kernel_height, s.kernel_width = kernel_width;
  s.stride_height = stride_height, s.stride_width = stride_width;
  s.pad_top = pad.top, s.pad_left = pad.left, s.pad_bottom = pad.bottom, s.pad_right = pad.right;
  s.dilation_height = s.dilation_width = dilation;
  s.groups = groups;
  s.out_height = kernels::conv_output_size(height, kernel_height, stride_height, pad.top, pad.bottom, dilation);
  s.out_width = kernels::conv_output_size(width, kernel_width, stride_width, pad.left, pad.right, dilation);
  return s;
}

// TensorFlow "SAME" padding (asymmetric for even totals: the extra pixel goes bottom / right).
Padding same(int64_t height, int64_t width, int64_t kernel, int64_t stride, int64_t dilation) {
  Padding p;
  kernels::same_padding(height, kernel, stride, dilation, &p.top, &p.bottom);
  kernels::same_padding(width, kernel, stride, dilation, &p.left, &p.right);
  return p;
}

std::vector<ConvCase> conv_cases() {
  const Padding none{0, 0, 0, 0}, one{1, 1, 1, 1};
  return {
      {"1x1 pointwise (direct GEMM)", make_shape(3, 7, 9, 5, 7, 1, 1, 1, 1, none, 1, 1)},
      {"1x1 pointwise grouped", make_shape(1, 7, 9, 6, 4, 1, 1, 1, 1, none, 1, 2)},
      {"1x1 stride 2", make_shape(1, 7, 9, 5, 3, 1, 1, 2, 2, none, 1, 1)},
      {"3x3 stride 1 pad 1", make_shape(3, 7, 9, 3, 5, 3, 3, 1, 1, one, 1, 1)},
      {"3x3 stride 2 SAME (stem)", make_shape(3, 7, 9, 3, 17, 3, 3, 2, 2, same(7, 9, 3, 2, 1), 1, 1)},
      {"5x5 dilation 2", make_shape(1, 9, 7, 5, 7, 5, 5, 1, 1, {4, 4, 4, 4}, 2, 1)},
      {"5x5 stride 2 SAME", make_shape(1, 9, 7, 7, 5, 5, 5, 2, 2, same(9, 7, 5, 2, 1), 1, 1)},
      {"3x3 grouped stride 2 SAME", make_shape(3, 7, 9, 6, 10, 3, 3, 2, 2, same(7, 9, 3, 2, 1), 1, 2)},
      {"3x5 stride (2,1) asymmetric pad", make_shape(1, 7, 9, 5, 3, 3, 5, 2, 1, {0, 2, 1, 1}, 1, 1)},
      {"3x3 pad 3 (all-padding border)", make_shape(1, 5, 4, 3, 2, 3, 3, 1, 1, {3, 3, 3, 3}, 1, 1)},
      {"channel multiplier 2 (grouped path)", make_shape(1, 7, 9, 3, 6, 3, 3, 1, 1, one, 1, 3)},
      {"3x3 several im2col blocks", make_shape(3, 24, 24, 32, 8, 3, 3, 1, 1, one, 1, 1)},
      {"depthwise 3x3 stride 1 pad 1", make_shape(3, 7, 9, 17, 17, 3, 3, 1, 1, one, 1, 17)},
      {"depthwise 3x3 stride 2 SAME", make_shape(3, 7, 9, 17, 17, 3, 3, 2, 2, same(7, 9, 3, 2, 1), 1, 17)},
      {"depthwise 5x5 stride 2 SAME", make_shape(1, 9, 7, 5, 5, 5, 5, 2, 2, same(9, 7, 5, 2, 1), 1, 5)},
      {"depthwise 3x3 dilation 2", make_shape(1, 7, 9, 7, 7, 3, 3, 1, 1, {2, 2, 2, 2}, 2, 7)},
      {"depthwise 5x5 dilation 2 stride 2 SAME", make_shape(3, 9, 7, 3, 3, 5, 5, 2, 2, same(9, 7, 5, 2, 2), 2, 3)},
      {"depthwise 3x5 stride (2,1) 40 channels", make_shape(1, 7, 9, 40, 40, 3, 5, 2, 1, {0, 2, 1, 1}, 1, 40)},
      {"depthwise 3x3 70 channels", make_shape(3, 5, 6, 70, 70, 3, 3, 1, 1, one, 1, 70)},
      {"depthwise 3x3 stride 2 SAME 150 channels", make_shape(1, 6, 5, 150, 150, 3, 3, 2, 2, same(6, 5, 3, 2, 1), 1, 150)},
      {"depthwise 3x3 pad 3 (all-padding border)", make_shape(1, 5, 4, 5, 5, 3, 3, 1, 1, {3, 3, 3, 3}, 1, 5)},
      {"depthwise 1x1", make_shape(1, 7, 9, 3, 3, 1, 1, 1, 1, none, 1, 3)},
  };
}

int64_t input_count(const Conv2dShape& s) { return s.batch * s.in_height * s.in_width * s.in_channels; }
int64_t output_count(const Conv2dShape& s) { return s.batch * s.out_height * s.out_width * s.out_channels; }
int64_t weight_count(const Conv2dShape& s) {
  return s.out_channels * s.kernel_height * s.kernel_width * (s.in_channels / s.groups);
}

template <class T>
std::vector<T> random_values(size_t count, uint32_t seed) {
  std::mt19937 generator(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<T> values(count);
  for (T& v : values) v = static_cast<T>(uniform(generator));
  return values;
}

template <class T>
std::vector<T> poisoned(size_t count) {
  return std::vector<T>(count, std::numeric_limits<T>::quiet_NaN());
}

// ---- naive double-precision reference -------------------------------------------------------------------------
// Calls visit(input index, weight index, output index) for every multiply-add of the convolution.
template <class Visit>
void for_each_tap(const Conv2dShape& s, Visit visit) {
  const int64_t in_group = s.in_channels / s.groups, out_group = s.out_channels / s.groups;
  for (int64_t n = 0; n < s.batch; ++n)
    for (int64_t oh = 0; oh < s.out_height; ++oh)
      for (int64_t ow = 0; ow < s.out_width; ++ow)
        for (int64_t co = 0; co < s.out_channels; ++co) {
          const int64_t group = co / out_group;
          const int64_t out_index = ((n * s.out_height + oh) * s.out_width + ow) * s.out_channels + co;
          for (int64_t kh = 0; kh < s.kernel_height; ++kh) {
            const int64_t ih = oh * s.stride_height - s.pad_top + kh * s.dilation_height;
            if (ih < 0 || ih >= s.in_height) continue;
            for (int64_t kw = 0; kw < s.kernel_width; ++kw) {
              const int64_t iw = ow * s.stride_width - s.pad_left + kw * s.dilation_width;
              if (iw < 0 || iw >= s.in_width) continue;
              for (int64_t ci = 0; ci < in_group; ++ci)
                visit(((n * s.in_height + ih) * s.in_width + iw) * s.in_channels + group * in_group + ci,
                      ((co * s.kernel_height + kh) * s.kernel_width + kw) * in_group + ci, out_index);
            }
          }
        }
}

template <class T>
std::vector<double> reference_forward(const Conv2dShape& s, const std::vector<T>& input, const std::vector<T>& weight,
                                      const T* bias) {
  std::vector<double> out(output_count(s), 0.0);
  if (bias != nullptr)
    for (size_t i = 0; i < out.size(); ++i) out[i] = bias[i % s.out_channels];
  for_each_tap(s, [&](int64_t x, int64_t w, int64_t y) { out[y] += double(input[x]) * double(weight[w]); });
  return out;
}

template <class T>
std::vector<double> reference_backward_input(const Conv2dShape& s, const std::vector<T>& grad_output,
                                             const std::vector<T>& weight) {
  std::vector<double> grad(input_count(s), 0.0);
  for_each_tap(s, [&](int64_t x, int64_t w, int64_t y) { grad[x] += double(grad_output[y]) * double(weight[w]); });
  return grad;
}

template <class T>
std::vector<double> reference_backward_weight(const Conv2dShape& s, const std::vector<T>& input,
                                              const std::vector<T>& grad_output) {
  std::vector<double> grad(weight_count(s), 0.0);
  for_each_tap(s, [&](int64_t x, int64_t w, int64_t y) { grad[w] += double(grad_output[y]) * double(input[x]); });
  return grad;
}

template <class T>
std::vector<double> reference_backward_bias(const Conv2dShape& s, const std::vector<T>& grad_output) {
  std::vector<double> grad(s.out_channels, 0.0);
  for (size_t i = 0; i < grad_output.size(); ++i) grad[i % s.out_channels] += grad_output[i];
  return grad;
}

// |got - ref| <= atol + rtol·|ref|, with float tolerances widened by sqrt(terms / 64) for long sums.
template <class T>
void expect_close(const std::vector<T>& got, const std::vector<double>& ref, int64_t terms, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size());
  const double base = sizeof(T) == 4 ? 1e-4 : 1e-10;
  const double tolerance = sizeof(T) == 4 ? base * std::max(1.0, std::sqrt(double(terms) / 64.0)) : base;
  double max_abs = 0, max_rel = 0;
  size_t failures = 0, worst = 0;
  double worst_excess = -INFINITY;
  for (size_t i = 0; i < got.size(); ++i) {
    const double error = std::fabs(double(got[i]) - ref[i]);
    const double excess = std::isnan(double(got[i])) ? INFINITY : error - tolerance * (1.0 + std::fabs(ref[i]));
    if (!std::isnan(error)) {
      max_abs = std::max(max_abs, error);
      max_rel = std::max(max_rel, error / std::max(std::fabs(ref[i]), 1e-30));
    }
    if (excess > 0) ++failures;
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  EXPECT_EQ(failures, 0u) << what << ": " << failures << " of " << got.size() << " elements out of tolerance "
                          << tolerance << "; worst index " << worst << " got " << got[worst] << " expected "
                          << ref[worst] << " (max abs " << max_abs << ", max rel " << max_rel << ")";
}

template <class T>
void check_forward() {
  uint32_t seed = 1;
  for (const ConvCase& c : conv_cases()) {
    SCOPED_TRACE(c.name);
    const Conv2dShape& s = c.shape;
    const auto input = random_values<T>(input_count(s), seed++);
    const auto weight = random_values<T>(weight_count(s), seed++);
    const auto bias = random_values<T>(s.out_channels, seed++);
    const int64_t terms = s.kernel_height * s.kernel_width * (s.in_channels / s.groups);
    for (const T* b : {bias.data(), static_cast<const T*>(nullptr)}) {
      auto output = poisoned<T>(output_count(s));
      cpu::conv2d_forward(s, input.data(), weight.data(), b, output.data());
      expect_close(output, reference_forward(s, input, weight, b), terms,
                   c.name + (b ? " forward with bias" : " forward without bias"));
    }
  }
}

template <class T>
void check_backward_input() {
  uint32_t seed = 1000;
  for (const ConvCase& c : conv_cases()) {
    SCOPED_TRACE(c.name);
    const Conv2dShape& s = c.shape;
    const auto grad_output = random_values<T>(output_count(s), seed++);
    const auto weight = random_values<T>(weight_count(s), seed++);
    auto grad_input = poisoned<T>(input_count(s));
    cpu::conv2d_backward_input(s, grad_output.data(), weight.data(), grad_input.data());
    expect_close(grad_input, reference_backward_input(s, grad_output, weight),
                 s.kernel_height * s.kernel_width * (s.out_channels / s.groups), c.name + " backward input");
  }
}

template <class T>
void check_backward_weight_and_bias() {
  uint32_t seed = 2000;
  for (const ConvCase& c : conv_cases()) {
    SCOPED_TRACE(c.name);
    const Conv2dShape& s = c.shape;
    const auto input = random_values<T>(input_count(s), seed++);
    const auto grad_output = random_values<T>(output_count(s), seed++);
    const int64_t pixels = s.batch * s.out_height * s.out_width;
    auto grad_weight = poisoned<T>(weight_count(s));
    cpu::conv2d_backward_weight(s, input.data(), grad_output.data(), grad_weight.data());
    expect_close(grad_weight, reference_backward_weight(s, input, grad_output), pixels, c.name + " backward weight");
    auto grad_bias = poisoned<T>(s.out_channels);
    cpu::conv2d_backward_bias(s, grad_output.data(), grad_bias.data());
    expect_close(grad_bias, reference_backward_bias(s, grad_output), pixels, c.name + " backward bias");
  }
}

TEST(Conv2dKernels, ForwardMatchesReferenceFloat) { check_forward<float>(); }
TEST(Conv2dKernels, ForwardMatchesReferenceDouble) { check_forward<double>(); }
TEST(Conv2dKernels, BackwardInputMatchesReferenceFloat) { check_backward_input<float>(); }
TEST(Conv2dKernels, BackwardInputMatchesReferenceDouble) { check_backward_input<double>(); }
TEST(Conv2dKernels, BackwardWeightAndBiasMatchReferenceFloat) { check_backward_weight_and_bias<float>(); }
TEST(Conv2dKernels, BackwardWeightAndBiasMatchReferenceDouble) { check_backward_weight_and_bias<double>(); }

// Every function gives the same bits when called twice on the same inputs (all paths: direct GEMM, im2col,
// depthwise).
TEST(Conv2dKernels, RepeatedCallsAreBitIdentical) {
  for (const ConvCase& c : conv_cases()) {
    SCOPED_TRACE(c.name);
    const Conv2dShape& s = c.shape;
    const auto input = random_values<float>(input_count(s), 31);
    const auto weight = random_values<float>(weight_count(s), 32);
    const auto bias = random_values<float>(s.out_channels, 33);
    const auto grad_output = random_values<float>(output_count(s), 34);
    std::vector<float> first[4], second[4];
    for (auto* results : {first, second}) {
      results[0] = poisoned<float>(output_count(s));
      results[1] = poisoned<float>(input_count(s));
      results[2] = poisoned<float>(weight_count(s));
      results[3] = poisoned<float>(s.out_channels);
      cpu::conv2d_forward(s, input.data(), weight.data(), bias.data(), results[0].data());
      cpu::conv2d_backward_input(s, grad_output.data(), weight.data(), results[1].data());
      cpu::conv2d_backward_weight(s, input.data(), grad_output.data(), results[2].data());
      cpu::conv2d_backward_bias(s, grad_output.data(), results[3].data());
    }
    for (int i = 0; i < 4; ++i) EXPECT_EQ(first[i], second[i]) << "result " << i << " differs between calls";
  }
}

// The depthwise weight gradient is a reduction over every output pixel; its chunking depends only on the shape, so
// 1 and 2 threads must agree to the bit (likewise the other kernels, which partition work without reductions).
TEST(Conv2dKernels, DepthwiseWeightGradientThreadCountIndependent) {
  const int saved_threads = kernels::max_threads();
  for (const Conv2dShape& s : {make_shape(3, 48, 40, 40, 40, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 40),
                               make_shape(2, 33, 35, 24, 24, 5, 5, 2, 2, same(33, 35, 5, 2, 1), 1, 24)}) {
    const auto input = random_values<float>(input_count(s), 41);
    const auto grad_output = random_values<float>(output_count(s), 42);
    const auto weight = random_values<float>(weight_count(s), 43);
    std::vector<float> weight_grad[2], bias_grad[2], input_grad[2];
    for (int threads : {1, 2}) {
      kernels::set_max_threads(threads);
      auto& gw = weight_grad[threads - 1];
      gw = poisoned<float>(weight_count(s));
      cpu::conv2d_backward_weight(s, input.data(), grad_output.data(), gw.data());
      bias_grad[threads - 1] = poisoned<float>(s.out_channels);
      cpu::conv2d_backward_bias(s, grad_output.data(), bias_grad[threads - 1].data());
      input_grad[threads - 1] = poisoned<float>(input_count(s));
      cpu::conv2d_backward_input(s, grad_output.data(), weight.data(), input_grad[threads - 1].data());
    }
    kernels::set_max_threads(saved_threads);
    EXPECT_EQ(weight_grad[0], weight_grad[1]) << "depthwise weight gradient depends on the thread count";
    EXPECT_EQ(bias_grad[0], bias_grad[1]) << "bias gradient depends on the thread count";
    EXPECT_EQ(input_grad[0], input_grad[1]) << "depthwise input gradient depends on the thread count";
  }
}

TEST(Conv2dKernels, RejectsInvalidShapes) {
  std::vector<float> buffer(4096, 0.0f);
  Conv2dShape s = make_shape(1, 5, 5, 6, 4, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 2);
  s.in_channels = 5;  // not divisible by groups
  EXPECT_THROW(cpu::conv2d_forward(s, buffer.data(), buffer.data(), (const float*)nullptr, buffer.data()),
               pneuma::Error);
  s = make_shape(1, 5, 5, 6, 4, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 2);
  s.out_channels = 5;  // not divisible by groups
  EXPECT_THROW(cpu::conv2d_backward_input(s, buffer.data(), buffer.data(), buffer.data()), pneuma::Error);
  s = make_shape(1, 5, 5, 6, 4, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 1);
  s.out_height = 4;  // inconsistent with the input, kernel and padding
  EXPECT_THROW(cpu::conv2d_backward_weight(s, buffer.data(), buffer.data(), buffer.data()), pneuma::Error);
  s = make_shape(1, 5, 5, 6, 4, 3, 3, 1, 1, {1, 1, 1, 1}, 1, 1);
  s.stride_width = 0;
  EXPECT_THROW(cpu::conv2d_backward_bias(s, buffer.data(), buffer.data()), pneuma::Error);
}

}  // namespace
