#include "models/blocks/inverted_residual.h"

#include <algorithm>
#include <cmath>

#include "engine/ops.h"
#include "models/forward_trace.h"

namespace pneuma::models {

ConvNormActivationOptions block_layer_options(const InvertedResidualOptions& o, int64_t kernel, int64_t stride,
                                              int64_t groups, kernels::Activation activation) {
  ConvNormActivationOptions c;
  c.kernel_size = kernel;
  c.stride = stride;
  c.groups = groups;
  c.activation = activation;
  c.batch_norm_eps = o.batch_norm_eps;
  c.batch_norm_momentum = o.batch_norm_momentum;
  if (o.tf_same_padding) c.padding = Padding2d::same();
  return c;
}

void check_block_options(const InvertedResidualOptions& o, const char* block) {
  PNEUMA_CHECK(o.stride == 1 || o.stride == 2, "%s: stride must be 1 or 2, got %lld", block,
               static_cast<long long>(o.stride));
  PNEUMA_CHECK(o.expand_ratio >= 1, "%s: expand_ratio must be >= 1, got %g", block, o.expand_ratio);
  PNEUMA_CHECK(o.kernel_size % 2 == 1, "%s: kernel size must be odd, got %lld", block,
               static_cast<long long>(o.kernel_size));
}

int64_t make_divisible(double channels, int64_t divisor) {
  int64_t rounded = std::max<int64_t>(divisor, static_cast<int64_t>(channels + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * channels) rounded += divisor;
  return rounded;
}

InvertedResidual::InvertedResidual(const InvertedResidualOptions& o, Generator& generator)
    : ResidualBlock(o.stride == 1 && o.in_channels == o.out_channels) {
  check_block_options(o, "inverted residual");
  const int64_t hidden = static_cast<int64_t>(std::lround(o.in_channels * o.expand_ratio));
  conv_ = register_module("conv", std::make_shared<Sequence>());
  if (o.expand_ratio != 1)
    conv_->push_back(
        conv_norm_activation(o.in_channels, hidden, block_layer_options(o, 1, 1, 1, o.activation), generator));
  conv_->push_back(conv_norm_activation(
      hidden, hidden, block_layer_options(o, o.kernel_size, o.stride, hidden, o.activation), generator));
  conv_->push_back(std::make_shared<nn::Conv2d>(hidden, o.out_channels, 1, 1, Padding2d(), 1, 1, false, generator));
  conv_->push_back(std::make_shared<nn::BatchNorm2d>(o.out_channels, o.batch_norm_eps, o.batch_norm_momentum));
}

Tensor InvertedResidual::forward(const Tensor& input) {
  Tensor branch = traced_call(*conv_, input);
  return uses_residual() ? add(input, branch) : branch;
}

MBConv::MBConv(const InvertedResidualOptions& o, Generator& generator)
    : ResidualBlock(o.stride == 1 && o.in_channels == o.out_channels) {
  check_block_options(o, "MBConv");
  const auto identity = kernels::Activation::identity;
  const int64_t hidden = make_divisible(o.in_channels * o.expand_ratio);
  block_ = register_module("block", std::make_shared<Sequence>());
  if (hidden != o.in_channels)
    block_->push_back(
        conv_norm_activation(o.in_channels, hidden, block_layer_options(o, 1, 1, 1, o.activation), generator));
  block_->push_back(conv_norm_activation(
      hidden, hidden, block_layer_options(o, o.kernel_size, o.stride, hidden, o.activation), generator));
  if (o.se_ratio > 0) {
    const int64_t squeeze = std::max<int64_t>(1, static_cast<int64_t>(o.in_channels * o.se_ratio));
    block_->push_back(std::make_shared<nn::SqueezeExcitation>(hidden, squeeze, o.activation,
                                                              kernels::Activation::sigmoid, generator));
  }
  block_->push_back(
      conv_norm_activation(hidden, o.out_channels, block_layer_options(o, 1, 1, 1, identity), generator));
  stochastic_depth_ =
      register_module("stochastic_depth", std::make_shared<nn::DropPath>(o.drop_path_rate, default_generator()));
}

Tensor MBConv::forward(const Tensor& input) {
  Tensor branch = traced_call(*block_, input);
  if (!uses_residual()) return branch;
  return add(input, traced_call(*stochastic_depth_, branch));
}

}  // namespace pneuma::models
