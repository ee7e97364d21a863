#include "models/blocks/conv_norm_activation.h"

namespace pneuma::models {

std::shared_ptr<Sequence> conv_norm_activation(int64_t in_channels, int64_t out_channels,
                                               const ConvNormActivationOptions& options, Generator& generator) {
  const Padding2d padding = options.padding.value_or(Padding2d::symmetric((options.kernel_size - 1) / 2 * options.dilation));
  auto block = std::make_shared<Sequence>();
  block->push_back(std::make_shared<nn::Conv2d>(in_channels, out_channels, options.kernel_size, options.stride, padding,
                                                options.dilation, options.groups, /*bias=*/false, generator));
  block->push_back(
      std::make_shared<nn::BatchNorm2d>(out_channels, options.batch_norm_eps, options.batch_norm_momentum));
  if (options.activation != kernels::Activation::identity)
    block->push_back(std::make_shared<nn::Activation>(options.activation));
  return block;
}

}  // namespace pneuma::models
