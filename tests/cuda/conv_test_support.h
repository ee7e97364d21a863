// Helpers for the CUDA convolution / linear tests: shape construction (explicit and TF "SAME" padding), the
// awkward shapes every CUDA conv test runs, CPU references in double, and the tolerances of a length-`terms` fp32
// or TF32 dot product. Header-only, host code only; compiles in CPU-only builds.
//
// Tolerances (|got - ref| <= atol + rtol·|ref|, inputs uniform in [-1, 1]):
//  - exact fp32 (depthwise kernels, GEMM with MatmulPrecision::fp32): atol = 1e-5·sqrt(terms), rtol = 1e-5. A
//    different summation order of `terms` products of magnitude <= 1 moves the result by a few ulps of the partial
//    sums, which grow like sqrt(terms).
//  - TF32 (the GEMM's default): both operands are rounded to a 10-bit mantissa (relative error <= 2^-11 each), so a
//    product is off by up to ~1e-3 of its magnitude and the errors of `terms` products add like a random walk:
//    atol = 2e-3·sqrt(terms), rtol = 2e-3, and the NMSE over the tensor must stay below 1e-5.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "kernels/conv2d.h"
#include "tests/cuda/cuda_test_support.h"

namespace pneuma::testing {

struct ConvPadding {
  int64_t top = 0, left = 0, bottom = 0, right = 0;
};

inline kernels::Conv2dShape conv_shape(int64_t batch, int64_t height, int64_t width, int64_t in_channels,
                                       int64_t out_channels, int64_t kernel_height, int64_t kernel_width,
                                       int64_t stride_height, int64_t stride_width, ConvPadding pad, int64_t dilation,
                                       int64_t groups) {
  kernels::Conv2dShape s;
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

// TensorFlow "SAME" (asymmetric when the total is odd: the extra pixel goes bottom / right).
inline ConvPadding same_padding(int64_t height, int64_t width, int64_t kernel, int64_t stride, int64_t dilation) {
  ConvPadding p;
  kernels::same_padding(height, kernel, stride, dilation, &p.top, &p.bottom);
  kernels::same_padding(width, kernel, stride, dilation, &p.left, &p.right);
  return p;
}

inline ConvPadding symmetric(int64_t p) { return {p, p, p, p}; }

struct ConvCase {
  std::string name;
  kernels::Conv2dShape shape;
};

// Regular / grouped / pointwise shapes for the implicit GEMM: odd sizes, channels not a multiple of 4 (the scalar
// path), N = 3, stride 2 with SAME padding, dilation, several M / N / K tiles.
inline std::vector<ConvCase> gemm_conv_cases() {
  const ConvPadding none{};
  return {
      {"1x1 5->7 (scalar path)", conv_shape(3, 7, 9, 5, 7, 1, 1, 1, 1, none, 1, 1)},
      {"1x1 16->24 pointwise", conv_shape(3, 7, 9, 16, 24, 1, 1, 1, 1, none, 1, 1)},
      {"1x1 grouped 8->12 groups 2", conv_shape(1, 7, 9, 8, 12, 1, 1, 1, 1, none, 1, 2)},
      {"1x1 stride 2 16->40", conv_shape(3, 9, 7, 16, 40, 1, 1, 2, 2, none, 1, 1)},
      {"stem 3x3 s2 SAME 3->32", conv_shape(3, 9, 11, 3, 32, 3, 3, 2, 2, same_padding(9, 11, 3, 2, 1), 1, 1)},
      {"stem 3x3 s2 SAME 3->24 even input",
       conv_shape(2, 10, 12, 3, 24, 3, 3, 2, 2, same_padding(10, 12, 3, 2, 1), 1, 1)},
      {"fused-MBConv 3x3 24->96", conv_shape(3, 9, 7, 24, 96, 3, 3, 1, 1, symmetric(1), 1, 1)},
      {"fused-MBConv 3x3 s2 SAME 24->48",
       conv_shape(3, 11, 10, 24, 48, 3, 3, 2, 2, same_padding(11, 10, 3, 2, 1), 1, 1)},
      {"5x5 dilation 2 8->12", conv_shape(1, 9, 7, 8, 12, 5, 5, 1, 1, symmetric(4), 2, 1)},
      {"3x3 dilation 2 stride 2 12->8", conv_shape(2, 13, 12, 12, 8, 3, 3, 2, 2, same_padding(13, 12, 3, 2, 2), 2, 1)},
      {"grouped 3x3 s2 SAME 16->24 groups 2",
       conv_shape(3, 7, 9, 16, 24, 3, 3, 2, 2, same_padding(7, 9, 3, 2, 1), 1, 2)},
      {"3x5 stride (2,1) asymmetric 5->3", conv_shape(1, 7, 9, 5, 3, 3, 5, 2, 1, {0, 2, 1, 1}, 1, 1)},
      {"3x3 pad 3 (all-padding border) 4->4", conv_shape(1, 5, 4, 4, 4, 3, 3, 1, 1, symmetric(3), 1, 1)},
      {"channel multiplier 2 (3->6 groups 3)", conv_shape(1, 7, 9, 3, 6, 3, 3, 1, 1, symmetric(1), 1, 3)},
      {"3x3 64->160 (several k and n tiles)", conv_shape(2, 11, 13, 64, 160, 3, 3, 1, 1, symmetric(1), 1, 1)},
      {"1x1 136->256 (several m tiles)", conv_shape(3, 23, 23, 136, 256, 1, 1, 1, 1, none, 1, 1)},
  };
}

// Depthwise shapes: every specialisation (3×3 / 5×5, stride 1 / 2) and the general path (channels not a multiple
// of 4, dilation, rectangular kernels and strides, 7×7 = more taps than one weight-gradient launch takes).
inline std::vector<ConvCase> depthwise_conv_cases() {
  return {
      {"dw 3x3 s1 C32", conv_shape(3, 9, 11, 32, 32, 3, 3, 1, 1, symmetric(1), 1, 32)},
      {"dw 3x3 s2 SAME C24", conv_shape(3, 9, 11, 24, 24, 3, 3, 2, 2, same_padding(9, 11, 3, 2, 1), 1, 24)},
      {"dw 3x3 s2 SAME C96 even input",
       conv_shape(2, 28, 28, 96, 96, 3, 3, 2, 2, same_padding(28, 28, 3, 2, 1), 1, 96)},
      {"dw 5x5 s1 C40", conv_shape(1, 13, 17, 40, 40, 5, 5, 1, 1, symmetric(2), 1, 40)},
      {"dw 5x5 s2 SAME C36", conv_shape(2, 14, 15, 36, 36, 5, 5, 2, 2, same_padding(14, 15, 5, 2, 1), 1, 36)},
      {"dw 3x3 C17 (scalar path)", conv_shape(3, 7, 9, 17, 17, 3, 3, 1, 1, symmetric(1), 1, 17)},
      {"dw 3x3 s2 C5 (scalar gather)", conv_shape(2, 9, 8, 5, 5, 3, 3, 2, 2, same_padding(9, 8, 3, 2, 1), 1, 5)},
      {"dw 3x3 dilation 2 C16", conv_shape(1, 7, 9, 16, 16, 3, 3, 1, 1, symmetric(2), 2, 16)},
      {"dw 5x5 dilation 2 s2 SAME C12", conv_shape(3, 9, 7, 12, 12, 5, 5, 2, 2, same_padding(9, 7, 5, 2, 2), 2, 12)},
      {"dw 7x7 C8 (two tap chunks)", conv_shape(2, 9, 10, 8, 8, 7, 7, 1, 1, symmetric(3), 1, 8)},
      {"dw 3x5 stride (2,1) asymmetric C40", conv_shape(1, 7, 9, 40, 40, 3, 5, 2, 1, {0, 2, 1, 1}, 1, 40)},
      {"dw 3x3 40x37 C64 (many tiles)", conv_shape(2, 40, 37, 64, 64, 3, 3, 1, 1, symmetric(1), 1, 64)},
      {"dw 3x3 7x7 C160 (wide channel blocks)", conv_shape(3, 7, 7, 160, 160, 3, 3, 1, 1, symmetric(1), 1, 160)},
      {"dw 3x3 pad 3 (all-padding border) C4", conv_shape(1, 5, 4, 4, 4, 3, 3, 1, 1, symmetric(3), 1, 4)},
  };
}

inline std::string describe(const kernels::Conv2dShape& s) {
  char text[256];
  std::snprintf(text, sizeof(text),
                "N%lld %lldx%lldx%lld -> %lldx%lldx%lld k%lldx%lld s%lldx%lld pad(%lld,%lld,%lld,%lld) d%lld g%lld",
                (long long)s.batch, (long long)s.in_height, (long long)s.in_width, (long long)s.in_channels,
                (long long)s.out_height, (long long)s.out_width, (long long)s.out_channels, (long long)s.kernel_height,
                (long long)s.kernel_width, (long long)s.stride_height, (long long)s.stride_width, (long long)s.pad_top,
                (long long)s.pad_left, (long long)s.pad_bottom, (long long)s.pad_right, (long long)s.dilation_height,
                (long long)s.groups);
  return text;
}

// Reduction lengths of each pass (the `terms` of the tolerances).
inline int64_t forward_terms(const kernels::Conv2dShape& s) {
  return s.kernel_height * s.kernel_width * (s.in_channels / s.groups);
}
inline int64_t backward_input_terms(const kernels::Conv2dShape& s) {
  return s.kernel_height * s.kernel_width * (s.out_channels / s.groups);
}
inline int64_t pixel_terms(const kernels::Conv2dShape& s) { return s.batch * s.out_height * s.out_width; }

inline Tolerance exact_fp32_tolerance(int64_t terms) {
  return {.atol = 1e-5 * std::sqrt(static_cast<double>(terms)), .rtol = 1e-5};
}
inline Tolerance tf32_tolerance(int64_t terms) {
  return {.atol = 2e-3 * std::sqrt(static_cast<double>(terms)), .rtol = 2e-3};
}
constexpr double kTf32MaxNmse = 1e-5;

// Tensors of a convolution in its layouts, random in [-1, 1], on the CPU (f32).
struct ConvTensors {
  Tensor input, weight, bias, grad_output;
};
inline ConvTensors random_conv_tensors(const kernels::Conv2dShape& s, uint64_t seed) {
  return {random_uniform({s.batch, s.in_height, s.in_width, s.in_channels}, -1, 1, seed),
          random_uniform({s.out_channels, s.kernel_height, s.kernel_width, s.in_channels / s.groups}, -1, 1, seed + 1),
          random_uniform({s.out_channels}, -1, 1, seed + 2),
          random_uniform({s.batch, s.out_height, s.out_width, s.out_channels}, -1, 1, seed + 3)};
}

// The CPU kernels in double on the f32 tensors' values: the references.
inline Tensor reference_forward(const kernels::Conv2dShape& s, const ConvTensors& t) {
  const Tensor input = t.input.to(DType::f64), weight = t.weight.to(DType::f64), bias = t.bias.to(DType::f64);
  Tensor output = Tensor::empty({s.batch, s.out_height, s.out_width, s.out_channels}, DType::f64);
  kernels::cpu::conv2d_forward<double>(s, input.data<double>(), weight.data<double>(), bias.data<double>(),
                                       output.data<double>());
  return output;
}
inline Tensor reference_backward_input(const kernels::Conv2dShape& s, const ConvTensors& t) {
  const Tensor grad_output = t.grad_output.to(DType::f64), weight = t.weight.to(DType::f64);
  Tensor grad_input = Tensor::empty(t.input.shape(), DType::f64);
  kernels::cpu::conv2d_backward_input<double>(s, grad_output.data<double>(), weight.data<double>(),
                                              grad_input.data<double>());
  return grad_input;
}
inline Tensor reference_backward_weight(const kernels::Conv2dShape& s, const ConvTensors& t) {
  const Tensor input = t.input.to(DType::f64), grad_output = t.grad_output.to(DType::f64);
  Tensor grad_weight = Tensor::empty(t.weight.shape(), DType::f64);
  kernels::cpu::conv2d_backward_weight<double>(s, input.data<double>(), grad_output.data<double>(),
                                               grad_weight.data<double>());
  return grad_weight;
}
inline Tensor reference_backward_bias(const kernels::Conv2dShape& s, const ConvTensors& t) {
  const Tensor grad_output = t.grad_output.to(DType::f64);
  Tensor grad_bias = Tensor::empty({s.out_channels}, DType::f64);
  kernels::cpu::conv2d_backward_bias<double>(s, grad_output.data<double>(), grad_bias.data<double>());
  return grad_bias;
}

// NMSE of `got` against `reference` (both any device / floating dtype).
inline double nmse(const Tensor& got, const Tensor& reference) {
  return error_stats(got.to_vector<double>(), reference.to_vector<double>(), {}).nmse;
}

}  // namespace pneuma::testing
