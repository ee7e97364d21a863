#include "models/blocks/fused_mbconv.h"

#include "engine/ops.h"
#include "models/forward_trace.h"

namespace pneuma::models {

FusedMBConv::FusedMBConv(const InvertedResidualOptions& o, Generator& generator)
    : ResidualBlock(o.stride == 1 && o.in_channels == o.out_channels) {
  check_block_options(o, "FusedMBConv");
  PNEUMA_CHECK(o.se_ratio == 0, "FusedMBConv: squeeze-excitation is not supported (se_ratio %g)", o.se_ratio);
  const int64_t expanded = make_divisible(o.in_channels * o.expand_ratio);
  block_ = register_module("block", std::make_shared<Sequence>());
  if (expanded != o.in_channels) {
    block_->push_back(conv_norm_activation(
        o.in_channels, expanded, block_layer_options(o, o.kernel_size, o.stride, 1, o.activation), generator));
    block_->push_back(conv_norm_activation(
        expanded, o.out_channels, block_layer_options(o, 1, 1, 1, kernels::Activation::identity), generator));
  } else {
    block_->push_back(conv_norm_activation(
        o.in_channels, o.out_channels, block_layer_options(o, o.kernel_size, o.stride, 1, o.activation), generator));
  }
  stochastic_depth_ =
      register_module("stochastic_depth", std::make_shared<nn::DropPath>(o.drop_path_rate, default_generator()));
}

Tensor FusedMBConv::forward(const Tensor& input) {
  Tensor branch = traced_call(*block_, input);
  if (!uses_residual()) return branch;
  return add(input, traced_call(*stochastic_depth_, branch));
}

}  // namespace pneuma::models
