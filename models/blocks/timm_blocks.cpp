#include "models/blocks/timm_blocks.h"

#include <algorithm>
#include <cmath>

#include "engine/nn/init.h"
#include "engine/ops.h"
#include "models/forward_trace.h"

namespace pneuma::models {
namespace {

std::shared_ptr<nn::Conv2d> timm_conv(const InvertedResidualOptions& o, int64_t in, int64_t out, int64_t kernel,
                                      int64_t stride, int64_t groups, Generator& generator) {
  const Padding2d padding = o.tf_same_padding ? Padding2d::same() : Padding2d::symmetric((kernel - 1) / 2);
  auto conv = std::make_shared<nn::Conv2d>(in, out, kernel, stride, padding, 1, groups, false, generator);
  if (groups > 1) {  // nn::Conv2d's fan_out ignores groups; timm divides by them
    Tensor weight = conv->weight();
    nn::init::normal(weight, 0, std::sqrt(2.0 / static_cast<double>(kernel * kernel * out / groups)), generator);
  }
  return conv;
}

std::shared_ptr<BatchNormAct2d> timm_norm(const InvertedResidualOptions& o, int64_t channels,
                                          kernels::Activation activation) {
  return std::make_shared<BatchNormAct2d>(channels, o.batch_norm_eps, o.batch_norm_momentum, activation);
}

const char* kind_name(TimmBlock::Kind kind) {
  switch (kind) {
    case TimmBlock::Kind::conv_bn_act: return "ConvBnAct";
    case TimmBlock::Kind::edge_residual: return "EdgeResidual";
    case TimmBlock::Kind::inverted_residual: return "InvertedResidual";
  }
  return "?";
}

}  // namespace

BatchNormAct2d::BatchNormAct2d(int64_t channels, double eps, double momentum, kernels::Activation activation)
    : nn::BatchNorm2d(channels, eps, momentum), activation_(activation) {}

Tensor BatchNormAct2d::forward(const Tensor& input) {
  const Tensor y = nn::BatchNorm2d::forward(input);
  return activation_ == kernels::Activation::identity ? y : pneuma::activation(y, activation_);
}

TimmSqueezeExcite::TimmSqueezeExcite(int64_t channels, int64_t squeeze_channels, Generator& generator)
    : channels_(channels), squeeze_channels_(squeeze_channels) {
  conv_reduce_ = register_module(
      "conv_reduce", std::make_shared<nn::Conv2d>(channels, squeeze_channels, 1, 1, Padding2d(), 1, 1, true, generator));
  conv_expand_ = register_module(
      "conv_expand", std::make_shared<nn::Conv2d>(squeeze_channels, channels, 1, 1, Padding2d(), 1, 1, true, generator));
}

Tensor TimmSqueezeExcite::forward(const Tensor& input) {
  PNEUMA_CHECK(input.rank() == 4 && input.dim(3) == channels_, "SqueezeExcite(%lld): input %s is not NHWC with %lld channels",
               static_cast<long long>(channels_), input.describe().c_str(), static_cast<long long>(channels_));
  // 1×1 convolutions of the pooled 1×1 image are linear layers on [N, C].
  Tensor scale = linear(global_avg_pool(input), reshape(conv_reduce_->weight(), {squeeze_channels_, channels_}),
                        conv_reduce_->bias());
  scale = silu(scale);
  scale = linear(scale, reshape(conv_expand_->weight(), {channels_, squeeze_channels_}), conv_expand_->bias());
  return channel_scale(input, sigmoid(scale));
}

TimmBlock::TimmBlock(Kind kind, const InvertedResidualOptions& o, Generator& generator)
    : ResidualBlock(o.stride == 1 && o.in_channels == o.out_channels), type_name_(kind_name(kind)) {
  check_block_options(o, type_name_.c_str());
  const auto act = o.activation;
  const auto identity = kernels::Activation::identity;
  const int64_t in = o.in_channels, out = o.out_channels, mid = make_divisible(o.in_channels * o.expand_ratio);
  switch (kind) {
    case Kind::conv_bn_act:
      register_module("conv", timm_conv(o, in, out, o.kernel_size, o.stride, 1, generator));
      register_module("bn1", timm_norm(o, out, act));
      break;
    case Kind::edge_residual:
      register_module("conv_exp", timm_conv(o, in, mid, o.kernel_size, o.stride, 1, generator));
      register_module("bn1", timm_norm(o, mid, act));
      register_module("conv_pwl", timm_conv(o, mid, out, 1, 1, 1, generator));
      register_module("bn2", timm_norm(o, out, identity));
      break;
    case Kind::inverted_residual:
      register_module("conv_pw", timm_conv(o, in, mid, 1, 1, 1, generator));
      register_module("bn1", timm_norm(o, mid, act));
      register_module("conv_dw", timm_conv(o, mid, mid, o.kernel_size, o.stride, mid, generator));
      register_module("bn2", timm_norm(o, mid, act));
      PNEUMA_CHECK(o.se_ratio > 0, "InvertedResidual (timm): se_ratio must be positive, got %g", o.se_ratio);
      register_module("se", std::make_shared<TimmSqueezeExcite>(
                                 mid, std::max<int64_t>(1, static_cast<int64_t>(in * o.se_ratio)), generator));
      register_module("conv_pwl", timm_conv(o, mid, out, 1, 1, 1, generator));
      register_module("bn3", timm_norm(o, out, identity));
      break;
  }
  register_module("drop_path", std::make_shared<nn::DropPath>(o.drop_path_rate, default_generator()));
}

Tensor TimmBlock::forward(const Tensor& input) {
  Tensor x = input;
  std::shared_ptr<nn::Module> drop_path;
  for (const auto& [name, child] : named_children()) {
    if (name == "drop_path")
      drop_path = child;
    else
      x = traced_call(*child, x);
  }
  return uses_residual() ? add(input, traced_call(*drop_path, x)) : x;
}

}  // namespace pneuma::models
